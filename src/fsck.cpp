// fsck.
//
// 1. Scan, load every manifest (as gc does) and mark without -m: the scan's, the manifests'
//    and the marking's findings are problems.
// 2. --verify-data: hash a deterministic sample of blobs (all at 100%) in parallel; a blob
//    whose bytes do not hash to its name is a digest mismatch.
// 3. Per tag, walk what a pull fetches: the manifest (which needs its revision link in the
//    repository), children (each needing a revision link), config and layers (each needing its
//    blob and a `_layers` link in the repository). Each missing or corrupt piece is a problem
//    that breaks this tag.
// 4. Repairs that cannot lose data: dangling links are removed, corrupt blobs moved to
//    lost+found/. Listed always, applied only with `repair`.

#include "regsweep/fsck.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <oneapi/tbb/parallel_for.h>

#include "fsck_repair.hpp"
#include "regsweep/collect.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/mark.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep {

namespace {

struct KindInfo {
  ProblemKind kind;
  std::string_view name;
  Severity severity;
  std::string_view action;
};

constexpr KindInfo k_kinds[] = {
    {ProblemKind::blob_missing, "blob-missing", Severity::error,
     "re-push the broken tags, or restore the blob from a backup"},
    {ProblemKind::layer_unlinked, "layer-unlinked", Severity::error,
     "re-push the broken tags (the registry serves a blob only through a repository's link)"},
    {ProblemKind::revision_missing, "revision-missing", Severity::error,
     "re-push the broken tags: the registry serves a manifest only through a revision link"},
    {ProblemKind::digest_mismatch, "digest-mismatch", Severity::error,
     "run fsck --repair to move the blob to lost+found, then re-push the broken tags"},
    {ProblemKind::manifest_missing, "manifest-missing", Severity::error,
     "re-push the broken tags, or delete them"},
    {ProblemKind::child_missing, "child-missing", Severity::error,
     "re-push the multi-platform image"},
    {ProblemKind::manifest_unparseable, "manifest-unparseable", Severity::error,
     "inspect the blob; re-push the tags that name it, or restore it from a backup"},
    {ProblemKind::malformed_link, "malformed-link", Severity::error,
     "rewrite the link as 'sha256:<hex>' (no newline), or re-push the tag"},
    {ProblemKind::link_mismatch, "link-mismatch", Severity::error,
     "rewrite the link to name its directory's digest"},
    {ProblemKind::symlink, "symlink", Severity::error,
     "replace the symbolic link with the real directory or file"},
    {ProblemKind::unreadable, "unreadable", Severity::error,
     "fix the ownership and permissions (the registry's user)"},
    {ProblemKind::invalid_name, "invalid-name", Severity::error,
     "rename or remove the directory: the registry refuses it"},
    {ProblemKind::unknown_entry, "unknown-entry", Severity::warning,
     "remove it if nothing of yours needs it"},
    {ProblemKind::blob_without_data, "blob-without-data", Severity::warning,
     "remove the directory; re-push if a tag needs it"},
    {ProblemKind::dangling_link, "dangling-link", Severity::warning,
     "run fsck --repair (or gc) to remove it"},
    {ProblemKind::upload_without_startedat, "upload-without-startedat", Severity::warning,
     "remove it if no push is running (gc --purge-uploads uses its modification time)"},
    {ProblemKind::temp_leftover, "temp-leftover", Severity::warning,
     "run gc to remove leftovers older than an hour"},
    {ProblemKind::delete_failed, "delete-failed", Severity::error, "inspect it"},
    {ProblemKind::changed_since_scan, "changed-since-scan", Severity::error, "inspect it"},
    {ProblemKind::changed_since_plan, "changed-since-plan", Severity::error,
     "make and review a new plan"},
    {ProblemKind::same_push_time, "same-push-time", Severity::error, "inspect it"},
    {ProblemKind::tags_unknown, "tags-unknown", Severity::error, "inspect it"},
    {ProblemKind::cache_stale, "cache-stale", Severity::error,
     "run the redis-cli command the message gives, with the registry stopped"},
};

const KindInfo& info(ProblemKind kind) {
  for (const KindInfo& k : k_kinds) {
    if (k.kind == kind) {
      return k;
    }
  }
  return k_kinds[0];  // every kind is in the table (a test checks it)
}

std::uint64_t sample_key(std::uint64_t seed, const Digest& d) {
  // splitmix64 over the seed and the digest's first bytes: stable across runs and machines.
  std::uint64_t x = seed;
  for (std::size_t i = 0; i < 8; ++i) {
    x = (x << 8U) ^ d.bytes[i] ^ (x >> 56U);
  }
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

class Checker {
 public:
  Checker(const Inventory& inv, const ManifestTable& table) : m_inv(inv), m_table(table) {}

  void add(ProblemKind kind, const std::string& path, std::string repo, std::string message,
           const std::string& broken_tag = "") {
    auto key = std::make_pair(kind, path);
    auto it = m_problems.find(key);
    if (it == m_problems.end()) {
      Problem p{kind, info(kind).severity, path, std::move(repo), std::move(message), {}};
      it = m_problems.emplace(key, std::move(p)).first;
    }
    if (!broken_tag.empty()) {
      it->second.broken_tags.push_back(broken_tag);
    }
  }

  // Walks what pulling repo:tag fetches; every missing or corrupt piece breaks it.
  void check_tag(const Repository& repo, const Tag& tag,
                 const std::unordered_set<Digest, DigestHash>& corrupt) {
    std::string name = repo.name + ":" + tag.name;
    if (!tag.current) {
      if (tag.has_current) {
        add(ProblemKind::malformed_link, layout::tag_current_link(repo.name, tag.name), repo.name,
            "link '" + layout::tag_current_link(repo.name, tag.name) + "' cannot be read", name);
      }
      return;
    }
    RepoLinks links = links_of(repo);
    std::vector<Digest> todo{*tag.current};
    std::unordered_set<Digest, DigestHash> seen;
    while (!todo.empty()) {
      Digest d = todo.back();
      todo.pop_back();
      if (!seen.insert(d).second) {
        continue;
      }
      std::string data = layout::blob_data(d);
      if (find_blob(m_inv, d) == nullptr) {
        add(ProblemKind::manifest_missing, data, repo.name,
            "manifest " + d.str() + " of '" + repo.name + "' does not exist", name);
        continue;
      }
      if (corrupt.count(d) != 0) {
        add(ProblemKind::digest_mismatch, data, "", "blob '" + data + "' does not hash to its name",
            name);
      }
      if (links.revisions.count(d) == 0) {
        add(ProblemKind::revision_missing, layout::revision_link(repo.name, d), repo.name,
            "'" + repo.name + "' has no revision link for manifest " + d.str(), name);
      }
      const ManifestRecord* m = m_table.find(m_inv, d);
      if (m == nullptr || !m->parsed()) {
        add(ProblemKind::manifest_unparseable, data, "",
            m == nullptr ? "manifest '" + data + "' was not read" : m->error(), name);
        continue;
      }
      check_blobs(repo, links, d, *m, corrupt, name);
      for (ManifestRef c : m->children()) {
        todo.push_back(m_table.digest(m_inv, c));
      }
    }
  }

 private:
  // A repository's links, by what they name.
  struct RepoLinks {
    std::unordered_set<Digest, DigestHash> revisions;
    std::unordered_set<Digest, DigestHash> layers;
    std::unordered_map<Digest, const Link*, DigestHash> bad_layers;  // damaged layer links
  };
  RepoLinks links_of(const Repository& repo) const {
    RepoLinks out;
    for (const Link& l : repo.revisions) {
      out.revisions.insert(link_digest(m_inv, repo, l));
    }
    for (const Link& l : repo.layers) {
      if (!l.problem()) {
        out.layers.insert(link_digest(m_inv, repo, l));
      } else {
        out.bad_layers[link_digest(m_inv, repo, l)] = &l;
      }
    }
    return out;
  }

  // The blobs manifest `d` (`m`) references: each needs its blob and, in `repo`, a layer
  // link; what is missing or corrupt breaks the tag `name`.
  void check_blobs(const Repository& repo, const RepoLinks& links, const Digest& d,
                   const ManifestRecord& m, const std::unordered_set<Digest, DigestHash>& corrupt,
                   const std::string& name) {
    for (ManifestRef r : m.blobs()) {
      const Digest& b = m_table.digest(m_inv, r);
      bool foreign = m.is_foreign(b);
      std::string bdata = layout::blob_data(b);
      if (find_blob(m_inv, b) == nullptr) {
        if (!foreign) {
          add(ProblemKind::blob_missing, bdata, "",
              "blob " + b.str() + " (referenced by manifest " + d.str() + ") does not exist", name);
        }
        continue;
      }
      if (corrupt.count(b) != 0) {
        add(ProblemKind::digest_mismatch, bdata, "",
            "blob '" + bdata + "' does not hash to its name", name);
      }
      if (auto bad = links.bad_layers.find(b); bad != links.bad_layers.end()) {
        // The link is there but names something else or nothing: the pull fails on it.
        bool mismatch = other_target(repo, *bad->second) != nullptr;
        add(mismatch ? ProblemKind::link_mismatch : ProblemKind::malformed_link,
            layout::layer_link(repo.name, b), repo.name,
            "link '" + layout::layer_link(repo.name, b) + "' is damaged", name);
      } else if (links.layers.count(b) == 0) {
        add(ProblemKind::layer_unlinked, layout::layer_link(repo.name, b), repo.name,
            "'" + repo.name + "' does not link blob " + b.str() + " that manifest " + d.str() +
                " references",
            name);
      }
    }
  }

 public:
  std::vector<Problem> take() {
    std::vector<Problem> out;
    for (auto& [key, p] : m_problems) {
      std::sort(p.broken_tags.begin(), p.broken_tags.end());
      p.broken_tags.erase(std::unique(p.broken_tags.begin(), p.broken_tags.end()),
                          p.broken_tags.end());
      if (!p.broken_tags.empty()) {
        p.severity = Severity::error;  // a pull fails
      }
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  const Inventory& m_inv;
  const ManifestTable& m_table;
  std::map<std::pair<ProblemKind, std::string>, Problem> m_problems;
};

}  // namespace

std::string_view to_string(ProblemKind kind) {
  return info(kind).name;
}

std::string_view suggested_action(ProblemKind kind) {
  return info(kind).action;
}

ProblemKind problem_kind_of(FindingKind kind) {
  switch (kind) {
    case FindingKind::malformed_link:
      return ProblemKind::malformed_link;
    case FindingKind::link_mismatch:
      return ProblemKind::link_mismatch;
    case FindingKind::symlink:
      return ProblemKind::symlink;
    case FindingKind::unreadable:
      return ProblemKind::unreadable;
    case FindingKind::unknown_entry:
      return ProblemKind::unknown_entry;
    case FindingKind::invalid_name:
      return ProblemKind::invalid_name;
    case FindingKind::manifest_unparseable:
      return ProblemKind::manifest_unparseable;
    case FindingKind::manifest_missing:
      return ProblemKind::manifest_missing;
    case FindingKind::child_missing:
      return ProblemKind::child_missing;
    case FindingKind::blob_without_data:
      return ProblemKind::blob_without_data;
    case FindingKind::delete_failed:
      return ProblemKind::delete_failed;
    case FindingKind::changed_since_scan:
      return ProblemKind::changed_since_scan;
    case FindingKind::changed_since_plan:
      return ProblemKind::changed_since_plan;
    case FindingKind::same_push_time:
      return ProblemKind::same_push_time;
    case FindingKind::tags_unknown:
      return ProblemKind::tags_unknown;
    case FindingKind::cache_stale:
      return ProblemKind::cache_stale;
  }
  return ProblemKind::unreadable;
}

std::string_view to_string(RepairAction action) {
  return action == RepairAction::move_to_lost_found ? "move-to-lost-found" : "remove-dangling-link";
}

Result<Digest> hash_object(Store& store, const std::string& key) {
  return sha256_of_stream([&](const ChunkSink& sink) { return store.stream(key, sink); });
}

namespace {

using DigestSet = std::unordered_set<Digest, DigestHash>;

// --verify-data: hashes the sampled blobs in parallel; returns those whose bytes do not hash
// to their name. A blob that cannot be read is a finding.
DigestSet verify_content(Store& store, const Inventory& inv, const FsckOptions& options,
                         tbb::task_arena& arena, FsckReport& report,
                         std::vector<Finding>& findings) {
  DigestSet corrupt;
  if (options.verify_percent <= 0) {
    return corrupt;
  }
  std::vector<const Blob*> chosen;
  for (const Blob& b : inv.blobs) {
    if (options.verify_percent >= 100 ||
        static_cast<double>(sample_key(options.seed, b.digest) % 1000000) <
            options.verify_percent * 10000) {
      chosen.push_back(&b);
    }
  }
  std::vector<std::string> errors(chosen.size());
  std::vector<char> bad(chosen.size(), 0);
  auto start = std::chrono::steady_clock::now();
  progress().begin("hashing blobs", chosen.size());
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, chosen.size(), [&](std::size_t i) {
      auto h = hash_object(store, layout::blob_data(chosen[i]->digest));
      progress().advance();
      if (!h) {
        errors[i] = h.error().message;
      } else if (*h != chosen[i]->digest) {
        bad[i] = 1;
      }
    });
  });
  report.verify_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    report.blobs_verified += 1;
    report.bytes_verified += chosen[i]->size;
    if (bad[i] != 0) {
      corrupt.insert(chosen[i]->digest);
    }
    if (!errors[i].empty()) {
      findings.push_back(Finding{FindingKind::unreadable, Severity::error,
                                 layout::blob_data(chosen[i]->digest), "", errors[i]});
    }
  }
  return corrupt;
}

