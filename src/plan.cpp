// Planning.
//
// 1. Per repository: a removed repository becomes one action (its own directories); else its
//    removed and orphan signature tags, the tag history and revisions of dead manifests, the
//    `_layers` links no live manifest needs, and dangling links.
// 2. A repository left with no tag, no revision and no upload is removed whole.
// 3. Stale uploads, then tidying (empty directories, old temp files, empty blob prefixes).
// 4. Unmarked blobs.
// 5. Sort by kind (the deletion order), then path.

#include "regsweep/plan.hpp"

#include <algorithm>
#include <deque>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string_view>
#include <tuple>

#include "regsweep/layout.hpp"

namespace regsweep {

namespace {

// The plan's totals, from its final actions.
void count(Plan& p) {
  for (const Action& a : p.actions) {
    switch (a.kind) {
      case ActionKind::tag:
        ++p.tags;
        break;
      case ActionKind::tag_history:
        ++p.tag_history;
        break;
      case ActionKind::revision:
        ++p.manifests;
        break;
      case ActionKind::layer_link:
        ++p.layer_links;
        break;
      case ActionKind::repository:
        ++p.repositories;
        break;
      case ActionKind::upload:
        ++p.uploads;
        p.upload_bytes += a.bytes;
        break;
      case ActionKind::tidy:
        ++p.tidy;
        p.empty_dirs += a.reason == Reason::empty_directory ? 1 : 0;
        p.temp_files += a.reason == Reason::temp_leftover ? 1 : 0;
        p.empty_blob_prefixes += a.reason == Reason::empty_blob_prefix ? 1 : 0;
        break;
      case ActionKind::quarantine:
        ++p.quarantined;
        break;
      case ActionKind::blob:
        ++p.blobs;
        p.blob_bytes += a.bytes;
        break;
    }
    p.dangling_links += a.reason == Reason::dangling_link ? 1 : 0;
  }
}

class Planner {
 public:
  Planner(const Inventory& inventory, const MarkResult& marks, const std::vector<Finding>& findings,
          const PlanOptions& options, const Grace& grace)
      : m_inv(inventory), m_marks(marks), m_options(options), m_grace(grace) {
    for (const Finding& f : findings) {
      if (f.severity == Severity::error && !f.repository.empty()) {
        m_troubled.insert(f.repository);
      }
    }
  }

  Plan run() {
    for (std::size_t i = 0; i < m_inv.repositories.size(); ++i) {
      plan_repository(m_inv.repositories[i], m_marks.repositories[i]);
    }
    if (m_options.collect && m_options.tidy) {
      plan_tidy();
    }
    // In place: a stable sort would hold a second copy of the plan for the moment it runs.
    // No two actions are equal in every field, so the order is the same on every run.
    std::sort(m_actions.begin(), m_actions.end(), [](const Action& a, const Action& b) {
      return std::tie(a.kind, a.repository, a.name, a.digest, a.reason, a.bytes) <
             std::tie(b.kind, b.repository, b.name, b.digest, b.reason, b.bytes);
    });
    // The same order for links, read from where they point: repositories by name, then
    // tags, then digests (a blob index orders as its digest; an absent digest is looked at).
    std::sort(m_links.begin(), m_links.end(), [this](const LinkAction& a, const LinkAction& b) {
      if (a.kind != b.kind) {
        return a.kind < b.kind;
      }
      if (a.repository != b.repository) {
        if (int c = a.repository->name.compare(b.repository->name); c != 0) {
          return c < 0;
        }
      }
      std::string_view ta = a.tag != nullptr ? std::string_view(*a.tag) : std::string_view();
      std::string_view tb = b.tag != nullptr ? std::string_view(*b.tag) : std::string_view();
      if (ta != tb) {
        return ta < tb;
      }
      if (a.ref != b.ref) {
        if (((a.ref | b.ref) & Link::k_absent) == 0) {
          return a.ref < b.ref;
        }
        const Digest& da = digest_of(a);
        const Digest& db = digest_of(b);
        if (da != db) {
          return da < db;
        }
      }
      return a.reason < b.reason;
    });
    // Blobs come last in deletion order, already in digest order.
    static_assert(ActionKind::blob > ActionKind::tidy);
    std::vector<std::uint32_t> blobs;
    if (m_options.collect) {
      blobs = collectable_blobs(m_inv, m_marks, m_grace);
    }
    m_plan.actions =
        ActionList(std::move(m_actions), std::move(m_links), m_inv.blobs, std::move(blobs));
    count(m_plan);
    return std::move(m_plan);
  }

