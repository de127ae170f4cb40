#pragma once

// --delete-noncurrent-versions on S3: what a versioned bucket kept of the objects a sweep
// deleted (their noncurrent versions) deleted for good, and nothing else.

#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/store.hpp"
#include "store/s3/client.hpp"

namespace regsweep {

inline constexpr std::size_t k_delete_batch = 1000;  // DeleteObjects' limit

// The full keys the removers deleted, for --delete-noncurrent-versions.
struct DeletedKeys {
  std::mutex mutex;
  std::vector<std::string> keys;
  void add(const std::vector<std::string>& chunk, const std::vector<S3DeleteFailure>& failed) {
    std::set<std::string_view> kept;
    for (const S3DeleteFailure& f : failed) {
      kept.insert(f.key);
    }
    std::lock_guard lock(mutex);
    for (const std::string& k : chunk) {
      if (kept.count(k) == 0) {
        keys.push_back(k);
      }
    }
  }
};

// Deletes the stored noncurrent versions of each of `keys` (full keys the sweep deleted),
// while its current version is a delete marker (Store::purge_noncurrent).
Store::Purged purge_noncurrent_versions(S3Client& client, std::vector<std::string> keys,
                                        tbb::task_arena& arena);

}  // namespace regsweep
