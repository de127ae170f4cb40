#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

struct ScanOptions {
  // Read every `_layers` link. When false, a layer link is taken from its directory's name
  // and not looked at: its name is its digest, and neither its content nor its time (which
  // stays 0: not young) decides anything until the link or its blob might be deleted. Such
  // links are marked unverified; whoever decides on them must call verify_layer_links
  // first, and mark again if one turns out young. On a million-blob registry this saves four
  // system calls and a page of cache per layer link. `fsck` reads them all.
  bool read_layer_links = true;
};

// Walks `<root>/docker/registry/v2` once, in parallel inside `arena`, without following any
// symbolic link. Problems with single files become findings in the inventory; an Error is
// returned only when the tree itself cannot be opened (no `docker/registry/v2` directory).
Result<Inventory> scan(int root_fd, tbb::task_arena& arena, const ScanOptions& options = {});

struct Verified {
  std::vector<Finding> findings;
  bool other_targets = false;     // a link read names another digest than its directory
  std::int64_t newest_mtime = 0;  // of the links read, seconds: marking again if young
};

// Reads the unverified layer links of repository `r` for which `wanted(r, link)` is true, and
// records what they hold as a full scan would have: their time, a problem (the link is then
// kept) or a second digest. A link directory with no link file (what the registry's own
// delete leaves) is no link: it is dropped from the repository. `v2_fd` is
// `<root>/docker/registry/v2`.
Verified verify_layer_links(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Link&)>& wanted);

}  // namespace regsweep
