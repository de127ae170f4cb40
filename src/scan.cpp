// Scanning: one walk of docker/registry/v2, in parallel, never following a symbolic link.
//
// 1. blobs/sha256/<xx>/<hex>/data: one task per prefix directory; one fstatat per blob for
//    its size. Only directories holding a regular `data` file are blobs (as upstream).
// 2. repositories/: a task per directory. A directory holding `_manifests`, `_layers` or
//    `_uploads` is a repository (either marker, as 2.8 and 3.x disagree); other `_` names are
//    never descended into; every other directory may be a namespace or a nested repository.
// 3. Each repository's links are read (revision, layer, tag current and history links).
// Whatever cannot be read becomes a finding and sets the flag that keeps what it might hold.

#include "regsweep/scan.hpp"

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

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

namespace {

constexpr std::size_t k_link_max = 4096;

// "cannot <what> '<path>': <why>", naming `path` from the top of the tree whatever path the
// failed call was given (a component below an open directory, or '.').
std::string cannot(std::string_view what, const std::string& path, const Error& error) {
  std::string why = error.reason();
  if (error.sys_errno == ELOOP) {
    return "'" + path + "' is a symbolic link; not followed";
  }
  return "cannot " + std::string(what) + " '" + path + "': " + why;
}

// Said of a blob whose contents are unknown.
constexpr std::string_view k_unknown_blob =
    ", and since it cannot be read, everything that links it is kept";

struct LinkRead {
  bool exists = false;
  std::optional<Digest> digest;
  std::string problem;  // empty when the link is valid
  FindingKind kind = FindingKind::malformed_link;
  std::int64_t mtime = 0;
  struct timespec mtime_ts {};
  bool unverified = false;  // stat'ed, not read: `digest` is the directory's (stat_link)
};

// The digest a link's text names, or why it names none.
void parse_into(LinkRead& out, std::string_view text) {
  layout::LinkContent content = layout::parse_link(text);
  out.digest = content.digest;
  if (content.problem != layout::LinkProblem::none) {
    out.problem = std::string(layout::describe(content.problem));
  }
}

// Opens `<dirfd>/<rel>` as a link file without following a final symbolic link; -1 with
// `out` saying why when it cannot (nothing there: out.exists stays false).
int open_link(int dirfd, const char* rel, LinkRead& out) {
  int fd = ::openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return -1;
    }
    out.exists = true;
    if (err == ELOOP) {
      out.kind = FindingKind::symlink;
      out.problem = "is a symbolic link; not followed";
    } else {
      out.kind = FindingKind::unreadable;
      out.problem = std::string("cannot be read: ") + std::strerror(err);
    }
    return -1;
  }
  out.exists = true;
  return fd;
}

// Reads `<dirfd>/<rel>` as a link file without following a final symbolic link.
LinkRead read_link(int dirfd, const char* rel) {
  LinkRead out;
  int fd = open_link(dirfd, rel, out);
  if (fd < 0) {
    return out;
  }
  fs::Fd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    out.kind = FindingKind::unknown_entry;
    out.problem = "is not a regular file";
    return out;
  }
  out.mtime = st.st_mtim.tv_sec;
  out.mtime_ts = st.st_mtim;
  char buf[k_link_max];
  if (static_cast<std::uint64_t>(st.st_size) >= sizeof(buf)) {
    out.problem = "is too large to be a link";
    return out;
  }
  // Read exactly the size fstat gave: no extra read() to see the end of the file, one system
  // call fewer per link (a million-blob registry has millions of links). A file that grows
  // meanwhile reads as its first st_size bytes and fails to parse if that cuts a digest.
  const auto want = static_cast<std::size_t>(st.st_size);
  std::size_t got = 0;
  while (got < want) {
    ssize_t n = ::read(fd, buf + got, want - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      out.kind = FindingKind::unreadable;
      out.problem = std::string("cannot be read: ") + std::strerror(errno);
      return out;
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  parse_into(out, std::string_view(buf, got));
  return out;
}

// Reads a link file that stat_link found to be a regular file of a link's size: open, one
// read, close, where read_link also fstats (the three calls read_link's four were before the
// scan stat'ed). A regular file's short read is its end; a file that is no longer regular
// fails to read or to parse, and is reported.
LinkRead reread_link(int dirfd, const char* rel) {
  LinkRead out;
  int fd = open_link(dirfd, rel, out);
  if (fd < 0) {
    return out;
  }
  fs::Fd file(fd);
  char buf[k_link_max];
  ssize_t n = 0;
  do {
    n = ::read(fd, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    out.kind = FindingKind::unreadable;
    out.problem = std::string("cannot be read: ") + std::strerror(errno);
    return out;
  }
  if (static_cast<std::size_t>(n) == sizeof(buf)) {
    out.problem = "is too large to be a link";
    return out;
  }
  parse_into(out, std::string_view(buf, static_cast<std::size_t>(n)));
  return out;
}

// What the registry writes to a link file: "sha256:" and 64 hex digits, nothing else.
constexpr std::int64_t k_link_size = 71;

// Takes a link's type, size and time without reading it. A regular file of exactly a link's
// size is taken to name `named`, its directory's digest, and marked unverified; anything else
// (absent, a symbolic link, unreadable, another size) is read as read_link would, so that
// its problem is reported by the scan itself.
LinkRead stat_link(int dirfd, const char* rel, const Digest& named) {
  struct stat st {};
  if (::fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size != k_link_size) {
    return read_link(dirfd, rel);
  }
  LinkRead out;
  out.exists = true;
  out.digest = named;
  out.unverified = true;
  out.mtime = st.st_mtim.tv_sec;
  out.mtime_ts = st.st_mtim;
  return out;
}

// `<hex>/<leaf>` for a 64-digit directory name and a 4-letter leaf (`link`, `data`), built on
// the stack: the scan builds one for each of a registry's millions of blobs and links. Only
// for a name parse_hex accepted.
class HexLeaf {
 public:
  HexLeaf(std::string_view hex, std::string_view leaf) {
    assert(hex.size() == 64 && leaf.size() == 4);
    std::memcpy(m_buf.data(), hex.data(), 64);
    m_buf[64] = '/';
    std::memcpy(m_buf.data() + 65, leaf.data(), 4);
    m_buf[69] = '\0';
  }
  const char* c_str() const { return m_buf.data(); }

 private:
  std::array<char, 70> m_buf{};
};

// Which links a directory holds: marking keeps both digests of a mismatched revision link,
// but of a layer or tag history link only the link itself (and, where a repository keeps
// every layer, both digests of its layer links).
enum class LinkDir { revisions, layers, tag_history };

// Records on `link`, whose directory names `named`, what reading its file found; reports a
// problem through `report(kind, message)`. `owner_mutex` guards owner.other_targets.
// `lpath()` gives the link's path, built only for a report.
template <typename Path, typename Report>
void record_read(const LinkRead& r, const Digest& named, LinkDir where, Link& link,
                 Repository& owner, std::mutex& owner_mutex, const Path& lpath,
                 const Report& report) {
  link.set_unverified(r.unverified);
  if (r.digest && *r.digest != named) {
    std::lock_guard lock(owner_mutex);
    link.set_other(static_cast<std::uint32_t>(owner.other_targets.size()));
    owner.other_targets.push_back(*r.digest);
  }
  if (!r.problem.empty()) {
    link.set_problem();
    report(r.kind, "link '" + lpath() + "' " + r.problem + "; kept");
  } else if (*r.digest != named) {
    link.set_problem();
    report(FindingKind::link_mismatch,
           "link '" + lpath() + "' names " + r.digest->str() +
               (where == LinkDir::revisions ? "; both digests are kept" : "; the link is kept"));
  }
}

// Calls fn(i) for i in [0, n): in parallel, `grain` at a time, when n exceeds `grain`.
template <typename Fn>
void for_each_index(std::size_t n, std::size_t grain, const Fn& fn) {
  if (n <= grain) {
    for (std::size_t i = 0; i < n; ++i) {
      fn(i);
    }
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, grain),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      for (std::size_t i = range.begin(); i != range.end(); ++i) {
                        fn(i);
                      }
                    });
}

