#pragma once

// The garbage-collect pipeline up to the plan: open -> scan -> load manifests -> mark -> plan.
// The caller renders the plan (dry run) or hands it to sweep().

#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/fs.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/mark.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// Opens `<root>/docker/registry/v2`. Error (naming the path) when the root does not exist or
// does not hold a registry tree.
Result<fs::Fd> open_registry(const std::string& root);

struct GcOptions {
  bool delete_untagged = false;
  bool delete_orphan_signatures = false;
  PlanOptions plan;
  // `regsweep rm`: NAME or NAME:TAG specs (globs) to remove; empty for a plain gc.
  std::vector<std::string> remove;
};

struct Collection {
  Inventory inventory;
  ManifestTable manifests;
  MarkResult marks;
  Plan plan;
  std::vector<Finding> findings;  // scan, manifest and mark findings, sorted
};

// Plans a garbage collection of the tree below `v2_fd`. Reads only. Error when the tree
// cannot be opened or a removal spec matches nothing.
Result<Collection> plan_gc(int v2_fd, const GcOptions& options, tbb::task_arena& arena);

}  // namespace regsweep
