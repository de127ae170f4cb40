#pragma once

// How far a long run has come, for a person watching a terminal: the stage it is in and, where
// the total is known, how much of it is done. The library advances one process-wide Progress
// from its parallel loops (relaxed atomics, a few per directory or batch); the command line
// reads it a few times a second. Nothing in it decides anything.

#include <atomic>
#include <cstdint>

namespace regsweep {

class Progress {
 public:
  struct Snapshot {
    const char* stage;    // never null; "" before the first stage
    std::uint64_t done;   // units of the stage done
    std::uint64_t total;  // 0: not known
  };

  // Starts `stage` (a string literal) with `total` steps (0: unknown).
  void begin(const char* stage, std::uint64_t total = 0) {
    m_done.store(0, std::memory_order_relaxed);
    m_total.store(total, std::memory_order_relaxed);
    m_stage.store(stage, std::memory_order_release);
  }
  void add_total(std::uint64_t n) { m_total.fetch_add(n, std::memory_order_relaxed); }
  void advance(std::uint64_t n = 1) { m_done.fetch_add(n, std::memory_order_relaxed); }

  Snapshot snapshot() const {
    return Snapshot{m_stage.load(std::memory_order_acquire), m_done.load(std::memory_order_relaxed),
                    m_total.load(std::memory_order_relaxed)};
  }

 private:
  std::atomic<const char*> m_stage{""};
  std::atomic<std::uint64_t> m_done{0};
  std::atomic<std::uint64_t> m_total{0};
};

// The process's progress.
inline Progress& progress() {
  static Progress p;
  return p;
}

}  // namespace regsweep
