#pragma once

// Disk usage per repository (`regsweep du`), from the same scan, manifests, marking and plan
// as gc, so its numbers agree with what gc would free.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/collect.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/grace.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

struct RepoUsage {
  std::string name;
  std::uint64_t tags = 0;
  std::uint64_t manifests_tagged = 0;     // revisions a tag reaches
  std::uint64_t manifests_untagged = 0;   // revisions no tag reaches
  std::uint64_t logical_bytes = 0;        // every blob its manifests reference, once
  std::uint64_t exclusive_bytes = 0;      // of those, blobs no other repository references
  std::uint64_t shared_bytes = 0;         // logical - exclusive
  std::uint64_t reclaimable_bytes = 0;    // blobs `gc` would delete that this repository links
  std::uint64_t reclaimable_m_bytes = 0;  // the same for `gc -m`
  std::uint64_t upload_bytes = 0;
};

struct UsageTotals {
  std::uint64_t blobs = 0;
  std::uint64_t blob_bytes = 0;            // every blobs/sha256/*/*/data
  std::uint64_t referenced_bytes = 0;      // blobs `gc` keeps even with no grace period
  std::uint64_t unreferenced_bytes = 0;    // what `gc` would free (its dry-run bytes)
  std::uint64_t unreferenced_m_bytes = 0;  // what `gc -m` would free
  // What `gc` keeps only for the grace period: its "kept for being young" blobs.
  std::uint64_t young_bytes = 0;
  std::uint64_t upload_bytes = 0;
  std::uint64_t repositories = 0;
  // In the quarantine (--quarantine, beside v2): its runs and their bytes, freed at the purge.
  std::uint64_t quarantine_runs = 0;
  std::uint64_t quarantine_bytes = 0;
};

struct Usage {
  std::vector<RepoUsage> repositories;  // sorted by name; only those the globs match
  UsageTotals totals;                   // always the whole registry
  std::vector<Finding> findings;
};

struct UsageOptions {
  Grace grace;  // as gc's, so that the numbers agree with gc's

  std::vector<std::string> globs;  // empty: every repository
};

// Reads the tree once and computes usage. Reads only; no lock needed.
Result<Usage> compute_usage(Store& store, const UsageOptions& options, tbb::task_arena& arena);

}  // namespace regsweep
