#include "regsweep/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace regsweep::fs {

namespace {

constexpr int k_dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

EntryType type_of_mode(mode_t mode) {
  if (S_ISREG(mode)) {
    return EntryType::file;
  }
  if (S_ISDIR(mode)) {
    return EntryType::directory;
  }
  if (S_ISLNK(mode)) {
    return EntryType::symlink;
  }
  return EntryType::other;
}

// Splits "a/b/c" into the directory part "a/b" and the last component "c".
std::pair<std::string_view, std::string_view> split_last(std::string_view path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return {std::string_view(), path};
  }
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// Opens the directory holding the last component of `path`, or dups `dirfd` when there is none.
Result<Fd> open_parent(int dirfd, std::string_view path) {
  auto [parent, last] = split_last(path);
  if (parent.empty()) {
    int fd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      return sys_error("open directory", ".", errno);
    }
    return Fd(fd);
  }
  return open_dir(dirfd, parent);
}

Status remove_dir_contents(int dirfd, std::string_view shown_path) {
  auto entries = list_dir(dirfd);
  if (!entries) {
    return entries.error();
  }
  for (const DirEntry& e : *entries) {
    std::string shown = std::string(shown_path) + "/" + e.name;
    if (e.type == EntryType::directory) {
      int fd = ::openat(dirfd, e.name.c_str(), k_dir_flags);
      if (fd < 0) {
        if (errno == ENOENT) {
          continue;
        }
        return sys_error("open directory", shown, errno);
      }
      Fd child(fd);
      if (Status s = remove_dir_contents(child.get(), shown); !s) {
        return s;
      }
      if (::unlinkat(dirfd, e.name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        return sys_error("remove directory", shown, errno);
      }
    } else if (::unlinkat(dirfd, e.name.c_str(), 0) != 0 && errno != ENOENT) {
      return sys_error("remove", shown, errno);
    }
  }
  return ok_status();
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Error sys_error(std::string_view what, std::string_view path, int err) {
  std::string msg = "cannot ";
  msg.append(what).append(" '").append(path).append("': ").append(std::strerror(err));
  return Error{std::move(msg), err};
}

Result<Fd> open_root(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return sys_error("open directory", path, errno);
  }
  return Fd(fd);
}

Result<Fd> open_dir(int dirfd, std::string_view relpath) {
  Fd current;
  int at = dirfd;
  std::size_t pos = 0;
  while (pos <= relpath.size()) {
    std::size_t slash = relpath.find('/', pos);
    if (slash == std::string_view::npos) {
      slash = relpath.size();
    }
    std::string comp(relpath.substr(pos, slash - pos));
    pos = slash + 1;
    if (comp.empty() || comp == ".") {
      continue;
    }
    if (comp == "..") {
      return Error{"refusing '..' in path '" + std::string(relpath) + "'", EINVAL};
    }
    int fd = ::openat(at, comp.c_str(), k_dir_flags);
    if (fd < 0) {
      int err = errno;
      std::string_view upto = relpath.substr(0, slash);
      struct stat st {};
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(at, comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        // O_NOFOLLOW | O_DIRECTORY says ENOTDIR for a link: say what it is.
        return Error{"'" + std::string(upto) + "' is a symbolic link; not followed", ELOOP};
      }
      return sys_error("open directory", upto, err);
    }
    current = Fd(fd);
    at = current.get();
  }
  if (!current.valid()) {
    int fd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      return sys_error("open directory", relpath, errno);
    }
    current = Fd(fd);
  }
  return current;
}