 private:
  void add(Action a) { m_actions.push_back(a); }
  void add_link(ActionKind kind, Reason reason, const Repository& repo, std::uint32_t ref,
                const std::string* tag = nullptr) {
    m_links.push_back(LinkAction{&repo, tag, ref, kind, reason});
  }

  const Digest& digest_of(const LinkAction& a) const {
    return ref_digest(m_inv.blobs.data(), *a.repository, a.ref);
  }

  // The reference a link of `repo` to `d` holds.
  std::uint32_t ref_in(const Repository& repo, const Digest& d) const {
    if (std::uint32_t b = blob_index(m_inv, d); b != k_no_blob) {
      return b;
    }
    auto it = std::find(repo.absent.begin(), repo.absent.end(), d);
    if (it == repo.absent.end()) {
      // Marking names only digests that links of the repository hold.
      throw std::logic_error("planning: " + d.str() + " is linked nowhere in '" + repo.name + "'");
    }
    return Link::k_absent | static_cast<std::uint32_t>(it - repo.absent.begin());
  }

  bool young(std::int64_t mtime) const { return m_grace.young(mtime); }

  // Records what the grace period alone kept from the plan.
  void keep_young(Action a) { m_plan.kept_young.push_back(a); }
  void keep_young_link(ActionKind kind, Reason reason, const Repository& repo, const Link& l) {
    keep_young(Action{kind, reason, repo.name, {}, link_digest(m_inv, repo, l), 0});
  }

  bool any_young(const Repository& repo) const {
    auto link_young = [&](const Link& l) { return young(l.mtime); };
    return std::any_of(repo.layers.begin(), repo.layers.end(), link_young) ||
           std::any_of(repo.revisions.begin(), repo.revisions.end(), link_young) ||
           std::any_of(repo.tags.begin(), repo.tags.end(),
                       [&](const Tag& t) { return young(t.current_mtime); });
  }

  // True when `u` is older than the purge age; `young` tells whether it is nonetheless
  // being written, or was started within the grace period.
  bool stale(const Upload& u, bool& is_young) const {
    is_young = young(u.newest_mtime) || (u.started && young(*u.started));
    if (!m_options.purge_uploads_older_than || u.problem) {
      return false;
    }
    // As the registry's purger: the start time decides; without one (missing or unreadable
    // `startedat`), the newest modification inside does.
    std::int64_t started = u.started ? *u.started : u.newest_mtime;
    return m_options.now - started >= *m_options.purge_uploads_older_than;
  }

  void remove_repository(const Repository& repo, Reason reason) {
    std::uint64_t bytes = 0;
    for (const Upload& u : repo.uploads) {
      bytes += u.bytes;
    }
    add(Action{ActionKind::repository, reason, repo.name, {}, Digest{}, bytes});
  }

  // Tags removed by request and orphaned signature tags; returns their names.
  std::set<std::string_view> plan_tags(const Repository& repo, const RepoMark& repo_mark) {
    std::set<std::string_view> gone_tags;
    auto remove_tag = [&](const std::string& name, Reason reason) {
      // The name as the inventory holds it: the action points into the inventory.
      auto it = std::lower_bound(repo.tags.begin(), repo.tags.end(), name,
                                 [](const Tag& t, const std::string& n) { return t.name < n; });
      if (it != repo.tags.end() && it->name == name && gone_tags.insert(it->name).second) {
        add(Action{ActionKind::tag, reason, repo.name, it->name, Digest{}, 0});
      }
    };
    for (const std::string& t : repo_mark.removed_tags) {
      remove_tag(t, Reason::requested);
    }
    for (const std::string& t : repo_mark.orphan_signature_tags) {
      remove_tag(t, Reason::orphan_signature);
    }
    return gone_tags;
  }

