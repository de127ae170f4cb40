// The filesystem store: the registry's filesystem driver's tree below an open directory.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/open.hpp"
#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"
#include "store/fs/lock.hpp"
#include "store/fs/quarantine.hpp"
#include "store/fs/remover.hpp"
#include "store/fs/revalidate.hpp"
#include "store/fs/scan/fs_scan.hpp"

namespace regsweep {

namespace {

constexpr std::size_t k_chunk = 1U << 20U;

class FsStore final : public Store, public LazyLooks {
 public:
  FsStore(int v2_fd, std::string location) : Store(std::move(location)), m_fd(v2_fd) {}

  // What the scan listed (and the second looks since) is kept for the guard, as an object
  // store keeps the keys it listed.
  Result<Inventory> scan(tbb::task_arena& arena, const ScanOptions& options) override {
    m_watched.clear();
    return regsweep::scan(m_fd, arena, options, &m_watched);
  }

  LazyLooks* lazy_looks() override { return this; }

  Verified verify_layer_links(
      Inventory& inventory, tbb::task_arena& arena,
      const std::function<bool(std::size_t, const Link&)>& wanted) override {
    return regsweep::verify_layer_links(m_fd, inventory, arena, wanted, &m_watched);
  }

  Verified verify_tag_history(
      Inventory& inventory, tbb::task_arena& arena,
      const std::function<bool(std::size_t, const Tag&, const Link&)>& wanted) override {
    return regsweep::verify_tag_history(m_fd, inventory, arena, wanted, &m_watched);
  }

  Examined examine_blobs(Inventory& inventory, tbb::task_arena& arena,
                         const std::function<bool(std::size_t)>& wanted) override {
    return regsweep::examine_blobs(m_fd, inventory, arena, wanted, &m_watched);
  }

  Status list(std::string_view prefix, ListDepth depth,
              const std::function<void(const ListPage&)>& page) override {
    auto dir = fs::open_dir(m_fd, prefix);
    if (!dir) {
      return dir.error();
    }
    ListPage out;
    Status s = walk(dir->get(), std::string(prefix), depth, out, page);
    if (s && (!out.objects.empty() || !out.prefixes.empty())) {
      page(out);
    }
    return s;
  }

  Result<StoreObject> stat(std::string_view key) override {
    auto dir = fs::open_dir(m_fd, layout::parent(key));
    if (!dir) {
      // The key, whichever directory above it could not be opened: a symbolic link or a
      // mount point there is not ENOENT, and stays unknown.
      return fs::sys_error("stat", key, dir.error().sys_errno);
    }
    auto info = fs::stat(dir->get(), layout::base_name(key));
    if (!info) {
      return fs::sys_error("stat", key, info.error().sys_errno);
    }
    if (info->type != fs::EntryType::file) {
      return Error{"'" + std::string(key) + "' is not a regular file", EINVAL};
    }
    return object_of(std::string(key), *info);
  }

  Result<std::string> read(std::string_view key, std::uint64_t max) override {
    return fs::read_file(m_fd, key, max);
  }

  Status stream(std::string_view key,
                const std::function<void(std::string_view chunk)>& sink) override {
    auto dir = fs::open_dir(m_fd, layout::parent(key));
    if (!dir) {
      return dir.error();
    }
    std::string name(layout::base_name(key));
    // O_NONBLOCK: a FIFO planted in the tree must not block the run.
    int fd = ::openat(dir->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      return fs::sys_error("open", key, errno);
    }
    fs::Fd file(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return fs::sys_error("stat", key, errno);
    }
    if (!S_ISREG(st.st_mode)) {
      return Error{"'" + std::string(key) + "' is not a regular file", EINVAL};
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    // Every byte its size says, or an error: a hash of a read cut short would call a sound blob
    // corrupt.
    std::vector<char> buf(k_chunk);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t total = 0;
    while (true) {
      auto n = fs::read_fully(fd, buf.data(), buf.size(), key);
      if (!n) {
        return n.error();
      }
      if (*n == 0) {
        break;
      }
      total += *n;
      sink(std::string_view(buf.data(), *n));
      if (*n < buf.size()) {
        break;
      }
    }
    if (total != size) {
      return fs::short_read(key, total, size);
    }
    return ok_status();
  }

  std::unique_ptr<Remover> remover() override { return make_tree_remover(m_fd); }

  std::unique_ptr<SweepGuard> guard(const Inventory& scanned,
                                    std::vector<std::size_t> watch_tags_of) override {
    return std::make_unique<Revalidator>(m_fd, scanned, m_watched, std::move(watch_tags_of));
  }

  Result<std::unique_ptr<RegistryLock>> lock(std::string_view command) override {
    return acquire_lock(m_fd, command);
  }

  QuarantineArea* quarantine() override {
    if (!m_quarantine) {
      m_quarantine = make_fs_quarantine(m_fd, location());
    }
    return m_quarantine.get();
  }

 private:
  static StoreObject object_of(std::string key, const fs::FileInfo& info) {
    return StoreObject{
        std::move(key), info.size,
        static_cast<std::int64_t>(info.mtime.tv_sec) * 1000000000 + info.mtime.tv_nsec};
  }

  // Depth first, in name order, the objects met so far in `out`, which goes to `page` before
  // each directory below is entered. Anything that is neither a directory nor a regular file,
  // and anything that cannot be read, ends the listing with an error naming it.
  Status walk(int dirfd, const std::string& path, ListDepth depth, ListPage& out,
              const std::function<void(const ListPage&)>& page) {
    auto entries = fs::list_dir(dirfd, path);
    if (!entries) {
      return entries.error();
    }
    std::sort(entries->begin(), entries->end(),
              [](const fs::DirEntry& a, const fs::DirEntry& b) { return a.name < b.name; });
    for (const fs::DirEntry& e : *entries) {
      std::string child = path.empty() ? e.name : layout::join(path, e.name);
      if (e.type == fs::EntryType::directory && depth == ListDepth::one_level) {
        out.prefixes.push_back(child + "/");
        continue;
      }
      if (e.type == fs::EntryType::directory) {
        auto sub = fs::open_dir(dirfd, e.name);
        if (!sub) {
          return fs::sys_error("open directory", child, sub.error().sys_errno);
        }
        if (!out.objects.empty()) {
          page(out);
          out.objects.clear();
        }
        if (Status s = walk(sub->get(), child, depth, out, page); !s) {
          return s;
        }
        continue;
      }
      if (e.type != fs::EntryType::file) {
        return Error{"'" + child + "' is " +
                         (e.type == fs::EntryType::symlink ? "a symbolic link"
                                                           : "neither a file nor a directory"),
                     EINVAL};
      }
      auto info = fs::stat(dirfd, e.name);
      if (!info) {
        return fs::sys_error("stat", child, info.error().sys_errno);
      }
      out.objects.push_back(object_of(child, *info));
    }
    return ok_status();
  }

  int m_fd;
  std::unique_ptr<QuarantineArea> m_quarantine;
  WatchedDirs m_watched;  // of the last scan: the guard compares with it
};

}  // namespace

std::unique_ptr<Store> make_fs_store(int v2_fd, std::string location) {
  return std::make_unique<FsStore>(v2_fd, std::move(location));
}

}  // namespace regsweep