struct TreeStats {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::int64_t newest = 0;
  struct timespec newest_ts {};
  bool error = false;
};

// Counts the regular files below a directory (never following links), with their total size
// and newest modification time. Used for uploads and tag directories, which are small.
TreeStats tree_stats(int dirfd, int depth = 0) {
  TreeStats out;
  if (depth > 16) {
    out.error = true;
    return out;
  }
  auto entries = fs::list_dir(dirfd);
  if (!entries) {
    out.error = true;
    return out;
  }
  for (const fs::DirEntry& e : *entries) {
    struct stat st {};
    if (::fstatat(dirfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      out.error = true;
      continue;
    }
    out.newest = std::max<std::int64_t>(out.newest, st.st_mtim.tv_sec);
    if (st.st_mtim.tv_sec > out.newest_ts.tv_sec ||
        (st.st_mtim.tv_sec == out.newest_ts.tv_sec && st.st_mtim.tv_nsec > out.newest_ts.tv_nsec)) {
      out.newest_ts = st.st_mtim;
    }
    if (S_ISDIR(st.st_mode)) {
      auto sub = fs::open_dir(dirfd, e.name);
      if (!sub) {
        out.error = true;
        continue;
      }
      TreeStats inner = tree_stats(sub->get(), depth + 1);
      out.files += inner.files;
      out.bytes += inner.bytes;
      out.newest = std::max(out.newest, inner.newest);
      if (inner.newest_ts.tv_sec > out.newest_ts.tv_sec ||
          (inner.newest_ts.tv_sec == out.newest_ts.tv_sec &&
           inner.newest_ts.tv_nsec > out.newest_ts.tv_nsec)) {
        out.newest_ts = inner.newest_ts;
      }
      out.error = out.error || inner.error;
    } else if (S_ISREG(st.st_mode)) {
      ++out.files;
      out.bytes += static_cast<std::uint64_t>(st.st_size);
    } else {
      out.error = true;  // a symlink or device inside: never treat as removable
    }
  }
  return out;
}

class Scanner {
 public:
  // `inv`: where the blob scan puts the blobs and their lookup; links found after it are
  // held as indices into them.
  Scanner(int v2_fd, const Inventory* inv, const ScanOptions& options)
      : m_v2(v2_fd), m_inv(inv), m_options(options) {}

  void finding(FindingKind kind, Severity severity, std::string path, std::string repo,
               std::string message) {
    m_findings.local().push_back(
        Finding{kind, severity, std::move(path), std::move(repo), std::move(message)});
  }

  // Records the newest modification time seen, to tell whether the tree changed under the scan.
  // `path()` gives where; it is built only when the time is the newest so far.
  template <typename Path>
  void seen(const struct timespec& mtime, const Path& path) {
    std::int64_t ns = static_cast<std::int64_t>(mtime.tv_sec) * 1000000000 + mtime.tv_nsec;
    auto& n = m_newest.local();
    if (ns > n.first) {
      n = {ns, path()};
    }
  }

  // Records the modification time of the directory open at `fd` (at `path`), before it is
  // listed, so that revalidate() sees a change made after that.
  void watch(int fd, std::string path) {
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
      m_watched.local().push_back(
          Watched{std::move(path),
                  static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                  static_cast<std::uint64_t>(st.st_nlink)});
    }
  }

  void leftover(Leftover::Kind kind, std::string path, std::string repo, std::int64_t mtime = 0) {
    m_leftovers.local().push_back(Leftover{kind, std::move(path), std::move(repo), mtime});
  }

  // Looks into `<parent>/<name>` (at `path`), whose link or data file is missing: records
  // leftovers of interrupted writes, and the directory itself when it holds nothing else.
  // Returns false when it holds something the layout does not know.
  bool inspect_incomplete(int parent_fd, const std::string& name, const std::string& path,
                          const std::string& repo) {
    auto dir = fs::open_dir(parent_fd, name);
    if (!dir) {
      finding(FindingKind::unreadable, Severity::error, path, repo,
              cannot("open directory", path, dir.error()));
      return false;
    }
    watch(dir->get(), path);  // a link or data written into it later must be seen
    auto entries = fs::list_dir(dir->get());
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

  // A prefix directory `blobs/sha256/<name>` that exists but cannot be listed: whether a
  // digest with that prefix has a blob is unknown. A name that is no prefix hides nothing.
  void unknown_prefix(std::string_view name) {
    m_blobs_incomplete.store(true);
    if (auto first = layout::parse_blob_prefix(name)) {
      std::lock_guard lock(m_unknown_mutex);
      m_unknown_prefixes.set(*first);
    }
  }

  // A blob directory that exists but whose `data` cannot be examined: present, unknown.
  void unknown_blob(const Digest& d) {
    m_blobs_incomplete.store(true);
    std::lock_guard lock(m_unknown_mutex);
    m_unknown_blobs.push_back(d);
  }

  void keep_all_blobs(std::string path, std::string repo, const std::string& why) {
    m_keep_all.store(true);
    finding(FindingKind::unreadable, Severity::error, path, std::move(repo),
            "'" + path + "' " + why + "; no blob is deleted");
  }

  void scan_blobs(std::vector<Blob>& blobs) {
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
    auto prefixes = fs::list_dir(root->get());
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
    tbb::parallel_for(std::size_t{0}, prefixes->size(), [&](std::size_t i) {
      scan_prefix(root->get(), (*prefixes)[i], per_prefix[i]);
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

  void all_blobs_unknown() {
    m_blobs_incomplete.store(true);
    std::lock_guard lock(m_unknown_mutex);
    m_unknown_prefixes.set();
  }

  void scan_prefix(int blobs_fd, const fs::DirEntry& e, std::vector<Blob>& out) {
    std::string path = layout::blob_prefix_dir(e.name);
    bool a_prefix = layout::parse_blob_prefix(e.name).has_value();
    if (e.type == fs::EntryType::symlink) {
      unknown_prefix(e.name);
      finding(FindingKind::symlink, Severity::error, path, "",
              "'" + path +
                  "' is a symbolic link; not followed: the blobs behind it are unknown, and "
                  "everything that may need them is kept");
      return;
    }
    if (e.type != fs::EntryType::directory || !a_prefix) {
      if (a_prefix) {
        unknown_prefix(e.name);
      }
      finding(FindingKind::unknown_entry, Severity::error, path, "",
              "'" + path + "' is not a blob prefix directory; kept" +
                  (a_prefix ? ", and everything that may need a blob of that prefix is kept" : ""));
      return;
    }
    auto dir = fs::open_dir(blobs_fd, e.name);
    if (!dir) {
      unknown_prefix(e.name);
      finding(FindingKind::unreadable, Severity::error, path, "",
              cannot("open directory", path, dir.error()) +
                  "; the blobs in it are unknown, and everything that may need them is kept");
      return;
    }
    watch(dir->get(), path);
    auto entries = fs::list_dir(dir->get());
    if (!entries) {
      unknown_prefix(e.name);
      finding(FindingKind::unreadable, Severity::error, path, "",
              cannot("list directory", path, entries.error()) +
                  "; the blobs in it are unknown, and everything that may need them is kept");
      return;
    }
    if (entries->empty()) {
      struct stat st {};
      ::fstat(dir->get(), &st);
      leftover(Leftover::Kind::empty_blob_prefix, path, "", st.st_mtim.tv_sec);
    }
    out.reserve(entries->size());
    for (const fs::DirEntry& b : *entries) {
      auto bpath = [&] { return layout::join(path, b.name); };  // for reports only
      auto digest = parse_hex(b.name);
      // A blob directory of this prefix that cannot be examined is present, contents unknown.
      bool names_blob = digest && b.name.substr(0, 2) == e.name;
      if (b.type == fs::EntryType::symlink) {
        if (names_blob) {
          unknown_blob(*digest);
        }
        finding(FindingKind::symlink, Severity::error, bpath(), "",
                "'" + bpath() + "' is a symbolic link; not followed, kept" +
                    (names_blob ? std::string(k_unknown_blob) : std::string()));
        continue;
      }
      if (b.type != fs::EntryType::directory || !names_blob) {
        if (names_blob) {
          unknown_blob(*digest);
        }
        finding(FindingKind::unknown_entry, Severity::error, bpath(), "",
                "'" + bpath() + "' is not a blob directory; kept" +
                    (names_blob ? std::string(k_unknown_blob) : std::string()));
        continue;
      }
      HexLeaf data(b.name, layout::k_data);
      struct stat st {};
      if (::fstatat(dir->get(), data.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int err = errno;
        std::string dpath = layout::join(bpath(), layout::k_data);
        if (err == ENOENT) {
          if (!inspect_incomplete(dir->get(), b.name, bpath(), "")) {
            unknown_blob(*digest);
            finding(FindingKind::blob_without_data, Severity::error, bpath(), "",
                    "blob directory '" + bpath() + "' has no data file; kept" +
                        std::string(k_unknown_blob));
          }
        } else {
          unknown_blob(*digest);
          finding(
              FindingKind::unreadable, Severity::error, dpath, "",
              fs::sys_error("stat", dpath, err).message + "; kept" + std::string(k_unknown_blob));
        }
        continue;
      }
      if (!S_ISREG(st.st_mode)) {
        std::string dpath = layout::join(bpath(), layout::k_data);
        bool link = S_ISLNK(st.st_mode);
        unknown_blob(*digest);
        finding(link ? FindingKind::symlink : FindingKind::unknown_entry, Severity::error, dpath,
                "",
                "'" + dpath +
                    (link ? "' is a symbolic link; not followed" : "' is not a regular file") +
                    "; the blob is kept" + std::string(k_unknown_blob));
        continue;
      }
      out.push_back(Blob{*digest, static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec});
      seen(st.st_mtim, bpath);
    }
  }

  // Walks a directory below repositories/ whose repository name would be `name`.
  void walk(fs::Fd dir, std::string name, tbb::task_group& group) {
    std::string path =
        name.empty() ? std::string(layout::k_repositories_dir) : layout::repo_dir(name);
    watch(dir.get(), path);
    auto entries = fs::list_dir(dir.get());
    if (!entries) {
      keep_all_blobs(path, name, "cannot be listed (" + entries.error().reason() + ")");
      return;
    }
    std::sort(entries->begin(), entries->end(),
              [](const fs::DirEntry& a, const fs::DirEntry& b) { return a.name < b.name; });
    bool is_repo = std::any_of(entries->begin(), entries->end(), [](const fs::DirEntry& e) {
      return layout::is_repo_marker(e.name);
    });
    Repository repo;
    repo.name = name;
    for (const fs::DirEntry& e : *entries) {
      std::string epath = layout::join(path, e.name);
      if (layout::is_reserved(e.name)) {
        if (!layout::is_repo_marker(e.name)) {
          finding(FindingKind::unknown_entry, Severity::error, epath, name,
                  "'" + epath + "' is not part of the registry layout; ignored");
          continue;
        }
        if (name.empty()) {
          finding(FindingKind::unknown_entry, Severity::error, epath, "",
                  "'" + epath + "' belongs to no repository; ignored");
          continue;
        }
        if (e.type == fs::EntryType::symlink) {
          if (e.name == layout::k_manifests) {
            repo.uncertain = true;
            repo.tags_uncertain = true;
            m_keep_all.store(true);
          } else if (e.name == layout::k_layers) {
            repo.uncertain = true;
          }
          finding(FindingKind::symlink, Severity::error, epath, name,
                  "'" + epath + "' is a symbolic link; not followed, what it holds is kept" +
                      (e.name == layout::k_manifests ? " and no blob is deleted" : ""));
          continue;
        }
        if (e.type != fs::EntryType::directory) {
          finding(FindingKind::unknown_entry, Severity::error, epath, name,
                  "'" + epath + "' is not a directory; ignored");
          continue;
        }
        auto sub = fs::open_dir(dir.get(), e.name);
        if (!sub) {
          if (e.name == layout::k_manifests) {
            repo.uncertain = true;
            repo.tags_uncertain = true;
            keep_all_blobs(epath, name, "cannot be opened (" + sub.error().reason() + ")");
          } else {
            repo.uncertain = true;
            finding(FindingKind::unreadable, Severity::error, epath, name,
                    cannot("open directory", epath, sub.error()));
          }
          continue;
        }
        if (e.name == layout::k_manifests) {
          repo.has_manifests = true;
          watch(sub->get(), epath);
          scan_manifests(sub->get(), repo);
        } else if (e.name == layout::k_layers) {
          repo.has_layers = true;
          watch(sub->get(), epath);
          scan_layers(sub->get(), repo);
        } else {
          repo.has_uploads = true;
          scan_uploads(sub->get(), repo);
        }
        continue;
      }
      if (e.type == fs::EntryType::symlink) {
        // A symlinked repository or namespace could hold manifests that reference any blob.
        if (is_repo) {
          repo.uncertain = true;
        }
        m_keep_all.store(true);
        finding(FindingKind::symlink, Severity::error, epath, name,
                "'" + epath +
                    "' is a symbolic link; not followed, and since it may hold "
                    "repositories no blob is deleted");
        continue;
      }
      if (e.type != fs::EntryType::directory) {
        finding(FindingKind::unknown_entry, Severity::error, epath, name,
                "'" + epath + "' is not part of the registry layout; ignored");
        continue;
      }
      if (!layout::is_valid_repo_component(e.name)) {
        finding(FindingKind::invalid_name, Severity::error, epath, name,
                "'" + epath + "' is not a valid repository name component; scanned anyway");
      }
      auto sub = fs::open_dir(dir.get(), e.name);
      std::string child = name.empty() ? e.name : layout::join(name, e.name);
      if (!sub) {
        keep_all_blobs(epath, child, "cannot be opened (" + sub.error().reason() + ")");
        continue;
      }
      group.run([this, fd = std::make_shared<fs::Fd>(std::move(*sub)), child, &group]() {
        walk(std::move(*fd), child, group);
      });
    }
    if (is_repo && !name.empty()) {
      m_repos.local().push_back(std::move(repo));
    }
  }

  // Reads `<dir>/<hex>/link` entries of a sha256 link directory (revisions, layers, history).
  std::vector<Link> read_links(int parent_fd, const std::string& path, Repository& owner,
                               bool missing_ok, bool& unreadable, LinkDir where) {
    const std::string& repo = owner.name;
    std::vector<Link> links;
    auto dir = fs::open_dir(parent_fd, layout::k_algorithm);
    std::string apath = layout::join(path, layout::k_algorithm);
    if (dir && where != LinkDir::tag_history) {
      watch(dir->get(), apath);  // a revision or layer link added after the scan
    }
    if (!dir) {
      if (dir.error().sys_errno == ENOENT && missing_ok) {
        return links;
      }
      unreadable = true;
      finding(dir.error().sys_errno == ELOOP ? FindingKind::symlink : FindingKind::unreadable,
              Severity::error, apath, repo, cannot("open directory", apath, dir.error()));
      return links;
    }
    auto entries = fs::list_dir(dir->get());
    if (!entries) {
      unreadable = true;
      finding(FindingKind::unreadable, Severity::error, apath, repo,
              cannot("list directory", apath, entries.error()));
      return links;
    }
    // Each entry is read on its own: a repository with tens of thousands of layers must not
    // be read one link at a time while a cold disk could serve many at once.
    std::atomic<bool> any_unreadable{false};
    std::vector<Link> found(entries->size());
    std::vector<std::uint8_t> keep(entries->size(), 0);
    // What each kept link's directory names. Turned into blob indices after the reads, in one
    // loop whose lookups do not wait on each other: each waits on a cache miss otherwise.
    std::vector<Digest> named(entries->size());
    auto one = [&](std::size_t i) {
      const fs::DirEntry& e = (*entries)[i];
      auto epath = [&] { return layout::join(apath, e.name); };  // for reports only
      auto digest = parse_hex(e.name);
      if (e.type == fs::EntryType::symlink) {
        any_unreadable.store(true);
        finding(FindingKind::symlink, Severity::error, epath(), repo,
                "'" + epath() + "' is a symbolic link; not followed, kept");
        return;
      }
      Link& link = found[i];
      if (e.type != fs::EntryType::directory || !digest) {
        if (e.type == fs::EntryType::directory && parse_hex(lower(e.name))) {
          // Upper-case hex: the registry cannot have written it; keep what it names.
          named[i] = *parse_hex(lower(e.name));
          link.set_problem();
          keep[i] = 1;
        }
        finding(FindingKind::unknown_entry, Severity::error, epath(), repo,
                "'" + epath() + "' is not a link directory; kept");
        return;
      }
      HexLeaf rel(e.name, layout::k_link);
      LinkRead r = where == LinkDir::layers && !m_options.read_layer_links
                       ? stat_link(dir->get(), rel.c_str(), *digest)
                       : read_link(dir->get(), rel.c_str());
      auto lpath = [&] { return layout::join(epath(), layout::k_link); };
      if (!r.exists) {
        // What the registry's own DELETE leaves behind: the link file goes, its directory
        // stays. Not a link; the empty directory is untidy, not a problem.
        if (!inspect_incomplete(dir->get(), e.name, epath(), repo)) {
          finding(
              FindingKind::unknown_entry, Severity::error, epath(), repo,
              "link directory '" + epath() + "' has no link file but holds other entries; kept");
        }
        return;
      }
      named[i] = *digest;
      link.mtime = static_cast<std::uint32_t>(std::clamp<std::int64_t>(r.mtime, 0, UINT32_MAX));
      seen(r.mtime_ts, lpath);
      record_read(r, *digest, where, link, owner, m_owner_mutex, lpath,
                  [&](FindingKind kind, std::string message) {
                    finding(kind, Severity::error, lpath(), repo, std::move(message));
                  });
      keep[i] = 1;
    };
    for_each_index(entries->size(), 64, one);
    if (any_unreadable.load()) {
      unreadable = true;
    }
    links.reserve(static_cast<std::size_t>(std::count(keep.begin(), keep.end(), 1)));
    for (std::size_t i = 0; i < found.size(); ++i) {
      if (keep[i] != 0) {
        found[i].ref = ref_of(owner, named[i]);
        links.push_back(found[i]);
      }
    }
    std::sort(links.begin(), links.end(),
              [](const Link& a, const Link& b) { return a.ref < b.ref; });
    return links;
  }

  // A link's reference to the digest its directory names: the blob's index, or a new entry
  // in the repository's list of absent digests.
  std::uint32_t ref_of(Repository& owner, const Digest& digest) {
    if (std::uint32_t i = blob_index(*m_inv, digest); i != k_no_blob) {
      return i;
    }
    std::lock_guard lock(m_owner_mutex);  // links of one directory are read in parallel
    owner.absent.push_back(digest);       // not shared between links: rare, and kept simple
    return Link::k_absent | static_cast<std::uint32_t>(owner.absent.size() - 1);
  }

  static std::string lower(std::string s) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') {
        c = static_cast<char>(c - 'A' + 'a');
      }
    }
    return s;
  }

  // Reports every entry of a link directory's parent (`_layers`, `_manifests/revisions`) but
  // the algorithm directory: another algorithm, a file, a socket. Each is kept, and the
  // finding keeps its repository from being removed whole.
  void report_strangers(int parent_fd, const std::string& path, const Repository& repo) {
    auto entries = fs::list_dir(parent_fd);
    if (!entries) {
      return;  // opening the algorithm directory reports it
    }
    for (const fs::DirEntry& e : *entries) {
      if (e.name == layout::k_algorithm && e.type == fs::EntryType::directory) {
        continue;
      }
      std::string epath = layout::join(path, e.name);
      finding(e.type == fs::EntryType::symlink ? FindingKind::symlink : FindingKind::unknown_entry,
              Severity::error, epath, repo.name,
              "'" + epath + "' is not part of the registry layout (" + describe_type(e.type) +
                  "); kept, with its repository");
    }
  }

  static std::string describe_type(fs::EntryType type) {
    switch (type) {
      case fs::EntryType::file:
        return "a file";
      case fs::EntryType::directory:
        return "a directory: an unknown digest algorithm";
      case fs::EntryType::symlink:
        return "a symbolic link";
      case fs::EntryType::other:
        break;
    }
    return "a socket, FIFO or device";
  }

  void scan_layers(int layers_fd, Repository& repo) {
    bool unreadable = false;
    std::string path = layout::join(layout::repo_dir(repo.name), layout::k_layers);
    report_strangers(layers_fd, path, repo);
    repo.layers = read_links(layers_fd, path, repo, true, unreadable, LinkDir::layers);
    if (unreadable) {
      repo.uncertain = true;
    }
  }

  void scan_manifests(int manifests_fd, Repository& repo) {
    std::string mpath = layout::join(layout::repo_dir(repo.name), layout::k_manifests);
    auto entries = fs::list_dir(manifests_fd);
    if (!entries) {
      repo.uncertain = true;
      repo.tags_uncertain = true;
      keep_all_blobs(mpath, repo.name, "cannot be listed (" + entries.error().reason() + ")");
      return;
    }
    for (const fs::DirEntry& e : *entries) {
      std::string epath = layout::join(mpath, e.name);
      bool known = e.name == layout::k_revisions || e.name == layout::k_tags;
      if (!known) {
        finding(FindingKind::unknown_entry, Severity::error, epath, repo.name,
                "'" + epath + "' is not part of the registry layout; ignored");
        continue;
      }
      if (e.type != fs::EntryType::directory) {
        // A symlink or a file where revisions or tags belong: unknown references.
        repo.uncertain = true;
        repo.tags_uncertain = true;
        if (e.type == fs::EntryType::symlink) {
          m_keep_all.store(true);
          finding(FindingKind::symlink, Severity::error, epath, repo.name,
                  "'" + epath + "' is a symbolic link; not followed, and no blob is deleted");
        } else {
          finding(FindingKind::unknown_entry, Severity::error, epath, repo.name,
                  "'" + epath + "' is not a directory; the repository is kept whole");
        }
        continue;
      }
      auto sub = fs::open_dir(manifests_fd, e.name);
      if (!sub) {
        repo.uncertain = true;
        repo.tags_uncertain = true;
        keep_all_blobs(epath, repo.name, "cannot be opened (" + sub.error().reason() + ")");
        continue;
      }
      watch(sub->get(), epath);
      if (e.name == layout::k_revisions) {
        report_strangers(sub->get(), epath, repo);
        bool unreadable = false;
        repo.revisions = read_links(sub->get(), epath, repo, true, unreadable, LinkDir::revisions);
        if (unreadable) {
          repo.uncertain = true;
          m_keep_all.store(true);
        }
      } else {
        scan_tags(sub->get(), repo);
      }
    }
  }

  void scan_tags(int tags_fd, Repository& repo) {
    std::string tpath = layout::tags_dir(repo.name);
    auto entries = fs::list_dir(tags_fd);
    if (!entries) {
      repo.tags_uncertain = true;
      finding(FindingKind::unreadable, Severity::error, tpath, repo.name,
              cannot("list directory", tpath, entries.error()) + "; every revision is kept");
      return;
    }
    // Each tag is read on its own (see read_links): a repository may have thousands.
    std::atomic<bool> uncertain{false};
    std::vector<std::optional<Tag>> found(entries->size());
    auto one = [&](std::size_t i) {
      const fs::DirEntry& e = (*entries)[i];
      std::string epath = layout::join(tpath, e.name);
      if (e.type != fs::EntryType::directory) {
        uncertain.store(true);
        finding(
            e.type == fs::EntryType::symlink ? FindingKind::symlink : FindingKind::unknown_entry,
            Severity::error, epath, repo.name,
            "'" + epath + "' is not a tag directory; every revision is kept");
        return;
      }
      if (!layout::is_valid_tag(e.name)) {
        finding(FindingKind::invalid_name, Severity::error, epath, repo.name,
                "'" + epath + "' is not a valid tag name; read anyway");
      }
      auto dir = fs::open_dir(tags_fd, e.name);
      if (!dir) {
        uncertain.store(true);
        finding(FindingKind::unreadable, Severity::error, epath, repo.name,
                cannot("open directory", epath, dir.error()) + "; every revision is kept");
        return;
      }
      Tag tag;
      tag.name = e.name;
      std::string cur_rel = std::string(layout::k_current) + "/" + std::string(layout::k_link);
      std::string cpath = layout::tag_current_link(repo.name, tag.name);
      LinkRead r = read_link(dir->get(), cur_rel.c_str());
      if (r.exists) {
        tag.has_current = true;
        tag.current = r.digest;
        tag.current_mtime = r.mtime;
        tag.current_mtime_ns =
            static_cast<std::int64_t>(r.mtime_ts.tv_sec) * 1000000000 + r.mtime_ts.tv_nsec;
        seen(r.mtime_ts, [&] { return cpath; });
        if (!r.problem.empty()) {
          tag.current_problem = true;
          uncertain.store(true);
          finding(r.kind, Severity::error, cpath, repo.name,
                  "link '" + cpath + "' " + r.problem + "; every revision is kept");
        }
      } else {
        auto current = fs::open_dir(dir->get(), layout::k_current);
        if (current) {
          inspect_incomplete(dir->get(), std::string(layout::k_current),
                             layout::join(epath, layout::k_current), repo.name);
        }
      }
      auto index = fs::open_dir(dir->get(), layout::k_index);
      if (index) {
        bool unreadable = false;
        tag.history = read_links(index->get(), layout::join(epath, layout::k_index), repo, true,
                                 unreadable, LinkDir::tag_history);
      } else if (index.error().sys_errno != ENOENT) {
        finding(FindingKind::unreadable, Severity::error, layout::join(epath, layout::k_index),
                repo.name,
                cannot("open directory", layout::join(epath, layout::k_index), index.error()));
      }
      if (!tag.has_current) {
        TreeStats inside = tree_stats(dir->get());
        if (tag.history.empty() && inside.files == 0 && !inside.error) {
          // What is left of a tag whose link files were removed: nothing to resolve.
          struct stat st {};
          ::fstat(dir->get(), &st);
          leftover(Leftover::Kind::empty_tag_dir, epath, repo.name,
                   std::max<std::int64_t>(st.st_mtim.tv_sec, inside.newest));
          return;
        }
        finding(FindingKind::malformed_link, Severity::warning, epath, repo.name,
                "tag directory '" + epath + "' has no current link; the tag does not resolve");
      }
      found[i] = std::move(tag);
    };
    for_each_index(entries->size(), 16, one);
    if (uncertain.load()) {
      repo.tags_uncertain = true;
    }
    repo.tags.reserve(entries->size());
    for (auto& t : found) {
      if (t) {
        repo.tags.push_back(std::move(*t));
      }
    }
    std::sort(repo.tags.begin(), repo.tags.end(),
              [](const Tag& a, const Tag& b) { return a.name < b.name; });
  }

  void scan_uploads(int uploads_fd, Repository& repo) {
    std::string upath = layout::uploads_dir(repo.name);
    auto entries = fs::list_dir(uploads_fd);
    if (!entries) {
      finding(FindingKind::unreadable, Severity::error, upath, repo.name,
              cannot("list directory", upath, entries.error()));
      return;
    }
    if (entries->empty()) {
      // The registry creates `_uploads` on demand; an empty one is untidy only.
      struct stat st {};
      ::fstat(uploads_fd, &st);
      leftover(Leftover::Kind::empty_dir, upath, repo.name, st.st_mtim.tv_sec);
    }
    for (const fs::DirEntry& e : *entries) {
      std::string epath = layout::join(upath, e.name);
      Upload up;
      up.id = e.name;
      if (e.type != fs::EntryType::directory) {
        finding(
            e.type == fs::EntryType::symlink ? FindingKind::symlink : FindingKind::unknown_entry,
            Severity::error, epath, repo.name, "'" + epath + "' is not an upload directory; kept");
        continue;
      }
      auto dir = fs::open_dir(uploads_fd, e.name);
      if (!dir) {
        up.problem = true;
        finding(FindingKind::unreadable, Severity::error, epath, repo.name,
                cannot("open directory", epath, dir.error()));
        repo.uploads.push_back(std::move(up));
        continue;
      }
      TreeStats st = tree_stats(dir->get());
      up.bytes = st.bytes;
      up.newest_mtime = st.newest;
      up.problem = st.error;
      seen(st.newest_ts, [&] { return epath; });
      if (st.error) {
        finding(
            FindingKind::unreadable, Severity::error, epath, repo.name,
            "upload '" + epath + "' holds something unreadable or a symbolic link; never purged");
      }
      auto started = fs::read_file(dir->get(), layout::k_startedat, 256);
      if (started) {
        up.started = parse_rfc3339(*started);
      }
      repo.uploads.push_back(std::move(up));
    }
    std::sort(repo.uploads.begin(), repo.uploads.end(),
              [](const Upload& a, const Upload& b) { return a.id < b.id; });
  }

  void collect(Inventory& inv) {
    for (auto& v : m_repos) {
      for (auto& r : v) {
        inv.repositories.push_back(std::move(r));
      }
    }
    std::sort(inv.repositories.begin(), inv.repositories.end(),
              [](const Repository& a, const Repository& b) { return a.name < b.name; });
    for (auto& v : m_findings) {
      inv.findings.insert(inv.findings.end(), v.begin(), v.end());
    }
    sort_findings(inv.findings);
    inv.keep_all_blobs = m_keep_all.load();
    inv.blobs_complete = !m_blobs_incomplete.load();
    inv.unknown_prefixes = m_unknown_prefixes;
    inv.unknown_blobs = std::move(m_unknown_blobs);
    std::sort(inv.unknown_blobs.begin(), inv.unknown_blobs.end());
    inv.unknown_blobs.erase(std::unique(inv.unknown_blobs.begin(), inv.unknown_blobs.end()),
                            inv.unknown_blobs.end());
    for (const auto& n : m_newest) {
      if (n.first > inv.newest_mtime_ns) {
        inv.newest_mtime_ns = n.first;
        inv.newest_path = n.second;
      }
    }
    for (auto& v : m_leftovers) {
      inv.leftovers.insert(inv.leftovers.end(), v.begin(), v.end());
    }
    for (auto& v : m_watched) {
      inv.watched.insert(inv.watched.end(), std::make_move_iterator(v.begin()),
                         std::make_move_iterator(v.end()));
    }
    std::sort(inv.watched.begin(), inv.watched.end(),
              [](const Watched& a, const Watched& b) { return a.path < b.path; });
    std::sort(inv.leftovers.begin(), inv.leftovers.end(),
              [](const Leftover& a, const Leftover& b) { return a.path < b.path; });
  }

 private:
  int m_v2;
  const Inventory* m_inv;
  ScanOptions m_options;
  std::mutex m_owner_mutex;  // guards Repository::absent and other_targets while links are read
  tbb::enumerable_thread_specific<std::vector<Finding>> m_findings;
  tbb::enumerable_thread_specific<std::vector<Repository>> m_repos;
  tbb::enumerable_thread_specific<std::vector<Leftover>> m_leftovers;
  tbb::enumerable_thread_specific<std::vector<Watched>> m_watched;
  tbb::enumerable_thread_specific<std::pair<std::int64_t, std::string>> m_newest;
  std::atomic<bool> m_keep_all{false};
  std::atomic<bool> m_blobs_incomplete{false};
  std::mutex m_unknown_mutex;  // guards the two below
  std::bitset<256> m_unknown_prefixes;
  std::vector<Digest> m_unknown_blobs;
};

}  // namespace

Result<Inventory> scan(int v2_fd, tbb::task_arena& arena, const ScanOptions& options) {
  Inventory inv;
  struct timespec started {};
  ::clock_gettime(CLOCK_REALTIME, &started);
  inv.scan_started_ns = static_cast<std::int64_t>(started.tv_sec) * 1000000000 + started.tv_nsec;
  Scanner scanner(v2_fd, &inv, options);
  arena.execute([&] {
    tbb::task_group group;
    // Blobs first: every link found afterwards is held as an index into them.
    scanner.scan_blobs(inv.blobs);
    inv.blob_lookup = BlobLookup(inv.blobs);
    auto repos = fs::open_dir(v2_fd, layout::k_repositories_dir);
    if (repos) {
      inv.has_repositories_dir = true;
      group.run([&scanner, &group, fd = std::make_shared<fs::Fd>(std::move(*repos))]() {
        scanner.walk(std::move(*fd), "", group);
      });
    } else if (repos.error().sys_errno != ENOENT) {
      scanner.keep_all_blobs(std::string(layout::k_repositories_dir), "",
                             "cannot be opened (" + repos.error().reason() + ")");
    }
    group.wait();
  });
  scanner.collect(inv);
  if (!inv.has_repositories_dir && !inv.blobs.empty()) {
    // Blobs but no repositories: a wrong root, a failed mount or a hand-made mess, not an
    // empty registry. Upstream aborts here; regsweep keeps every blob.
    inv.keep_all_blobs = true;
    inv.findings.push_back(Finding{
        FindingKind::unreadable, Severity::error, std::string(layout::k_repositories_dir), "",
        "'" + std::string(layout::k_repositories_dir) + "' does not exist but " +
            std::to_string(inv.blobs.size()) + " blobs do; no blob is deleted"});
    sort_findings(inv.findings);
  }
  return inv;
}

Verified verify_layer_links(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Link&)>& wanted) {
  tbb::enumerable_thread_specific<std::vector<Finding>> findings;
  std::atomic<bool> other_targets{false};
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, inventory.repositories.size(), [&](std::size_t r) {
      Repository& repo = inventory.repositories[r];
      std::vector<std::size_t> todo;
      for (std::size_t i = 0; i < repo.layers.size(); ++i) {
        if (repo.layers[i].unverified() && wanted(r, repo.layers[i])) {
          todo.push_back(i);
        }
      }
      if (todo.empty()) {
        return;
      }
      std::string dir_path = layout::join(
          layout::join(layout::repo_dir(repo.name), layout::k_layers), layout::k_algorithm);
      auto dir = fs::open_dir(v2_fd, dir_path);
      std::mutex owner_mutex;  // guards repo.other_targets
      // In parallel within a repository too: one may hold most of the links to read.
      for_each_index(todo.size(), 64, [&](std::size_t k) {
        Link& link = repo.layers[todo[k]];
        const Digest& named = link_digest(inventory, repo, link);
        auto lpath = [&] { return layout::layer_link(repo.name, named); };  // for reports only
        LinkRead got;
        if (!dir) {
          got.exists = true;
          got.kind = FindingKind::unreadable;
          got.problem = "cannot be read: " + dir.error().reason();
        } else {
          got = reread_link(dir->get(), HexLeaf(named.hex(), layout::k_link).c_str());
          if (!got.exists) {
            got.exists = true;
            got.kind = FindingKind::unreadable;
            got.problem = "was there when the scan began and is gone now";
          }
        }
        record_read(got, named, LinkDir::layers, link, repo, owner_mutex, lpath,
                    [&](FindingKind kind, std::string message) {
                      findings.local().push_back(
                          Finding{kind, Severity::error, lpath(), repo.name, std::move(message)});
                    });
        if (link.other() != Link::k_no_other) {
          other_targets.store(true);
        }
      });
    });
  });
  Verified out;
  for (auto& v : findings) {
    out.findings.insert(out.findings.end(), v.begin(), v.end());
  }
  out.other_targets = other_targets.load();
  return out;
}

