#pragma once

// Checking a registry tree offline (`regsweep fsck`): structure from the same scan and
// manifests as gc, optionally the content of every blob (SHA-256), with the tags each problem
// breaks and a repair that cannot lose data.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/result.hpp"
#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep {

// What fsck finds wrong: its own checks' kinds, then what the scan, the manifests and the
// marking report (FindingKind), under the same names.
enum class ProblemKind : std::uint8_t {
  blob_missing,
  layer_unlinked,
  revision_missing,
  digest_mismatch,
  manifest_missing,
  child_missing,
  manifest_unparseable,
  malformed_link,
  link_mismatch,
  symlink,
  unreadable,
  invalid_name,
  unknown_entry,
  blob_without_data,
  dangling_link,
  upload_without_startedat,
  temp_leftover,
  delete_failed,
  changed_since_scan,
  changed_since_plan,  // apply's only: fsck never reports one
  same_push_time,
  tags_unknown,
  cache_stale,  // fsck --repair: the registry's redis cache may list what was repaired away
};
// Its name in reports: "blob-missing", "digest-mismatch", …
std::string_view to_string(ProblemKind kind);
ProblemKind problem_kind_of(FindingKind kind);

// A finding of fsck: what, where, and the repository:tag names a pull of which now fails.
struct Problem {
  ProblemKind kind;
  Severity severity;  // error: a pull can fail; warning: untidy
  std::string path;   // relative to docker/registry/v2
  std::string repository;
  std::string message;
  std::vector<std::string> broken_tags;  // "repository:tag", sorted
};

// One-line advice for a kind of problem.
std::string_view suggested_action(ProblemKind kind);

enum class RepairAction : std::uint8_t { remove_dangling_link, move_to_lost_found };
std::string_view to_string(RepairAction action);  // "remove-dangling-link", …

struct Repair {
  RepairAction action;
  std::string path;
  std::string target;  // for moves: where the blob went
  std::string error;   // empty when done (or planned, in a dry run)
};

struct FsckOptions {
  // Percentage of blobs whose content is verified (0: none, 100: all); the sample is chosen
  // deterministically from `seed` and each blob's digest.
  double verify_percent = 0;
  std::uint64_t seed = 0;
  bool repair = false;  // apply the repairs (else only list them)
  std::int64_t now = 0;
};

struct FsckReport {
  std::vector<Problem> problems;  // errors first, then by kind and path, each descending
  std::vector<Repair> repairs;    // planned or applied
  std::uint64_t blobs = 0;
  std::uint64_t tags = 0;
  std::uint64_t blobs_verified = 0;
  std::uint64_t bytes_verified = 0;
  double verify_seconds = 0;
};

// What a report adds up to.
struct FsckCounts {
  std::uint64_t errors = 0;
  std::uint64_t warnings = 0;
  std::set<std::string> broken;  // repository:tag
  double mbps = 0;               // verification speed
};
FsckCounts fsck_counts(const FsckReport& report);

// The check, with its repairs planned (listed, not applied), and the signs that something
// writes to the tree (scan_activity) that keep a run from applying them (may_sweep).
struct FsckPlan {
  FsckReport report;
  Inventory inventory;  // what the scan saw; the repairs point into it
  Plan repairs;
  std::vector<std::string> activity;
  bool dated_in_future = false;
};
Result<FsckPlan> plan_fsck(Store& store, const FsckOptions& options, tbb::task_arena& arena);

// Applies the planned repairs, each under `store_guard` (Store::guard: what it depends on is
// as the scan saw it) and, for a dangling link, only while its blob is still absent; records
// what became of each in planned.report.repairs, and returns the sweep of planned.repairs.
// The caller holds the store's lock.
SweepResult apply_repairs(Store& store, FsckPlan& planned, std::unique_ptr<SweepGuard> store_guard,
                          tbb::task_arena& arena);

// Checks the tree in `store`: plan_fsck, then with `options.repair` apply_repairs (the caller
// holds the lock; check() in run.hpp runs the whole safety sequence). Error only when the
// tree cannot be read at all.
Result<FsckReport> fsck(Store& store, const FsckOptions& options, tbb::task_arena& arena);

// The SHA-256 of a stored object, streamed (OpenSSL EVP).
Result<Digest> hash_object(Store& store, const std::string& key);

}  // namespace regsweep
