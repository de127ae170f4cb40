#pragma once

// The grace period (--min-age): anything modified within it is young, and a young object is
// kept with all it references, so that a push in progress is never collected. One value,
// asked by marking, planning, gc's report and du alike, so that they cannot disagree.

#include <cstdint>
#include <optional>

namespace regsweep {

class Grace {
 public:
  // No grace period: nothing is young (--min-age 0, upstream's behaviour).
  Grace() = default;
  // Young: modified less than `min_age` seconds before `now` (seconds since the epoch).
  // A `min_age` of 0 or less means no grace period.
  Grace(std::int64_t now, std::int64_t min_age)
      : m_enabled(min_age > 0), m_after(min_age > 0 ? now - min_age : 0) {}

  // False when nothing can be young.
  bool enabled() const { return m_enabled; }
  // True when something modified at `mtime` (seconds since the epoch) is young.
  bool young(std::int64_t mtime) const { return m_enabled && mtime > m_after; }
  // The same for a time in nanoseconds, counted from its whole second.
  bool young_ns(std::int64_t mtime_ns) const { return young(mtime_ns / 1000000000); }
  // The time after which something is young; nullopt when nothing is.
  std::optional<std::int64_t> after() const {
    return m_enabled ? std::optional<std::int64_t>(m_after) : std::nullopt;
  }

 private:
  bool m_enabled = false;
  std::int64_t m_after = 0;
};

}  // namespace regsweep
