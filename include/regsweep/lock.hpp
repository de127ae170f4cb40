#pragma once

// The run lock: `regsweep.lock` beside the tree (docker/registry/regsweep.lock, out of the
// registry's own v2 directory), held for as long as the RegistryLock lives, holding the
// holder's pid, host, start time and command. Earlier builds kept it at
// docker/registry/v2/regsweep.lock (`k_legacy_lock`): a run refuses while one of them holds
// it there, and removes it there once it is free. Each
// store takes it its own way (Store::lock): a filesystem with flock(2), which the kernel
// releases however the holder exits (src/store/fs/lock.hpp); an object store as an object
// (src/store/object/lock.hpp).

#include <memory>
#include <string>
#include <string_view>

#include "regsweep/result.hpp"

namespace regsweep {

inline constexpr std::string_view k_lock_file = "regsweep.lock";  // in docker/registry
// Where earlier versions kept it: docker/registry/v2/regsweep.lock (the same name, in v2).
inline constexpr std::string_view k_legacy_lock = "regsweep.lock";

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

// What a lock says of its holder, in one format for every store: "pid 4242 on host-a,
// started 2026-12-06T12:00:00Z: regsweep gc", and a newline.
std::string lock_body(std::string_view command);

// True when the holder `body` names (a lock_body without its newline) ran on this host and
// its process is gone: killed, it could not release the lock.
bool lock_holder_gone(const std::string& body);

}  // namespace regsweep
