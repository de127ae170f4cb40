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

#include "regsweep/quarantine.hpp"

#include <algorithm>
#include <map>

#include "regsweep/layout.hpp"
#include "regsweep/select.hpp"

namespace regsweep {

namespace {

// True for each blob index in `blobs`, indexed like Inventory::blobs.
std::vector<bool> blob_flags(const Inventory& inv, const std::vector<std::uint32_t>& blobs) {
  std::vector<bool> out(inv.blobs.size(), false);
  for (std::uint32_t b : blobs) {
    out[b] = true;
  }
  return out;
}

// What the per-repository figures are computed from: one scan, the two markings, and the
// blobs the two plans would delete (the same rule make_plan uses).
struct UsageBasis {
  const Inventory& inv;
  const ManifestTable& table;
  const MarkResult& marks;
  const MarkResult& marks_m;
  std::vector<bool> doomed;
  std::vector<bool> doomed_m;
  // How many repositories mark each blob (0, 1, or 2 for "more than one").
  std::vector<std::uint8_t> markers;
  // Leftover revision directories, by repository: manifests deleted through the API.
  std::map<std::string, std::vector<const Leftover*>> leftovers_of;
};

void add_totals(const UsageBasis& u, const std::vector<bool>& young, UsageTotals& t) {
  t.blobs = u.inv.blobs.size();
  t.repositories = u.inv.repositories.size();
  for (std::size_t i = 0; i < u.inv.blobs.size(); ++i) {
    const Blob& b = u.inv.blobs[i];
    t.blob_bytes += b.size;
    if (u.doomed[i]) {
      t.unreferenced_bytes += b.size;
    } else if (young[i]) {
      t.young_bytes += b.size;
    } else {
      t.referenced_bytes += b.size;
    }
    if (u.doomed_m[i]) {
      t.unreferenced_m_bytes += b.size;
    }
  }
}

// Every blob repository `i` links or references, to attribute what gc would free: its marks,
// its layer and revision links, what its revisions reference, and the manifests its leftover
// revision directories name. Sorted, each once.
std::vector<std::uint32_t> blobs_of_repository(const UsageBasis& u, std::size_t i) {
  const Inventory& inv = u.inv;
  const Repository& repo = inv.repositories[i];
  const RepoMark& repo_mark = u.marks.repositories[i];
  std::vector<std::uint32_t> mine(repo_mark.marked.begin(), repo_mark.marked.end());
  auto add = [&](const Digest& d) {
    std::uint32_t b = blob_index(inv, d);
    if (b != k_no_blob) {
      mine.push_back(b);
    }
  };
  auto add_refs = [&](const Digest& d) {
    const ManifestRecord* m = u.table.find(inv, d);
    if (m != nullptr && m->parsed()) {
      for (std::span<const ManifestRef> refs : {m->blobs(), m->children()}) {
        for (ManifestRef r : refs) {
          if (std::uint32_t b = ManifestTable::blob(r); b != k_no_blob) {
            mine.push_back(b);
          }
        }
      }
    }
  };
  // A link already holds its blob's index; only its references need looking up.
  auto add_link = [&](const Link& l) {
    if (!l.dangling()) {
      mine.push_back(l.ref);
    }
  };
  for (const Link& l : repo.layers) {
    add_link(l);
  }
  for (const Link& r : repo.revisions) {
    add_link(r);
    add_refs(link_digest(inv, repo, r));
  }
  if (auto it = u.leftovers_of.find(repo.name); it != u.leftovers_of.end()) {
    for (const Leftover* l : it->second) {
      auto spec = layout::classify(l->path);
      if (spec && spec->kind == layout::PathKind::revision_dir) {
        add(spec->digest);  // a manifest deleted through the API: its blob is still here
        add_refs(spec->digest);
      }
    }
  }
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  return mine;
}

RepoUsage repo_usage(const UsageBasis& u, std::size_t i, std::uint64_t uploads) {
  const Inventory& inv = u.inv;
  const Repository& repo = inv.repositories[i];
  const RepoMark& repo_mark = u.marks.repositories[i];
  const RepoMark& rm_m = u.marks_m.repositories[i];
  RepoUsage out;
  out.name = repo.name;
  out.upload_bytes = uploads;
  for (const Tag& tag : repo.tags) {
    out.tags += tag.current ? 1 : 0;
  }
  for (const Link& rev : repo.revisions) {
    const Digest& d = link_digest(inv, repo, rev);
    bool tagged = std::binary_search(rm_m.live.begin(), rm_m.live.end(), d) &&
                  !std::binary_search(rm_m.dead.begin(), rm_m.dead.end(), d);
    (tagged ? out.manifests_tagged : out.manifests_untagged) += 1;
  }
  for (std::uint32_t b : repo_mark.marked) {
    std::uint64_t size = inv.blobs[b].size;
    out.logical_bytes += size;
    if (u.markers[b] == 1) {
      out.exclusive_bytes += size;
    }
  }
  out.shared_bytes = out.logical_bytes - out.exclusive_bytes;
  for (std::uint32_t b : blobs_of_repository(u, i)) {
    out.reclaimable_bytes += u.doomed[b] ? inv.blobs[b].size : 0;
    out.reclaimable_m_bytes += u.doomed_m[b] ? inv.blobs[b].size : 0;
  }
  return out;
}

}  // namespace

Result<Usage> compute_usage(Store& store, const UsageOptions& options, tbb::task_arena& arena) {
  const Grace& grace = options.grace;
  GraphOptions graph_options;
  graph_options.grace = grace;
  auto graph = build_graph(store, graph_options, arena);
  if (!graph) {
    return graph.error();
  }
  const Inventory& inv = graph->inventory;
  const ManifestTable& table = graph->manifests;
  Usage usage;
  MarkOptions plain;
  plain.grace = grace;
  MarkOptions untagged = plain;
  untagged.delete_untagged = true;
  MarkResult marks = mark(inv, table, plain, arena);
  MarkResult marks_m = mark(inv, table, untagged, arena);
  std::vector<Finding> findings = std::move(graph->findings);
  findings.insert(findings.end(), marks.findings.begin(), marks.findings.end());
  sort_findings(findings);
  UsageBasis basis{inv,
                   table,
                   marks,
                   marks_m,
                   blob_flags(inv, collectable_blobs(inv, marks, grace)),
                   blob_flags(inv, collectable_blobs(inv, marks_m, grace)),
                   std::vector<std::uint8_t>(inv.blobs.size(), 0),
                   {}};
  // Kept for being young: as gc reports it, against the same marking without a grace period.
  std::vector<bool> young(inv.blobs.size(), false);
  if (anything_young(inv, grace)) {
    MarkResult ageless = mark(inv, table, MarkOptions{}, arena);
    young = blob_flags(inv, young_blobs_kept(inv, marks, ageless, grace));
  }
  add_totals(basis, young, usage.totals);
  for (const RepoMark& repo_mark : marks.repositories) {
    for (std::uint32_t i : repo_mark.marked) {
      basis.markers[i] = static_cast<std::uint8_t>(std::min(2, basis.markers[i] + 1));
    }
  }
  for (const Leftover& l : inv.leftovers) {
    if (!l.repository.empty()) {
      basis.leftovers_of[l.repository].push_back(&l);
    }
  }
  for (std::size_t i = 0; i < inv.repositories.size(); ++i) {
    const Repository& repo = inv.repositories[i];
    std::uint64_t uploads = 0;
    for (const Upload& u : repo.uploads) {
      uploads += u.bytes;
    }
    usage.totals.upload_bytes += uploads;
    if (options.globs.empty() || glob_match_any(options.globs, repo.name)) {
      usage.repositories.push_back(repo_usage(basis, i, uploads));
    }
  }
  usage.findings = std::move(findings);
  if (QuarantineArea* area = store.quarantine()) {
    auto runs = list_quarantine(*area);
    if (runs) {
      usage.totals.quarantine_runs = runs->size();
      for (const QuarantineRunInfo& r : *runs) {
        usage.totals.quarantine_bytes += r.bytes;
      }
    } else {
      usage.findings.push_back(Finding{FindingKind::unreadable, Severity::warning, "", "",
                                       "the quarantine cannot be read: " + runs.error().message});
    }
  }
  return usage;
}

}  // namespace regsweep
