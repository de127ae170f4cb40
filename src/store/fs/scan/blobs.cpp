// The scan of blobs/sha256: a task per prefix directory, one fstatat per blob for its size.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/timeutil.hpp"
#include "scanner.hpp"

namespace regsweep::scan_detail {

bool Scanner::inspect_incomplete(int parent_fd, const std::string& name, const std::string& path,
                                 const std::string& repo) {
  auto dir = fs::open_dir(parent_fd, name);
  if (!dir) {
    finding(FindingKind::unreadable, Severity::error, path, repo,
            cannot("open directory", path, dir.error()));
    return false;
  }
  if (!watch(dir->get(), path)) {  // a link or data written into it later must be seen
    return false;
  }
  auto entries = fs::list_dir(dir->get(), path);
  if (!entries) {
    finding(FindingKind::unreadable, Severity::error, path, repo,
            cannot("list directory", path, entries.error()));
    return false;
  }
  bool others = false;
  for (const fs::DirEntry& e : *entries) {
    struct stat st {};
    if (e.type == fs::EntryType::file && layout::is_temp_leftover(e.name) &&
        ::fstatat(dir->get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      leftover(Leftover::Kind::temp_file, layout::join(path, e.name), repo, st.st_mtim.tv_sec);
    } else {
      others = true;
    }
  }
  if (entries->empty()) {
    struct stat st {};
    ::fstat(dir->get(), &st);
    leftover(Leftover::Kind::empty_dir, path, repo, st.st_mtim.tv_sec);
  }
  return !others;
}

std::optional<std::uint64_t> Scanner::watch(int fd, std::string path) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0) {
    int err = errno;
    keep_all_blobs(path, "", "cannot be examined (" + std::string(std::strerror(err)) + ")");
    m_alias.store(true);
    return std::nullopt;
  }
  bool mount_root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
                    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  if (mount_root && !fs::may_be_mount_point(path)) {
    m_alias.store(true);
    keep_all_blobs(path, "", "is a mount point; not followed, and what it holds is kept");
    return std::nullopt;
  }
  std::pair<std::uint64_t, std::uint64_t> key{
      (std::uint64_t{stx.stx_dev_major} << 32) | stx.stx_dev_minor, stx.stx_ino};
  {
    std::lock_guard lock(m_dirs_mutex);
    auto [it, added] = m_dirs.emplace(key, path);
    if (!added) {
      std::string first = it->second;
      m_alias.store(true);
      keep_all_blobs(path, "",
                     "is the same directory as '" + first +
                         "' (a bind mount, or a file system with a cycle); not followed, and "
                         "nothing in either is deleted");
      return std::nullopt;
    }
  }
  m_watched.local().push_back(
      Watched{std::move(path),
              static_cast<std::int64_t>(stx.stx_mtime.tv_sec) * 1000000000 + stx.stx_mtime.tv_nsec,
              static_cast<std::uint64_t>(stx.stx_nlink)});
  return static_cast<std::uint64_t>(stx.stx_nlink);
}

bool Scanner::listed_whole(std::uint64_t nlink, const std::vector<fs::DirEntry>& entries,
                           const std::string& path, const std::string& repo) {
  auto dirs = static_cast<std::uint64_t>(
      std::count_if(entries.begin(), entries.end(),
                    [](const fs::DirEntry& e) { return e.type == fs::EntryType::directory; }));
  // Fewer than 2 links: a file system that does not count subdirectories (btrfs, overlayfs).
  if (nlink < 2 || nlink <= 2 + dirs) {
    return true;
  }
  finding(FindingKind::unreadable, Severity::error, path, repo,
          "'" + path + "' has " + std::to_string(nlink - 2) +
              " subdirectories by its link count, yet its listing shows " + std::to_string(dirs) +
              ": what it holds is unknown, and kept");
  return false;
}

