#pragma once

// An object store's backend in memory (object::Bucket), so that the machinery every object
// store shares (src/store/object/) runs in unit tests, without a server: listings in pages
// of three, deletes in batches of two, and what a test makes go wrong (a key whose delete
// the "server" refuses).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "store/object/bucket.hpp"

namespace regsweep::test {

class MemoryBucket final : public object::Bucket {
 public:
  struct Entry {
    std::string bytes;
    std::int64_t mtime_ns = 0;
  };

  // Every file below `v2_dir` (a registry's docker/registry/v2), with its time.
  void load(const std::string& v2_dir) {
    namespace sfs = std::filesystem;
    for (const auto& e : sfs::recursive_directory_iterator(v2_dir)) {
      if (!e.is_regular_file()) {
        continue;
      }
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream bytes;
      bytes << in.rdbuf();
      auto sys = std::chrono::file_clock::to_sys(e.last_write_time());
      objects[sfs::relative(e.path(), v2_dir).string()] = Entry{
          bytes.str(),
          std::chrono::duration_cast<std::chrono::nanoseconds>(sys.time_since_epoch()).count()};
    }
  }

  std::map<std::string, Entry, std::less<>> objects;
  std::set<std::string, std::less<>> refuse_delete;  // answered AccessDenied
  std::vector<object::Multipart> multipart;          // incomplete multipart uploads
  std::vector<std::string> aborted;                  // the keys of those aborted
  // A listing below `fail_prefix` fails (EIO) on its page `fail_page` (1 for the first);
  // 0: none does.
  std::string fail_prefix;
  std::size_t fail_page = 0;

  const std::string& location() const override { return m_location; }
  std::string full_key(std::string_view key) const override { return std::string(key); }
  std::string shown(std::string_view key) const override {
    return "mem://tree/" + std::string(key);
  }

  Status list(std::string_view prefix, ListDepth depth,
              const std::function<void(object::Page&)>& page) override {
    const bool one_level = depth == ListDepth::one_level;
    std::vector<StoreObject> found;
    std::vector<std::string> prefixes;
    {
      std::lock_guard lock(m_mutex);
      for (auto it = objects.lower_bound(prefix);
           it != objects.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        std::size_t slash = it->first.find('/', prefix.size());
        if (one_level && slash != std::string::npos) {
          std::string dir = it->first.substr(0, slash + 1);
          if (prefixes.empty() || prefixes.back() != dir) {
            prefixes.push_back(dir);
          }
          continue;
        }
        found.push_back(StoreObject{it->first, it->second.bytes.size(), it->second.mtime_ns});
      }
    }
    std::size_t page_number = 0;
    for (std::size_t at = 0; at == 0 || at < found.size() + prefixes.size(); at += 3) {
      if (fail_page != 0 && ++page_number == fail_page && !fail_prefix.empty() &&
          prefix.compare(0, fail_prefix.size(), fail_prefix) == 0) {
        return Error{"cannot list '" + shown(prefix) + "': the connection was reset", EIO};
      }
      object::Page p;
      for (std::size_t i = at; i < at + 3 && i < found.size(); ++i) {
        p.objects.push_back(found[i]);
      }
      if (at == 0) {
        p.prefixes = prefixes;  // all on the first page: enough for a test
      }
      page(p);
    }
    return ok_status();
  }
  Result<StoreObject> head(std::string_view key) override {
    std::lock_guard lock(m_mutex);
    auto it = objects.find(key);
    if (it == objects.end()) {
      return Error{"no such key '" + std::string(key) + "'", ENOENT};
    }
    return StoreObject{it->first, it->second.bytes.size(), it->second.mtime_ns};
  }
  Result<std::string> get(std::string_view key, std::uint64_t max) override {
    std::lock_guard lock(m_mutex);
    auto it = objects.find(key);
    if (it == objects.end()) {
      return Error{"no such key '" + std::string(key) + "'", ENOENT};
    }
    if (it->second.bytes.size() > max) {
      return Error{"'" + std::string(key) + "' is too large", EFBIG};
    }
    return it->second.bytes;
  }
  Status get_stream(std::string_view key,
                    const std::function<void(std::string_view)>& sink) override {
    auto bytes = get(key, UINT64_MAX);
    if (!bytes) {
      return bytes.error();
    }
    sink(*bytes);
    return ok_status();
  }
  Status put(std::string_view key, std::string_view body) override {
    std::lock_guard lock(m_mutex);
    objects[std::string(key)] = Entry{std::string(body), now_ns()};
    return ok_status();
  }
  Status remove(std::string_view key) override {
    std::lock_guard lock(m_mutex);
    if (auto it = objects.find(key); it != objects.end()) {
      objects.erase(it);
    }
    return ok_status();
  }
  std::size_t max_batch() const override { return 2; }
  Result<std::vector<object::DeleteFailure>> remove_batch(
      const std::vector<std::string>& keys) override {
    std::vector<object::DeleteFailure> failed;
    for (const std::string& k : keys) {
      if (refuse_delete.count(k) != 0) {
        failed.push_back(object::DeleteFailure{k, "AccessDenied", "refused by the test", ""});
      } else {
        (void)remove(k);
      }
    }
    return failed;
  }
  Result<std::vector<object::Multipart>> list_multipart(std::string_view prefix) override {
    std::vector<object::Multipart> out;
    for (const object::Multipart& m : multipart) {
      if (m.key.compare(0, prefix.size(), prefix) == 0) {
        out.push_back(m);
      }
    }
    return out;
  }
  Status abort_multipart(const object::Multipart& upload) override {
    std::lock_guard lock(m_mutex);
    aborted.push_back(upload.key);
    return ok_status();
  }
  std::optional<std::int64_t> clock_offset() const override { return 0; }
  Result<std::string> versioning() override { return std::string(); }
  Result<std::vector<object::Version>> list_versions(std::string_view /*key*/) override {
    return std::vector<object::Version>{};
  }
  Result<std::vector<object::DeleteFailure>> remove_versions(
      const std::vector<object::Version>& /*versions*/) override {
    return std::vector<object::DeleteFailure>{};
  }

  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

 private:
  std::string m_location = "mem://tree";
  std::mutex m_mutex;
};

}  // namespace regsweep::test