  // Dead manifests: as the registry's own DELETE, each leaves every remaining tag's history,
  // then its revision link goes. Without collection (rm --no-gc) this is still done; their
  // blobs wait for the next gc. A history entry whose link could not be read as naming its
  // revision stays, with whatever it holds, as its finding says. Returns the revisions
  // removed.
  std::set<Digest> plan_dead_revisions(const Repository& repo, const RepoMark& repo_mark,
                                       const std::set<std::string_view>& gone_tags) {
    std::set<Digest> gone_revisions(repo_mark.dead.begin(), repo_mark.dead.end());
    if (!gone_revisions.empty()) {
      for (const Tag& tag : repo.tags) {
        if (gone_tags.count(tag.name) != 0) {
          continue;
        }
        for (const Link& l : tag.history) {
          if (!l.problem() && gone_revisions.count(link_digest(m_inv, repo, l)) != 0) {
            add_link(ActionKind::tag_history, Reason::untagged_manifest, repo, l.ref, &tag.name);
          }
        }
      }
    }
    for (const Digest& d : repo_mark.dead) {
      add_link(ActionKind::revision, Reason::untagged_manifest, repo, ref_in(repo, d));
    }
    return gone_revisions;
  }

  // A link is dangling only where its blob is known to be absent: not while something in
  // the repository could not be read, nor when the blob's directory could not be examined.
  bool known_dangling(const Repository& repo, const Link& l) const {
    return l.dangling() && !repo.uncertain && !blob_unknown(m_inv, link_digest(m_inv, repo, l));
  }

  // Revision links naming no blob; adds them to `gone_revisions`.
  void plan_dangling_revisions(const Repository& repo, std::set<Digest>& gone_revisions) {
    for (const Link& rev : repo.revisions) {
      if (rev.problem() || !known_dangling(repo, rev)) {
        continue;
      }
      if (young(rev.mtime)) {
        keep_young_link(ActionKind::revision, Reason::dangling_link, repo, rev);
        continue;
      }
      if (gone_revisions.insert(link_digest(m_inv, repo, rev)).second) {
        add_link(ActionKind::revision, Reason::dangling_link, repo, rev.ref);
      }
    }
  }

  // Layer links no mark keeps, and those naming no blob.
  void plan_layer_links(const Repository& repo, const RepoMark& repo_mark) {
    if (repo_mark.keeps_all_layers) {
      return;
    }
    for (const Link& l : repo.layers) {
      if (l.problem()) {
        continue;
      }
      if (!repo_mark.keeps(m_inv, repo, l)) {
        add_link(ActionKind::layer_link, Reason::unreferenced_layer_link, repo, l.ref);
      } else if (known_dangling(repo, l)) {
        if (young(l.mtime)) {
          keep_young_link(ActionKind::layer_link, Reason::dangling_link, repo, l);
        } else {
          add_link(ActionKind::layer_link, Reason::dangling_link, repo, l.ref);
        }
      }
    }
  }

  // Stale uploads; returns how many stay.
  std::size_t plan_uploads(const Repository& repo) {
    std::size_t uploads_left = 0;
    for (const Upload& u : repo.uploads) {
      bool is_young = false;
      if (!stale(u, is_young)) {
        ++uploads_left;
        continue;
      }
      Action purge{ActionKind::upload, Reason::stale_upload, repo.name, u.id, Digest{}, u.bytes};
      if (is_young) {
        keep_young(purge);
        ++uploads_left;
      } else {
        add(purge);
      }
    }
    return uploads_left;
  }

