// Opening a registry tree on a filesystem: docker/registry/v2 below the storage root, one
// component at a time, refusing a symbolic link where the tree's top directories belong.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

namespace {

// What to do about a symbolic link where the tree's top directories belong.
Error top_symlink(const std::string& shown, int dirfd, const char* name, bool whole_tree) {
  char target[4096] = {};
  ssize_t n = ::readlinkat(dirfd, name, target, sizeof(target) - 1);
  std::string dest = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "TARGET";
  std::string to = n > 0 ? " (to '" + dest + "')" : "";
  return Error{"'" + shown + "' is a symbolic link" + to +
                   "; regsweep follows no symbolic link inside the storage root, so it would not "
                   "see what lies behind it. " +
                   (whole_tree ? "Name the real location with --root (the directory holding "
                                 "docker/registry/v2), or use a bind mount instead of the link"
                               : "Use a bind mount instead of the link (mount --bind '" + dest +
                                     "' '" + shown + "')") +
                   "; nothing was read",
               ELOOP};
}

}  // namespace

Result<fs::Fd> open_registry(const std::string& root) {
  auto root_fd = fs::open_root(root);
  if (!root_fd) {
    return root_fd.error();
  }
  // docker/registry/v2, one component at a time: a link there moves the whole tree.
  fs::Fd at = std::move(*root_fd);
  std::string shown = root;
  for (const char* comp : {"docker", "registry", "v2"}) {
    shown += "/";
    shown += comp;
    int fd = ::openat(at.get(), comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      struct stat st {};
      if (::fstatat(at.get(), comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        return top_symlink(shown, at.get(), comp, true);
      }
      if (err == ENOENT || err == ENOTDIR) {
        return Error{"'" + root + "' holds no registry: '" + root + "/" +
                         std::string(layout::k_v2_dir) + "' does not exist",
                     err};
      }
      return fs::sys_error("open directory", shown, err);
    }
    at = fs::Fd(fd);
  }
  // The directories the scan walks from the top: a link there would hide all that is behind
  // it, and is refused before anything is read. Below them, a link is a finding.
  for (const char* top : {"blobs", "blobs/sha256", "repositories"}) {
    struct stat st {};
    if (::fstatat(at.get(), top, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      return top_symlink(shown + "/" + top, at.get(), top, false);
    }
  }
  return at;
}

}  // namespace regsweep