namespace {

std::uint32_t search(const std::vector<Blob>& blobs, std::size_t first, std::size_t last,
                     const Digest& digest) {
  auto end = blobs.begin() + static_cast<std::ptrdiff_t>(last);
  auto it = std::lower_bound(blobs.begin() + static_cast<std::ptrdiff_t>(first), end, digest,
                             [](const Blob& b, const Digest& d) { return b.digest < d; });
  if (it == end || it->digest != digest) {
    return k_no_blob;
  }
  return static_cast<std::uint32_t>(it - blobs.begin());
}

}  // namespace

BlobLookup::BlobLookup(const std::vector<Blob>& blobs) : m_for(blobs.data()), m_size(blobs.size()) {
  if (blobs.size() < 64) {
    return;  // a binary search is as quick, and the table would cost more than the list
  }
  // One or two blobs a bucket, for 2 to 4 bytes of table a blob.
  unsigned bits = static_cast<unsigned>(std::bit_width(blobs.size())) - 1;
  m_shift = 64 - bits;
  std::size_t buckets = std::size_t{1} << bits;
  m_start.resize(buckets + 1);
  std::size_t i = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    m_start[b] = static_cast<std::uint32_t>(i);
    while (i < blobs.size() && (blobs[i].digest.leading() >> m_shift) == b) {
      ++i;
    }
  }
  m_start[buckets] = static_cast<std::uint32_t>(i);
}

