// Revalidation before each phase of a sweep.
//
// 1. Directories the sweep itself deleted from since the last check are taken anew (their
//    time moved because of the sweep); those it removed are dropped.
// 2. Every other watched directory is stat'ed again: a changed time, or a directory gone or
//    appeared where it was not, is a change in its repository (or, above any repository, a
//    change in the tree).
// 3. With delete_untagged, each watched tag's current link likewise.
// 4. Actions of changed repositories are skipped; after any change, blob deletions and
//    blob-side tidying too.

#include "store/fs/revalidate.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"

namespace regsweep {

namespace {

struct Seen {
  std::int64_t mtime_ns = 0;
  std::uint64_t nlink = 0;
};

// The time and link count of `path` below `v2_fd`, in one call: there are thousands to take
// before every phase. fstatat follows a symbolic link swapped in above the last component
// since the scan; that can only show another time, which counts as a change and keeps more.
Result<Seen> look(int v2_fd, const std::string& path) {
  struct stat st {};
  if (::fstatat(v2_fd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Error{path, errno};
  }
  return Seen{static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
              static_cast<std::uint64_t>(st.st_nlink)};
}

}  // namespace

Revalidator::Revalidator(int v2_fd, const Inventory& scanned, WatchedDirs watched,
                         std::vector<std::size_t> watch_tags_of)
    : m_v2(v2_fd),
      m_scanned(scanned),
      m_watched(std::move(watched)),
      m_tag_repos(std::move(watch_tags_of)) {}

std::set<std::string> Revalidator::own_changes(ActionKind next, const Plan& plan,
                                               const std::vector<std::uint8_t>& done) {
  std::set<std::string> touched;  // directories an entry was removed from
  std::size_t end = m_processed;
  while (end < plan.actions.size() && plan.actions[end].kind < next) {
    ++end;
  }
  for (std::size_t i = m_processed; i < end; ++i) {
    if (done[i] == 0) {
      continue;
    }
    const Action a = plan.actions[i];
    // Link deletions (by far the most) only touch their repository's link directory; nothing
    // watched lies in what they remove.
    if (a.kind == ActionKind::revision || a.kind == ActionKind::layer_link) {
      std::string_view repo = a.repository;
      if (repo != m_last_link_repo || a.kind != m_last_link_kind) {
        m_last_link_repo = repo;
        m_last_link_kind = a.kind;
        touched.insert(a.kind == ActionKind::revision ? layout::revisions_dir(repo)
                                                      : layout::layers_dir(repo));
      }
      continue;
    }
    if (a.kind == ActionKind::tag_history || a.kind == ActionKind::blob) {
      continue;  // below a tag's index, or a blob prefix: neither is watched
    }
    std::string path = a.path();
    touched.insert(layout::parent(path));
    if (a.kind == ActionKind::repository) {
      for (std::string_view own : {layout::k_manifests, layout::k_layers, layout::k_uploads}) {
        m_gone.insert(layout::join(path, own));
      }
      touched.insert(path);
    } else {
      m_gone.insert(path);
    }
  }
  m_processed = end;
  return touched;
}

bool Revalidator::removed(const std::string& path) const {
  for (std::string p = path; !p.empty(); p = layout::parent(p)) {
    if (m_gone.count(p) != 0) {
      return true;
    }
  }
  return false;
}

void Revalidator::check_watched(const std::set<std::string>& touched) {
  std::vector<Watched> kept;
  kept.reserve(m_watched.size());
  for (Watched& w : m_watched) {
    if (removed(w.path)) {
      continue;
    }
    auto info = look(m_v2, w.path);
    if (touched.count(w.path) != 0) {
      if (info) {
        w.mtime_ns = info->mtime_ns;  // the sweep's own deletion moved it
        w.nlink = info->nlink;
        kept.push_back(std::move(w));
      }
      continue;
    }
    // Everything else must be as the scan saw it.
    if (!info) {
      m_changes.record(
          w.path, layout::repository_of(w.path),
          info.error().sys_errno == ENOENT ? "was removed" : "can no longer be examined");
      continue;
    }
    if (info->mtime_ns != w.mtime_ns || info->nlink != w.nlink) {
      m_changes.record(w.path, layout::repository_of(w.path), "changed");
    }
    kept.push_back(std::move(w));
  }
  m_watched = std::move(kept);
}

void Revalidator::check_tags() {
  for (std::size_t r : m_tag_repos) {
    const Repository& repo = m_scanned.repositories[r];
    if (m_changes.repositories().count(repo.name) != 0) {
      continue;
    }
    for (const Tag& tag : repo.tags) {
      if (!tag.has_current) {
        continue;
      }
      std::string path = layout::tag_current_link(repo.name, tag.name);
      if (removed(path)) {
        continue;  // the sweep removed the tag itself
      }
      auto info = look(m_v2, path);
      if (!info || info->mtime_ns != tag.current_mtime_ns) {
        m_changes.record(path, repo.name, info ? "moved" : "was removed");
        break;
      }
    }
  }
}

void Revalidator::before_phase(ActionKind next, const Plan& plan,
                               const std::vector<std::uint8_t>& done,
                               std::vector<std::uint8_t>& skip) {
  // 1. What the sweep itself changed in the phases since the last check: the actions before
  //    the first of kind `next` (the plan is in kind order).
  std::set<std::string> touched = own_changes(next, plan, done);
  // 2. Every other watched directory must be as the scan saw it.
  check_watched(touched);
  // 3. Tags that decide which manifests are dead.
  check_tags();
  // 4. Skip what depends on a change.
  m_changes.skip_dependents(plan, done, skip);
}

std::vector<Finding> Revalidator::take_findings() {
  return m_changes.take_findings();
}

}  // namespace regsweep
