#pragma once

// The run lock: `<root>/docker/registry/v2/regsweep.lock`, held with flock(2) for as long as
// the RegistryLock lives, holding the holder's pid, host, start time and command. The kernel
// releases it when the holder exits, however it exits, so a lock whose holder is gone is
// simply taken over.

#include <memory>
#include <string>
#include <string_view>

#include "regsweep/fs.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

inline constexpr std::string_view k_lock_file = "regsweep.lock";

class RegistryLock {
 public:
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;
  // Releases the lock.
  virtual ~RegistryLock() = default;
  // What the lock said when it was taken over from a holder that is gone (killed before
  // releasing it); empty when the last holder released it cleanly.
  const std::string& previous_holder() const { return m_previous; }

 protected:
  explicit RegistryLock(std::string previous) : m_previous(std::move(previous)) {}

 private:
  std::string m_previous;
};

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

// What a lock says of its holder, in one format for every store: "pid 4242 on host-a,
// started 2026-12-06T12:00:00Z: regsweep gc", and a newline.
std::string lock_body(std::string_view command);

// True when the holder `body` names (a lock_body without its newline) ran on this host and
// its process is gone: killed, it could not release the lock.
bool lock_holder_gone(const std::string& body);

}  // namespace regsweep
