// Loading manifests and marking.
//
// load_manifests:
// 1. Start from every digest a revision link or a tag's current link names.
// 2. Read and parse each once, in parallel, with one parser per thread.
// 3. Children of lists and indexes not yet loaded form the next wave; repeat until none.
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
#include <unordered_set>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"

namespace regsweep {

namespace {

// The largest manifest regsweep reads. The registry itself refuses manifests over 4 MiB
// (3.x); anything this large is not a manifest.
constexpr std::uint64_t k_manifest_max = 64ULL << 20U;
// Young blobs are read as possible manifests only up to the registry's own manifest limit.
constexpr std::uint64_t k_speculative_max = 4ULL << 20U;

void sort_unique(std::vector<Digest>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

bool contains(const std::vector<Digest>& sorted, const Digest& digest) {
  return std::binary_search(sorted.begin(), sorted.end(), digest);
}

const std::string& ManifestRecord::error() const {
  static const std::string none;
  return unreadable ? unreadable->error : none;
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

// Splits digests into indices of existing blobs and absent digests, both sorted and unique.
void split_marks(const Inventory& inventory, std::vector<Digest>& digests,
                 std::vector<std::uint32_t>& indices, std::vector<Digest>& absent) {
  sort_unique(digests);
  for (const Digest& d : digests) {
    std::uint32_t i = blob_index(inventory, d);
    if (i == k_no_blob) {
      absent.push_back(d);
    } else {
      indices.push_back(i);
    }
  }
  // Digest order is blob order, so the indices are already sorted and unique.
}

}  // namespace

ManifestTable load_manifests(int v2_fd, const Inventory& inventory, tbb::task_arena& arena,
                             std::vector<Finding>& findings,
                             const std::vector<Digest>& speculative) {
  ManifestTable table;
  std::vector<Digest> wave;
  std::unordered_set<Digest, DigestHash> maybe(speculative.begin(), speculative.end());
  for (const Repository& repo : inventory.repositories) {
    for (const Link& rev : repo.revisions) {
      wave.push_back(link_digest(inventory, repo, rev));
      if (const Digest* other = other_target(repo, rev)) {
        wave.push_back(*other);
      }
    }
    for (const Tag& tag : repo.tags) {
      if (tag.current) {
        wave.push_back(*tag.current);
      }
    }
  }
  for (const Digest& d : wave) {
    maybe.erase(d);  // named by a link: a manifest for sure, reported if unreadable
  }
  wave.insert(wave.end(), maybe.begin(), maybe.end());
  sort_unique(wave);
  tbb::enumerable_thread_specific<ManifestParser> parsers;
  std::mutex findings_mutex;
  while (!wave.empty()) {
    std::vector<ManifestRecord> records(wave.size());
    arena.execute([&] {
      tbb::parallel_for(std::size_t{0}, wave.size(), [&](std::size_t i) {
        const Digest& d = wave[i];
        ManifestRecord& rec = records[i];
        if (find_blob(inventory, d) == nullptr) {
          rec.state = ManifestRecord::State::missing;
          return;
        }
        std::string path = layout::blob_data(d);
        bool speculative_read = maybe.count(d) != 0;
        auto bytes =
            fs::read_file(v2_fd, path, speculative_read ? k_speculative_max : k_manifest_max);
        if (!bytes) {
          rec.state = ManifestRecord::State::unreadable;
          rec.unreadable = std::make_unique<ManifestRecord::Unreadable>();
          rec.unreadable->error = bytes.error().message;
        } else {
          ParseOutcome parsed = parsers.local().parse(*bytes);
          if (parsed.manifest) {
            rec.state = ManifestRecord::State::parsed;
            rec.manifest = std::move(parsed.manifest);
            // Held until the end: no spare capacity.
            rec.manifest->blobs.shrink_to_fit();
            rec.manifest->children.shrink_to_fit();
          } else {
            rec.state = ManifestRecord::State::unreadable;
            rec.unreadable = std::make_unique<ManifestRecord::Unreadable>();
            rec.unreadable->error = "manifest '" + path + "' cannot be read: " + parsed.error;
            rec.unreadable->mentioned = std::move(parsed.mentioned);
          }
        }
        if (rec.state == ManifestRecord::State::unreadable && !speculative_read) {
          std::lock_guard lock(findings_mutex);
          findings.push_back(Finding{FindingKind::manifest_unparseable, Severity::error, path, "",
                                     rec.error() + "; every blob its repositories link is kept"});
        }
      });
    });
    std::vector<Digest> next;
    for (std::size_t i = 0; i < wave.size(); ++i) {
      if (records[i].state == ManifestRecord::State::parsed) {
        for (const Digest& c : records[i].manifest->children) {
          next.push_back(c);
        }
      }
      if (records[i].state == ManifestRecord::State::parsed || maybe.count(wave[i]) == 0) {
        table.emplace(wave[i], std::move(records[i]));
      }
      maybe.erase(wave[i]);
    }
    sort_unique(next);
    next.erase(std::remove_if(next.begin(), next.end(),
                              [&](const Digest& d) { return table.count(d) != 0; }),
               next.end());
    wave = std::move(next);
  }
  return table;
}

namespace {

using DigestSet = std::unordered_set<Digest, DigestHash>;

// A tag `sha256-<hex>.sig|.att|.sbom`: where tools that cannot use the referrers API keep a
// signature, attestation or SBOM of manifest <hex>. Returns that manifest's digest.
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

class RepoMarker {
 public:
  RepoMarker(const Inventory& inventory, const Repository& repo, const ManifestTable& table,
             const MarkOptions& options, std::vector<Finding>& findings)
      : m_inv(inventory), m_repo(repo), m_table(table), m_options(options), m_findings(findings) {}

  // Marks the repository as if the tags in `removed` were gone. A tag removed on request
  // takes with it the manifests only it reached (and what is attached to them).
  RepoMark run(const std::set<std::string>& removed) {
    m_live.clear();
    m_keeps_all_layers = false;
    bool all_revisions = !m_options.delete_untagged || m_repo.tags_uncertain;
    DigestSet doomed = forced_dead(removed);
    for (const Link& rev : m_repo.revisions) {
      const Digest& d = link_digest(m_inv, m_repo, rev);
      const ManifestRecord* rec = record(d);
      bool unreadable = rec != nullptr && rec->state == ManifestRecord::State::unreadable;
      bool root = (all_revisions && doomed.count(d) == 0) || rev.problem || unreadable ||
                  young(rev.mtime) || young_blob(d);
      if (root) {
        visit(d, Origin::revision);
        if (const Digest* other = other_target(m_repo, rev)) {
          visit(*other, Origin::revision);
        }
      } else if (rec == nullptr || rec->state == ManifestRecord::State::missing) {
        report_missing(d, Origin::revision);
      }
    }
    for (const Tag& tag : m_repo.tags) {
      if (tag.current && removed.count(tag.name) == 0) {
        visit(*tag.current, Origin::tag);
        const ManifestRecord* rec = record(*tag.current);
        if (rec == nullptr || rec->state == ManifestRecord::State::missing) {
          report_missing(*tag.current, Origin::tag);
        }
      }
    }
    if (!all_revisions || !doomed.empty()) {
      follow_subjects();
    }
    return result(all_revisions && doomed.empty());
  }

 private:
  enum class Origin { revision, tag, child };

  bool young(std::int64_t mtime) const {
    return m_options.young_after && mtime > *m_options.young_after;
  }

  bool young_blob(const Digest& d) const {
    const Blob* b = find_blob(m_inv, d);
    return b != nullptr && young(b->mtime);
  }

  const ManifestRecord* record(const Digest& d) const {
    auto it = m_table.find(d);
    return it == m_table.end() ? nullptr : &it->second;
  }

  const Manifest* parsed(const Digest& d) const {
    const ManifestRecord* rec = record(d);
    return rec != nullptr && rec->state == ManifestRecord::State::parsed ? &*rec->manifest
                                                                         : nullptr;
  }

  // What the remaining tags reach: children, and (always) revisions attached by subject.
  DigestSet tag_reach(const std::set<std::string>& removed) const {
    std::vector<Digest> todo;
    for (const Tag& tag : m_repo.tags) {
      if (tag.current && removed.count(tag.name) == 0) {
        todo.push_back(*tag.current);
      }
    }
    DigestSet reach;
    while (true) {
      while (!todo.empty()) {
        Digest d = todo.back();
        todo.pop_back();
        if (!reach.insert(d).second) {
          continue;
        }
        if (const Manifest* m = parsed(d)) {
          todo.insert(todo.end(), m->children.begin(), m->children.end());
        }
      }
      for (const Link& rev : m_repo.revisions) {
        const Digest& d = link_digest(m_inv, m_repo, rev);
        const Manifest* m = parsed(d);
        if (reach.count(d) == 0 && m != nullptr && m->subject && reach.count(*m->subject) != 0) {
          todo.push_back(d);
        }
      }
      if (todo.empty()) {
        return reach;
      }
    }
  }

  // The manifests removed tags took with them: what they named, their children and what is
  // attached to those, unless a remaining tag still reaches it.
  DigestSet forced_dead(const std::set<std::string>& removed) const {
    DigestSet doomed;
    if (removed.empty() || m_repo.tags_uncertain) {
      return doomed;
    }
    DigestSet keep = tag_reach(removed);
    std::vector<Digest> todo;
    for (const Tag& tag : m_repo.tags) {
      if (tag.current && removed.count(tag.name) != 0) {
        todo.push_back(*tag.current);
      }
    }
    while (true) {
      while (!todo.empty()) {
        Digest d = todo.back();
        todo.pop_back();
        if (keep.count(d) != 0 || !doomed.insert(d).second) {
          continue;
        }
        if (const Manifest* m = parsed(d)) {
          todo.insert(todo.end(), m->children.begin(), m->children.end());
        }
      }
      for (const Link& rev : m_repo.revisions) {
        const Digest& d = link_digest(m_inv, m_repo, rev);
        const Manifest* m = parsed(d);
        if (doomed.count(d) == 0 && keep.count(d) == 0 && m != nullptr && m->subject &&
            doomed.count(*m->subject) != 0) {
          todo.push_back(d);
        }
      }
      if (todo.empty()) {
        return doomed;
      }
    }
  }

  bool live(const Digest& d) const { return m_live.count(d) != 0; }

  void report_missing(const Digest& d, Origin origin) {
    if (!m_reported.insert({d, static_cast<int>(origin)}).second) {
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
      if (rec == nullptr || rec->state == ManifestRecord::State::missing) {
        report_missing(d, o);
        continue;
      }
      if (rec->state == ManifestRecord::State::unreadable) {
        m_keeps_all_layers = true;
        continue;
      }
      for (const Digest& c : rec->manifest->children) {
        queue.emplace_back(c, Origin::child);
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
        const Manifest* m = parsed(d);
        if (m != nullptr && m->subject && live(*m->subject)) {
          visit(d, Origin::revision);
          changed = true;
        }
      }
    }
  }

  RepoMark result(bool nothing_dead) {
    RepoMark out;
    std::vector<Digest> marked;
    out.keeps_all_layers = m_keeps_all_layers || m_repo.uncertain;
    for (const Digest& d : m_live) {
      out.live.push_back(d);
      marked.push_back(d);
      const ManifestRecord* rec = record(d);
      if (rec == nullptr) {
        continue;
      }
      if (rec->state == ManifestRecord::State::parsed) {
        marked.insert(marked.end(), rec->manifest->blobs.begin(), rec->manifest->blobs.end());
        marked.insert(marked.end(), rec->manifest->children.begin(), rec->manifest->children.end());
      } else if (rec->state == ManifestRecord::State::unreadable) {
        marked.insert(marked.end(), rec->unreadable->mentioned.begin(),
                      rec->unreadable->mentioned.end());
      }
    }
    for (const Link& l : m_repo.layers) {
      if (young(l.mtime)) {
        marked.push_back(link_digest(m_inv, m_repo, l));  // a push in progress: its blob stays
      }
    }
    if (out.keeps_all_layers) {
      for (const Link& l : m_repo.layers) {
        marked.push_back(link_digest(m_inv, m_repo, l));
        if (const Digest* other = other_target(m_repo, l)) {
          marked.push_back(*other);
        }
      }
    }
    std::sort(out.live.begin(), out.live.end());
    split_marks(m_inv, marked, out.marked, out.marked_absent);
    if (!nothing_dead && !out.keeps_all_layers) {
      for (const Link& rev : m_repo.revisions) {
        const Digest& d = link_digest(m_inv, m_repo, rev);
        const ManifestRecord* rec = record(d);
        if (!live(d) && !rev.problem && rec != nullptr &&
            rec->state == ManifestRecord::State::parsed) {
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

}  // namespace

MarkResult mark(const Inventory& inventory, const ManifestTable& manifests,
                const MarkOptions& options, tbb::task_arena& arena) {
  MarkResult out;
  out.repositories.resize(inventory.repositories.size());
  tbb::enumerable_thread_specific<std::vector<Finding>> findings;
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, inventory.repositories.size(), [&](std::size_t i) {
      const Repository& repo = inventory.repositories[i];
      if (repo.remove_requested) {
        out.repositories[i].removed = true;
        return;
      }
      RepoMarker marker(inventory, repo, manifests, options, findings.local());
      std::set<std::string> removed;
      for (const Tag& t : repo.tags) {
        if (t.remove_requested) {
          removed.insert(t.name);
        }
      }
      RepoMark result = marker.run(removed);
      // Signature tags whose manifest is gone go too; that can orphan a signature of the
      // signature, so repeat until nothing changes.
      while (options.delete_orphan_signatures && !repo.tags_uncertain && !repo.uncertain) {
        std::set<std::string> orphans;
        for (const Tag& t : repo.tags) {
          auto subject = signature_subject(t.name);
          if (!subject || removed.count(t.name) != 0) {
            continue;
          }
          bool exists = std::any_of(repo.revisions.begin(), repo.revisions.end(),
                                    [&](const Link& l) {
                                      return link_digest(inventory, repo, l) == *subject;
                                    }) &&
                        !contains(result.dead, *subject);
          if (!exists) {
            orphans.insert(t.name);
          }
        }
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
      out.repositories[i] = std::move(result);
    });
  });
  out.blob_marked.assign(inventory.blobs.size(), false);
  std::vector<Digest> extra;
  for (const RepoMark& r : out.repositories) {
    for (std::uint32_t i : r.marked) {
      out.blob_marked[i] = true;
    }
    extra.insert(extra.end(), r.marked_absent.begin(), r.marked_absent.end());
  }
  // A young blob that is a manifest (pushed, its links not yet written) keeps what it
  // references, in every repository.
  if (options.young_after) {
    std::vector<Digest> todo;
    for (const Blob& b : inventory.blobs) {
      auto it = manifests.find(b.digest);
      if (b.mtime > *options.young_after && it != manifests.end() &&
          it->second.state == ManifestRecord::State::parsed) {
        todo.push_back(b.digest);
      }
    }
    std::unordered_set<Digest, DigestHash> done;
    while (!todo.empty()) {
      Digest d = todo.back();
      todo.pop_back();
      if (!done.insert(d).second) {
        continue;
      }
      extra.push_back(d);
      auto it = manifests.find(d);
      if (it != manifests.end() && it->second.state == ManifestRecord::State::parsed) {
        const Manifest& m = *it->second.manifest;
        extra.insert(extra.end(), m.blobs.begin(), m.blobs.end());
        todo.insert(todo.end(), m.children.begin(), m.children.end());
      }
    }
  }
  std::vector<std::uint32_t> extra_blobs;
  split_marks(inventory, extra, extra_blobs, out.marked_absent);
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
