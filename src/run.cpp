// The safety sequence (run.hpp): probe -> lock -> plan -> may-sweep -> sweep, for every job
// that may change the tree. Each step's refusal stops the run before the next.

#include "regsweep/run.hpp"

#include <ctime>
#include <memory>
#include <utility>

#include "regsweep/lock.hpp"

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
  if (Status s = registry_stopped(run.serve, run.config_path, run.policy, override_hint); !s) {
    return s.error();
  }
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
void say_activity(const RunContext& run, const std::vector<std::string>& activity) {
  bool goes_on = run.dry_run == DryRun::yes || run.policy.force;
  for (const std::string& line : activity) {
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

void before(const RunContext& run, std::string_view step) {
  if (run.before_step) {
    run.before_step(step);
  }
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
  say_activity(run, out.collection->activity);
  Status capped =
      request.max_delete ? within_cap(*out.collection, *request.max_delete) : ok_status();
  if (run.dry_run == DryRun::yes) {
    if (!capped) {
      say(run, Notice::Level::warning, "a real run would not sweep: " + capped.error().message);
    }
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
  before(run, "the sweep");
  auto swept =
      sweep_collection(run.store, *out.collection, options.delete_untagged, run.policy, run.arena);
  if (!swept) {
    out.stopped = swept.error();
    return out;
  }
  out.swept = std::move(*swept);
  if (keeping.purge) {
    before(run, "the purge of noncurrent versions");
    bool complete = purge_noncurrent_versions(run.store, run.arena, *out.swept);
    out.bytes_hidden = keeping.keeps && !complete;
  }
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
    say_activity(run, planned->activity);
    if (Status s = may_sweep(planned->activity, planned->dated_in_future, run.policy, ""); !s) {
      out.stopped = s.error();
      return out;
    }
    before(run, "the repairs");
    apply_repairs(run.store, *planned, run.store.guard(planned->inventory, {}), run.arena);
  }
  out.report = std::move(planned->report);
  return out;
}

}  // namespace regsweep
