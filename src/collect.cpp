#include "regsweep/collect.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>
#include <vector>

#include "regsweep/graph.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/scan.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

namespace {

// The layer links a plan made from `marks` could delete: those no live manifest of their
// repository needs, and dangling ones; every layer link of a repository that keeps them all,
// whose contents may name more digests to keep. Not those of a repository removed whole.
bool might_delete(const Inventory& inventory, const MarkResult& marks, std::size_t r,
                  const Link& link) {
  const RepoMark& repo_mark = marks.repositories[r];
  return !repo_mark.removed && (repo_mark.keeps_all_layers || link.dangling() ||
                                !repo_mark.keeps(inventory, inventory.repositories[r], link));
}

// Stages 2 to 5 of plan_gc: marking, and examining what it leaves unmarked until nothing it
// depends on is unknown.
class GcMarking {
 public:
  GcMarking(Store& store, Collection& c, const GcOptions& options, tbb::task_arena& arena,
            std::vector<Finding>& found)
      : m_store(store),
        m_c(c),
        m_grace(options.grace),
        m_arena(arena),
        m_found(found),
        m_options{.grace = options.grace,
                  .delete_untagged = options.delete_untagged,
                  .delete_orphan_signatures = options.delete_orphan_signatures},
        m_young(anything_young(c.inventory, options.grace)) {
    m_ageless = m_options;
    m_ageless.grace = Grace();
  }

  bool young() const { return m_young; }
  const std::optional<MarkResult>& ageless_marks() const { return m_ageless_marks; }

  // Marking, with the grace period and, when anything is young, without it: what the
  // second does not keep and the first does was kept for being young. When nothing is
  // young, the two are the same.
  void mark_all() {
    m_c.marks = mark(m_c.inventory, m_c.manifests, m_options, m_arena);
    if (m_young) {
      m_ageless_marks = mark(m_c.inventory, m_c.manifests, m_ageless, m_arena);
    }
  }

  // What either marking does not keep: a blob a plan could delete.
  bool candidate(std::size_t b) const {
    return !m_c.marks.blob_marked[b] || (m_ageless_marks && !m_ageless_marks->blob_marked[b]);
  }

  // Stage 3, the candidate blobs: those no marking keeps are examined now (the scan took
  // them from their names, as old: marking without their ages keeps less, so this is every
  // blob that can matter). One that is no blob after all is reported and kept; a young one
  // may be a manifest of a push in progress, read as one. Either way the marking is redone,
  // which only keeps more; what it no longer keeps is examined in turn.
  void examine_candidates() {
    for (;;) {
      Examined ex = examine_blobs(m_store, m_c.inventory, m_arena,
                                  [this](std::size_t b) { return candidate(b); });
      m_found.insert(m_found.end(), ex.findings.begin(), ex.findings.end());
      bool young_blob = ex.examined > 0 && m_grace.young(ex.newest_mtime);
      if (!ex.not_blobs && !young_blob) {
        return;
      }
      if (young_blob) {
        m_young = true;
        std::vector<Digest> speculative;
        for (std::size_t b = 0; b < m_c.inventory.blobs.size(); ++b) {
          const Blob& blob = m_c.inventory.blobs[b];
          if (candidate(b) && blob.has_data() && m_grace.young(blob.mtime)) {
            speculative.push_back(blob.digest);
          }
        }
        load_speculative(m_c.manifests, m_store, m_c.inventory, m_arena, m_found, speculative,
                         blob_examiner(m_store, m_c.inventory, m_arena, m_found));
      }
      mark_all();
    }
  }

  // Stage 4, verifying: the layer links either marking could delete, or whose blob it could
  // delete, are read now (the scan took them from their names, as old: marking without them
  // keeps less, so this is every link that can matter). One naming another digest than its
  // directory is a finding, and what it names is kept; one that is young keeps its blob:
  // either way the marking is redone, and what it no longer keeps examined.
  Verified verify() {
    Verified verified =
        verify_layer_links(m_store, m_c.inventory, m_arena, [this](std::size_t r, const Link& l) {
          return might_delete(m_c.inventory, m_c.marks, r, l) ||
                 (m_ageless_marks && might_delete(m_c.inventory, *m_ageless_marks, r, l));
        });
    bool young_link = m_grace.young(verified.newest_mtime);
    if (verified.other_targets || young_link) {
      m_young = m_young || young_link;
      mark_all();
      examine_candidates();
    }
    return verified;
  }

