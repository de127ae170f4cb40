// Reading link files and small directories for the scan, never following a symbolic link.

#include "link_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"

namespace regsweep::scan_detail {

// "cannot <what> '<path>': <why>", naming `path` from the top of the tree whatever path the
// failed call was given (a component below an open directory, or '.').
std::string cannot(std::string_view what, const std::string& path, const Error& error) {
  std::string why = error.reason();
  if (error.sys_errno == ELOOP) {
    return "'" + path + "' is a symbolic link; not followed";
  }
  if (error.sys_errno == EXDEV) {
    return "'" + path + "' is a mount point; not followed";
  }
  return "cannot " + std::string(what) + " '" + path + "': " + why;
}

std::string unopened(const Error& error) {
  if (error.sys_errno == ELOOP) {
    return "is a symbolic link; not followed";
  }
  if (error.sys_errno == EXDEV) {
    return "is a mount point; not followed";
  }
  return "cannot be opened (" + error.reason() + ")";
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
  auto got = fs::read_fully(fd, buf, want, rel);
  if (!got || *got != want) {
    // Cut short, or always interrupted: what the link names is unknown, not "no digest".
    out.kind = FindingKind::unreadable;
    out.problem = "cannot be read: " +
                  (got ? fs::short_read(rel, *got, want).reason() : got.error().reason());
    return out;
  }
  parse_into(out, std::string_view(buf, *got));
  return out;
}

// Counts the regular files below a directory (never following links), with their total size
// and newest modification time. Used for uploads and tag directories, which are small.
TreeStats tree_stats(int dirfd, int depth) {
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

}  // namespace regsweep::scan_detail