Result<std::vector<DirEntry>> list_dir(int dirfd) {
  int fd = ::openat(dirfd, ".", k_dir_flags);
  if (fd < 0) {
    return sys_error("open directory", ".", errno);
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return sys_error("list directory", ".", err);
  }
  std::vector<DirEntry> out;
  errno = 0;
  while (dirent* ent = ::readdir(dir)) {
    std::string_view name(ent->d_name);
    if (name == "." || name == "..") {
      continue;
    }
    EntryType type = EntryType::other;
    switch (ent->d_type) {
      case DT_REG:
        type = EntryType::file;
        break;
      case DT_DIR:
        type = EntryType::directory;
        break;
      case DT_LNK:
        type = EntryType::symlink;
        break;
      case DT_UNKNOWN: {
        struct stat st {};
        if (::fstatat(::dirfd(dir), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
          type = type_of_mode(st.st_mode);
        }
        break;
      }
      default:
        break;
    }
    out.push_back(DirEntry{std::string(name), type});
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) {
    return sys_error("list directory", ".", err);
  }
  return out;
}

namespace {

std::atomic<bool> g_openat2_missing{false};

// Opens `relpath` below `dirfd` in one system call, refusing a symbolic link in any component
// and any escape from `dirfd` (openat2 with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH). Returns -1
// where the kernel or a sandbox lacks openat2, and on any error: the caller then walks the
// path one component at a time, which gives the precise error.
int open_resolved(int dirfd, std::string_view relpath, int flags) {
  if (g_openat2_missing.load(std::memory_order_relaxed)) {
    return -1;
  }
  std::string path(relpath);
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof(how));
  if (fd < 0) {
    if (errno == ENOSYS) {
      g_openat2_missing.store(true, std::memory_order_relaxed);
    }
    return -1;
  }
  return static_cast<int>(fd);
}

// Reads the whole of an open file, refusing anything but a regular file (sys_errno EISDIR for
// a directory, EINVAL for the rest) and files over `max_size`. `shown` names it in errors.
Result<std::string> read_open_file(Fd file, std::string_view shown, std::uint64_t max_size) {
  int fd = file.get();
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return sys_error("stat", shown, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{"'" + std::string(shown) + "' is not a regular file",
                 S_ISDIR(st.st_mode) ? EISDIR : EINVAL};
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    return Error{
        "'" + std::string(shown) + "' is larger than " + std::to_string(max_size) + " bytes",
        EFBIG};
  }
  // Exactly the size fstat gave, with no read() to find the end: the files read here (blobs,
  // `startedat`, the configuration) are written whole before they are renamed into place.
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sys_error("read", shown, errno);
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace

Result<std::string> read_file(int dirfd, std::string_view relpath, std::uint64_t max_size) {
  constexpr int k_flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  // O_NONBLOCK: a FIFO where a file belongs must not hang the run; it is refused below.
  int fd = open_resolved(dirfd, relpath, k_flags);
  if (fd < 0) {
    auto parent = open_parent(dirfd, relpath);
    if (!parent) {
      return parent.error();
    }
    std::string last(split_last(relpath).second);
    fd = ::openat(parent->get(), last.c_str(), k_flags);
    if (fd < 0) {
      int err = errno;
      if (err == ELOOP) {
        return Error{"refusing to follow symbolic link '" + std::string(relpath) + "'", err};
      }
      return sys_error("open", relpath, err);
    }
  }
  return read_open_file(Fd(fd), relpath, max_size);
}

Result<std::string> read_named_file(const std::string& path, std::uint64_t max_size) {
  // The user named it: a symbolic link is followed, as for the root. O_NONBLOCK: a FIFO must
  // not hang the run; it is refused after the fstat.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return sys_error("open", path, errno);
  }
  return read_open_file(Fd(fd), path, max_size);
}

Result<FileInfo> stat(int dirfd, std::string_view relpath) {
  auto parent = open_parent(dirfd, relpath);
  if (!parent) {
    return parent.error();
  }
  std::string last(split_last(relpath).second);
  struct stat st {};
  if (::fstatat(parent->get(), last.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return sys_error("stat", relpath, errno);
  }
  return FileInfo{type_of_mode(st.st_mode), static_cast<std::uint64_t>(st.st_size), st.st_mtim,
                  static_cast<std::uint64_t>(st.st_nlink)};
}

Status remove_tree(int dirfd, std::string_view relpath) {
  auto parent = open_parent(dirfd, relpath);
  if (!parent) {
    if (parent.error().sys_errno == ENOENT) {
      return ok_status();
    }
    return parent.error();
  }
  std::string last(split_last(relpath).second);
  if (last.empty() || last == "." || last == "..") {
    return Error{"refusing to remove '" + std::string(relpath) + "'", EINVAL};
  }
  struct stat st {};
  if (::fstatat(parent->get(), last.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return ok_status();
    }
    return sys_error("stat", relpath, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(parent->get(), last.c_str(), k_dir_flags);
    if (fd < 0) {
      return sys_error("open directory", relpath, errno);
    }
    Fd child(fd);
    if (Status s = remove_dir_contents(child.get(), relpath); !s) {
      return s;
    }
    if (::unlinkat(parent->get(), last.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return sys_error("remove directory", relpath, errno);
    }
    return ok_status();
  }
  if (::unlinkat(parent->get(), last.c_str(), 0) != 0 && errno != ENOENT) {
    return sys_error("remove", relpath, errno);
  }
  return ok_status();
}

Result<bool> remove_if_empty(int dirfd, std::string_view relpath) {
  auto parent = open_parent(dirfd, relpath);
  if (!parent) {
    if (parent.error().sys_errno == ENOENT) {
      return false;
    }
    return parent.error();
  }
  std::string last(split_last(relpath).second);
  struct stat st {};
  if (::fstatat(parent->get(), last.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return sys_error("stat", relpath, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return false;
  }
  if (::unlinkat(parent->get(), last.c_str(), AT_REMOVEDIR) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT) {
      return false;
    }
    return sys_error("remove directory", relpath, errno);
  }
  return true;
}

Status sync_dir(int dirfd, std::string_view relpath) {
  auto dir = open_dir(dirfd, relpath);
  if (!dir) {
    return dir.error();
  }
  if (::fsync(dir->get()) != 0) {
    return sys_error("sync directory", relpath, errno);
  }
  return ok_status();
}

}  // namespace regsweep::fs
