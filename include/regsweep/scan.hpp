#pragma once

#include <string>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// Walks `<root>/docker/registry/v2` once, in parallel inside `arena`, without following any
// symbolic link. Problems with single files become findings in the inventory; an Error is
// returned only when the tree itself cannot be opened (no `docker/registry/v2` directory).
Result<Inventory> scan(int root_fd, tbb::task_arena& arena);

}  // namespace regsweep
