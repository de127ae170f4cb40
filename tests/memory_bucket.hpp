#pragma once

// An object store's backend in memory (object::Bucket), so that the machinery every object
// store shares (src/store/object/) runs in unit tests, without a server: listings in pages
// of three, deletes in batches of two, server-side copies (multipart above `copy_limit`),
// views beside the tree (`areas`), and what a test makes go wrong (a key whose delete the
// "server" refuses, a copy that fails).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
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

  using Objects = std::map<std::string, Entry, std::less<>>;
  Objects objects;
  std::map<std::string, Objects, std::less<>> areas;  // beside(dir)'s keys, by dir
  std::uint64_t copy_limit = 5ULL << 30U;             // max_copy()
  std::set<std::string, std::less<>> refuse_copy;     // full keys whose copy fails
  std::size_t single_copies = 0;
  std::size_t parts_copied = 0;
  std::size_t multipart_completed = 0;
  std::size_t multipart_aborted = 0;                 // copies given up
  std::set<std::string, std::less<>> refuse_delete;  // answered AccessDenied
  std::size_t batch_limit = 2;                       // max_batch()
  std::vector<std::size_t> batches;                  // the size of each remove_batch request
  // Whether deletions can be conditional (remove_batch_unmodified), as on Azure Blob; the
  // time each conditional batch was given.
  bool conditional = false;
  std::vector<std::int64_t> unmodified_since;
  std::vector<object::Multipart> multipart;  // incomplete multipart uploads
  std::vector<std::string> aborted;          // the keys of those aborted
  // A listing below `fail_prefix` fails (EIO) on its page `fail_page` (1 for the first);
  // 0: none does.
  std::string fail_prefix;
  std::size_t fail_page = 0;

  const std::string& location() const override { return m_location; }
  std::string full_key(std::string_view key) const override {
    return m_home == nullptr ? std::string(key) : "../" + m_dir + "/" + std::string(key);
  }
  std::string shown(std::string_view key) const override {
    return m_home == nullptr ? "mem://tree/" + std::string(key)
                             : "mem://" + m_dir + "/" + std::string(key);
  }

  Status list(std::string_view prefix, ListDepth depth,
              const std::function<void(object::Page&)>& page) override {
    const bool one_level = depth == ListDepth::one_level;
    std::vector<StoreObject> found;
    std::vector<std::string> prefixes;
    {
      std::lock_guard lock(mutex());
      for (auto it = map().lower_bound(prefix);
           it != map().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
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
    std::lock_guard lock(mutex());
    auto it = map().find(key);
    if (it == map().end()) {
      return Error{"no such key '" + std::string(key) + "'", ENOENT};
    }
    return StoreObject{it->first, it->second.bytes.size(), it->second.mtime_ns};
  }
  Result<std::string> get(std::string_view key, std::uint64_t max) override {
    std::lock_guard lock(mutex());
    auto it = map().find(key);
    if (it == map().end()) {
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
    std::lock_guard lock(mutex());
    map()[std::string(key)] = Entry{std::string(body), now_ns()};
    return ok_status();
  }
  Status remove(std::string_view key) override {
    std::lock_guard lock(mutex());
    if (auto it = map().find(key); it != map().end()) {
      map().erase(it);
    }
    return ok_status();
  }
  std::size_t max_batch() const override { return batch_limit; }
  Result<std::vector<object::DeleteFailure>> remove_batch(
      const std::vector<std::string>& keys) override {
    {
      std::lock_guard lock(mutex());
      batches.push_back(keys.size());
    }
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
  Result<std::vector<object::DeleteFailure>> remove_batch_unmodified(
      const std::vector<std::string>& keys, std::int64_t since) override {
    if (!home().conditional) {
      return remove_batch(keys);
    }
    std::vector<std::string> unchanged;
    std::vector<object::DeleteFailure> failed;
    {
      std::lock_guard lock(mutex());
      home().unmodified_since.push_back(since);
      for (const std::string& k : keys) {
        auto it = map().find(k);
        if (it != map().end() && it->second.mtime_ns / 1000000000 > since) {
          failed.push_back(
              object::DeleteFailure{k, std::string(object::k_changed_since), "written since", ""});
        } else {
          unchanged.push_back(k);
        }
      }
    }
    auto rest = remove_batch(unchanged);
    if (!rest) {
      return rest;
    }
    failed.insert(failed.end(), rest->begin(), rest->end());
    return failed;
  }
  Result<std::vector<object::Multipart>> list_multipart(std::string_view prefix) override {
    std::vector<object::Multipart> out;
    for (const object::Multipart& m : multipart) {
      if (m.key.compare(0, prefix.size(), prefix) == 0) {
        out.push_back(m);
      }
    }
    std::lock_guard lock(mutex());
    const std::string full = full_key(prefix);
    for (const auto& [id, c] : home().m_copies) {  // copies started and not completed
      if (c.key.compare(0, full.size(), full) == 0) {
        out.push_back(object::Multipart{c.key.substr(full.size() - prefix.size()), id, 0});
      }
    }
    return out;
  }
  Status abort_multipart(const object::Multipart& upload) override {
    std::lock_guard lock(mutex());
    if (home().m_copies.erase(upload.upload_id) != 0) {
      ++home().multipart_aborted;
    } else {
      home().aborted.push_back(upload.key);
    }
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

  std::unique_ptr<object::Bucket> beside(std::string_view dir) override {
    auto view = std::make_unique<MemoryBucket>();
    view->m_home = this;
    view->m_dir = std::string(dir);
    return view;
  }
  std::uint64_t max_copy() const override { return home().copy_limit; }
  Status copy(std::string_view source, std::string_view key) override {
    auto bytes = source_bytes(source, 0, UINT64_MAX);
    if (!bytes) {
      return bytes.error();
    }
    if (bytes->size() > max_copy()) {
      return Error{"'" + std::string(source) + "' is too large for one copy", EFBIG};
    }
    std::lock_guard lock(mutex());
    ++home().single_copies;
    map()[std::string(key)] = Entry{std::move(*bytes), now_ns()};
    return ok_status();
  }
  Result<std::string> start_multipart(std::string_view key) override {
    std::lock_guard lock(mutex());
    std::string id = "upload-" + std::to_string(++home().m_uploads_started);
    home().m_copies[id] = Copy{full_key(key), {}};
    return id;
  }
  Result<std::string> copy_part(const object::Multipart& upload, int part, std::string_view source,
                                std::uint64_t first, std::uint64_t last) override {
    auto bytes = source_bytes(source, first, last - first + 1);
    if (!bytes) {
      return bytes.error();
    }
    std::lock_guard lock(mutex());
    auto it = home().m_copies.find(upload.upload_id);
    if (it == home().m_copies.end()) {
      return Error{"no upload " + upload.upload_id, ENOENT};
    }
    it->second.parts[part] = std::move(*bytes);
    ++home().parts_copied;
    return "\"part-" + std::to_string(part) + "\"";
  }
  Status complete_multipart(const object::Multipart& upload,
                            const std::vector<std::string>& tags) override {
    std::lock_guard lock(mutex());
    auto it = home().m_copies.find(upload.upload_id);
    if (it == home().m_copies.end() || it->second.parts.size() != tags.size()) {
      return Error{"cannot complete " + upload.upload_id, EINVAL};
    }
    std::string whole;
    for (const auto& [n, bytes] : it->second.parts) {
      whole += bytes;
    }
    map()[upload.key] = Entry{std::move(whole), now_ns()};
    home().m_copies.erase(it);
    ++home().multipart_completed;
    return ok_status();
  }
  // Multipart copies started and neither completed nor aborted.
  std::size_t copies_open() {
    std::lock_guard lock(mutex());
    return m_copies.size();
  }

  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

 private:
  struct Copy {
    std::string key;  // full
    std::map<int, std::string> parts;
  };
  MemoryBucket& home() { return m_home == nullptr ? *this : *m_home; }
  const MemoryBucket& home() const { return m_home == nullptr ? *this : *m_home; }
  std::mutex& mutex() { return home().m_mutex; }
  Objects& map() { return m_home == nullptr ? objects : m_home->areas[m_dir]; }
  // `count` bytes of the object `source` (a full key) from byte `first`.
  Result<std::string> source_bytes(std::string_view source, std::uint64_t first,
                                   std::uint64_t count) {
    std::lock_guard lock(mutex());
    if (home().refuse_copy.count(source) != 0) {
      return Error{"cannot copy '" + std::string(source) + "': refused by the test", EIO};
    }
    Objects* in = &home().objects;
    std::string key(source);
    if (source.rfind("../", 0) == 0) {
      std::size_t slash = source.find('/', 3);
      in = &home().areas[std::string(source.substr(3, slash - 3))];
      key = std::string(source.substr(slash + 1));
    }
    auto it = in->find(key);
    if (it == in->end()) {
      return Error{"no such key '" + std::string(source) + "'", ENOENT};
    }
    if (first > it->second.bytes.size()) {
      return Error{"range outside '" + std::string(source) + "'", EINVAL};
    }
    return it->second.bytes.substr(first, count);
  }

  std::string m_location = "mem://tree";
  std::mutex m_mutex;
  MemoryBucket* m_home = nullptr;  // a view's: the tree's bucket
  std::string m_dir;
  std::map<std::string, Copy> m_copies;
  std::size_t m_uploads_started = 0;
};

}  // namespace regsweep::test
