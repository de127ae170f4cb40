#pragma once

// Thin POSIX helpers over directory file descriptors. Nothing here follows a symbolic link
// below the directory it starts from: every component is opened with O_NOFOLLOW.

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/result.hpp"

namespace regsweep::fs {

// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  ~Fd();

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  int release() {
    int fd = m_fd;
    m_fd = -1;
    return fd;
  }

 private:
  int m_fd = -1;
};

enum class EntryType { file, directory, symlink, other };

struct DirEntry {
  std::string name;
  EntryType type;
};

struct FileInfo {
  EntryType type;
  std::uint64_t size;
  std::timespec mtime;
  std::uint64_t nlink = 0;  // for a directory on most file systems, 2 + its subdirectories
};

// Opens a directory the user named (the storage root). Symbolic links in this path are
// followed: it is the root itself, not something inside it.
Result<Fd> open_root(const std::string& path);

// Opens `relpath` (components separated by '/') below `dirfd` as a directory, refusing any
// component that is a symbolic link (sys_errno ELOOP) or a mount point (EXDEV). Only the
// directories `blobs`, `blobs/sha256` and `repositories` of a path from docker/registry/v2 may be
// mount points: the usual way to put blobs on another disk.
Result<Fd> open_dir(int dirfd, std::string_view relpath);

// Lists a directory (without "." and ".."), with entry types from readdir; an unknown type is
// resolved with fstatat without following links, and one that cannot be resolved fails the
// listing (what it holds is unknown). Each name once, in name order: an entry listed twice
// (network and FUSE file systems do that) is given once, or fails the listing when its two
// types differ. `shown` names the directory in errors, from the top of the tree.
Result<std::vector<DirEntry>> list_dir(int dirfd, std::string_view shown = ".");

// How many EINTR in a row a read takes before it gives up: a file system that always says
// EINTR must not hang the run.
constexpr int k_max_interrupted = 100;

// Reads up to `want` bytes of `fd` into `buf`, until the end of the file; EINTR is retried up
// to k_max_interrupted times in a row. Returns how many bytes were read. `shown` names the
// file in errors.
Result<std::size_t> read_fully(int fd, char* buf, std::size_t want, std::string_view shown);

// "cannot read '<shown>': it ended after <got> of the <size> bytes its size says" (EIO).
Error short_read(std::string_view shown, std::uint64_t got, std::uint64_t size);

// True for the directories of a path from docker/registry/v2 that may be mount points:
// `blobs`, `blobs/sha256` and `repositories`, the usual way to put blobs on another disk.
bool may_be_mount_point(std::string_view path_from_v2);

// Reads a whole regular file below `dirfd`, refusing symbolic links and files over `max_size`.
Result<std::string> read_file(int dirfd, std::string_view relpath, std::uint64_t max_size);

// Reads a whole regular file the user named (a configuration): its path is followed as given,
// symbolic links included, as open_root follows the root. Never waits on a FIFO; refuses
// anything but a regular file (sys_errno EISDIR for a directory) and files over `max_size`.
Result<std::string> read_named_file(const std::string& path, std::uint64_t max_size);

// Writes `text` to a new file at `path`, readable by its owner only (mode 0600): never over
// an existing file or through a symbolic link (O_EXCL, O_NOFOLLOW).
Status write_new_file(const std::string& path, std::string_view text);

// Information on an entry below `dirfd` without following a final symbolic link.
Result<FileInfo> stat(int dirfd, std::string_view relpath);

// Removes `relpath` below `dirfd`: a file, or a directory and all it holds. Symbolic links met
// inside are removed as links, never followed; a mount point inside is never entered (an
// error, EXDEV), nor a tree more than 32 directories deep. A path that is already gone is
// success, once a second look agrees.
// What remove_tree may remove below the directory it is given.
enum class Contents { anything, directories_only };

// With Contents::directories_only, a file or link met inside fails the removal, and is kept.
Status remove_tree(int dirfd, std::string_view relpath, Contents contents = Contents::anything);

// Removes the directory `relpath` below `dirfd` if it is empty. Returns true when removed,
// false when it was not empty or did not exist.
Result<bool> remove_if_empty(int dirfd, std::string_view relpath);

// Syncs the filesystem `dirfd` is on (syncfs(2)): every change made on it so far is on disk,
// or the error says which write-back failed.
Status sync_filesystem(int dirfd);

// "cannot <what> '<path>': <strerror>".
Error sys_error(std::string_view what, std::string_view path, int err);

}  // namespace regsweep::fs
