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

void sort_unique(std::vector<Digest>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

bool contains(const std::vector<Digest>& sorted, const Digest& digest) {
  return std::binary_search(sorted.begin(), sorted.end(), digest);
}

ManifestTable load_manifests(int v2_fd, const Inventory& inventory, tbb::task_arena& arena,
                             std::vector<Finding>& findings) {
  ManifestTable table;
  std::vector<Digest> wave;
  for (const Repository& repo : inventory.repositories) {
    for (const Link& rev : repo.revisions) {
      wave.push_back(rev.digest);
      if (rev.target) {
        wave.push_back(*rev.target);
      }
    }
    for (const Tag& tag : repo.tags) {
      if (tag.current) {
        wave.push_back(*tag.current);
      }
    }
  }
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
        auto bytes = fs::read_file(v2_fd, path, k_manifest_max);
        if (!bytes) {
          rec.state = ManifestRecord::State::unreadable;
          rec.error = bytes.error().message;
        } else {
          ParseOutcome parsed = parsers.local().parse(*bytes);
          if (parsed.manifest) {
            rec.state = ManifestRecord::State::parsed;
            rec.manifest = std::move(parsed.manifest);
          } else {
            rec.state = ManifestRecord::State::unreadable;
            rec.error = "manifest '" + path + "' cannot be read: " + parsed.error;
            rec.mentioned = std::move(parsed.mentioned);
          }
        }
        if (rec.state == ManifestRecord::State::unreadable) {
          std::lock_guard lock(findings_mutex);
          findings.push_back(Finding{FindingKind::manifest_unparseable, Severity::error, path, "",
                                     rec.error + "; every blob its repositories link is kept"});
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
      table.emplace(wave[i], std::move(records[i]));
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

class RepoMarker {
 public:
  RepoMarker(const Repository& repo, const ManifestTable& table, const MarkOptions& options,
             std::vector<Finding>& findings)
      : m_repo(repo), m_table(table), m_options(options), m_findings(findings) {}

  RepoMark run() {
    bool all_revisions = !m_options.delete_untagged || m_repo.tags_uncertain;
    for (const Link& rev : m_repo.revisions) {
      const ManifestRecord* rec = record(rev.digest);
      bool unreadable = rec != nullptr && rec->state == ManifestRecord::State::unreadable;
      if (all_revisions || rev.problem || unreadable) {
        visit(rev.digest, Origin::revision);
        if (rev.target && *rev.target != rev.digest) {
          visit(*rev.target, Origin::revision);
        }
      } else if (rec == nullptr || rec->state == ManifestRecord::State::missing) {
        report_missing(rev.digest, Origin::revision);
      }
    }
    for (const Tag& tag : m_repo.tags) {
      if (tag.current) {
        visit(*tag.current, Origin::tag);
        const ManifestRecord* rec = record(*tag.current);
        if (rec == nullptr || rec->state == ManifestRecord::State::missing) {
          report_missing(*tag.current, Origin::tag);
        }
      }
    }
    if (!all_revisions) {
      follow_subjects();
    }
    return result();
  }

 private:
  enum class Origin { revision, tag, child };

  const ManifestRecord* record(const Digest& d) const {
    auto it = m_table.find(d);
    return it == m_table.end() ? nullptr : &it->second;
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
        if (live(rev.digest)) {
          continue;
        }
        const ManifestRecord* rec = record(rev.digest);
        if (rec != nullptr && rec->state == ManifestRecord::State::parsed &&
            rec->manifest->subject && live(*rec->manifest->subject)) {
          visit(rev.digest, Origin::revision);
          changed = true;
        }
      }
    }
  }

  RepoMark result() {
    RepoMark out;
    out.keeps_all_layers = m_keeps_all_layers || m_repo.uncertain;
    for (const Digest& d : m_live) {
      out.live.push_back(d);
      out.marked.push_back(d);
      const ManifestRecord* rec = record(d);
      if (rec == nullptr) {
        continue;
      }
      if (rec->state == ManifestRecord::State::parsed) {
        out.marked.insert(out.marked.end(), rec->manifest->blobs.begin(),
                          rec->manifest->blobs.end());
        out.marked.insert(out.marked.end(), rec->manifest->children.begin(),
                          rec->manifest->children.end());
      } else if (rec->state == ManifestRecord::State::unreadable) {
        out.marked.insert(out.marked.end(), rec->mentioned.begin(), rec->mentioned.end());
      }
    }
    if (out.keeps_all_layers) {
      for (const Link& l : m_repo.layers) {
        out.marked.push_back(l.digest);
        if (l.target) {
          out.marked.push_back(*l.target);
        }
      }
    }
    std::sort(out.live.begin(), out.live.end());
    sort_unique(out.marked);
    if (m_options.delete_untagged && !out.keeps_all_layers && !m_repo.tags_uncertain) {
      for (const Link& rev : m_repo.revisions) {
        const ManifestRecord* rec = record(rev.digest);
        if (!live(rev.digest) && !rev.problem && rec != nullptr &&
            rec->state == ManifestRecord::State::parsed) {
          out.dead.push_back(rev.digest);
        }
      }
    }
    return out;
  }

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
      RepoMarker marker(inventory.repositories[i], manifests, options, findings.local());
      out.repositories[i] = marker.run();
    });
  });
  for (const RepoMark& r : out.repositories) {
    out.marked.insert(out.marked.end(), r.marked.begin(), r.marked.end());
  }
  sort_unique(out.marked);
  for (auto& v : findings) {
    out.findings.insert(out.findings.end(), v.begin(), v.end());
  }
  sort_findings(out.findings);
  return out;
}

}  // namespace regsweep
