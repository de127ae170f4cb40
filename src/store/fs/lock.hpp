#pragma once

// The run lock of a filesystem tree: flock(2) on `<root>/docker/registry/regsweep.lock`.
// The kernel releases it when the holder exits, however it exits, so a lock whose holder is
// gone is simply taken over.

#include <memory>
#include <string>
#include <string_view>

#include "regsweep/fs.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// The lock file of a filesystem tree.
class FileLock final : public RegistryLock {
 public:
  FileLock(fs::Fd fd, std::string previous)
      : RegistryLock(std::move(previous)), m_fd(std::move(fd)) {}
  // Empties the lock file (a clean release), then releases the lock.
  ~FileLock() override;

 private:
  fs::Fd m_fd;
};

// Takes the lock without waiting. Error naming the holder (pid, host, start, command) when
// another run holds it, or naming the path when the lock file cannot be created (for
// instance, a symbolic link is there).
Result<std::unique_ptr<RegistryLock>> acquire_lock(int v2_fd, std::string_view command);

}  // namespace regsweep
