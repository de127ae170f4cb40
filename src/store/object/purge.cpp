// --delete-noncurrent-versions on any object store that keeps versions: what it kept of the
// objects a sweep deleted (their noncurrent versions) deleted for good, and nothing else.

#include "store/object/remover.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include <oneapi/tbb/parallel_for.h>

namespace regsweep::object {

namespace {

// What --delete-noncurrent-versions deletes of one key the sweep deleted: its noncurrent
// stored versions, while its current version is a delete marker (the sweep's, or a later
// deletion's). A key whose current version holds bytes was written again after the sweep
// deleted it: its versions are left, said in a warning. Delete markers are left too:
// deleting the current one could bring back an older version, and they hold no bytes.
void choose_noncurrent(const Bucket& bucket, std::vector<Version>& versions,
                       std::vector<Version>& doomed, Store::Purged& out) {
  auto current =
      std::find_if(versions.begin(), versions.end(), [](const Version& v) { return v.latest; });
  if (current == versions.end()) {
    return;  // no version at all: nothing is kept of it
  }
  if (!current->delete_marker) {
    out.findings.push_back(
        Finding{FindingKind::changed_since_scan, Severity::warning, current->key, "",
                "'" + bucket.shown(current->key) +
                    "' was written again after this run deleted it: its versions are kept"});
    return;
  }
  for (Version& v : versions) {
    if (!v.delete_marker && !v.latest) {
      doomed.push_back(std::move(v));
    }
  }
}

// Deletes `batch` (at most 1,000 versions): what it deleted, and a finding for each version
// it could not.
Store::Purged purge_batch(Bucket& bucket, const std::vector<Version>& batch) {
  Store::Purged out;
  auto failed = bucket.remove_versions(batch);
  if (!failed) {
    out.findings.push_back(Finding{
        FindingKind::delete_failed, Severity::error, batch.front().key, "",
        "a batch of " + std::to_string(batch.size()) + " noncurrent versions, from '" +
            bucket.full_key(batch.front().key) + "' on, may be kept: " + failed.error().message});
    return out;
  }
  std::set<std::pair<std::string_view, std::string_view>> kept;
  for (const DeleteFailure& f : *failed) {
    kept.emplace(f.key, f.version_id);
    out.findings.push_back(Finding{FindingKind::delete_failed, Severity::error, f.key, "",
                                   "cannot delete version '" + f.version_id + "' of '" +
                                       bucket.shown(f.key) + "': " + f.code +
                                       (f.message.empty() ? "" : ": " + f.message)});
  }
  for (const Version& v : batch) {
    if (kept.count({v.key, v.version_id}) == 0 && kept.count({v.key, ""}) == 0) {
      ++out.versions;
      out.bytes += v.size;
    }
  }
  return out;
}

}  // namespace

Store::Purged purge_noncurrent_versions(Bucket& bucket, std::vector<std::string> keys,
                                        tbb::task_arena& arena) {
  Store::Purged out;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<Result<std::vector<Version>>> listed(keys.size(), std::vector<Version>{});
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, keys.size(),
                      [&](std::size_t i) { listed[i] = bucket.list_versions(keys[i]); });
  });
  std::vector<Version> doomed;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!listed[i]) {
      out.findings.push_back(Finding{FindingKind::delete_failed, Severity::error, keys[i], "",
                                     "the noncurrent versions of '" + bucket.full_key(keys[i]) +
                                         "' are kept: " + listed[i].error().message});
      continue;
    }
    choose_noncurrent(bucket, *listed[i], doomed, out);
  }
  const std::size_t batch_size = bucket.max_batch();
  std::size_t batches = (doomed.size() + batch_size - 1) / batch_size;
  std::vector<Store::Purged> per_batch(batches);
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, batches, [&](std::size_t b) {
      auto first = doomed.begin() + static_cast<std::ptrdiff_t>(b * batch_size);
      auto last = doomed.begin() +
                  static_cast<std::ptrdiff_t>(std::min(doomed.size(), (b + 1) * batch_size));
      std::vector<Version> batch(first, last);
      per_batch[b] = purge_batch(bucket, batch);
    });
  });
  for (Store::Purged& p : per_batch) {
    out.versions += p.versions;
    out.bytes += p.bytes;
    std::move(p.findings.begin(), p.findings.end(), std::back_inserter(out.findings));
  }
  return out;
}

}  // namespace regsweep::object
