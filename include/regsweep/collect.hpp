#pragma once

// The garbage-collect pipeline up to the plan: open -> scan -> load manifests -> mark -> plan.
// The caller renders the plan (dry run) or hands it to sweep().

#include <functional>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/fs.hpp"
#include "regsweep/grace.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/mark.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

struct GcOptions {
  // Anything young is kept with all it references. Default: no grace period (upstream's
  // behaviour); the command line's default is an hour.
  Grace grace;
  bool delete_untagged = false;
  bool delete_orphan_signatures = false;
  PlanOptions plan;
  // Stat every blob, for the tree's total blob bytes (gc --prometheus reports them).
  // Otherwise only the blobs no marking keeps are examined: their size and age decide.
  bool every_blob_size = false;
  // `regsweep rm`: NAME or NAME:TAG specs (globs) to remove; empty for a plain gc.
  std::vector<std::string> remove;
  // `regsweep prune`: chooses the tags to remove after the scan (GraphOptions::select_tags).
  std::function<Status(Inventory&)> select_tags;
};

struct Collection {
  Inventory inventory;
  ManifestTable manifests;
  MarkResult marks;
  Plan plan;
  std::vector<Finding> findings;  // scan, manifest and mark findings, sorted
  // What a run with no grace period would also delete: kept for being young.
  std::vector<Action> kept_young;
  // Signs that something writes to the tree (files changed during the scan, files dated in
  // the future): a sweep should not run.
  std::vector<std::string> activity;
  // Uploads written within the grace period, one line each. They are kept (the plan purges
  // no young upload); they say a registry may be serving, which keeps a sweep from running
  // unless the registry is known to be stopped (SweepPolicy::registry_stopped).
  std::vector<std::string> young_uploads;
  // Set when the newest time seen is later than the end of the planning: a clock that is
  // wrong, not a registry that writes. Its activity line says which file.
  bool dated_in_future = false;
};

// The signs of a writer the scan alone shows, added to `activity`: the newest time seen is
// later than the scan's start (a file changed during the scan), or later than now by more
// than a minute (`dated_in_future`: a clock that is wrong).
void scan_activity(Store& store, const Inventory& inventory, std::vector<std::string>& activity,
                   bool& dated_in_future);

// The repositories whose tags' current links a sweep's guard watches (Store::guard): with
// -m, those that lose a manifest; none without.
std::vector<std::size_t> tags_to_watch(const Collection& collection, bool delete_untagged);

// Plans a garbage collection of the tree in `store`. Reads only. Error when the tree cannot
// be read or a removal spec matches nothing.
Result<Collection> plan_gc(Store& store, const GcOptions& options, tbb::task_arena& arena);

}  // namespace regsweep
