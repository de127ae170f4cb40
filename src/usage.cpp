// Usage.
//
// 1. Scan once, load every manifest once.
// 2. Mark and plan as `gc` and as `gc -m` (no I/O): the plans' blob bytes are the totals'
//    unreferenced bytes, so du and gc --dry-run agree by construction.
// 3. Per repository: its `gc` marks are the blobs its manifests reference (logical); a digest
//    marked by one repository only is exclusive; reclaimable bytes are the planned blobs the
//    repository links (layer links, revisions, emptied revision directories, what its
//    manifests reference).

#include "regsweep/usage.hpp"

#include <algorithm>
#include <map>

#include "regsweep/layout.hpp"
#include "regsweep/scan.hpp"
#include "regsweep/select.hpp"

namespace regsweep {

namespace {

// What `gc` (with these marks) would delete, as sorted digests.
std::vector<Digest> doomed_blobs(const Inventory& inv, const MarkResult& marks,
                                 std::optional<std::int64_t> young_after) {
  std::vector<Digest> out;
  for (const Blob* b : collectable_blobs(inv, marks, young_after)) {
    out.push_back(b->digest);
  }
  return out;  // the inventory is in digest order
}

void sort_unique(std::vector<Digest>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

Result<Usage> compute_usage(int v2_fd, const UsageOptions& options, tbb::task_arena& arena) {
  auto scanned = scan(v2_fd, arena);
  if (!scanned) {
    return scanned.error();
  }
  const Inventory& inv = *scanned;
  GcOptions gc;
  gc.min_age = options.min_age;
  gc.plan.now = options.now;
  std::optional<std::int64_t> young = young_after(gc);
  Usage usage;
  std::vector<Finding> manifest_findings;
  ManifestTable table =
      load_manifests(v2_fd, inv, arena, manifest_findings, young_blobs(inv, young));
  MarkOptions plain{young, false, false};
  MarkOptions untagged{young, true, false};
  MarkResult marks = mark(inv, table, plain, arena);
  MarkResult marks_m = mark(inv, table, untagged, arena);
  std::vector<Finding> findings = inv.findings;
  findings.insert(findings.end(), manifest_findings.begin(), manifest_findings.end());
  findings.insert(findings.end(), marks.findings.begin(), marks.findings.end());
  sort_findings(findings);
  // Only the blobs the two plans would delete are needed: the same rule make_plan uses.
  std::vector<Digest> doomed = doomed_blobs(inv, marks, young);
  std::vector<Digest> doomed_m = doomed_blobs(inv, marks_m, young);
  auto bytes_of = [&](const std::vector<Digest>& digests) {
    std::uint64_t n = 0;
    for (const Digest& d : digests) {
      n += find_blob(inv, d)->size;
    }
    return n;
  };

  UsageTotals& t = usage.totals;
  t.blobs = inv.blobs.size();
  t.repositories = inv.repositories.size();
  for (const Blob& b : inv.blobs) {
    t.blob_bytes += b.size;
    if (contains(marks.marked, b.digest)) {
      t.referenced_bytes += b.size;
    } else if (!contains(doomed, b.digest)) {
      t.young_bytes += b.size;
    }
  }
  t.unreferenced_bytes = bytes_of(doomed);
  t.unreferenced_m_bytes = bytes_of(doomed_m);

  // The digests exactly one repository references: sort every repository's marks together
  // and keep the runs of length one.
  std::vector<Digest> single;
  {
    std::vector<Digest> all;
    for (const RepoMark& rm : marks.repositories) {
      all.insert(all.end(), rm.marked.begin(), rm.marked.end());
    }
    std::sort(all.begin(), all.end());
    for (std::size_t i = 0; i < all.size();) {
      std::size_t j = i;
      while (j < all.size() && all[j] == all[i]) {
        ++j;
      }
      if (j - i == 1) {
        single.push_back(all[i]);
      }
      i = j;
    }
  }
  auto size_of = [&](const Digest& d) -> std::uint64_t {
    const Blob* b = find_blob(inv, d);
    return b == nullptr ? 0 : b->size;
  };
  for (std::size_t i = 0; i < inv.repositories.size(); ++i) {
    const Repository& repo = inv.repositories[i];
    std::uint64_t uploads = 0;
    for (const Upload& u : repo.uploads) {
      uploads += u.bytes;
    }
    t.upload_bytes += uploads;
    if (!options.globs.empty() &&
        std::none_of(options.globs.begin(), options.globs.end(),
                     [&](const std::string& g) { return glob_match(g, repo.name); })) {
      continue;
    }
    const RepoMark& rm = marks.repositories[i];
    const RepoMark& rm_m = marks_m.repositories[i];
    RepoUsage u;
    u.name = repo.name;
    u.upload_bytes = uploads;
    for (const Tag& tag : repo.tags) {
      u.tags += tag.current ? 1 : 0;
    }
    for (const Link& rev : repo.revisions) {
      bool tagged = std::binary_search(rm_m.live.begin(), rm_m.live.end(), rev.digest) &&
                    !std::binary_search(rm_m.dead.begin(), rm_m.dead.end(), rev.digest);
      (tagged ? u.manifests_tagged : u.manifests_untagged) += 1;
    }
    for (const Digest& d : rm.marked) {
      std::uint64_t size = size_of(d);
      u.logical_bytes += size;
      if (contains(single, d)) {
        u.exclusive_bytes += size;
      }
    }
    u.shared_bytes = u.logical_bytes - u.exclusive_bytes;
    // What this repository links or references, to attribute what gc would free.
    std::vector<Digest> mine(rm.marked.begin(), rm.marked.end());
    auto add_refs = [&](const Digest& d) {
      auto it = table.find(d);
      if (it != table.end() && it->second.manifest) {
        mine.insert(mine.end(), it->second.manifest->blobs.begin(),
                    it->second.manifest->blobs.end());
        mine.insert(mine.end(), it->second.manifest->children.begin(),
                    it->second.manifest->children.end());
      }
    };
    for (const Link& l : repo.layers) {
      mine.push_back(l.digest);
    }
    for (const Link& r : repo.revisions) {
      mine.push_back(r.digest);
      add_refs(r.digest);
    }
    std::string revisions = layout::revisions_dir(repo.name) + "/";
    for (const Leftover& l : inv.leftovers) {
      if (l.repository == repo.name && l.path.compare(0, revisions.size(), revisions) == 0) {
        if (auto d = parse_hex(l.path.substr(revisions.size()))) {
          mine.push_back(*d);  // a manifest deleted through the API: its blob is still here
          add_refs(*d);
        }
      }
    }
    sort_unique(mine);
    for (const Digest& d : mine) {
      if (contains(doomed, d)) {
        u.reclaimable_bytes += size_of(d);
      }
      if (contains(doomed_m, d)) {
        u.reclaimable_m_bytes += size_of(d);
      }
    }
    usage.repositories.push_back(std::move(u));
  }
  usage.findings = std::move(findings);
  return usage;
}

}  // namespace regsweep
