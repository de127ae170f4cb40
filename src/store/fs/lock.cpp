#include "store/fs/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace regsweep {

namespace {

std::string read_all(int fd) {
  std::string out;
  char buf[512];
  ::lseek(fd, 0, SEEK_SET);
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 && out.size() < 4096) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

}  // namespace

FileLock::~FileLock() {
  if (m_fd.valid() && ::ftruncate(m_fd.get(), 0) != 0) {
    // Nothing to do: the next holder will report a takeover it did not need.
  }
}

namespace {

// An earlier build's lock in v2 (k_legacy_lock): an error naming its holder while one holds
// it; removed once free (it is regsweep's own file, and belongs out of v2). Nothing when
// there is none. One that is no regular file, or cannot be opened, is left alone: the scan
// reports what v2 holds.
Status legacy_lock_free(int v2_fd) {
  std::string name(k_legacy_lock);
  int fd = ::openat(v2_fd, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return ok_status();
  }
  fs::Fd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return ok_status();
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder = read_all(fd);
    return Error{"another run holds the lock 'docker/registry/v2/" + name + "' (" +
                     (holder.empty() ? std::string("holder unknown") : holder) +
                     "), where an earlier build of regsweep keeps it; nothing was done",
                 err == EWOULDBLOCK ? EWOULDBLOCK : err};
  }
  // Removed while locked: an earlier build that opened it before is refused; one started
  // after would make a new one, and not see this run's lock (docs/cli.md: upgrade every
  // host that runs regsweep on the tree).
  (void)::unlinkat(v2_fd, name.c_str(), 0);
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<RegistryLock>> acquire_lock(int v2_fd, std::string_view command) {
  std::string name(k_lock_file);
  const std::string shown = "docker/registry/" + name;
  int parent = ::openat(v2_fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (parent < 0) {
    return fs::sys_error("open directory", "docker/registry", errno);
  }
  fs::Fd registry(parent);
  // O_NONBLOCK: a FIFO planted where the lock belongs must not hang the run; it is refused
  // below, as anything but a regular file is.
  int fd = ::openat(parent, name.c_str(),
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);
  if (fd < 0) {
    return fs::sys_error("open lock file", shown, errno);
  }
  fs::Fd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fs::sys_error("stat lock file", shown, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{"lock file '" + shown +
                     "' is not a regular file; remove it and run again; nothing was done",
                 EINVAL};
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      std::string holder = read_all(fd);
      return Error{"another run holds the lock '" + shown + "' (" +
                       (holder.empty() ? std::string("holder unknown") : holder) +
                       "); nothing was done",
                   err};
    }
    return fs::sys_error("lock", shown, err);
  }
  if (Status legacy = legacy_lock_free(v2_fd); !legacy) {
    return legacy.error();
  }
  std::string previous = read_all(fd);
  std::string text = lock_body(command);
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
    return fs::sys_error("write lock file", shown, errno);
  }
  return std::unique_ptr<RegistryLock>(std::make_unique<FileLock>(std::move(file), previous));
}

}  // namespace regsweep
