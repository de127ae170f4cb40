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
#include <set>
#include <tuple>

#include "regsweep/layout.hpp"

namespace regsweep {

std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::tag:
      return "tag";
    case ActionKind::tag_history:
      return "tag-history";
    case ActionKind::revision:
      return "manifest-revision";
    case ActionKind::layer_link:
      return "layer-link";
    case ActionKind::repository:
      return "repository";
    case ActionKind::upload:
      return "upload";
    case ActionKind::tidy:
      return "tidy";
    case ActionKind::blob:
      return "blob";
  }
  return "unknown";
}

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::requested:
      return "requested";
    case Reason::orphan_signature:
      return "orphan-signature";
    case Reason::untagged_manifest:
      return "untagged-manifest";
    case Reason::unreferenced_layer_link:
      return "unreferenced-layer-link";
    case Reason::dangling_link:
      return "dangling-link";
    case Reason::empty_repository:
      return "empty-repository";
    case Reason::stale_upload:
      return "stale-upload";
    case Reason::empty_directory:
      return "empty-directory";
    case Reason::temp_leftover:
      return "temp-leftover";
    case Reason::empty_blob_prefix:
      return "empty-blob-prefix";
    case Reason::unreferenced_blob:
      return "unreferenced-blob";
  }
  return "unknown";
}

namespace {

// Every ancestor of `repo_path` below `repositories/`, deepest first: a removed repository's
// namespaces go when nothing else is left in them.
std::vector<std::string> repo_ancestors(const std::string& repo) {
  std::vector<std::string> out;
  std::string name = repo;
  while (!name.empty()) {
    out.push_back(layout::repo_dir(name));
    std::size_t slash = name.rfind('/');
    name = slash == std::string::npos ? std::string() : name.substr(0, slash);
  }
  return out;
}

}  // namespace

std::string Action::path() const {
  std::string repo(repository);
  switch (kind) {
    case ActionKind::tag:
      return layout::tag_dir(repo, std::string(name));
    case ActionKind::tag_history:
      return layout::tag_index_entry_dir(repo, std::string(name), digest);
    case ActionKind::revision:
      return layout::revision_dir(repo, digest);
    case ActionKind::layer_link:
      return layout::layer_link_dir(repo, digest);
    case ActionKind::repository:
      return layout::repo_dir(repo);
    case ActionKind::upload:
      return layout::upload_dir(repo, std::string(name));
    case ActionKind::tidy:
      return std::string(name);
    case ActionKind::blob:
      return layout::blob_dir(digest);
  }
  return {};
}

std::vector<std::string> Action::then_if_empty() const {
  std::string repo(repository);
  switch (kind) {
    case ActionKind::tag_history:
      return {layout::tag_index_dir(repo, std::string(name)),
              layout::join(layout::tag_dir(repo, std::string(name)), layout::k_index)};
    case ActionKind::repository:
      return repo_ancestors(repo);
    case ActionKind::upload:
      return {layout::uploads_dir(repo)};
    case ActionKind::tidy: {
      std::string_view leftover = name;
      std::string_view parent = leftover.substr(0, leftover.rfind('/'));
      if (reason == Reason::temp_leftover) {
        return {std::string(parent)};  // the link or blob directory, if that was all it held
      }
      if (reason != Reason::empty_directory) {
        return {};
      }
      // An empty blob or tag history directory, as an interrupted sweep leaves it: clean up
      // after it as the blob or tag_history action would have, so a second run ends where an
      // uninterrupted one does.
      std::string blobs = std::string(layout::k_blobs_dir) + "/";
      if (leftover.substr(0, blobs.size()) == blobs &&
          std::count(leftover.begin(), leftover.end(), '/') == 3) {
        return {std::string(parent)};
      }
      std::string history =
          "/" + std::string(layout::k_index) + "/" + std::string(layout::k_algorithm);
      if (parent.size() > history.size() &&
          parent.substr(parent.size() - history.size()) == history &&
          parent.find("/_manifests/tags/") != std::string_view::npos) {
        return {std::string(parent), std::string(parent.substr(0, parent.rfind('/')))};
      }
      return {};
    }
    case ActionKind::blob:
      return {layout::blob_prefix_dir(digest.hex().substr(0, 2))};
    case ActionKind::tag:
    case ActionKind::revision:
    case ActionKind::layer_link:
      return {};
  }
  return {};
}

