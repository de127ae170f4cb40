// Writing a new file the user will read (the redis commands a run could not send).

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "regsweep/fs.hpp"

namespace regsweep::fs {

Status write_new_file(const std::string& path, std::string_view text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return sys_error("create", path, errno);
  }
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return sys_error("write", path, n < 0 ? errno : EIO);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd.release()) != 0) {
    return sys_error("close", path, errno);
  }
  return ok_status();
}

}  // namespace regsweep::fs
