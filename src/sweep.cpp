// Sweeping a plan.
//
// 1. For each action kind in plan order (tag history, revisions, layer links, blobs): delete
//    every action of that kind in parallel, then make them durable (one barrier: syncfs on a
//    disk). A later kind starts only when the earlier one is durable, so neither an
//    interruption nor a power loss leaves a reference to something already deleted.
// 2. Remove the directories the deletions left empty (deepest first); one more barrier.

#include "regsweep/sweep.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <set>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_for_each.h>
#include <oneapi/tbb/partitioner.h>

#include "regsweep/layout.hpp"
#include "regsweep/progress.hpp"

namespace regsweep {

namespace {

// Carries out the actions `batch` (indices into plan.actions, whose paths are `paths`) of one
// kind: a repository's own directories, a blob moved aside, or else one batch of removals.
void run_batch(const Plan& plan, Remover& remover, const std::vector<std::size_t>& batch,
               const std::vector<std::string>& paths,
               const std::function<void(std::size_t, std::string)>& failed) {
  if (batch.empty()) {
    return;
  }
  const ActionKind kind = plan.actions[batch.front()].kind;
  if (kind == ActionKind::repository || kind == ActionKind::quarantine) {
    for (std::size_t k = 0; k < batch.size(); ++k) {
      const Action a = plan.actions[batch[k]];
      std::string first_error;
      if (kind == ActionKind::quarantine) {
        Status s = remover.move_aside(paths[k], layout::lost_found_entry(a.digest, plan.made_at));
        first_error = s ? "" : s.error().message;
      } else {
        // Only the repository's own directories: a nested repository below it stays.
        for (std::string_view own : {layout::k_manifests, layout::k_layers, layout::k_uploads}) {
          Status s = remover.remove_tree(layout::join(paths[k], own));
          if (!s && first_error.empty()) {
            first_error = s.error().message;
          }
        }
      }
      if (!first_error.empty()) {
        failed(batch[k], std::move(first_error));
      }
    }
    return;
  }
  if (kind == ActionKind::tidy) {
    // A directory the scan saw empty is removed only while it still is: a listing that left
    // something out, or a write since, must not make the tidy delete it.
    std::vector<std::size_t> files;
    std::vector<std::string> file_paths;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      if (plan.actions[batch[k]].reason == Reason::temp_leftover) {
        files.push_back(batch[k]);
        file_paths.push_back(paths[k]);
      } else if (Status s = remover.remove_empty_tree(paths[k]); !s) {
        failed(batch[k], s.error().message);
      }
    }
    std::vector<Status> done = remover.remove_batch(file_paths);
    for (std::size_t k = 0; k < files.size(); ++k) {
      if (k >= done.size() || !done[k]) {
        failed(files[k], k < done.size() ? done[k].error().message
                                         : "the store gave no answer for '" + file_paths[k] + "'");
      }
    }
    return;
  }
  std::vector<Status> done = remover.remove_batch(paths);
  for (std::size_t k = 0; k < batch.size(); ++k) {
    if (k >= done.size() || !done[k]) {
      failed(batch[k], k < done.size() ? done[k].error().message
                                       : "the store gave no answer for '" + paths[k] + "'");
    }
  }
}

// The phase's share of each thread, at most the remover's batch size: a request per thread
// while the phase is large, full batches once it is larger still.
std::size_t batch_grain(std::size_t actions, const Remover& remover, tbb::task_arena& arena) {
  auto threads = static_cast<std::size_t>(std::max(1, arena.max_concurrency()));
  return std::clamp<std::size_t>((actions + threads - 1) / threads, 1, remover.batch_size());
}

std::size_t depth(const std::string& path) {
  return static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

Status Remover::remove_empty_tree(std::string_view path) {
  return Error{"refusing to remove '" + std::string(path) + "' as an empty directory here", EPERM};
}

std::vector<Status> Remover::remove_batch(const std::vector<std::string>& paths) {
  std::vector<Status> out;
  out.reserve(paths.size());
  for (const std::string& p : paths) {
    out.push_back(remove_tree(p));
  }
  return out;
}

void ChangesSinceScan::record(const std::string& path, const std::string& repository,
                              const std::string& how) {
  m_any = true;
  if (!repository.empty()) {
    m_repositories.insert(repository);
  }
  if (!m_reported.insert(path).second) {
    return;
  }
  m_findings.push_back(
      Finding{FindingKind::changed_since_scan, Severity::error, path, repository,
              "'" + path + "' " + how + " since the scan: " +
                  (repository.empty() ? std::string("no blob is deleted")
                                      : "nothing in '" + repository + "' and no blob is deleted") +
                  "; is a registry writing to " + m_writer + "?"});
}

void ChangesSinceScan::record_unknown(const std::string& path, const std::string& why) {
  m_any = true;
  m_all = true;
  if (m_reported.insert(path).second) {
    m_findings.push_back(Finding{FindingKind::changed_since_scan, Severity::error, path, "",
                                 "'" + path + "' " + why +
                                     ": whether it changed since the scan is unknown, so nothing "
                                     "more is deleted"});
  }
}

bool blob_side(const Action& a) {
  return a.kind == ActionKind::blob || a.kind == ActionKind::quarantine ||
         (a.kind == ActionKind::tidy && a.repository.empty());
}

void ChangesSinceScan::skip_dependents(const Plan& plan, const std::vector<std::uint8_t>& done,
                                       std::vector<std::uint8_t>& skip) const {
  if (!m_any) {
    return;
  }
  for (std::size_t i = 0; i < skip.size(); ++i) {
    if (skip[i] != 0 || (i < done.size() && done[i] != 0)) {
      continue;
    }
    const Action a = plan.actions[i];
    if (m_all || blob_side(a) || m_repositories.count(std::string(a.repository)) != 0) {
      skip[i] = 1;
    }
  }
}

const std::string& SweepResult::error(std::size_t i) const {
  static const std::string none;
  auto it = std::lower_bound(errors.begin(), errors.end(), i,
                             [](const auto& e, std::size_t k) { return e.first < k; });
  return it != errors.end() && it->first == i ? it->second : none;
}

namespace {

// What failed deletions leave pointing (rule 3 in docs/safety.md): a tag, link or repository
// directory that could not be removed still references what the plan deletes after it. Every
// later action of its repository is skipped, and every later blob-side action, since a blob
// may be needed by any repository's manifests.
class LeftReferenced {
 public:
  // Records the failed actions among [begin, end).
  void failed(const Plan& plan, const std::vector<std::pair<std::size_t, std::string>>& errors,
              std::size_t begin, std::size_t end) {
    for (const auto& [i, message] : errors) {
      if (i < begin || i >= end) {
        continue;
      }
      const Action a = plan.actions[i];
      if (a.kind == ActionKind::blob || a.kind == ActionKind::upload ||
          a.kind == ActionKind::tidy) {
        continue;  // nothing the plan deletes later depends on these
      }
      if (m_first.empty()) {
        m_first = a.path();
      }
      m_any = true;
      if (!a.repository.empty()) {
        m_repositories.insert(std::string(a.repository));
      }
    }
  }
  // Skips every action in [begin, end) a failed deletion leaves referenced; counts them.
  void skip(const Plan& plan, std::size_t begin, std::size_t end, std::vector<std::uint8_t>& skip) {
    if (!m_any) {
      return;
    }
    for (std::size_t i = begin; i < end; ++i) {
      const Action a = plan.actions[i];
      if (skip[i] == 0 && (blob_side(a) || m_repositories.count(std::string(a.repository)) != 0)) {
        skip[i] = 1;
        ++m_skipped;
      }
    }
  }
  std::optional<Finding> finding() const {
    if (m_skipped == 0) {
      return std::nullopt;
    }
    return Finding{FindingKind::delete_failed, Severity::error, m_first, "",
                   std::to_string(m_skipped) +
                       " deletions not done: what they would delete is still referenced by "
                       "what could not be deleted, '" +
                       m_first + "' first; run again once it can be"};
  }

 private:
  bool m_any = false;
  std::string m_first;
  std::set<std::string> m_repositories;
  std::uint64_t m_skipped = 0;
};

// Makes the deletions of the phase [begin, end) durable before the next phase starts, when it
// deleted anything. When that fails, the phase may be undone by a crash while the next is not:
// every later action is skipped (an error finding says so) and false is returned.
bool durable(const Plan& plan, Remover& remover, std::size_t begin, std::size_t end,
             SweepResult& out) {
  bool any = false;
  for (std::size_t i = begin; i < end && !any; ++i) {
    any = !out.skipped(i);
  }
  if (!any) {
    return true;
  }
  Status s = remover.barrier();
  if (s) {
    return true;
  }
  std::uint64_t later = 0;
  for (std::size_t i = end; i < plan.actions.size(); ++i) {
    out.skip[i] = 1;
    ++later;
  }
  out.findings.push_back(Finding{
      FindingKind::delete_failed, Severity::error, plan.actions[begin].path(), "",
      "cannot make the deletions of " + std::string(to_string(plan.actions[begin].kind)) +
          " entries durable: " + s.error().message + "; the " + std::to_string(later) +
          " deletions after them were not done (they could outlive a crash that undid these)"});
  return false;
}

// Runs the plan phase by phase (a phase is a run of one kind), each in parallel batches,
// asking `guard` (when given) before each phase what to skip, and skipping what an earlier
// phase's failed deletions leave referenced. Failures go to out.errors.
void run_phases(const Plan& plan, Remover& remover, tbb::task_arena& arena, SweepGuard* guard,
                SweepResult& out) {
  std::vector<std::uint8_t> done;
  out.skip.assign(plan.actions.size(), 0);
  if (guard != nullptr) {
    done.assign(plan.actions.size(), 0);
  }
  LeftReferenced left;
  std::mutex errors_mutex;
  auto failed = [&](std::size_t i, std::string message) {
    std::lock_guard lock(errors_mutex);
    out.errors.emplace_back(i, std::move(message));
  };
  progress().begin("deleting", plan.actions.size());
  arena.execute([&] {
    std::size_t begin = 0;
    while (begin < plan.actions.size()) {
      std::size_t end = begin;
      const ActionKind kind = plan.actions[begin].kind;
      while (end < plan.actions.size() && plan.actions[end].kind == kind) {
        ++end;
      }
      if (guard != nullptr) {
        guard->before_phase(kind, plan, done, out.skip);
      }
      left.skip(plan, begin, end, out.skip);
      // In batches: a store that deletes by request sends one per batch.
      auto one_range = [&](const tbb::blocked_range<std::size_t>& range) {
        std::vector<std::size_t> batch;
        std::vector<std::string> paths;
        for (std::size_t i = range.begin(); i != range.end(); ++i) {
          if (!out.skipped(i)) {
            batch.push_back(i);
            paths.push_back(plan.actions[i].path());
          }
        }
        run_batch(plan, remover, batch, paths, failed);
        progress().advance(range.size());
      };
      if (remover.batch_size() <= 1) {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(begin, end), one_range);
      } else {
        // As many requests in flight as the arena has threads, each as full as the phase
        // allows: the partitioner alone would send a few keys a request.
        tbb::parallel_for(
            tbb::blocked_range<std::size_t>(begin, end, batch_grain(end - begin, remover, arena)),
            one_range, tbb::simple_partitioner());
      }
      left.failed(plan, out.errors, begin, end);
      if (guard != nullptr) {
        std::lock_guard lock(errors_mutex);
        for (std::size_t i = begin; i < end; ++i) {
          done[i] = out.skipped(i) ? 0 : 1;
        }
        for (const auto& [i, message] : out.errors) {
          if (i >= begin && i < end) {
            done[i] = 0;
          }
        }
      }
      if (!durable(plan, remover, begin, end, out)) {
        break;  // what follows may delete what this phase's deletions referenced
      }
      begin = end;
    }
  });
  std::sort(out.errors.begin(), out.errors.end());
  if (auto f = left.finding()) {
    out.findings.push_back(std::move(*f));
  }
}

// Counts what was done, skipped and failed; collects the directories a deletion may have left
// empty.
void tally(const Plan& plan, SweepResult& out, std::vector<std::string>& cleanup) {
  for (std::size_t i = 0; i < plan.actions.size(); ++i) {
    const Action& a = plan.actions[i];
    if (out.skipped(i)) {
      ++out.skipped_count;
      continue;
    }
    if (const std::string& error = out.error(i); !error.empty()) {
      ++out.failed;
      out.findings.push_back(Finding{FindingKind::delete_failed, Severity::error, a.path(),
                                     std::string(a.repository), error});
      continue;
    }
    ++out.done;
    ++out.done_by_kind[static_cast<std::size_t>(a.kind)];
    if (a.kind == ActionKind::upload || a.kind == ActionKind::repository) {
      out.upload_bytes_freed += a.bytes;
    }
    if (a.kind == ActionKind::blob) {
      ++out.blobs_deleted;
      out.bytes_freed += a.bytes;
    }
    std::vector<std::string> then = a.then_if_empty();
    cleanup.insert(cleanup.end(), then.begin(), then.end());
  }
}

// Removes the directories in `cleanup` that are empty, deepest first, and makes that durable.
void remove_emptied(Remover& remover, std::vector<std::string> cleanup, SweepResult& out) {
  std::sort(cleanup.begin(), cleanup.end(), [](const std::string& a, const std::string& b) {
    return depth(a) != depth(b) ? depth(a) > depth(b) : a < b;
  });
  cleanup.erase(std::unique(cleanup.begin(), cleanup.end()), cleanup.end());
  for (const std::string& dir : cleanup) {
    auto removed = remover.remove_if_empty(dir);
    if (!removed) {
      // A failed deletion, like any other (a mount point there says EBUSY): exit 3.
      out.findings.push_back(
          Finding{FindingKind::delete_failed, Severity::error, dir, "", removed.error().message});
    } else if (*removed) {
      out.removed_dirs.push_back(dir);
    }
  }
  std::sort(out.removed_dirs.begin(), out.removed_dirs.end());
  if (out.removed_dirs.empty()) {
    return;
  }
  if (Status s = remover.barrier(); !s) {
    // The deletions themselves were made durable phase by phase: only empty directories may
    // come back after a crash.
    out.findings.push_back(
        Finding{FindingKind::delete_failed, Severity::warning, "", "",
                "cannot make the removal of empty directories durable: " + s.error().message});
  }
}

}  // namespace

SweepResult sweep(const Plan& plan, Remover& remover, tbb::task_arena& arena, SweepGuard* guard) {
  SweepResult out;
  run_phases(plan, remover, arena, guard, out);
  std::vector<std::string> cleanup;
  tally(plan, out, cleanup);
  remove_emptied(remover, std::move(cleanup), out);
  if (guard != nullptr) {
    std::vector<Finding> why = guard->take_findings();
    out.findings.insert(out.findings.end(), why.begin(), why.end());
  }
  sort_findings(out.findings);
  return out;
}

}  // namespace regsweep
