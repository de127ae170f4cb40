#pragma once

// Executes a plan. Phases run in plan order (tag history, revisions, layer links, blobs), each
// in parallel; then directories the deletions left empty are removed, up to but never
// including the directories the layout needs (see layout.md), and every touched directory is
// fsynced. A failed delete is recorded and the sweep goes on.

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/finding.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// The one place that deletes. Paths are relative to docker/registry/v2.
class Remover {
 public:
  virtual ~Remover() = default;
  virtual Status remove_tree(std::string_view path) = 0;
  // True when removed; false when not empty or absent.
  virtual Result<bool> remove_if_empty(std::string_view path) = 0;
  virtual Status sync_dir(std::string_view path) = 0;
};

// Deletes below an open docker/registry/v2 directory, never following symbolic links.
std::unique_ptr<Remover> make_tree_remover(int v2_fd);

struct SweepResult {
  // Why the action at index `i` of Plan::actions failed; empty when it was done.
  const std::string& error(std::size_t i) const;
  // Failed actions as (index into Plan::actions, message), sorted by index. Failures are
  // rare: a string per action would cost 32 bytes each for a million actions.
  std::vector<std::pair<std::size_t, std::string>> errors;
  std::vector<std::string> removed_dirs;  // empty directories removed, sorted
  std::vector<Finding> findings;          // one per failure
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_freed = 0;         // blob bytes
  std::uint64_t upload_bytes_freed = 0;  // bytes of uploads (purged, or in removed repositories)
  std::array<std::uint64_t, 8> done_by_kind{};  // indexed by ActionKind
};

SweepResult sweep(const Plan& plan, Remover& remover, tbb::task_arena& arena);

}  // namespace regsweep
