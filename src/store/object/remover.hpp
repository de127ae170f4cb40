#pragma once

// An object store's remover and what --delete-noncurrent-versions does after it, over any
// backend (bucket.hpp).

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"
#include "store/object/bucket.hpp"
#include "store/object/listing.hpp"

namespace regsweep::object {

// The keys the removers deleted, for --delete-noncurrent-versions.
struct DeletedKeys {
  std::mutex mutex;
  std::vector<std::string> keys;
  void add(const std::vector<std::string>& chunk, const std::vector<DeleteFailure>& failed) {
    std::set<std::string_view> kept;
    for (const DeleteFailure& f : failed) {
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

// What a remover does with a batch's keys before it deletes them (--quarantine: copies each
// into the run); one Status per key, in order. A path with a key it could not keep is not
// deleted at all, and fails with that key's error.
using KeepFirst = std::function<std::vector<Status>(const std::vector<std::string>& keys)>;

// Deletes in batches of the backend's size. A blob's or a link's directory holds one key,
// the layout's; anything else is listed, and only the keys the scan listed (`scanned`),
// unchanged, are deleted; the incomplete multipart uploads below a path are aborted.
// `deleted`, when given, is told each key deleted; `keep`, when given, keeps each first.
std::unique_ptr<Remover> make_remover(Bucket& bucket, const ScannedKeys& scanned,
                                      const std::vector<Multipart>& multipart, DeletedKeys* deleted,
                                      KeepFirst keep = {});

// Deletes the stored noncurrent versions of each of `keys` (keys the sweep deleted), while
// its current version is a delete marker (Store::purge_noncurrent).
Store::Purged purge_noncurrent_versions(Bucket& bucket, std::vector<std::string> keys,
                                        tbb::task_arena& arena);

}  // namespace regsweep::object
