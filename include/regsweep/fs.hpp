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
// component that is a symbolic link.
Result<Fd> open_dir(int dirfd, std::string_view relpath);

// Lists a directory (without "." and ".."), with entry types from readdir; an unknown type is
// resolved with fstatat without following links. The order is the order on disk.
Result<std::vector<DirEntry>> list_dir(int dirfd);

// Reads a whole regular file below `dirfd`, refusing symbolic links and files over `max_size`.
Result<std::string> read_file(int dirfd, std::string_view relpath, std::uint64_t max_size);

// Reads a whole regular file the user named (a configuration): its path is followed as given,
// symbolic links included, as open_root follows the root. Never waits on a FIFO; refuses
// anything but a regular file (sys_errno EISDIR for a directory) and files over `max_size`.
Result<std::string> read_named_file(const std::string& path, std::uint64_t max_size);

// Information on an entry below `dirfd` without following a final symbolic link.
Result<FileInfo> stat(int dirfd, std::string_view relpath);

// Removes `relpath` below `dirfd`: a file, or a directory and all it holds. Symbolic links met
// inside are removed as links, never followed. A path that is already gone is success.
Status remove_tree(int dirfd, std::string_view relpath);

// Removes the directory `relpath` below `dirfd` if it is empty. Returns true when removed,
// false when it was not empty or did not exist.
Result<bool> remove_if_empty(int dirfd, std::string_view relpath);

// fsyncs the directory `relpath` below `dirfd`.
Status sync_dir(int dirfd, std::string_view relpath);

// "cannot <what> '<path>': <strerror>".
Error sys_error(std::string_view what, std::string_view path, int err);

}  // namespace regsweep::fs
