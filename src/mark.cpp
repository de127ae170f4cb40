// Marking. Never touches the disk: the manifests come from the graph stage (graph.cpp).
//
// mark, per repository (in parallel; repositories never share state):
// 1. Roots (see mark.hpp).
// 2. Follow children from every live manifest.
// 3. With delete_untagged, revisions whose subject is live become live; repeat 2-3 to a
//    fixed point.
// 4. Marked = live manifests + their blobs and children (+ every `_layers` blob when
//    something in the repository could not be read).
// 5. Dead = revisions not live (delete_untagged only, and only when nothing is uncertain).

#include "regsweep/mark.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include "regsweep/layout.hpp"
#include "regsweep/progress.hpp"

namespace regsweep {

std::optional<Digest> signature_subject(std::string_view tag) {
  constexpr std::string_view prefix = "sha256-";
  if (tag.size() < prefix.size() + 64 + 4 || tag.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  std::string_view suffix = tag.substr(prefix.size() + 64);
  if (suffix != ".sig" && suffix != ".att" && suffix != ".sbom") {
    return std::nullopt;
  }
  return parse_hex(tag.substr(prefix.size(), 64));
}

namespace {

void sort_unique(std::vector<Digest>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

bool contains(const std::vector<Digest>& sorted, const Digest& digest) {
  return std::binary_search(sorted.begin(), sorted.end(), digest);
}

bool RepoMark::keeps(const Inventory& inventory, const Repository& repo, const Link& link) const {
  return link.dangling() ? contains(marked_absent, link_digest(inventory, repo, link))
                         : std::binary_search(marked.begin(), marked.end(), link.ref);
}

std::size_t MarkResult::marked_count() const {
  return static_cast<std::size_t>(std::count(blob_marked.begin(), blob_marked.end(), true)) +
         marked_absent.size();
}

namespace {

// Marked digests, gathered as blob indices and (rarely) digests with no blob.
struct Marks {
  std::vector<std::uint32_t> blobs;
  std::vector<Digest> absent;

  void add(const Inventory& inventory, const Digest& d) {
    std::uint32_t i = blob_index(inventory, d);
    if (i == k_no_blob) {
      absent.push_back(d);
    } else {
      blobs.push_back(i);
    }
  }
  void add(const ManifestTable& table, const Inventory& inventory,
           std::span<const ManifestRef> refs) {
    for (ManifestRef r : refs) {
      if (std::uint32_t b = ManifestTable::blob(r); b != k_no_blob) {
        blobs.push_back(b);
      } else {
        absent.push_back(table.digest(inventory, r));
      }
    }
  }
  void add(const Inventory& inventory, const Repository& repo, const Link& l) {
    if (l.dangling()) {
      absent.push_back(link_digest(inventory, repo, l));
    } else {
      blobs.push_back(l.ref);
    }
  }
  // Sorted and unique, into `indices` and `missing`.
  void finish(std::vector<std::uint32_t>& indices, std::vector<Digest>& missing) {
    std::sort(blobs.begin(), blobs.end());
    blobs.erase(std::unique(blobs.begin(), blobs.end()), blobs.end());
    sort_unique(absent);
    blobs.shrink_to_fit();  // held until the end: no spare room
    indices = std::move(blobs);
    missing = std::move(absent);
  }
};

using DigestSet = std::unordered_set<Digest, DigestHash>;

class RepoMarker {
 public:
  RepoMarker(const Inventory& inventory, const Repository& repo, const ManifestTable& table,
             const MarkOptions& options, std::vector<Finding>& findings)
      : m_inv(inventory), m_repo(repo), m_table(table), m_options(options), m_findings(findings) {}

  // Marks the repository as if the tags in `removed` were gone. A tag removed on request
  // takes with it the manifests only it reached (and what is attached to them).
  RepoMark run(const std::set<std::string>& removed) {
    RepoMark out = run_once(removed, false);
    if (m_keeps_all_layers && untagged_go() && !m_repo.tags_uncertain) {
      // A manifest that cannot be read may be a list or index whose children are untagged
      // revisions: with it unknown, every revision is a root, as if no tag could be read.
      out = run_once(removed, true);
    }
    return out;
  }

 private:
  // With -m, untagged manifests go: not in a repository a scoped rm or prune does not name.
  bool untagged_go() const { return m_options.delete_untagged && !m_repo.out_of_scope; }

  RepoMark run_once(const std::set<std::string>& removed, bool every_revision) {
    m_live.clear();
    m_keeps_all_layers = false;
    bool all_revisions = !untagged_go() || m_repo.tags_uncertain || every_revision;
    DigestSet doomed = forced_dead(removed);
    for (const Link& rev : m_repo.revisions) {
      const Digest& d = link_digest(m_inv, m_repo, rev);
      const ManifestRecord* rec = record(d);
      bool unreadable = (rec != nullptr && !rec->parsed()) || unknown(d);
      bool root = (all_revisions && doomed.count(d) == 0) || rev.problem() || unreadable ||
                  young(rev.mtime) || young_blob(d);
      if (root) {
        visit(d, Origin::revision);
        if (const Digest* other = other_target(m_repo, rev)) {
          visit(*other, Origin::revision);
        }
      } else if (rec == nullptr) {
        report_missing(d, Origin::revision);
      }
    }
    for (const Tag& tag : m_repo.tags) {
      if (tag.current && removed.count(tag.name) == 0) {
        visit(*tag.current, Origin::tag);
        if (record(*tag.current) == nullptr) {
          report_missing(*tag.current, Origin::tag);
        }
      }
    }
    if (!all_revisions || !doomed.empty()) {
      follow_subjects();
    }
    return result(all_revisions && doomed.empty());
  }

  enum class Origin { revision, tag, child };

  bool young(std::int64_t mtime) const { return m_options.grace.young(mtime); }

  bool young_blob(const Digest& d) const {
    const Blob* b = find_blob(m_inv, d);
    return b != nullptr && young(b->mtime);
  }

  // The manifest read for `d`; nullptr when it has no blob (missing), was not read, or its
  // blob could not be examined (unknown()).
  const ManifestRecord* record(const Digest& d) const { return m_table.find(m_inv, d); }

  // True when `d`'s blob exists but could not be examined: an unreadable manifest, not a
  // missing one (the scan reported its path).
  bool unknown(const Digest& d) const { return blob_unknown(m_inv, d); }

  const ManifestRecord* parsed(const Digest& d) const {
    const ManifestRecord* rec = record(d);
    return rec != nullptr && rec->parsed() ? rec : nullptr;
  }

  const Digest& digest(ManifestRef r) const { return m_table.digest(m_inv, r); }

  void push_children(const ManifestRecord& m, std::vector<Digest>& todo) const {
    for (ManifestRef c : m.children()) {
      todo.push_back(digest(c));
    }
  }

  // True when `m` is attached by `subject` to a digest in `set`.
  bool attached_to(const ManifestRecord* m, const DigestSet& set) const {
    return m != nullptr && m->has_subject() && set.count(digest(m->subject)) != 0;
  }

  // The closure of `roots` under "is a child of" and "is a revision attached by subject to",
  // never entering `stop`: the one fixed point both tag_reach and forced_dead compute.
  DigestSet closure(std::vector<Digest> todo, const DigestSet& stop) const {
    DigestSet reach;
    while (true) {
      while (!todo.empty()) {
        Digest d = todo.back();
        todo.pop_back();
        if (stop.count(d) != 0 || !reach.insert(d).second) {
          continue;
        }
        if (const ManifestRecord* m = parsed(d)) {
          push_children(*m, todo);
        }
      }
      for (const Link& rev : m_repo.revisions) {
        const Digest& d = link_digest(m_inv, m_repo, rev);
        if (reach.count(d) == 0 && stop.count(d) == 0 && attached_to(parsed(d), reach)) {
          todo.push_back(d);
        }
      }
      if (todo.empty()) {
        return reach;
      }
    }
  }

  // What the tags `removed` does (or, with `named_in` false, does not) name currently.
  std::vector<Digest> current_of_tags(const std::set<std::string>& removed, bool named_in) const {
    std::vector<Digest> out;
    for (const Tag& tag : m_repo.tags) {
      if (tag.current && (removed.count(tag.name) != 0) == named_in) {
        out.push_back(*tag.current);
      }
    }
    return out;
  }

  // What the remaining tags reach: children, and (always) revisions attached by subject.
  DigestSet tag_reach(const std::set<std::string>& removed) const {
    return closure(current_of_tags(removed, false), {});
  }

  // The manifests removed tags took with them: what they named, their children and what is
  // attached to those, unless a remaining tag still reaches it.
  DigestSet forced_dead(const std::set<std::string>& removed) const {
    if (removed.empty() || m_repo.tags_uncertain) {
      return {};
    }
    return closure(current_of_tags(removed, true), tag_reach(removed));
  }

  bool live(const Digest& d) const { return m_live.count(d) != 0; }

  void report_missing(const Digest& d, Origin origin) {
    if (unknown(d) || !m_reported.insert({d, static_cast<int>(origin)}).second) {
      return;
    }
    const std::string& name = m_repo.name;
    switch (origin) {
      case Origin::revision:
        m_findings.push_back(Finding{FindingKind::manifest_missing, Severity::warning,
                                     layout::revision_link(name, d), name,
                                     "revision link '" + layout::revision_link(name, d) +
                                         "' names " + d.str() + ", whose blob does not exist"});
        break;
      case Origin::tag: {
        std::string tags;
        for (const Tag& t : m_repo.tags) {
          if (t.current == d) {
            tags += (tags.empty() ? "" : ", ") + t.name;
          }
        }
        m_findings.push_back(Finding{FindingKind::manifest_missing, Severity::error,
                                     layout::blob_data(d), name,
                                     name + ":" + tags + " names manifest " + d.str() +
                                         ", whose blob does not exist; it cannot be pulled"});
        break;
      }
      case Origin::child:
        m_findings.push_back(Finding{FindingKind::child_missing, Severity::error,
                                     layout::blob_data(d), name,
                                     "a list or index in '" + name + "' names child manifest " +
                                         d.str() + ", whose blob does not exist"});
        break;
    }
  }

  void visit(const Digest& root, Origin origin) {
    std::deque<std::pair<Digest, Origin>> queue{{root, origin}};
    while (!queue.empty()) {
      auto [d, o] = queue.front();
      queue.pop_front();
      if (!m_live.insert(d).second) {
        continue;
      }
      const ManifestRecord* rec = record(d);
      if (rec == nullptr && unknown(d)) {
        m_keeps_all_layers = true;  // a manifest behind a blob that cannot be examined
        continue;
      }
      if (rec == nullptr) {
        report_missing(d, o);
        continue;
      }
      if (!rec->parsed()) {
        m_keeps_all_layers = true;
        continue;
      }
      for (ManifestRef c : rec->children()) {
        queue.emplace_back(digest(c), Origin::child);
      }
    }
  }

  void follow_subjects() {
    bool changed = true;
    while (changed) {
      changed = false;
      for (const Link& rev : m_repo.revisions) {
        const Digest& d = link_digest(m_inv, m_repo, rev);
        if (live(d)) {
          continue;
        }
        const ManifestRecord* m = parsed(d);
        if (m != nullptr && m->has_subject() && live(digest(m->subject))) {
          visit(d, Origin::revision);
          changed = true;
        }
      }
    }
  }

  RepoMark result(bool nothing_dead) {
    RepoMark out;
    Marks marks;
    out.keeps_all_layers = m_keeps_all_layers || m_repo.uncertain;
    out.unreadable_manifest = m_keeps_all_layers;
    out.live.reserve(m_live.size());  // held until the end: no spare room
    for (const Digest& d : m_live) {
      out.live.push_back(d);
      marks.add(m_inv, d);
      const ManifestRecord* rec = record(d);
      if (rec == nullptr) {
        continue;
      }
      if (rec->parsed()) {
        marks.add(m_table, m_inv, rec->blobs());
        marks.add(m_table, m_inv, rec->children());
      } else {
        for (const Digest& m : rec->rare->mentioned) {
          marks.add(m_inv, m);
        }
      }
    }
    for (const Link& l : m_repo.layers) {
      if (young(l.mtime) || out.keeps_all_layers) {  // young: a push in progress, its blob stays
        marks.add(m_inv, m_repo, l);
      }
      if (out.keeps_all_layers) {
        if (const Digest* other = other_target(m_repo, l)) {
          marks.add(m_inv, *other);
        }
      }
    }
    std::sort(out.live.begin(), out.live.end());
    marks.finish(out.marked, out.marked_absent);
    if (!nothing_dead && !out.keeps_all_layers) {
      for (const Link& rev : m_repo.revisions) {
        const Digest& d = link_digest(m_inv, m_repo, rev);
        const ManifestRecord* rec = record(d);
        if (!live(d) && !rev.problem() && rec != nullptr && rec->parsed()) {
          out.dead.push_back(d);
        }
      }
    }
    return out;
  }

  const Inventory& m_inv;
  const Repository& m_repo;
  const ManifestTable& m_table;
  const MarkOptions& m_options;
  std::vector<Finding>& m_findings;
  std::unordered_set<Digest, DigestHash> m_live;
  std::set<std::pair<Digest, int>> m_reported;
  bool m_keeps_all_layers = false;
};

// Signature tags (sha256-<hex>.sig/.att/.sbom) not yet removed whose manifest <hex> has no
// revision or is dead.
std::set<std::string> orphan_signatures(const Inventory& inventory, const Repository& repo,
                                        const std::set<std::string>& removed,
                                        const std::vector<Digest>& dead) {
  std::set<std::string> orphans;
  for (const Tag& t : repo.tags) {
    auto subject = signature_subject(t.name);
    if (!subject || removed.count(t.name) != 0) {
      continue;
    }
    bool exists =
        std::any_of(repo.revisions.begin(), repo.revisions.end(),
                    [&](const Link& l) { return link_digest(inventory, repo, l) == *subject; }) &&
        !contains(dead, *subject);
    if (!exists) {
      orphans.insert(t.name);
    }
  }
  return orphans;
}

RepoMark mark_repository(const Inventory& inventory, const Repository& repo,
                         const ManifestTable& manifests, const MarkOptions& options,
                         std::vector<Finding>& findings) {
  RepoMarker marker(inventory, repo, manifests, options, findings);
  std::set<std::string> removed;
  for (const Tag& t : repo.tags) {
    if (t.remove_requested) {
      removed.insert(t.name);
    }
  }
  RepoMark result = marker.run(removed);
  // Signature tags whose manifest is gone go too; that can orphan a signature of the
  // signature, so repeat until nothing changes.
  while (options.delete_orphan_signatures && !repo.tags_uncertain && !repo.uncertain &&
         !repo.out_of_scope) {
    std::set<std::string> orphans = orphan_signatures(inventory, repo, removed, result.dead);
    if (orphans.empty()) {
      break;
    }
    removed.insert(orphans.begin(), orphans.end());
    result.orphan_signature_tags.insert(result.orphan_signature_tags.end(), orphans.begin(),
                                        orphans.end());
    std::vector<std::string> keep_orphans = result.orphan_signature_tags;
    result = marker.run(removed);
    result.orphan_signature_tags = std::move(keep_orphans);
  }
  for (const Tag& t : repo.tags) {
    if (t.remove_requested) {
      result.removed_tags.push_back(t.name);
    }
  }
  return result;
}

// A young blob that is a manifest (pushed, its links not yet written) keeps what it
// references, in every repository: adds it, its blobs and its children to `marks`. One that
// was read as a manifest and could not be read sets `keep_all_blobs`.
void mark_young_manifests(const Inventory& inventory, const ManifestTable& manifests,
                          const Grace& grace, Marks& marks, bool& keep_all_blobs) {
  if (!grace.enabled()) {
    return;
  }
  std::vector<std::uint32_t> todo;
  for (std::uint32_t b = 0; b < inventory.blobs.size(); ++b) {
    const ManifestRecord* rec = manifests.find(b);
    if (grace.young(inventory.blobs[b].mtime) && rec != nullptr) {
      if (!rec->parsed()) {
        keep_all_blobs = true;  // a young manifest that cannot be read: unknown references
        continue;
      }
      todo.push_back(b);
    }
  }
  std::vector<bool> done(inventory.blobs.size(), false);
  while (!todo.empty()) {
    std::uint32_t b = todo.back();
    todo.pop_back();
    if (done[b]) {
      continue;
    }
    done[b] = true;
    marks.blobs.push_back(b);
    const ManifestRecord* rec = manifests.find(b);
    if (rec != nullptr && rec->parsed()) {
      marks.add(manifests, inventory, rec->blobs());
      for (ManifestRef c : rec->children()) {
        if (std::uint32_t cb = ManifestTable::blob(c); cb != k_no_blob) {
          todo.push_back(cb);
        } else {
          marks.absent.push_back(manifests.digest(inventory, c));
        }
      }
    }
  }
}

}  // namespace

MarkResult mark(const Inventory& inventory, const ManifestTable& manifests,
                const MarkOptions& options, tbb::task_arena& arena) {
  MarkResult out;
  out.repositories.resize(inventory.repositories.size());
  tbb::enumerable_thread_specific<std::vector<Finding>> findings;
  progress().begin("marking", inventory.repositories.size());
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, inventory.repositories.size(), [&](std::size_t i) {
      const Repository& repo = inventory.repositories[i];
      if (repo.remove_requested) {
        out.repositories[i].removed = true;
        return;
      }
      out.repositories[i] = mark_repository(inventory, repo, manifests, options, findings.local());
      progress().advance();
    });
  });
  out.blob_marked.assign(inventory.blobs.size(), false);
  Marks extra;
  for (const RepoMark& r : out.repositories) {
    for (std::uint32_t i : r.marked) {
      out.blob_marked[i] = true;
    }
    out.keep_all_blobs = out.keep_all_blobs || r.unreadable_manifest;
    extra.absent.insert(extra.absent.end(), r.marked_absent.begin(), r.marked_absent.end());
  }
  mark_young_manifests(inventory, manifests, options.grace, extra, out.keep_all_blobs);
  std::vector<std::uint32_t> extra_blobs;
  extra.finish(extra_blobs, out.marked_absent);
  for (std::uint32_t i : extra_blobs) {
    out.blob_marked[i] = true;
  }
  for (auto& v : findings) {
    out.findings.insert(out.findings.end(), v.begin(), v.end());
  }
  sort_findings(out.findings);
  return out;
}

}  // namespace regsweep
