#pragma once

// The scan of a tree an object store holds: the inventory built from a listing of its keys,
// with the few objects whose content decides something read through `read`. The same
// Inventory the filesystem scan gives for the same content, so that every later stage is the
// store's business no more.
//
// What the keys tell is taken from the keys: a blob's digest, size and time; the digest a
// revision, layer or tag history link names (its directory's), when the link has exactly the
// size the registry writes. Read: every tag's `current/link`, each upload's `startedat`, and
// every link of another size (to report what is wrong with it). With ScanOptions::
// read_layer_links (fsck), every link is read and compared with its key. No link is left
// unverified (Link::unverified): a layer link taken from its key is taken as read, as upstream
// takes it, so nothing is read again before deleting it (docs/safety.md, object storage).
//
// An object store has no symbolic links, no empty directories, no files of other types; it
// has keys the filesystem cannot: a key that is also a "directory" of other keys (`…/data`
// and `…/data/x`). Any key the layout does not know is a finding; a blob directory holding
// one is unknown (kept, with everything that links it), a repository holding one is never
// removed whole.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"
#include "regsweep/scan.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

// Reads a small object by its key relative to docker/registry/v2, as Store::read.
using ObjectReader = std::function<Result<std::string>(std::string_view key, std::uint64_t max)>;

// `objects`: every object of the tree, keys relative to docker/registry/v2, sorted by key; the
// store keeps them (its remover and guard use them). `scan_started_ns`: when the listing
// began. Reads run in parallel inside `arena`.
Inventory inventory_from_listing(const std::vector<StoreObject>& objects, const ObjectReader& read,
                                 tbb::task_arena& arena, const ScanOptions& options,
                                 std::int64_t scan_started_ns);

}  // namespace regsweep
