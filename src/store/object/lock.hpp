#pragma once

// The run lock of an object store: one object, `regsweep.lock`, renewed every 30 s while held
// and deleted on release. Object stores have no atomic create-if-absent: the lock is taken
// by writing it and reading it back after a pause, so that of two runs starting together the
// later writer wins and the other sees it has lost. A lock not renewed for 5 minutes is a
// killed run's, and so is one whose holder ran on this host and is gone.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "regsweep/lock.hpp"
#include "regsweep/result.hpp"

namespace regsweep::object {

// The lock object, as the store reaches it. Each call may be made from the renewing thread.
struct LockObject {
  std::string shown;  // where it is, for messages ("s3://bucket/key")
  // Its time (nanoseconds since the epoch, the store's clock), or nothing when there is none.
  std::function<Result<std::optional<std::int64_t>>()> time;
  std::function<Result<std::string>(std::uint64_t max)> get;
  std::function<Status(std::string_view body)> put;
  std::function<Status()> remove;
};

// Takes the lock for `command`; an Error (EAGAIN) naming its holder when another run has it.
Result<std::unique_ptr<RegistryLock>> take_lock(LockObject object, std::string_view command);

// An earlier build's lock (k_legacy_lock, in v2): an Error (EAGAIN) naming its holder while it
// is held (renewed within 5 minutes by a holder not known gone); else whether there is one to
// remove (true) or none (false).
Result<bool> legacy_lock_free(const LockObject& object);

}  // namespace regsweep::object