namespace {

class Planner {
 public:
  Planner(const Inventory& inventory, const MarkResult& marks, const std::vector<Finding>& findings,
          const PlanOptions& options)
      : m_inv(inventory), m_marks(marks), m_options(options) {
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
    // Blobs come last in deletion order, already in digest order.
    static_assert(ActionKind::blob > ActionKind::tidy);
    std::vector<std::uint32_t> blobs;
    if (m_options.collect) {
      blobs = collectable_blobs(m_inv, m_marks, m_options.young_after);
    }
    m_plan.actions = ActionList(std::move(m_actions), m_inv.blobs, std::move(blobs));
    count();
    return std::move(m_plan);
  }

 private:
  void add(Action a) { m_actions.push_back(a); }

  // The plan's totals, from its final actions.
  void count() {
    Plan& p = m_plan;
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
        case ActionKind::blob:
          ++p.blobs;
          p.blob_bytes += a.bytes;
          break;
      }
      p.dangling_links += a.reason == Reason::dangling_link ? 1 : 0;
    }
  }

  bool young(std::int64_t mtime) const {
    return m_options.young_after && mtime > *m_options.young_after;
  }

  bool any_young(const Repository& repo) const {
    auto link_young = [&](const Link& l) { return young(l.mtime); };
    return std::any_of(repo.layers.begin(), repo.layers.end(), link_young) ||
           std::any_of(repo.revisions.begin(), repo.revisions.end(), link_young) ||
           std::any_of(repo.tags.begin(), repo.tags.end(),
                       [&](const Tag& t) { return young(t.current_mtime); });
  }

  bool stale(const Upload& u) const {
    if (!m_options.purge_uploads_older_than || u.problem) {
      return false;
    }
    if (young(u.newest_mtime) || (u.started && young(*u.started))) {
      return false;  // being written, or started within the grace period
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

  void plan_repository(const Repository& repo, const RepoMark& rm) {
    if (rm.removed) {
      remove_repository(repo, Reason::requested);
      return;
    }
    const std::size_t first = m_actions.size();
    std::set<std::string_view> gone_tags;
    auto remove_tag = [&](const std::string& name, Reason reason) {
      // The name as the inventory holds it: the action points into the inventory.
      auto it = std::lower_bound(repo.tags.begin(), repo.tags.end(), name,
                                 [](const Tag& t, const std::string& n) { return t.name < n; });
      if (it != repo.tags.end() && it->name == name && gone_tags.insert(it->name).second) {
        add(Action{ActionKind::tag, reason, repo.name, it->name, Digest{}, 0});
      }
    };
    for (const std::string& t : rm.removed_tags) {
      remove_tag(t, Reason::requested);
    }
    for (const std::string& t : rm.orphan_signature_tags) {
      remove_tag(t, Reason::orphan_signature);
    }
    // Without collection (rm --no-gc), what a removed tag alone reached is still unlinked,
    // as the registry's own DELETE would; its blobs wait for the next gc.
    std::set<Digest> gone_revisions(rm.dead.begin(), rm.dead.end());
    // As the registry's own DELETE: the manifest leaves every tag's history, then goes.
    if (!gone_revisions.empty()) {
      for (const Tag& tag : repo.tags) {
        if (gone_tags.count(tag.name) != 0) {
          continue;
        }
        for (const Link& l : tag.history) {
          const Digest& d = link_digest(m_inv, repo, l);
          if (gone_revisions.count(d) != 0) {
            add(Action{ActionKind::tag_history, Reason::untagged_manifest, repo.name, tag.name, d,
                       0});
          }
        }
      }
    }
    for (const Digest& d : rm.dead) {
      add(Action{ActionKind::revision, Reason::untagged_manifest, repo.name, {}, d, 0});
    }
    if (!m_options.collect) {
      return;
    }
    bool blobs_known = m_inv.blobs_complete && !repo.uncertain;
    if (blobs_known) {
      for (const Link& rev : repo.revisions) {
        if (rev.problem() || young(rev.mtime) || !rev.dangling()) {
          continue;
        }
        const Digest& d = link_digest(m_inv, repo, rev);
        if (gone_revisions.insert(d).second) {
          add(Action{ActionKind::revision, Reason::dangling_link, repo.name, {}, d, 0});
        }
      }
    }
    if (!rm.keeps_all_layers) {
      for (const Link& l : repo.layers) {
        if (l.problem()) {
          continue;
        }
        const Digest& d = link_digest(m_inv, repo, l);
        if (!rm.keeps(m_inv, repo, l)) {
          add(Action{ActionKind::layer_link, Reason::unreferenced_layer_link, repo.name, {}, d, 0});
        } else if (blobs_known && !young(l.mtime) && l.dangling()) {
          add(Action{ActionKind::layer_link, Reason::dangling_link, repo.name, {}, d, 0});
        }
      }
    }
    std::size_t uploads_left = 0;
    for (const Upload& u : repo.uploads) {
      if (stale(u)) {
        add(Action{ActionKind::upload, Reason::stale_upload, repo.name, u.id, Digest{}, u.bytes});
      } else {
        ++uploads_left;
      }
    }
    std::size_t tags_left = repo.tags.size() - std::min(repo.tags.size(), gone_tags.size());
    std::size_t revisions_left = repo.revisions.size() - gone_revisions.size();
    if (m_options.remove_empty_repositories && tags_left == 0 && revisions_left == 0 &&
        uploads_left == 0 && !repo.uncertain && !repo.tags_uncertain &&
        m_troubled.count(repo.name) == 0 && !any_young(repo)) {
      // Its links were planned above; removing the directories covers them, so drop those.
      m_actions.erase(
          std::remove_if(m_actions.begin() + static_cast<std::ptrdiff_t>(first), m_actions.end(),
                         [&](const Action& a) { return a.kind != ActionKind::tag; }),
          m_actions.end());
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
      for (; it != left.end() && it->path.compare(0, dir.size(), dir) == 0; ++it) {
        if (it->path.size() == dir.size() || it->path[dir.size()] == '/') {
          covered[static_cast<std::size_t>(it - left.begin())] = true;
        }
      }
    };
    for (const Action& a : m_actions) {  // a removed repository's own directory too
      cover(a.path());
    }
    for (std::size_t i = 0; i < left.size(); ++i) {
      const Leftover& l = left[i];
      if (covered[i] || young(l.mtime)) {
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
      cover(l.path);
      add(Action{ActionKind::tidy, reason, l.repository, l.path, Digest{}, 0});
    }
  }

  const Inventory& m_inv;
  const MarkResult& m_marks;
  const PlanOptions& m_options;
  std::set<std::string> m_troubled;
  Plan m_plan;
  // Every kind but blobs, until run() ends. A deque grows without copying what it holds: a
  // vector's doubling would hold two copies of a million actions for a moment.
  std::deque<Action> m_actions;
};

}  // namespace

std::vector<std::uint32_t> collectable_blobs(const Inventory& inventory, const MarkResult& marks,
                                             std::optional<std::int64_t> young_after) {
  std::vector<std::uint32_t> out;
  if (inventory.keep_all_blobs) {
    return out;
  }
  for (std::size_t i = 0; i < inventory.blobs.size(); ++i) {
    const Blob& b = inventory.blobs[i];
    if (!marks.blob_marked[i] && !(young_after && b.mtime > *young_after)) {
      out.push_back(static_cast<std::uint32_t>(i));
    }
  }
  return out;
}

Plan make_plan(const Inventory& inventory, const MarkResult& marks,
               const std::vector<Finding>& findings, const PlanOptions& options) {
  return Planner(inventory, marks, findings, options).run();
}

}  // namespace regsweep