  void plan_repository(const Repository& repo, const RepoMark& repo_mark) {
    if (repo_mark.removed) {
      remove_repository(repo, Reason::requested);
      return;
    }
    if (repo.out_of_scope) {
      return;  // rm or prune named other repositories: nothing here moves
    }
    const std::size_t first = m_actions.size();
    const std::size_t first_link = m_links.size();
    std::set<std::string_view> gone_tags = plan_tags(repo, repo_mark);
    std::set<Digest> gone_revisions = plan_dead_revisions(repo, repo_mark, gone_tags);
    if (!m_options.collect) {
      return;
    }
    plan_dangling_revisions(repo, gone_revisions);
    plan_layer_links(repo, repo_mark);
    std::size_t uploads_left = plan_uploads(repo);
    std::size_t tags_left = repo.tags.size() - std::min(repo.tags.size(), gone_tags.size());
    std::size_t revisions_left = repo.revisions.size() - gone_revisions.size();
    if (m_options.remove_empty_repositories && tags_left == 0 && revisions_left == 0 &&
        uploads_left == 0 && !repo.uncertain && !repo.tags_uncertain &&
        m_troubled.count(repo.name) == 0) {
      if (any_young(repo)) {
        keep_young(
            Action{ActionKind::repository, Reason::empty_repository, repo.name, {}, Digest{}, 0});
        return;
      }
      // Its links were planned above; removing the directories covers them, so drop those.
      m_actions.erase(
          std::remove_if(m_actions.begin() + static_cast<std::ptrdiff_t>(first), m_actions.end(),
                         [&](const Action& a) { return a.kind != ActionKind::tag; }),
          m_actions.end());
      m_links.erase(m_links.begin() + static_cast<std::ptrdiff_t>(first_link), m_links.end());
      remove_repository(repo, Reason::empty_repository);
    }
  }

  void plan_tidy() {
    // Leftovers inside something already planned, or inside another leftover, are covered.
    // The leftovers are sorted by path, so those at or below a directory are one run of them.
    const std::vector<Leftover>& left = m_inv.leftovers;
    std::vector<bool> covered(left.size(), false);
    auto cover = [&](const std::string& dir) {
      auto it =
          std::lower_bound(left.begin(), left.end(), dir,
                           [](const Leftover& l, const std::string& d) { return l.path < d; });
      for (; it != left.end() && it->path.starts_with(dir); ++it) {
        if (layout::is_at_or_below(it->path, dir)) {
          covered[static_cast<std::size_t>(it - left.begin())] = true;
        }
      }
    };
    for (const Action& a : m_actions) {  // a removed repository's own directory too
      cover(a.path());
    }
    for (const Repository& r : m_inv.repositories) {
      if (r.out_of_scope) {
        cover(layout::repo_dir(r.name));  // rm or prune named other repositories
      }
    }
    for (std::size_t i = 0; i < left.size(); ++i) {
      const Leftover& l = left[i];
      if (covered[i]) {
        continue;
      }
      Reason reason = Reason::empty_directory;
      switch (l.kind) {
        case Leftover::Kind::temp_file:
          if (m_options.now - l.mtime < m_options.temp_grace) {
            continue;
          }
          reason = Reason::temp_leftover;
          break;
        case Leftover::Kind::empty_blob_prefix:
          reason = Reason::empty_blob_prefix;
          break;
        case Leftover::Kind::empty_dir:
        case Leftover::Kind::empty_tag_dir:
          break;
      }
      if (l.kind == Leftover::Kind::empty_blob_prefix && m_inv.keep_all_blobs) {
        continue;
      }
      Action a{ActionKind::tidy, reason, l.repository, l.path, Digest{}, 0};
      if (young(l.mtime)) {
        keep_young(a);
        continue;
      }
      cover(l.path);
      add(a);
    }
  }

