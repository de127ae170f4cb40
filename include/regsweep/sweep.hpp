#pragma once

// Executes a plan. Phases run in plan order (tag history, revisions, layer links, blobs moved
// to lost+found, blobs deleted), each in parallel and each made durable (Remover::barrier)
// before the next starts; then directories the deletions left empty are removed, up to but
// never including the directories the layout needs (see layout.md), and made durable. A failed
// delete is recorded and the sweep goes on, without what
// the failure leaves referenced: the later actions of its repository and every later
// blob-side action.

#include <array>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/finding.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// The one place that deletes or moves. Paths are relative to docker/registry/v2.
class Remover {
 public:
  virtual ~Remover() = default;
  virtual Status remove_tree(std::string_view path) = 0;
  // Removes the directory `path` and the directories below it, while none holds anything but
  // directories: a file found there now fails it and is kept. For what the scan saw empty. By
  // default refused: an object store has no directories, so never plans this.
  virtual Status remove_empty_tree(std::string_view path);
  // Removes each of `paths` as remove_tree does; one Status per path, in order. An object
  // store deletes them in batched requests; by default, remove_tree is called for each.
  virtual std::vector<Status> remove_batch(const std::vector<std::string>& paths);
  // How many paths a remove_batch call is best given: an object store's batch request's
  // size; 1 (the default) where each path is removed on its own, as on a filesystem.
  virtual std::size_t batch_size() const { return 1; }
  // Moves `path` (below blobs/) to `to` (lost+found/<name>, created if needed), replacing
  // nothing: the bytes are kept, out of the registry's sight.
  virtual Status move_aside(std::string_view path, std::string_view to) = 0;
  // True when removed; false when not empty or absent.
  virtual Result<bool> remove_if_empty(std::string_view path) = 0;
  // Makes every deletion made so far durable before any later one is made: the sweep calls it
  // after each phase that deleted anything, and after removing the directories left empty. A
  // filesystem syncs the filesystem the tree is on (syncfs: one journal commit, where an
  // fsync per directory would wait on the disk once a directory); an object store's deletions
  // are durable when acknowledged.
  virtual Status barrier() = 0;
};

// Decides, before each phase of a sweep, which actions must not be done after all: what a
// deletion depends on may have changed since the scan (rule 3 in docs/safety.md).
// Blob-side: what a new manifest may make needed again (a blob, one moved to lost+found, the
// tidying of blob directories). What a deletion left undone keeps referenced, with the rest
// of its repository (the sweep's guards, apply's reviewed skips).
bool blob_side(const Action& a);

class SweepGuard {
 public:
  virtual ~SweepGuard() = default;
  // Called before the actions of kind `next` run, from the sweeping thread. `done[i]` is 1
  // for each action of an earlier phase that was done. Sets `skip[i]` to 1 for every action
  // that must not be done; a skipped action stays skipped.
  virtual void before_phase(ActionKind next, const Plan& plan,
                            const std::vector<std::uint8_t>& done,
                            std::vector<std::uint8_t>& skip) = 0;
  // Why actions were skipped, one finding per cause; taken once, at the end of the sweep.
  virtual std::vector<Finding> take_findings() = 0;
};

// What a guard found changed since the scan, and what that keeps from being done (rule 3 in
// docs/safety.md): every action of a changed repository and, after any change, every
// blob-side action, since a new manifest may reference an old blob; after a change whose
// extent is unknown, every action. Shared by the guards of every store.
class ChangesSinceScan {
 public:
  // `writer`: what may be writing, for the findings ("the tree", "the bucket").
  explicit ChangesSinceScan(std::string writer) : m_writer(std::move(writer)) {}
  // `path` changed (`how`: "changed", "appeared", …); `repository` empty when it belongs to
  // none. One finding per path.
  void record(const std::string& path, const std::string& repository, const std::string& how);
  // Whether anything changed cannot be known: nothing more may be done.
  void record_unknown(const std::string& path, const std::string& why);
  bool any() const { return m_any; }
  const std::set<std::string>& repositories() const { return m_repositories; }
  // Sets skip[i] for every action not yet done that depends on a change.
  void skip_dependents(const Plan& plan, const std::vector<std::uint8_t>& done,
                       std::vector<std::uint8_t>& skip) const;
  std::vector<Finding> take_findings() { return std::move(m_findings); }

 private:
  std::string m_writer;
  bool m_any = false;
  bool m_all = false;
  std::set<std::string> m_repositories;
  std::set<std::string> m_reported;  // paths
  std::vector<Finding> m_findings;
};

struct SweepResult {
  // Why the action at index `i` of Plan::actions failed; empty when it was done or skipped.
  const std::string& error(std::size_t i) const;
  // True when the guard kept the action at index `i` from being done.
  bool skipped(std::size_t i) const { return i < skip.size() && skip[i] != 0; }
  // Failed actions as (index into Plan::actions, message), sorted by index. Failures are
  // rare: a string per action would cost 32 bytes each for a million actions.
  std::vector<std::pair<std::size_t, std::string>> errors;
  std::vector<std::string> removed_dirs;  // empty directories removed, sorted
  std::vector<Finding> findings;          // one per failure
  std::vector<std::uint8_t> skip;         // parallel to Plan::actions
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  // Not done because the guard said so, or because a failed deletion leaves them referenced.
  std::uint64_t skipped_count = 0;
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_freed = 0;         // blob bytes
  std::uint64_t upload_bytes_freed = 0;  // bytes of uploads (purged, or in removed repositories)
  // --delete-noncurrent-versions, after the sweep (Store::purge_noncurrent): whether it ran,
  // the versions it deleted and their bytes.
  bool purged_noncurrent = false;
  std::uint64_t noncurrent_versions_deleted = 0;
  std::uint64_t noncurrent_bytes_freed = 0;
  std::array<std::uint64_t, 9> done_by_kind{};  // indexed by ActionKind
};

// Executes `plan`; with a guard, asks it before each phase what to leave undone.
SweepResult sweep(const Plan& plan, Remover& remover, tbb::task_arena& arena,
                  SweepGuard* guard = nullptr);

}  // namespace regsweep
