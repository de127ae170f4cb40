#include "regsweep/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>

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

std::atomic<bool> g_openat2_missing{false};

// Opens `relpath` below `dirfd` in one system call, refusing a symbolic link in any component,
// any escape from `dirfd` and any mount point crossed (openat2 with RESOLVE_NO_SYMLINKS |
// RESOLVE_BENEATH | RESOLVE_NO_XDEV). Returns -1 where the kernel or a sandbox lacks openat2,
// and on any error: the caller then walks the path one component at a time, which gives the
// precise error.
int open_resolved(int dirfd, std::string_view relpath, int flags) {
  if (g_openat2_missing.load(std::memory_order_relaxed)) {
    return -1;
  }
  std::string path(relpath);
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof(how));
  if (fd < 0) {
    if (errno == ENOSYS) {
      g_openat2_missing.store(true, std::memory_order_relaxed);
    }
    return -1;
  }
  return static_cast<int>(fd);
}

// The mount `fd` lies on: its mount id where statx gives one, else its device. Where `fd`
// is the root of a mount, `root` is set.
struct MountOf {
  std::uint64_t id = 0;
  bool root = false;
  bool known = false;
};

MountOf mount_of(int fd) {
  MountOf out;
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) == 0) {
    out.known = true;
    out.id = (stx.stx_mask & STATX_MNT_ID) != 0
                 ? stx.stx_mnt_id
                 : (std::uint64_t{stx.stx_dev_major} << 32) | stx.stx_dev_minor;
    out.root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
               (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  return out;
}

// True when the directory `child`, just opened below `parent`, lies on another mount than
// `parent` (a mount point, a bind mount included), or when that cannot be told.
bool crosses_mount(int parent, int child) {
  MountOf p = mount_of(parent);
  MountOf c = mount_of(child);
  return !p.known || !c.known || p.id != c.id || c.root;
}

Error mount_point(std::string_view shown) {
  return Error{"'" + std::string(shown) + "' is a mount point; not followed", EXDEV};
}

// Opens the directory `name` (one component) below `dirfd`, refusing a symbolic link and a
// mount point. `shown` names it in errors.
Result<Fd> open_child_dir(int dirfd, const std::string& name, std::string_view shown) {
  int fd = open_resolved(dirfd, name, k_dir_flags);
  if (fd >= 0) {
    return Fd(fd);
  }
  fd = ::openat(dirfd, name.c_str(), k_dir_flags);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP || err == ENOTDIR) {
      struct stat st {};
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        return Error{"'" + std::string(shown) + "' is a symbolic link; not followed", ELOOP};
      }
    }
    return sys_error("open directory", shown, err);
  }
  Fd child(fd);
  if (crosses_mount(dirfd, child.get())) {
    return mount_point(shown);
  }
  return child;
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

Status confirm_gone(int dirfd, const std::string& name, std::string_view shown);

// How deep remove_tree goes below what it was asked to remove: far deeper than any directory
// of the layout, and a bound on a tree that has no bottom (a file system with a cycle).
constexpr int k_max_remove_depth = 32;

