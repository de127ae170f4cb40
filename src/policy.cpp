#include "regsweep/policy.hpp"

#include <algorithm>
#include <iterator>

#include "regsweep/probe.hpp"

namespace regsweep {

Status registry_stopped(const std::optional<ServeSettings>& serve, const std::string& config_path,
                        const SweepPolicy& policy, std::string_view override_hint) {
  if (policy.force || !serve || serve->readonly || serve->addr.empty()) {
    return ok_status();
  }
  ProbeResult probe = probe_registry(serve->addr, serve->net, serve->tls, policy.probe_timeout);
  if (probe.refused) {
    return ok_status();
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

Status may_sweep(const std::vector<std::string>& activity, bool dated_in_future,
                 const SweepPolicy& policy, std::string_view override_hint) {
  if (policy.force || activity.empty()) {
    return ok_status();
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
  return may_sweep(collection.activity, collection.dated_in_future, policy, ", or pass --force");
}

Result<SweepResult> sweep_collection(Store& store, const Collection& collection,
                                     bool delete_untagged, const SweepPolicy& policy,
                                     tbb::task_arena& arena) {
  if (Status s = may_sweep(collection, policy); !s) {
    return s.error();
  }
  auto remover = store.remover();
  auto guard = store.guard(collection.inventory, tags_to_watch(collection, delete_untagged));
  return sweep(collection.plan, *remover, arena, guard.get());
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
