// The safety sequence (run.hpp): probe -> lock -> plan -> may-sweep -> sweep, for every job
// that may change the tree. Each step's refusal stops the run before the next.

#include "regsweep/run.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <utility>

#include <oneapi/tbb/parallel_for.h>

#include "regsweep/lock.hpp"
#include "regsweep/quarantine.hpp"

namespace regsweep {

namespace {

void say(const RunContext& run, Notice::Level level, std::string text) {
  if (run.notify) {
    run.notify(Notice{level, std::move(text)});
  }
}

// Stop the world, for a run that may change the tree: no writable registry serves it
// (`override_hint` says how to go ahead anyway), and the run lock is held from before the
// scan until the run ends. Nothing (no lock) for a dry run.
Result<std::unique_ptr<RegistryLock>> begin(RunContext& run, std::string_view command,
                                            std::string_view override_hint) {
  if (run.dry_run == DryRun::yes) {
    return std::unique_ptr<RegistryLock>{};
  }
  auto serving = registry_stopped(run.serve, run.config_path, run.policy, override_hint);
  if (!serving) {
    return serving.error();
  }
  run.policy.known_stopped = *serving == Serving::none;
  auto taken = run.store.lock(command);
  if (!taken) {
    return taken.error();
  }
  if (!(*taken)->previous_holder().empty()) {
    say(run, Notice::Level::info,
        "took over the lock last held by " + (*taken)->previous_holder() + " (no longer running)");
  }
  return std::move(*taken);
}

// The signs that something writes to the tree, said before the run goes on (a dry run, or
// --force) or refuses.
// Young uploads are kept either way; they refuse a sweep only when no probe said the
// registry is stopped (may_sweep).
void say_activity(const RunContext& run, const std::vector<std::string>& activity,
                  const std::vector<std::string>& young_uploads) {
  bool goes_on = run.dry_run == DryRun::yes || run.policy.force;
  for (const std::string& line : activity) {
    say(run, goes_on ? Notice::Level::warning : Notice::Level::refusal, line);
  }
  if (run.policy.known_stopped && activity.empty() && !goes_on) {
    for (const std::string& line : young_uploads) {
      say(run, Notice::Level::info,
          line + ": kept, and the run goes on: no writable registry serves the tree (" +
              (run.serve && run.serve->readonly ? "it is read-only" : "the probe was refused") +
              ")");
    }
    return;
  }
  for (const std::string& line : young_uploads) {
    say(run, goes_on ? Notice::Level::warning : Notice::Level::refusal, line);
  }
}

// Whether deleting in the store frees nothing (said at the start), and whether
// --delete-noncurrent-versions has work after the sweep (the store then notes each object
// it deletes).
struct Keeping {
  bool keeps = false;
  bool purge = false;
};
Keeping keeping_of(RunContext& run, bool delete_noncurrent_versions) {
  Store::DeletionEffect effect = run.store.deletion_effect();
  if (effect.keeps || effect.unknown) {
    say(run, Notice::Level::warning, effect.why);
  }
  Keeping out{.keeps = effect.keeps,
              .purge = delete_noncurrent_versions && (effect.keeps || effect.unknown)};
  if (delete_noncurrent_versions && !out.purge) {
    say(run, Notice::Level::note,
        "--delete-noncurrent-versions: '" + run.store.location() +
            "' keeps no deleted objects: there are no noncurrent versions to delete");
  } else if (out.purge && run.dry_run == DryRun::yes) {
    say(run, Notice::Level::note,
        "dry run: with --delete-noncurrent-versions, the noncurrent versions of what it "
        "deletes would be deleted too");
  } else if (out.purge) {
    run.store.note_deletions();
  }
  return out;
}

// --quarantine: the new run, with its journal written before anything moves.
struct OpenedQuarantine {
  QuarantineJournal journal;
  std::unique_ptr<Remover> mover;
};
Result<OpenedQuarantine> open_quarantine(RunContext& run, const CollectRequest& request,
                                         const Collection& collection) {
  QuarantineArea* area = run.store.quarantine();
  if (area == nullptr) {
    return Error{"--quarantine is not available on '" + run.store.location() +
                     "'; nothing was deleted. Run without --quarantine",
                 ENOTSUP};
  }
  OpenedQuarantine out;
  QuarantineJournal& j = out.journal;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  j.started = now_ms / 1000;
  j.run_id = new_run_id(now_ms);
  j.command = request.command_line;
  j.location = run.store.location();
  for (const Action& a : collection.plan.actions) {
    j.planned.push_back(a.path());
  }
  if (Status s = area->create(j.run_id); !s) {
    return s.error();
  }
  if (Status s = area->write_journal(j.run_id, journal_json(j)); !s) {
    (void)area->purge(j.run_id);
    return Error{"cannot start quarantine run " + j.run_id + ": " + s.error().message +
                     "; nothing was deleted",
                 s.error().sys_errno};
  }
  out.mover = area->mover(j.run_id);
  say(run, Notice::Level::info,
      "quarantine run " + j.run_id + ": what is deleted goes to '" + area->where() + "/" +
          j.run_id + "'");
  return out;
}

// After the sweep: the journal, complete, with every path the sweep moved (as the plan names
// it, with its bytes), from the sweep's own record: walking the run again to list its files
// cost as much as a tenth of a run on a large tree.
void close_quarantine(RunContext& run, QuarantineJournal& j, const Plan& plan,
                      const SweepResult* swept) {
  QuarantineArea* area = run.store.quarantine();
  for (std::size_t i = 0; swept != nullptr && i < plan.actions.size(); ++i) {
    const Action a = plan.actions[i];
    // An empty directory is removed, not moved: nothing of it is kept.
    bool removed = a.kind == ActionKind::tidy && a.reason != Reason::temp_leftover;
    if (!removed && !swept->skipped(i) && swept->error(i).empty()) {
      j.moved.push_back(StoreObject{a.path(), a.bytes, 0});
    }
  }
  j.complete = true;
  j.ended = static_cast<std::int64_t>(std::time(nullptr));
  Status written = area->write_journal(j.run_id, journal_json(j));
  if (!written) {
    say(run, Notice::Level::warning,
        "quarantine run " + j.run_id + ": the journal could not be completed (" +
            written.error().message + "); what was moved stays in the run, and restore finds it");
  }
}

// What a dry run says of the steps it skips: a cap a real run would stop at, and where
// --quarantine would move things.
void say_dry_run(const RunContext& run, const CollectRequest& request, const Status& capped) {
  if (!capped) {
    say(run, Notice::Level::warning, "a real run would not sweep: " + capped.error().message);
  }
  if (request.quarantine) {
    QuarantineArea* area = run.store.quarantine();
    say(run, Notice::Level::note,
        area != nullptr
            ? "dry run: with --quarantine, what it deletes would be moved into a new run in '" +
                  area->where() + "'"
            : "dry run: --quarantine is not available on '" + run.store.location() +
                  "': a real run would refuse");
  }
}

void before(const RunContext& run, std::string_view step) {
  if (run.before_step) {
    run.before_step(step);
  }
}

// The sweep of a collection, into a new quarantine run with --quarantine: its journal is
// written before the first move and completed after the last.
Status sweep_step(RunContext& run, const CollectRequest& request, CollectRun& out,
                  std::optional<ReviewedSkips> reviewed) {
  std::optional<QuarantineJournal> journal;
  std::unique_ptr<Remover> mover;
  // Nothing to move makes no run: nightly runs with nothing to collect leave no empty ones.
  if (request.quarantine && !out.collection->plan.actions.empty()) {
    auto opened = open_quarantine(run, request, *out.collection);
    if (!opened) {
      return opened.error();
    }
    journal = std::move(opened->journal);
    mover = std::move(opened->mover);
    out.quarantine_run = journal->run_id;
  }
  before(run, "the sweep");
  auto swept = sweep_collection(
      run.store, *out.collection, request.options.delete_untagged, run.policy, run.arena,
      SweepWith{.remover = std::move(mover), .reviewed = std::move(reviewed)});
  if (journal) {
    close_quarantine(run, *journal, out.collection->plan, swept ? &*swept : nullptr);
  }
  if (!swept) {
    return swept.error();
  }
  out.swept = std::move(*swept);
  return ok_status();
}

// With a redis blob descriptor cache: removes the entries of what `swept` did of `plan`, or
// reports those every action would make (a dry run: `swept` null). The report, and a failure
// as a finding in `findings`.
std::optional<CacheReport> clear_cache(const RunContext& run, const Plan& plan,
                                       const SweepResult* swept, std::vector<Finding>* findings) {
  if (run.cache.kind != BlobCacheSettings::Kind::redis) {
    return std::nullopt;
  }
  CacheEntries entries = cache_entries(plan, swept);
  if (swept == nullptr) {
    return planned_cache_clear(run.cache.redis, entries);
  }
  before(run, "the cache clearing");
  CacheReport report = clear_blob_cache(run.cache, entries);
  if (report.finding && findings != nullptr) {
    findings->push_back(*report.finding);
    sort_findings(*findings);  // reports list them sorted
  }
  return report;
}

}  // namespace

std::int64_t storage_now(Store& store, const std::function<void(const Notice&)>& notify) {
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::optional<std::int64_t> offset = store.clock_offset();
  if (!offset) {
    return now;
  }
  if ((*offset > 60 || *offset < -60) && notify) {
    notify(Notice{Notice::Level::warning,
                  "the clock of '" + store.location() + "' is " +
                      std::to_string(*offset > 0 ? *offset : -*offset) + " s " +
                      (*offset > 0 ? "ahead of" : "behind") +
                      " this machine's; ages are judged by the storage's clock"});
  }
  return now + *offset;
}

CollectRun collect(RunContext& run, CollectRequest request) {
  CollectRun out;
  if (request.reviewed != nullptr && request.reviewed->location != run.store.location()) {
    out.stopped = Error{"the plan is for '" + request.reviewed->location + "', not '" +
                            run.store.location() + "'; nothing was deleted",
                        EINVAL};
    return out;
  }
  auto lock = begin(run, request.command, "or pass --force");
  if (!lock) {
    out.stopped = lock.error();
    return out;
  }
  GcOptions& options = request.options;
  options.plan.now = storage_now(run.store, run.notify);
  Keeping keeping = keeping_of(run, request.delete_noncurrent_versions);
  out.bytes_hidden = keeping.keeps;
  options.grace = Grace(options.plan.now, request.min_age);
  if (request.prune) {
    options.select_tags =
        tags_by_rules(std::move(request.prune->rules), std::move(request.prune->scope),
                      options.grace, options.plan.now, out.retention);
  }
  auto collection = plan_gc(run.store, options, run.arena);
  if (!collection) {
    out.stopped = collection.error();
    return out;
  }
  out.collection = std::move(*collection);
  say_activity(run, out.collection->activity, out.collection->young_uploads);
  Status capped =
      request.max_delete ? within_cap(*out.collection, *request.max_delete) : ok_status();
  if (run.dry_run == DryRun::yes) {
    say_dry_run(run, request, capped);
    out.cache = clear_cache(run, out.collection->plan, nullptr, nullptr);
    return out;
  }
  if (!capped) {
    out.stopped = Error{"refusing to sweep: " + capped.error().message +
                            ". Review the plan with --dry-run, then raise --max-delete (or leave "
                            "it out); nothing was deleted",
                        capped.error().sys_errno};
    return out;
  }
  if (Status s = may_sweep(*out.collection, run.policy); !s) {
    out.stopped = s.error();
    return out;
  }
  std::optional<ReviewedSkips> reviewed;
  if (request.reviewed != nullptr) {
    reviewed = reviewed_skips(out.collection->plan, out.collection->inventory, *request.reviewed);
    out.reviewed = CollectRun::Reviewed{.carried = reviewed->carried,
                                        .changed = reviewed->changed,
                                        .not_reviewed = reviewed->not_reviewed,
                                        .dependent = reviewed->dependent};
  }
  if (Status s = sweep_step(run, request, out, std::move(reviewed)); !s) {
    out.stopped = s.error();
    return out;
  }
  if (keeping.purge) {
    before(run, "the purge of noncurrent versions");
    bool complete = purge_noncurrent_versions(run.store, run.arena, *out.swept);
    out.bytes_hidden = keeping.keeps && !complete;
  }
  // After every deletion: an entry removed before its deletion could be written again by a
  // registry still serving (--force) and then outlive it.
  out.cache = clear_cache(run, out.collection->plan, &*out.swept, &out.swept->findings);
  return out;
}

CheckRun check(RunContext& run, FsckOptions options) {
  CheckRun out;
  options.repair = run.dry_run == DryRun::no;
  auto lock = begin(run, "fsck --repair", "then repair");
  if (!lock) {
    out.stopped = lock.error();
    return out;
  }
  auto planned = plan_fsck(run.store, options, run.arena);
  if (!planned) {
    out.stopped = planned.error();
    return out;
  }
  if (options.repair) {
    say_activity(run, planned->activity, {});
    if (Status s = may_sweep(planned->activity, {}, planned->dated_in_future, run.policy, ""); !s) {
      out.stopped = s.error();
      return out;
    }
    before(run, "the repairs");
    SweepResult swept =
        apply_repairs(run.store, *planned, run.store.guard(planned->inventory, {}), run.arena);
    out.cache = clear_cache(run, planned->repairs, &swept, nullptr);
    if (out.cache && out.cache->finding) {
      const Finding& f = *out.cache->finding;
      planned->report.problems.insert(planned->report.problems.begin(),
                                      Problem{.kind = ProblemKind::cache_stale,
                                              .severity = f.severity,
                                              .path = f.path,
                                              .repository = f.repository,
                                              .message = f.message,
                                              .broken_tags = {}});
    }
  } else {
    out.cache = clear_cache(run, planned->repairs, nullptr, nullptr);
  }
  out.report = std::move(planned->report);
  return out;
}

namespace {

// The runs to restore: `ids`, each checked, or the latest; newest first.
Result<std::vector<std::string>> runs_to_restore(QuarantineArea& area,
                                                 std::vector<std::string> ids) {
  auto all = area.runs();
  if (!all) {
    return all.error();
  }
  if (ids.empty()) {
    if (all->empty()) {
      return Error{"no quarantine run in '" + area.where() + "': nothing to restore", ENOENT};
    }
    return std::vector<std::string>{all->back()};
  }
  for (const std::string& id : ids) {
    if (std::find(all->begin(), all->end(), id) == all->end()) {
      return Error{"no quarantine run '" + id + "' in '" + area.where() + "'", ENOENT};
    }
  }
  std::sort(ids.begin(), ids.end(), std::greater<>());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// Puts one run back; whether it all went back.
Result<bool> restore_run(RunContext& run, QuarantineArea& area, const std::string& id,
                         Restored& out) {
  std::vector<StoreObject> objects;
  if (Status s = area.objects(id, [&](const StoreObject& o) { objects.push_back(o); }); !s) {
    return s.error();
  }
  std::stable_sort(objects.begin(), objects.end(), [](const StoreObject& a, const StoreObject& b) {
    return restore_rank(a.key) < restore_rank(b.key);
  });
  if (run.dry_run == DryRun::yes) {
    for (const StoreObject& o : objects) {
      ++out.restored;
      out.bytes += o.size;
    }
    return true;
  }
  // Rank by rank, in order; within a rank (no object there references another of it), in
  // parallel.
  std::vector<Result<QuarantineArea::PutBack>> puts(objects.size(),
                                                    QuarantineArea::PutBack::restored);
  for (std::size_t begin = 0; begin < objects.size();) {
    int rank = restore_rank(objects[begin].key);
    std::size_t end = begin;
    while (end < objects.size() && restore_rank(objects[end].key) == rank) {
      ++end;
    }
    run.arena.execute([&] {
      tbb::parallel_for(begin, end,
                        [&](std::size_t i) { puts[i] = area.put_back(id, objects[i].key); });
    });
    begin = end;
  }
  bool whole = true;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto& put = puts[i];
    const StoreObject& o = objects[i];
    if (put && *put == QuarantineArea::PutBack::restored) {
      ++out.restored;
      out.bytes += o.size;
    } else if (put && *put == QuarantineArea::PutBack::identical) {
      ++out.identical;
    } else {
      whole = false;
      std::string why =
          put ? "something else stands there now; both are kept" : put.error().message;
      out.findings.push_back(
          Finding{FindingKind::changed_since_scan, Severity::error, o.key, "",
                  "not restored from quarantine run " + id + ": '" + o.key + "': " + why});
    }
  }
  return whole;
}

}  // namespace

RestoreRun restore(RunContext& run, std::vector<std::string> ids) {
  RestoreRun out;
  QuarantineArea* area = run.store.quarantine();
  if (area == nullptr) {
    out.stopped = Error{"'" + run.store.location() + "' has no quarantine", ENOTSUP};
    return out;
  }
  auto chosen = runs_to_restore(*area, std::move(ids));
  if (!chosen) {
    out.stopped = chosen.error();
    return out;
  }
  auto lock = begin(run, "restore", "then restore");
  if (!lock) {
    out.stopped = lock.error();
    return out;
  }
  Restored restored;
  before(run, "the restore");
  for (const std::string& id : *chosen) {
    auto whole = restore_run(run, *area, id, restored);
    if (!whole) {
      out.stopped = whole.error();
      break;
    }
    restored.runs.push_back(id);
    if (*whole && run.dry_run == DryRun::no) {
      if (Status s = area->purge(id); s) {
        restored.purged.push_back(id);
      } else {
        say(run, Notice::Level::warning,
            "quarantine run " + id +
                " was put back but could not be deleted: " + s.error().message);
      }
    }
  }
  out.restored = std::move(restored);
  return out;
}

PurgeRun purge_quarantine(RunContext& run, std::int64_t max_age) {
  PurgeRun out;
  QuarantineArea* area = run.store.quarantine();
  if (area == nullptr) {
    return out;  // no quarantine: nothing to purge
  }
  std::unique_ptr<RegistryLock> lock;
  if (run.dry_run == DryRun::no) {
    auto taken = run.store.lock("quarantine --purge-older-than");
    if (!taken) {
      out.stopped = taken.error();
      return out;
    }
    lock = std::move(*taken);
  }
  auto runs = list_quarantine(*area);
  if (!runs) {
    out.stopped = runs.error();
    return out;
  }
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  for (QuarantineRunInfo& info : *runs) {
    if (now - info.started <= max_age) {
      continue;
    }
    if (run.dry_run == DryRun::no) {
      if (Status s = area->purge(info.id); !s) {
        out.stopped = s.error();
        return out;
      }
    }
    out.purged.push_back(std::move(info));
  }
  return out;
}

}  // namespace regsweep