Status remove_dir_contents(int dirfd, std::string_view shown_path, int depth, Contents contents) {
  if (depth > k_max_remove_depth) {
    return Error{"refusing to remove '" + std::string(shown_path) + "': more than " +
                     std::to_string(k_max_remove_depth) + " directories deep",
                 ELOOP};
  }
  auto entries = list_dir(dirfd, shown_path);
  if (!entries) {
    return entries.error();
  }
  for (const DirEntry& e : *entries) {
    std::string shown = std::string(shown_path) + "/" + e.name;
    if (e.type == EntryType::directory) {
      auto child = open_child_dir(dirfd, e.name, shown);
      if (!child) {
        if (child.error().sys_errno == ENOENT) {
          if (Status s = confirm_gone(dirfd, e.name, shown); !s) {
            return s;
          }
          continue;
        }
        return child.error();
      }
      if (Status s = remove_dir_contents(child->get(), shown, depth + 1, contents); !s) {
        return s;
      }
      if (::unlinkat(dirfd, e.name.c_str(), AT_REMOVEDIR) != 0) {
        if (errno != ENOENT) {
          return sys_error("remove directory", shown, errno);
        }
        if (Status s = confirm_gone(dirfd, e.name, shown); !s) {
          return s;
        }
      }
    } else if (contents == Contents::directories_only) {
      return Error{"refusing to remove '" + std::string(shown_path) + "': it holds '" + shown +
                   "', which the scan did not see; kept"};
    } else if (::unlinkat(dirfd, e.name.c_str(), 0) != 0) {
      if (errno != ENOENT) {
        return sys_error("remove", shown, errno);
      }
      if (Status s = confirm_gone(dirfd, e.name, shown); !s) {
        return s;
      }
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

bool may_be_mount_point(std::string_view path_from_v2) {
  return path_from_v2 == "blobs" || path_from_v2 == "blobs/sha256" ||
         path_from_v2 == "repositories";
}

Result<Fd> open_root(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return sys_error("open directory", path, errno);
  }
  return Fd(fd);
}

Result<Fd> open_dir(int dirfd, std::string_view relpath) {
  // One system call where the path has no link and crosses no mount; otherwise a walk, one
  // component at a time, that says which component is in the way.
  bool any =
      std::any_of(relpath.begin(), relpath.end(), [](char c) { return c != '/' && c != '.'; });
  if (any && relpath.find("..") == std::string_view::npos) {
    int fd = open_resolved(dirfd, relpath, k_dir_flags);
    if (fd >= 0) {
      return Fd(fd);
    }
  }
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
    std::string_view upto = relpath.substr(0, slash);
    int fd = ::openat(at, comp.c_str(), k_dir_flags);
    if (fd < 0) {
      int err = errno;
      struct stat st {};
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(at, comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        // O_NOFOLLOW | O_DIRECTORY says ENOTDIR for a link: say what it is.
        return Error{"'" + std::string(upto) + "' is a symbolic link; not followed", ELOOP};
      }
      return sys_error("open directory", upto, err);
    }
    Fd next(fd);
    if (!may_be_mount_point(upto) && crosses_mount(at, next.get())) {
      return mount_point(upto);
    }
    current = std::move(next);
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

Result<std::vector<DirEntry>> list_dir(int dirfd, std::string_view shown) {
  int fd = ::openat(dirfd, ".", k_dir_flags);
  if (fd < 0) {
    return sys_error("open directory", shown, errno);
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return sys_error("list directory", shown, err);
  }
  std::vector<DirEntry> out;
  std::optional<Error> unknown;
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
        // File systems without types in their directories (ext4 without filetype, XFS with
        // ftype=0, many FUSE and network file systems): one stat tells. When it fails, the
        // entry's type is unknown, and so is what the listing holds.
        struct stat st {};
        if (::fstatat(::dirfd(dir), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          int err = errno;
          if (!unknown) {
            std::string path = std::string(shown) + "/" + std::string(name);
            unknown = Error{"cannot stat '" + path + "' (" + std::strerror(err) +
                            "), so its type is unknown"};
          }
          errno = 0;  // readdir sets errno only on its own errors
          continue;
        }
        type = type_of_mode(st.st_mode);
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
    return sys_error("list directory", shown, err);
  }
  if (unknown) {
    return *unknown;
  }
  // Network and FUSE file systems can give an entry twice: each name once, in name order.
  std::sort(out.begin(), out.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].name == out[i - 1].name && out[i].type != out[i - 1].type) {
      return Error{"'" + std::string(shown) + "/" + out[i].name +
                   "' is listed twice, with two different types"};
    }
  }
  out.erase(std::unique(out.begin(), out.end(),
                        [](const DirEntry& a, const DirEntry& b) { return a.name == b.name; }),
            out.end());
  return out;
}

Result<std::size_t> read_fully(int fd, char* buf, std::size_t want, std::string_view shown) {
  std::size_t got = 0;
  int interrupted = 0;
  while (got < want) {
    ssize_t n = ::read(fd, buf + got, want - got);
    if (n < 0) {
      if (errno == EINTR && ++interrupted <= k_max_interrupted) {
        continue;
      }
      int err = errno;
      if (err == EINTR) {
        return Error{"cannot read '" + std::string(shown) + "': interrupted " +
                         std::to_string(k_max_interrupted) + " times in a row",
                     EINTR};
      }
      return sys_error("read", shown, err);
    }
    if (n == 0) {
      break;
    }
    interrupted = 0;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

Error short_read(std::string_view shown, std::uint64_t got, std::uint64_t size) {
  return Error{"cannot read '" + std::string(shown) + "': it ended after " + std::to_string(got) +
                   " of the " + std::to_string(size) + " bytes its size says",
               EIO};
}

namespace {

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
  // `startedat`, the configuration) are written whole before they are renamed into place. One
  // that ends before that size was cut short, or changed under the read: unreadable.
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  auto got = read_fully(fd, out.data(), out.size(), shown);
  if (!got) {
    return got.error();
  }
  if (*got != out.size()) {
    return short_read(shown, *got, out.size());
  }
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
    Fd file(fd);
    if (crosses_mount(parent->get(), file.get())) {
      return mount_point(relpath);
    }
    return read_open_file(std::move(file), relpath, max_size);
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

namespace {

// After a removal said ENOENT: whether `name` below `dirfd` is really gone. A file system that
// says ENOENT for an entry that is there (FUSE, network) must not make a failed deletion look
// done: what it points to would go next.
Status confirm_gone(int dirfd, const std::string& name, std::string_view shown) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    return Error{"cannot remove '" + std::string(shown) +
                 "': the file system said it does not exist, yet it is there"};
  }
  if (errno != ENOENT) {
    return sys_error("stat", shown, errno);
  }
  return ok_status();
}

}  // namespace

Status remove_tree(int dirfd, std::string_view relpath, Contents contents) {
  auto parent = open_parent(dirfd, relpath);
  if (!parent) {
    if (parent.error().sys_errno == ENOENT) {
      // Gone already, when a second look agrees.
      auto again = open_parent(dirfd, relpath);
      if (!again && again.error().sys_errno == ENOENT) {
        return ok_status();
      }
      return again ? Error{"cannot remove '" + std::string(relpath) +
                           "': its directory was missing, then there"}
                   : again.error();
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
      return confirm_gone(parent->get(), last, relpath);
    }
    return sys_error("stat", relpath, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    auto child = open_child_dir(parent->get(), last, relpath);
    if (!child) {
      return child.error();
    }
    if (Status s = remove_dir_contents(child->get(), relpath, 0, contents); !s) {
      return s;
    }
    if (::unlinkat(parent->get(), last.c_str(), AT_REMOVEDIR) != 0) {
      return errno == ENOENT ? confirm_gone(parent->get(), last, relpath)
                             : sys_error("remove directory", relpath, errno);
    }
    return ok_status();
  }
  if (contents == Contents::directories_only) {
    return Error{"refusing to remove '" + std::string(relpath) + "': it is no directory now; kept"};
  }
  if (::unlinkat(parent->get(), last.c_str(), 0) != 0) {
    return errno == ENOENT ? confirm_gone(parent->get(), last, relpath)
                           : sys_error("remove", relpath, errno);
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

Status sync_filesystem(int dirfd) {
  if (::syncfs(dirfd) != 0) {
    return sys_error("sync the filesystem of", ".", errno);
  }
  return ok_status();
}

}  // namespace regsweep::fs