// The links of `repo` a repair removes: those naming no blob (reported; the scan confirmed
// each absence with a direct look). Never a link because of what a content check found: a
// hash that disagrees may come from a read gone wrong, and a link removed cannot be taken
// back. A corrupt blob moves to lost+found; the links naming it stay, and dangle from then on.
void find_links_to_repair(const Inventory& inv, const Repository& repo, Checker& checker,
                          std::deque<LinkAction>& repair_links) {
  auto check = [&](const Link& l, ActionKind kind, const std::string* tag) {
    if (l.problem()) {
      return;
    }
    const Digest& d = link_digest(inv, repo, l);
    // Its digest names no blob, and nothing says one may be there after all (as the plan).
    if (l.dangling() && !repo.uncertain && !blob_unknown(inv, d)) {
      LinkAction a{&repo, tag, l.ref, kind, Reason::dangling_link};
      std::string dir = Action{kind, a.reason, repo.name, tag != nullptr ? *tag : "", d, 0}.path();
      checker.add(ProblemKind::dangling_link, dir, repo.name,
                  "link '" + dir + "' names " + d.str() + ", which does not exist");
      repair_links.push_back(a);
    }
  };
  for (const Link& l : repo.layers) {
    check(l, ActionKind::layer_link, nullptr);
  }
  for (const Link& l : repo.revisions) {
    check(l, ActionKind::revision, nullptr);
  }
  for (const Tag& tag : repo.tags) {
    for (const Link& l : tag.history) {
      check(l, ActionKind::tag_history, &tag.name);
    }
  }
}

}  // namespace

