#pragma once

#include <functional>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

struct ScanOptions {
  // Read every `_layers` link. When false, a layer link that is a regular file of exactly a
  // link's size (what the registry writes) is only stat'ed: its path already names its
  // digest, and its content decides nothing until the link might be deleted. Such links are
  // marked unverified; whoever deletes them must call verify_layer_links first. On a
  // million-blob registry this saves three system calls and a page of cache per layer link.
  bool read_layer_links = true;
};

// Walks `<root>/docker/registry/v2` once, in parallel inside `arena`, without following any
// symbolic link. Problems with single files become findings in the inventory; an Error is
// returned only when the tree itself cannot be opened (no `docker/registry/v2` directory).
Result<Inventory> scan(int root_fd, tbb::task_arena& arena, const ScanOptions& options = {});

struct Verified {
  std::vector<Finding> findings;
  bool other_targets = false;  // a link read names another digest than its directory
};

// Reads the unverified layer links of repository `r` for which `wanted(r, link)` is true, and
// records what they hold as a full scan would have: a problem (the link is then kept) or a
// second digest. `v2_fd` is `<root>/docker/registry/v2`.
Verified verify_layer_links(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Link&)>& wanted);

}  // namespace regsweep
