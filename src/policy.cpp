#include "regsweep/policy.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "regsweep/human.hpp"
#include "regsweep/probe.hpp"

namespace regsweep {

Result<Serving> registry_stopped(const std::optional<ServeSettings>& serve,
                                 const std::string& config_path, const SweepPolicy& policy,
                                 std::string_view override_hint) {
  if (policy.force || !serve || serve->addr.empty()) {
    return Serving::unknown;
  }
  if (serve->readonly) {
    return Serving::none;
  }
  ProbeResult probe = probe_registry(serve->addr, serve->net, serve->tls, policy.probe_timeout);
  if (probe.refused) {
    return Serving::none;
  }
  if (!probe.answers) {
    // A probe that cannot tell counts as serving (rule 3): a registry on a network this
    // machine does not see may still write to the tree.
    return Error{"cannot tell whether a registry serves the tree: " + probe.unknown +
                     " (http.addr '" + serve->addr + "' in '" + config_path +
                     "'). Once no registry can write to it, run again with --force (fsck "
                     "--repair: with --root naming the storage), or give http.addr an address "
                     "this machine can reach; nothing was deleted",
                 EBUSY};
  }
  return Error{"a registry answers at " + probe.url + " (http.addr in '" + config_path +
                   "'), and storage.maintenance.readonly is not enabled: it may write to the "
                   "tree while regsweep deletes. Stop it, or set it read-only (storage: "
                   "maintenance: readonly: enabled: true) and restart it, " +
                   std::string(override_hint) + "; nothing was deleted",
               EBUSY};
}

Status may_sweep(const std::vector<std::string>& activity,
                 const std::vector<std::string>& young_uploads, bool dated_in_future,
                 const SweepPolicy& policy, std::string_view override_hint) {
  if (policy.force) {
    return ok_status();
  }
  if (activity.empty()) {
    if (young_uploads.empty() || policy.known_stopped) {
      return ok_status();
    }
    // A young upload alone: kept either way (the grace period); it refuses the sweep only
    // because a registry that may still be serving could finish it while blobs go.
    return Error{
        "refusing to sweep: an upload was written within the grace period (named above) and "
        "whether a registry serves the tree is not known. If the registry is stopped, run with "
        "its configuration file (CONFIG or --config: the run then asks http.addr, and a "
        "refused connection lets it go on, keeping the young upload); otherwise stop it (or "
        "put it in read-only mode) and run again" +
            std::string(override_hint) + "; nothing was deleted",
        EBUSY};
  }
  if (dated_in_future) {
    return Error{
        "refusing to sweep: a file is dated in the future (named above), so whether it is "
        "young, or changed during the scan, cannot be told. Correct the clock of the machine "
        "that wrote it (or the file's time) and run again" +
            std::string(override_hint) + "; nothing was deleted",
        EBUSY};
  }
  return Error{
      "refusing to sweep: the registry looks active. Stop it (or put it in read-only "
      "mode) and run again" +
          std::string(override_hint) + "; nothing was deleted",
      EBUSY};
}

Status may_sweep(const Collection& collection, const SweepPolicy& policy) {
  return may_sweep(collection.activity, collection.young_uploads, collection.dated_in_future,
                   policy, ", or pass --force");
}

Result<SweepResult> sweep_collection(Store& store, const Collection& collection,
                                     bool delete_untagged, const SweepPolicy& policy,
                                     tbb::task_arena& arena, SweepWith with) {
  if (Status s = may_sweep(collection, policy); !s) {
    return s.error();
  }
  std::unique_ptr<Remover> remover = with.remover ? std::move(with.remover) : store.remover();
  auto guard = store.guard(collection.inventory, tags_to_watch(collection, delete_untagged));
  if (with.reviewed) {
    guard = reviewed_guard(std::move(*with.reviewed), std::move(guard));
  }
  return sweep(collection.plan, *remover, arena, guard.get());
}

std::optional<DeleteCap> parse_delete_cap(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  DeleteCap cap;
  cap.given = text;
  std::string number = text;
  bool percent = number.back() == '%';
  if (percent) {
    number.pop_back();
  }
  if (number.empty() ||
      number.find_first_not_of(percent ? "0123456789." : "0123456789") != std::string::npos) {
    return std::nullopt;
  }
  try {
    if (percent) {
      double p = std::stod(number);
      if (!(p > 0 && p <= 100)) {
        return std::nullopt;
      }
      cap.percent = p;
    } else {
      cap.blobs = std::stoull(number);
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return cap;
}

Status within_cap(const Collection& collection, const DeleteCap& cap) {
  // Every blob was stat'ed when a share cap asked for it (GcOptions::every_blob_size).
  const auto [total, every_size] = stored_blob_bytes(collection.inventory);
  const Plan& plan = collection.plan;
  double share =
      total > 0 ? 100.0 * static_cast<double>(plan.blob_bytes) / static_cast<double>(total) : 0.0;
  bool over = (cap.blobs && plan.blobs > *cap.blobs) ||
              (cap.percent && (!every_size || share > *cap.percent));
  if (!over) {
    return ok_status();
  }
  std::string what = std::to_string(plan.blobs) + " blobs, " + human_bytes(plan.blob_bytes);
  if (every_size) {
    char pct[32];
    std::snprintf(pct, sizeof(pct), "%.1f%%", share);
    what += " of the tree's " + human_bytes(total) + " (" + pct + ")";
  }
  return Error{"the plan deletes " + what + ", more than --max-delete " + cap.given + " allows",
               EDQUOT};
}

bool purge_noncurrent_versions(Store& store, tbb::task_arena& arena, SweepResult& swept) {
  Store::Purged purged = store.purge_noncurrent(arena);
  swept.purged_noncurrent = true;
  swept.noncurrent_versions_deleted = purged.versions;
  swept.noncurrent_bytes_freed = purged.bytes;
  bool complete = !has_error(purged.findings);
  std::move(purged.findings.begin(), purged.findings.end(), std::back_inserter(swept.findings));
  return complete;
}

}  // namespace regsweep