void Scanner::confirm_absent() {
  std::vector<Digest> absent;
  for (auto& v : m_repos) {
    for (const Repository& r : v) {
      absent.insert(absent.end(), r.absent.begin(), r.absent.end());
    }
  }
  std::sort(absent.begin(), absent.end());
  absent.erase(std::unique(absent.begin(), absent.end()), absent.end());
  std::vector<Digest> unknown = m_unknown_blobs;  // every task is done: no lock needed
  std::sort(unknown.begin(), unknown.end());
  for (const Digest& d : absent) {
    if (m_unknown_prefixes.test(d.bytes[0]) ||
        std::binary_search(unknown.begin(), unknown.end(), d)) {
      continue;  // unknown already, and reported
    }
    // As the registry: a blob is its `data` file; a directory with only the leftovers of an
    // interrupted write is none.
    std::string data = layout::blob_data(d);
    struct stat st {};
    if (::fstatat(m_v2, data.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      std::string dir = layout::blob_dir(d);
      unknown_blob(d);
      finding(FindingKind::unreadable, Severity::error, dir, "",
              "'" + data + "' is there, yet the listing of '" + std::string(layout::parent(dir)) +
                  "' left out '" + dir + "'; kept" + std::string(k_unknown_blob));
    } else if (errno != ENOENT) {
      int err = errno;
      unknown_blob(d);
      finding(FindingKind::unreadable, Severity::error, data, "",
              fs::sys_error("stat", data, err).message + "; kept" + std::string(k_unknown_blob));
    }
  }
}

void Scanner::unknown_prefix(std::string_view name) {
  m_blobs_incomplete.store(true);
  if (auto first = layout::parse_blob_prefix(name)) {
    std::lock_guard lock(m_unknown_mutex);
    m_unknown_prefixes.set(*first);
  }
}

void Scanner::unknown_blob(const Digest& d) {
  m_blobs_incomplete.store(true);
  std::lock_guard lock(m_unknown_mutex);
  m_unknown_blobs.push_back(d);
}

void Scanner::keep_all_blobs(const std::string& path, std::string repo, const std::string& why) {
  m_keep_all.store(true);
  finding(FindingKind::unreadable, Severity::error, path, std::move(repo),
          "'" + path + "' " + why + "; no blob is deleted");
}

void Scanner::scan_blobs(std::vector<Blob>& blobs) {
  auto root = fs::open_dir(m_v2, layout::k_blobs_dir);
  if (!root) {
    if (root.error().sys_errno != ENOENT) {
      all_blobs_unknown();
      finding(FindingKind::unreadable, Severity::error, std::string(layout::k_blobs_dir), "",
              root.error().message +
                  "; whether any blob exists is unknown, every link and "
                  "manifest is kept");
    }
    return;
  }
  auto prefixes = fs::list_dir(root->get(), layout::k_blobs_dir);
  if (!prefixes) {
    all_blobs_unknown();
    finding(FindingKind::unreadable, Severity::error, std::string(layout::k_blobs_dir), "",
            cannot("list directory", std::string(layout::k_blobs_dir), prefixes.error()) +
                "; whether any blob exists is unknown, every link and manifest is kept");
    return;
  }
  // One vector per prefix, each sorted by its task: concatenated in prefix order they are
  // sorted, and the whole list is never held twice.
  std::sort(prefixes->begin(), prefixes->end(),
            [](const fs::DirEntry& a, const fs::DirEntry& b) { return a.name < b.name; });
  std::vector<std::vector<Blob>> per_prefix(prefixes->size());
  progress().begin("listing blobs (prefix directories)", prefixes->size());
  tbb::parallel_for(std::size_t{0}, prefixes->size(), [&](std::size_t i) {
    scan_prefix(root->get(), (*prefixes)[i], per_prefix[i]);
    progress().advance();
    std::sort(per_prefix[i].begin(), per_prefix[i].end(),
              [](const Blob& a, const Blob& b) { return a.digest < b.digest; });
  });
  std::size_t total = 0;
  for (const auto& v : per_prefix) {
    total += v.size();
  }
  blobs.reserve(total);
  for (auto& v : per_prefix) {
    blobs.insert(blobs.end(), v.begin(), v.end());
    std::vector<Blob>().swap(v);
  }
}

void Scanner::all_blobs_unknown() {
  m_blobs_incomplete.store(true);
  std::lock_guard lock(m_unknown_mutex);
  m_unknown_prefixes.set();
}

std::optional<fs::Fd> Scanner::open_prefix(int blobs_fd, const fs::DirEntry& e,
                                           const std::string& path) {
  bool a_prefix = layout::parse_blob_prefix(e.name).has_value();
  if (e.type == fs::EntryType::symlink) {
    unknown_prefix(e.name);
    finding(FindingKind::symlink, Severity::error, path, "",
            "'" + path +
                "' is a symbolic link; not followed: the blobs behind it are unknown, and "
                "everything that may need them is kept");
    return std::nullopt;
  }
  if (e.type != fs::EntryType::directory || !a_prefix) {
    if (a_prefix) {
      unknown_prefix(e.name);
    }
    finding(FindingKind::unknown_entry, Severity::error, path, "",
            "'" + path + "' is not a blob prefix directory; kept" +
                (a_prefix ? ", and everything that may need a blob of that prefix is kept" : ""));
    return std::nullopt;
  }
  auto dir = fs::open_dir(blobs_fd, e.name);
  if (!dir) {
    unknown_prefix(e.name);
    finding(FindingKind::unreadable, Severity::error, path, "",
            cannot("open directory", path, dir.error()) +
                "; the blobs in it are unknown, and everything that may need them is kept");
    return std::nullopt;
  }
  return std::move(*dir);
}

void Scanner::scan_prefix(int blobs_fd, const fs::DirEntry& e, std::vector<Blob>& out) {
  std::string path = layout::blob_prefix_dir(e.name);
  auto dir = open_prefix(blobs_fd, e, path);
  if (!dir) {
    return;
  }
  auto nlink = watch(dir->get(), path);
  if (!nlink) {
    unknown_prefix(e.name);
    return;
  }
  auto entries = fs::list_dir(dir->get(), path);
  if (!entries) {
    unknown_prefix(e.name);
    finding(FindingKind::unreadable, Severity::error, path, "",
            cannot("list directory", path, entries.error()) +
                "; the blobs in it are unknown, and everything that may need them is kept");
    return;
  }
  if (!listed_whole(*nlink, *entries, path, "")) {
    unknown_prefix(e.name);
    return;
  }
  if (entries->empty()) {
    struct stat st {};
    ::fstat(dir->get(), &st);
    leftover(Leftover::Kind::empty_blob_prefix, path, "", st.st_mtim.tv_sec);
  }
  out.reserve(entries->size());
  for (const fs::DirEntry& b : *entries) {
    scan_blob(dir->get(), e.name, path, b, out);
  }
}

void Scanner::scan_blob(int prefix_fd, const std::string& prefix, const std::string& path,
                        const fs::DirEntry& b, std::vector<Blob>& out) {
  auto bpath = [&] { return layout::join(path, b.name); };  // for reports only
  auto digest = parse_hex(b.name);
  // A blob directory of this prefix that cannot be examined is present, contents unknown.
  bool names_blob = digest && b.name.substr(0, 2) == prefix;
  if (b.type == fs::EntryType::symlink) {
    if (names_blob) {
      unknown_blob(*digest);
    }
    finding(FindingKind::symlink, Severity::error, bpath(), "",
            "'" + bpath() + "' is a symbolic link; not followed, kept" +
                (names_blob ? std::string(k_unknown_blob) : std::string()));
    return;
  }
  if (b.type != fs::EntryType::directory || !names_blob) {
    if (names_blob) {
      unknown_blob(*digest);
    }
    finding(FindingKind::unknown_entry, Severity::error, bpath(), "",
            "'" + bpath() + "' is not a blob directory; kept" +
                (names_blob ? std::string(k_unknown_blob) : std::string()));
    return;
  }
  if (!m_options.stat_blobs) {
    // Its name says what it is; its data is examined only if it might be deleted.
    out.push_back(Blob{*digest, Blob::k_unexamined, 0});
    return;
  }
  Blob blob{*digest, 0, 0};
  if (examine_data(prefix_fd, path, b.name, blob)) {
    out.push_back(blob);
  }
}

bool Scanner::examine_data(int prefix_fd, const std::string& path, const std::string& hex,
                           Blob& blob) {
  auto bpath = [&] { return layout::join(path, hex); };  // for reports only
  HexLeaf data(hex, layout::k_data);
  struct stat st {};
  if (::fstatat(prefix_fd, data.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    std::string dpath = layout::join(bpath(), layout::k_data);
    if (err == ENOENT) {
      if (!inspect_incomplete(prefix_fd, hex, bpath(), "")) {
        unknown_blob(blob.digest);
        finding(FindingKind::blob_without_data, Severity::error, bpath(), "",
                "blob directory '" + bpath() + "' has no data file; kept" +
                    std::string(k_unknown_blob));
      }
    } else {
      unknown_blob(blob.digest);
      finding(FindingKind::unreadable, Severity::error, dpath, "",
              fs::sys_error("stat", dpath, err).message + "; kept" + std::string(k_unknown_blob));
    }
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    std::string dpath = layout::join(bpath(), layout::k_data);
    bool link = S_ISLNK(st.st_mode);
    unknown_blob(blob.digest);
    finding(link ? FindingKind::symlink : FindingKind::unknown_entry, Severity::error, dpath, "",
            "'" + dpath +
                (link ? "' is a symbolic link; not followed" : "' is not a regular file") +
                "; the blob is kept" + std::string(k_unknown_blob));
    return false;
  }
  blob.size = static_cast<std::uint64_t>(st.st_size);
  blob.mtime = st.st_mtim.tv_sec;
  seen(st.st_mtim, bpath);
  return true;
}

void Scanner::examine_blobs(std::vector<Blob>& blobs, const std::vector<std::size_t>& todo) {
  // `todo` is sorted, and so are the blobs: those of one prefix directory are together, and
  // each directory is opened once.
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // [begin, end) in todo
  for (std::size_t k = 0; k < todo.size();) {
    std::size_t end = k + 1;
    while (end < todo.size() &&
           blobs[todo[end]].digest.bytes[0] == blobs[todo[k]].digest.bytes[0]) {
      ++end;
    }
    runs.emplace_back(k, end);
    k = end;
  }
  auto root = fs::open_dir(m_v2, layout::k_blobs_dir);
  tbb::parallel_for(std::size_t{0}, runs.size(), [&](std::size_t r) {
    auto [begin, end] = runs[r];
    std::string prefix = blobs[todo[begin]].digest.hex().substr(0, 2);
    std::string path = layout::blob_prefix_dir(prefix);
    auto dir = root ? fs::open_dir(root->get(), prefix) : Result<fs::Fd>(root.error());
    for (std::size_t k = begin; k < end; ++k) {
      Blob& blob = blobs[todo[k]];
      bool ok = false;
      if (dir) {
        ok = examine_data(dir->get(), path, blob.digest.hex(), blob);
      } else {
        std::string bpath = layout::join(path, blob.digest.hex());
        unknown_blob(blob.digest);
        finding(FindingKind::unreadable, Severity::error, bpath, "",
                cannot("open directory", path, dir.error()) + "; '" + bpath + "' is kept" +
                    std::string(k_unknown_blob));
      }
      if (!ok) {
        blob.size = Blob::k_not_a_blob;
        blob.mtime = 0;
        m_not_blobs.store(true);
      }
    }
  });
}

void Scanner::merge_examined(Inventory& inv, Examined& out) {
  for (auto& v : m_findings) {
    out.findings.insert(out.findings.end(), v.begin(), v.end());
  }
  out.not_blobs = m_not_blobs.load();
  for (const auto& n : m_newest) {
    out.newest_mtime = std::max(out.newest_mtime, n.first / 1000000000);
  }
  merge_found(inv);
}

}  // namespace regsweep::scan_detail

namespace regsweep {

Examined examine_blobs(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                       const std::function<bool(std::size_t)>& wanted, WatchedDirs* watched) {
  Examined out;
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < inventory.blobs.size(); ++i) {
    if (inventory.blobs[i].unexamined() && wanted(i)) {
      todo.push_back(i);
    }
  }
  out.examined = todo.size();
  if (todo.empty()) {
    return out;
  }
  scan_detail::Scanner scanner(v2_fd, &inventory, ScanOptions{}, watched);
  arena.execute([&] { scanner.examine_blobs(inventory.blobs, todo); });
  scanner.merge_examined(inventory, out);
  return out;
}

}  // namespace regsweep
