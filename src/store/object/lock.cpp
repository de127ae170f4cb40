#include "store/object/lock.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

namespace regsweep::object {

namespace {

constexpr std::int64_t k_lock_stale_s = 300;  // a lock not renewed for this long is abandoned
constexpr int k_lock_renew_s = 30;

std::int64_t now_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class ObjectLock final : public RegistryLock {
 public:
  ObjectLock(LockObject object, std::string body, std::string previous)
      : RegistryLock(std::move(previous)),
        m_object(std::move(object)),
        m_body(std::move(body)),
        m_renew([this] { renew(); }) {}
  ~ObjectLock() override {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_all();
    m_renew.join();
    (void)m_object.remove();
  }
  ObjectLock(const ObjectLock&) = delete;
  ObjectLock& operator=(const ObjectLock&) = delete;

 private:
  void renew() {
    std::unique_lock lock(m_mutex);
    while (
        !m_wake.wait_for(lock, std::chrono::seconds(k_lock_renew_s), [this] { return m_stop; })) {
      (void)m_object.put(m_body);
    }
  }

  LockObject m_object;
  std::string m_body;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_renew;
};

}  // namespace

namespace {

// The lock's last holder, as it says it: an Error (EAGAIN) naming it while it holds the lock
// (renewed within k_lock_stale_s by a holder not known gone; `note` ends the holder's part);
// nothing when there is no lock.
Result<std::optional<std::string>> last_holder(const LockObject& object, std::string_view note) {
  auto held_since = object.time();
  if (!held_since) {
    return held_since.error();
  }
  if (!*held_since) {
    return std::optional<std::string>{};
  }
  auto body = object.get(4096);
  std::string holder = body ? *body : std::string("an unreadable lock");
  while (!holder.empty() && holder.back() == '\n') {
    holder.pop_back();
  }
  std::int64_t age = (now_ns() - **held_since) / 1000000000;
  if (age < k_lock_stale_s && !lock_holder_gone(holder)) {
    return Error{"another run holds the lock '" + object.shown + "' (" + holder + ", renewed " +
                     std::to_string(std::max<std::int64_t>(age, 0)) + " s ago)" +
                     std::string(note) + "; wait for it, or delete the lock if no run is going on",
                 EAGAIN};
  }
  return std::optional<std::string>(holder);
}

}  // namespace

Result<bool> legacy_lock_free(const LockObject& object) {
  auto last = last_holder(object, ", where an earlier build of regsweep keeps it");
  if (!last) {
    return last.error();
  }
  return last->has_value();
}

Result<std::unique_ptr<RegistryLock>> take_lock(LockObject object, std::string_view command) {
  auto last = last_holder(object, "");
  if (!last) {
    return last.error();
  }
  std::string previous = last->value_or("");
  std::string body = lock_body(command);
  if (Status s = object.put(body); !s) {
    return s.error();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto back = object.get(4096);
  if (!back || *back != body) {
    return Error{"another run took the lock '" + object.shown + "' at the same time" +
                     (back ? " (" + *back + ")" : std::string()),
                 EAGAIN};
  }
  return std::unique_ptr<RegistryLock>(
      std::make_unique<ObjectLock>(std::move(object), std::move(body), std::move(previous)));
}

}  // namespace regsweep::object