  const Inventory& m_inv;
  const MarkResult& m_marks;
  const PlanOptions& m_options;
  const Grace& m_grace;
  std::set<std::string> m_troubled;
  Plan m_plan;
  // Every kind but links and blobs, and the links, until run() ends. A deque grows without
  // copying what it holds: a vector's doubling would hold two copies of a million actions.
  std::deque<Action> m_actions;
  std::deque<LinkAction> m_links;
};

}  // namespace

std::vector<std::uint32_t> collectable_blobs(const Inventory& inventory, const MarkResult& marks,
                                             const Grace& grace) {
  std::vector<std::uint32_t> out;
  // Unknown references (an unreadable manifest, issue 31 cause 13): nothing is unreferenced.
  if (inventory.keep_all_blobs || marks.keep_all_blobs) {
    return out;
  }
  for (std::size_t i = 0; i < inventory.blobs.size(); ++i) {
    const Blob& b = inventory.blobs[i];
    // Only a blob whose data was seen: an unexamined one decides nothing (rule 1).
    if (!marks.blob_marked[i] && b.has_data() && !grace.young(b.mtime)) {
      out.push_back(static_cast<std::uint32_t>(i));
    }
  }
  return out;
}

Plan make_plan(const Inventory& inventory, const MarkResult& marks,
               const std::vector<Finding>& findings, const PlanOptions& options,
               const Grace& grace) {
  return Planner(inventory, marks, findings, options, grace).run();
}

Plan make_repair_plan(const Inventory& inventory, std::deque<LinkAction> links,
                      const std::vector<std::uint32_t>& corrupt, std::int64_t made_at) {
  std::sort(links.begin(), links.end(), [&](const LinkAction& a, const LinkAction& b) {
    return std::make_tuple(a.kind, a.repository->name, a.tag != nullptr ? *a.tag : std::string(),
                           ref_digest(inventory.blobs.data(), *a.repository, a.ref)) <
           std::make_tuple(b.kind, b.repository->name, b.tag != nullptr ? *b.tag : std::string(),
                           ref_digest(inventory.blobs.data(), *b.repository, b.ref));
  });
  std::deque<Action> moves;
  for (std::uint32_t b : corrupt) {
    const Blob& blob = inventory.blobs[b];
    moves.push_back(
        Action{ActionKind::quarantine, Reason::corrupt_blob, {}, {}, blob.digest, blob.size});
  }
  std::sort(moves.begin(), moves.end(),
            [](const Action& a, const Action& b) { return a.digest < b.digest; });
  Plan plan;
  plan.made_at = made_at;
  plan.actions = ActionList(std::move(moves), std::move(links), inventory.blobs, {});
  count(plan);
  return plan;
}

std::vector<std::uint32_t> young_blobs_kept(const Inventory& inventory, const MarkResult& marks,
                                            const MarkResult& ageless, const Grace& grace) {
  std::vector<std::uint32_t> without = collectable_blobs(inventory, ageless, Grace());
  std::vector<std::uint32_t> with = collectable_blobs(inventory, marks, grace);
  std::vector<std::uint32_t> out;
  std::set_difference(without.begin(), without.end(), with.begin(), with.end(),
                      std::back_inserter(out));
  return out;
}

std::vector<Action> kept_for_being_young(const Inventory& inventory, const MarkResult& marks,
                                         const MarkResult& ageless, const Plan& plan,
                                         const Grace& grace) {
  std::vector<Action> out = plan.kept_young;
  for (std::size_t r = 0; r < inventory.repositories.size(); ++r) {
    const Repository& repo = inventory.repositories[r];
    const RepoMark& with = marks.repositories[r];
    const RepoMark& without = ageless.repositories[r];
    if (with.removed || with.keeps_all_layers || without.keeps_all_layers) {
      continue;  // removed whole, or every layer kept whatever the age
    }
    for (const Link& l : repo.layers) {
      if (!l.problem() && with.keeps(inventory, repo, l) && !without.keeps(inventory, repo, l)) {
        out.push_back(Action{ActionKind::layer_link,
                             Reason::unreferenced_layer_link,
                             repo.name,
                             {},
                             link_digest(inventory, repo, l),
                             0});
      }
    }
    for (const Digest& d : without.dead) {
      if (!contains(with.dead, d)) {
        out.push_back(Action{ActionKind::revision, Reason::untagged_manifest, repo.name, {}, d, 0});
      }
    }
  }
  for (std::uint32_t b : young_blobs_kept(inventory, marks, ageless, grace)) {
    const Blob& blob = inventory.blobs[b];
    out.push_back(
        Action{ActionKind::blob, Reason::unreferenced_blob, {}, {}, blob.digest, blob.size});
  }
  std::sort(out.begin(), out.end(), [](const Action& a, const Action& b) {
    return std::tie(a.kind, a.repository, a.name, a.digest) <
           std::tie(b.kind, b.repository, b.name, b.digest);
  });
  return out;
}

}  // namespace regsweep
