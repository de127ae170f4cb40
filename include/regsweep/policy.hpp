#pragma once

// The stop-the-world policy, as library values: when a run that deletes must not start. The
// safety sequence (run.hpp) applies them in order; a library caller gets the same refusals.
//
// * A registry that answers at the configuration's http.addr and is not read-only may write
//   to the tree while it is swept (registry_stopped).
// * Files changed during the scan say that something writes to the tree (may_sweep); so do
//   uploads written within the grace period, unless the probe found no writable registry:
//   then they are kept (as young) and the run goes on.
// --force overrides both; what changed since the scan is still kept (the Revalidator).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/collect.hpp"
#include "regsweep/config.hpp"
#include "regsweep/result.hpp"
#include "regsweep/reviewed_plan.hpp"
#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep {

struct SweepPolicy {
  bool force = false;  // sweep even when the registry looks active
  // How long the registry is given to answer.
  std::chrono::milliseconds probe_timeout{3000};
  // Set (by the run, from registry_stopped) when no writable registry serves the tree: every
  // connection to its http.addr was refused, or it is read-only. Young uploads then do not
  // keep a sweep from running: they are kept, and said.
  bool known_stopped = false;
};

// What registry_stopped learned.
enum class Serving {
  unknown,  // nothing was asked: no configuration read, no http.addr, or --force
  none,     // no writable registry: every connection was refused, or it is read-only
};

// Ok when no registry serves the tree: no configuration file was read (`serve` empty), the
// registry is read-only, or every connection to its http.addr is refused. Otherwise (a
// registry answers, or whether one does cannot be told: a name that does not resolve, no
// answer in time) an error that says what to do; `override_hint` names how to go ahead anyway
// when one answers ("or pass --force").
Result<Serving> registry_stopped(const std::optional<ServeSettings>& serve,
                                 const std::string& config_path, const SweepPolicy& policy,
                                 std::string_view override_hint);

// Ok when the collection saw no sign that something writes to the tree, or when forced.
Status may_sweep(const Collection& collection, const SweepPolicy& policy);
// The same for any run's signs (`activity`, `young_uploads`, Collection): `override_hint`
// (", or pass --force") ends the advice.
Status may_sweep(const std::vector<std::string>& activity,
                 const std::vector<std::string>& young_uploads, bool dated_in_future,
                 const SweepPolicy& policy, std::string_view override_hint);

// --max-delete: the most a run may delete, as a number of blobs or a share of the tree's blob
// bytes (which needs every blob's size: GcOptions::every_blob_size).
struct DeleteCap {
  std::optional<std::uint64_t> blobs;  // at most this many blobs
  std::optional<double> percent;       // at most this share of the blobs' bytes, in percent
  std::string given;                   // as the operator wrote it, for messages ("10%")
};
// Parses `N` or `P%` (0 < P <= 100); nullopt when `text` is neither.
std::optional<DeleteCap> parse_delete_cap(const std::string& text);
// Ok when the collection's plan deletes no more than `cap` allows; otherwise an error that
// says how many blobs and what share the plan deletes.
Status within_cap(const Collection& collection, const DeleteCap& cap);

// --delete-noncurrent-versions, after the sweep (Store::purge_noncurrent): what it deleted
// goes into `swept` (its counts, and a finding for each version it could not). Whether every
// noncurrent version it chose is gone.
bool purge_noncurrent_versions(Store& store, tbb::task_arena& arena, SweepResult& swept);

// What a sweep uses besides the store's own: `remover`, what deletes (a quarantine's mover;
// the store's own when null); `reviewed`, for apply, what a reviewed plan does not hold
// (reviewed_plan.hpp), skipped before the store's guard is asked.
struct SweepWith {
  std::unique_ptr<Remover> remover;
  std::optional<ReviewedSkips> reviewed;
};

// Sweeps a collection's plan in `store` when may_sweep allows it, with the store's guard
// (rule 3 of docs/safety.md): what the deletions depend on is taken again from the storage
// before each phase. The caller holds the store's lock.
Result<SweepResult> sweep_collection(Store& store, const Collection& collection,
                                     bool delete_untagged, const SweepPolicy& policy,
                                     tbb::task_arena& arena, SweepWith with = {});

}  // namespace regsweep