Result<FsckPlan> plan_fsck(Store& store, const FsckOptions& options, tbb::task_arena& arena) {
  auto graph = build_graph(store, GraphOptions{}, arena);
  if (!graph) {
    return graph.error();
  }
  FsckPlan planned;
  planned.inventory = std::move(graph->inventory);
  const Inventory& inv = planned.inventory;
  const ManifestTable& table = graph->manifests;
  FsckReport& report = planned.report;
  report.blobs = inv.blobs.size();
  std::vector<Finding> findings = std::move(graph->findings);
  MarkResult marks = mark(inv, table, MarkOptions{}, arena);
  findings.insert(findings.end(), marks.findings.begin(), marks.findings.end());
  sort_findings(findings);
  DigestSet corrupt = verify_content(store, inv, options, arena, report, findings);

  Checker checker(inv, table);
  for (const Finding& f : findings) {
    // Missing manifests are reported per tag below, with the tags they break.
    if (f.kind != FindingKind::manifest_missing && f.kind != FindingKind::child_missing) {
      checker.add(problem_kind_of(f.kind), f.path, f.repository, f.message);
    }
  }
  for (const Digest& d : corrupt) {
    std::string data = layout::blob_data(d);
    checker.add(ProblemKind::digest_mismatch, data, "",
                "blob '" + data + "' does not hash to its name");
  }
  std::deque<LinkAction> repair_links;
  for (const Repository& repo : inv.repositories) {
    for (const Tag& tag : repo.tags) {
      ++report.tags;
      checker.check_tag(repo, tag, corrupt);
    }
    for (const Upload& u : repo.uploads) {
      if (!u.started) {
        std::string p = layout::upload_dir(repo.name, u.id);
        checker.add(ProblemKind::upload_without_startedat, p, repo.name,
                    "upload '" + p + "' has no readable startedat");
      }
    }
    if (inv.blobs_complete) {
      find_links_to_repair(inv, repo, checker, repair_links);
    }
  }
  for (const Leftover& l : inv.leftovers) {
    if (l.kind == Leftover::Kind::temp_file) {
      checker.add(ProblemKind::temp_leftover, l.path, l.repository,
                  "'" + l.path + "' is left over from an interrupted write");
    }
  }
  report.problems = checker.take();
  std::sort(report.problems.begin(), report.problems.end(), [](const Problem& a, const Problem& b) {
    // By the kind's name, as the reports show it.
    return std::make_tuple(a.severity, to_string(a.kind), std::string_view(a.path)) >
           std::make_tuple(b.severity, to_string(b.kind), std::string_view(b.path));
  });
  std::vector<std::uint32_t> corrupt_blobs;
  corrupt_blobs.reserve(corrupt.size());
  for (const Digest& d : corrupt) {
    corrupt_blobs.push_back(blob_index(inv, d));
  }
  std::sort(corrupt_blobs.begin(), corrupt_blobs.end());
  planned.repairs = make_repair_plan(inv, std::move(repair_links), corrupt_blobs, options.now);
  report.repairs = repairs_of(planned.repairs, nullptr, {});
  scan_activity(store, inv, planned.activity, planned.dated_in_future);
  return planned;
}

Result<FsckReport> fsck(Store& store, const FsckOptions& options, tbb::task_arena& arena) {
  auto planned = plan_fsck(store, options, arena);
  if (!planned) {
    return planned.error();
  }
  if (options.repair) {
    apply_repairs(store, *planned, store.guard(planned->inventory, {}), arena);
  }
  return std::move(planned->report);
}

FsckCounts fsck_counts(const FsckReport& report) {
  FsckCounts c;
  for (const Problem& p : report.problems) {
    (p.severity == Severity::error ? c.errors : c.warnings) += 1;
    c.broken.insert(p.broken_tags.begin(), p.broken_tags.end());
  }
  c.mbps = report.verify_seconds > 0
               ? static_cast<double>(report.bytes_verified) / 1e6 / report.verify_seconds
               : 0;
  return c;
}

}  // namespace regsweep
