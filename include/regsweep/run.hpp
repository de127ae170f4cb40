#pragma once

// The safety sequence, in one library call per job: every run that may change the tree goes
// probe -> lock -> plan -> may-sweep -> sweep, in that order, with the dry run a value passed
// down (docs/safety.md, rule 3). gc, rm and prune are collect(); fsck and fsck --repair are
// check(). The command line parses, calls one of them and renders what it returns.
//
// A dry run plans and reports exactly as a real run would, and never probes the registry,
// takes the lock, deletes or moves anything.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/blob_cache.hpp"
#include "regsweep/collect.hpp"
#include "regsweep/config.hpp"
#include "regsweep/fsck.hpp"
#include "regsweep/policy.hpp"
#include "regsweep/quarantine.hpp"
#include "regsweep/result.hpp"
#include "regsweep/retention.hpp"
#include "regsweep/reviewed_plan.hpp"
#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep {

enum class DryRun : bool { no = false, yes = true };

// What the sequence tells the operator as it goes, in order (the command line prints each on
// stderr): `info` is routine (a quiet run does not print it); a `refusal` says why a run that
// would delete does not.
struct Notice {
  enum class Level { info, note, warning, refusal };
  Level level;
  std::string text;
};

// Where and how a run goes.
struct RunContext {
  Store& store;
  tbb::task_arena& arena;
  DryRun dry_run = DryRun::yes;
  SweepPolicy policy;
  // The registry that may serve the tree: the configuration's http section and the file it
  // came from, when one was read (registry_stopped).
  std::optional<ServeSettings> serve;
  std::string config_path;
  // Told each notice; may be empty.
  std::function<void(const Notice&)> notify;
  // Called right before each step that deletes: "the sweep", "the purge of noncurrent
  // versions" (tests pause there to change the tree); may be empty.
  std::function<void(std::string_view step)> before_step;
  // The registry's blob descriptor cache: with redis, a run that deletes removes the entries
  // of what it deleted, after the deletions (blob_cache.hpp).
  BlobCacheSettings cache = {};
};

// "Now" for ages and the grace period: this machine's clock, or the storage's where it keeps
// its own (Store::clock_offset). A warning when the two differ by more than a minute.
std::int64_t storage_now(Store& store, const std::function<void(const Notice&)>& notify);

// gc, rm and prune: what to collect.
struct CollectRequest {
  std::string command;       // "gc", "rm" or "prune": names the run in the lock
  GcOptions options;         // all but the time: grace and plan.now are set when the run starts
  std::int64_t min_age = 0;  // the grace period, in seconds
  // prune: the rules, and the repository globs that limit them (empty: all).
  struct Prune {
    std::vector<RetentionRule> rules;
    std::vector<std::string> scope;
  };
  std::optional<Prune> prune;
  // In a bucket that keeps deleted objects: delete the noncurrent versions of what the run
  // deleted, after the sweep (Store::purge_noncurrent).
  bool delete_noncurrent_versions = false;
  // --max-delete: a plan that deletes more is not swept (not even with --force).
  std::optional<DeleteCap> max_delete;
  // --quarantine: what the run would delete is moved into a new quarantine run instead
  // (quarantine.hpp), whose journal names `command_line`.
  bool quarantine = false;
  std::string command_line;
  // apply: the reviewed plan. Only what the fresh plan holds on the same evidence is carried
  // out (reviewed_skips); a plan for another location is refused before the lock.
  const PlanFile* reviewed = nullptr;
};

// How far a collection got and what it found; filled as far as the run got.
struct CollectRun {
  std::optional<Collection> collection;  // once planned
  std::optional<SweepResult> swept;      // once swept (not in a dry run)
  std::optional<Retention> retention;    // prune: every tag's verdict
  // Deleting here only hid what was deleted (a versioned bucket), and it was not purged.
  bool bytes_hidden = false;
  // --quarantine: the run everything went into, once made.
  std::optional<std::string> quarantine_run;
  // apply: how the fresh plan compared with the reviewed one (ReviewedSkips' counts).
  struct Reviewed {
    std::uint64_t carried = 0;
    std::uint64_t changed = 0;
    std::uint64_t not_reviewed = 0;
    std::uint64_t dependent = 0;
  };
  std::optional<Reviewed> reviewed;
  // With a redis blob descriptor cache: what was (or, in a dry run, would be) removed from it.
  // A removal that failed is also a finding of the sweep.
  std::optional<CacheReport> cache;
  // Why the run stopped before its end: nothing after that point was done.
  std::optional<Error> stopped;
};
CollectRun collect(RunContext& run, CollectRequest request);

// fsck: the check, and with DryRun::no its repairs, through the same probe, lock, may-sweep
// and guard as a collection.
struct CheckRun {
  std::optional<FsckReport> report;
  std::optional<CacheReport> cache;  // as in CollectRun; a failure is also a problem
  std::optional<Error> stopped;
};
CheckRun check(RunContext& run, FsckOptions options);

// restore: puts quarantine runs back (`ids`; the latest when empty), newest first, each in
// the order restore_rank gives, under the same probe and lock as a sweep. A run wholly put
// back (every object restored, or standing with the same bytes) is then deleted; one with
// an object that stands differently or failed is kept, with a finding for each.
struct RestoreRun {
  std::optional<Restored> restored;
  std::optional<Error> stopped;
};
RestoreRun restore(RunContext& run, std::vector<std::string> ids);

// quarantine --purge-older-than: deletes the runs that started more than `max_age` seconds
// before now, under the run lock (the registry may serve: it never reads the quarantine).
struct PurgeRun {
  std::vector<QuarantineRunInfo> purged;  // with a dry run: those that would be
  std::optional<Error> stopped;
};
PurgeRun purge_quarantine(RunContext& run, std::int64_t max_age);

}  // namespace regsweep