std::uint32_t BlobLookup::find(const std::vector<Blob>& blobs, const Digest& digest) const {
  if (m_start.empty() || blobs.data() != m_for || blobs.size() != m_size) {
    return search(blobs, 0, blobs.size(), digest);
  }
  std::uint64_t b = digest.leading() >> m_shift;
  std::uint32_t first = m_start[b];
  std::uint32_t last = m_start[b + 1];
  if (last - first > 8) {
    return search(blobs, first, last, digest);  // skewed digests
  }
  for (std::uint32_t i = first; i < last; ++i) {
    if (blobs[i].digest == digest) {
      return i;
    }
  }
  return k_no_blob;
}

std::uint32_t blob_index(const std::vector<Blob>& blobs, const Digest& digest) {
  return search(blobs, 0, blobs.size(), digest);
}

std::uint32_t blob_index(const Inventory& inventory, const Digest& digest) {
  return inventory.blob_lookup.find(inventory.blobs, digest);
}

bool blob_unknown(const Inventory& inventory, const Digest& digest) {
  return inventory.unknown_prefixes.test(digest.bytes[0]) ||
         std::binary_search(inventory.unknown_blobs.begin(), inventory.unknown_blobs.end(), digest);
}

const Blob* find_blob(const Inventory& inventory, const Digest& digest) {
  std::uint32_t i = blob_index(inventory.blobs, digest);
  return i == k_no_blob ? nullptr : &inventory.blobs[i];
}

}  // namespace regsweep