  // Stage 5, the tag history links a plan might delete or tidy away: those naming a
  // revision either marking deletes, and those naming no revision of their repository at
  // all (what an interrupted sweep or a hand leaves: an empty entry is tidied). The scan
  // took them from their names. Reading them changes no marking (a history link keeps
  // nothing); one that turns out to be no link is dropped (an empty one is a leftover), one
  // that holds something else is reported and kept, as a full scan would have found them.
  // The rest name a live revision: no plan touches them, and they are fsck's business.
  Verified verify_history() {
    const Inventory& inv = m_c.inventory;
    auto dead = [&](const MarkResult& marks, std::size_t r, const Link& l) {
      const std::vector<Digest>& d = marks.repositories[r].dead;
      return !d.empty() && contains(d, link_digest(inv, inv.repositories[r], l));
    };
    auto a_revision = [&](std::size_t r, const Link& l) {
      const std::vector<Link>& revs = inv.repositories[r].revisions;  // sorted by ref
      auto it = std::lower_bound(revs.begin(), revs.end(), l.ref,
                                 [](const Link& rev, std::uint32_t ref) { return rev.ref < ref; });
      return !l.dangling() && it != revs.end() && it->ref == l.ref;
    };
    return verify_tag_history(m_store, m_c.inventory, m_arena,
                              [&](std::size_t r, const Tag& /*tag*/, const Link& l) {
                                return !a_revision(r, l) || dead(m_c.marks, r, l) ||
                                       (m_ageless_marks && dead(*m_ageless_marks, r, l));
                              });
  }

 private:
  Store& m_store;
  Collection& m_c;
  const Grace& m_grace;
  tbb::task_arena& m_arena;
  std::vector<Finding>& m_found;
  MarkOptions m_options;
  MarkOptions m_ageless;
  bool m_young;
  std::optional<MarkResult> m_ageless_marks;
};

}  // namespace

Result<Collection> plan_gc(Store& store, const GcOptions& options, tbb::task_arena& arena) {
  // Stage 1, the graph. Layer and tag history links are taken from their directories' names,
  // not even stat'ed, and so are blobs (scan.hpp). Those a plan might delete are examined
  // after marking (stages 3 to 5), so that a damaged one is reported and kept and a young
  // one keeps what it needs.
  const Grace& grace = options.grace;
  GraphOptions graph_options;
  graph_options.scan.read_layer_links = false;
  graph_options.scan.read_tag_history = false;
  graph_options.scan.stat_blobs = options.every_blob_size;
  graph_options.grace = grace;
  graph_options.remove = options.remove;
  graph_options.select_tags = options.select_tags;
  auto graph = build_graph(store, graph_options, arena);
  if (!graph) {
    return graph.error();
  }
  Collection c;
  c.inventory = std::move(graph->inventory);
  c.manifests = std::move(graph->manifests);
  std::vector<Finding> found = std::move(graph->findings);
  GcMarking marking(store, c, options, arena, found);
  marking.mark_all();
  marking.examine_candidates();
  Verified verified = marking.verify();
  Verified history = marking.verify_history();
  bool young = marking.young();
  const std::optional<MarkResult>& ageless_marks = marking.ageless_marks();
  c.findings = std::move(found);
  c.findings.insert(c.findings.end(), verified.findings.begin(), verified.findings.end());
  c.findings.insert(c.findings.end(), history.findings.begin(), history.findings.end());
  c.findings.insert(c.findings.end(), c.marks.findings.begin(), c.marks.findings.end());
  sort_findings(c.findings);
  // Stage 6, the plan, and what the grace period kept from it.
  c.plan = make_plan(c.inventory, c.marks, c.findings, options.plan, grace);
  if (young) {
    c.kept_young = kept_for_being_young(c.inventory, c.marks, *ageless_marks, c.plan, grace);
    for (const Repository& repo : c.inventory.repositories) {
      for (const Upload& u : repo.uploads) {
        if ((u.started && grace.young(*u.started)) || grace.young(u.newest_mtime)) {
          c.young_uploads.push_back("upload '" + layout::upload_dir(repo.name, u.id) +
                                    "' was written to " +
                                    std::to_string(options.plan.now - u.newest_mtime) +
                                    " s ago, within the grace period");
        }
      }
    }
  }
  scan_activity(store, c.inventory, c.activity, c.dated_in_future);
  return c;
}

void scan_activity(Store& store, const Inventory& inventory, std::vector<std::string>& activity,
                   bool& dated_in_future) {
  struct timespec end {};
  ::clock_gettime(CLOCK_REALTIME, &end);
  // In the storage's time, as the times it gave.
  const std::int64_t end_ns = static_cast<std::int64_t>(end.tv_sec) * 1000000000 + end.tv_nsec +
                              store.clock_offset().value_or(0) * 1000000000;
  // A minute of slack: the clock of a network file system's server may differ that much.
  if (inventory.newest_mtime_ns > end_ns + std::int64_t{60} * 1000000000) {
    dated_in_future = true;
    activity.push_back("'" + inventory.newest_path + "' is dated in the future (" +
                       format_rfc3339(inventory.newest_mtime_ns / 1000000000) + ", " +
                       std::to_string((inventory.newest_mtime_ns - end_ns) / 1000000000) +
                       " s ahead of this machine's clock): its age cannot be told");
  } else if (inventory.newest_mtime_ns >= inventory.scan_started_ns) {
    activity.push_back("'" + inventory.newest_path + "' changed during the scan");
  }
}

std::vector<std::size_t> tags_to_watch(const Collection& collection, bool delete_untagged) {
  std::vector<std::size_t> out;
  if (delete_untagged) {
    for (std::size_t r = 0; r < collection.marks.repositories.size(); ++r) {
      if (!collection.marks.repositories[r].dead.empty()) {
        out.push_back(r);
      }
    }
  }
  return out;
}

}  // namespace regsweep
