// The scan of repositories/: a task per directory; each repository's links, tags and uploads.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <utility>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/timeutil.hpp"
#include "scanner.hpp"

namespace regsweep::scan_detail {

void Scanner::scan_own_dir(int dir_fd, const fs::DirEntry& e, const std::string& epath,
                           Repository& repo) {
  const std::string& name = repo.name;
  if (!layout::is_repo_marker(e.name)) {
    finding(FindingKind::unknown_entry, Severity::error, epath, name,
            "'" + epath + "' is not part of the registry layout; ignored");
    return;
  }
  if (name.empty()) {
    finding(FindingKind::unknown_entry, Severity::error, epath, "",
            "'" + epath + "' belongs to no repository; ignored");
    return;
  }
  if (e.type == fs::EntryType::symlink) {
    if (e.name == layout::k_manifests) {
      repo.uncertain = true;
      repo.tags_uncertain = true;
      m_keep_all.store(true);
    } else if (e.name == layout::k_layers) {
      repo.uncertain = true;
    }
    finding(FindingKind::symlink, Severity::error, epath, name,
            "'" + epath + "' is a symbolic link; not followed, what it holds is kept" +
                (e.name == layout::k_manifests ? " and no blob is deleted" : ""));
    return;
  }
  if (e.type != fs::EntryType::directory) {
    finding(FindingKind::unknown_entry, Severity::error, epath, name,
            "'" + epath + "' is not a directory; ignored");
    return;
  }
  auto sub = fs::open_dir(dir_fd, e.name);
  if (!sub) {
    if (e.name == layout::k_manifests) {
      repo.uncertain = true;
      repo.tags_uncertain = true;
      keep_all_blobs(epath, name, unopened(sub.error()));
    } else {
      repo.uncertain = true;
      finding(FindingKind::unreadable, Severity::error, epath, name,
              cannot("open directory", epath, sub.error()));
    }
    return;
  }
  std::optional<std::uint64_t> nlink = 1;
  if (e.name != layout::k_uploads) {
    nlink = watch(sub->get(), epath);
    if (!nlink) {
      repo.uncertain = true;
      repo.tags_uncertain = true;
      return;
    }
  }
  if (e.name == layout::k_manifests) {
    repo.has_manifests = true;
    scan_manifests(sub->get(), *nlink, repo);
  } else if (e.name == layout::k_layers) {
    repo.has_layers = true;
    scan_layers(sub->get(), repo);
  } else {
    repo.has_uploads = true;
    scan_uploads(sub->get(), repo);
  }
}

void Scanner::descend(int dir_fd, const fs::DirEntry& e, const std::string& epath, Repository& repo,
                      bool is_repo, tbb::task_group& group) {
  const std::string& name = repo.name;
  if (e.type == fs::EntryType::symlink) {
    // A symlinked repository or namespace could hold manifests that reference any blob.
    if (is_repo) {
      repo.uncertain = true;
    }
    m_keep_all.store(true);
    finding(FindingKind::symlink, Severity::error, epath, name,
            "'" + epath +
                "' is a symbolic link; not followed, and since it may hold "
                "repositories no blob is deleted");
    return;
  }
  if (e.type != fs::EntryType::directory) {
    finding(FindingKind::unknown_entry, Severity::error, epath, name,
            "'" + epath + "' is not part of the registry layout; ignored");
    return;
  }
  if (!layout::is_valid_repo_component(e.name)) {
    finding(FindingKind::invalid_name, Severity::error, epath, name,
            "'" + epath + "' is not a valid repository name component; scanned anyway");
  }
  auto sub = fs::open_dir(dir_fd, e.name);
  std::string child = name.empty() ? e.name : layout::join(name, e.name);
  if (!sub) {
    keep_all_blobs(epath, child, unopened(sub.error()));
    return;
  }
  group.run([this, fd = std::make_shared<fs::Fd>(std::move(*sub)), child, &group]() {
    walk(std::move(*fd), child, group);
  });
}

void Scanner::walk(fs::Fd dir, const std::string& name, tbb::task_group& group) {
  std::string path =
      name.empty() ? std::string(layout::k_repositories_dir) : layout::repo_dir(name);
  if (static_cast<std::size_t>(std::count(name.begin(), name.end(), '/')) >= k_max_repo_depth) {
    keep_all_blobs(path, name,
                   "is more than " + std::to_string(k_max_repo_depth) +
                       " directories deep, deeper than a repository name can go (a file system "
                       "with a cycle?); not walked further");
    return;
  }
  if (name.size() > k_max_repo_name) {
    keep_all_blobs(path, name,
                   "is a path of " + std::to_string(name.size()) +
                       " characters below repositories/, longer than a repository name can be ("
                       "at most " +
                       std::to_string(k_max_repo_name) +
                       "; a file system with a cycle?); not walked further");
    return;
  }
  auto nlink = watch(dir.get(), path);
  if (!nlink) {
    return;
  }
  auto entries = fs::list_dir(dir.get(), path);
  if (!entries) {
    keep_all_blobs(path, name, "cannot be listed (" + entries.error().reason() + ")");
    return;
  }
  if (!listed_whole(*nlink, *entries, path, name)) {
    m_keep_all.store(true);  // a repository may be missing: none of its blobs may go
    return;
  }
  std::sort(entries->begin(), entries->end(),
            [](const fs::DirEntry& a, const fs::DirEntry& b) { return a.name < b.name; });
  bool is_repo = std::any_of(entries->begin(), entries->end(),
                             [](const fs::DirEntry& e) { return layout::is_repo_marker(e.name); });
  Repository repo;
  repo.name = name;
  for (const fs::DirEntry& e : *entries) {
    std::string epath = layout::join(path, e.name);
    if (layout::is_reserved(e.name)) {
      scan_own_dir(dir.get(), e, epath, repo);
    } else {
      descend(dir.get(), e, epath, repo, is_repo, group);
    }
  }
  if (is_repo && !name.empty()) {
    m_repos.local().push_back(std::move(repo));
    progress().advance();
  }
}

std::optional<std::pair<fs::Fd, std::vector<fs::DirEntry>>> Scanner::open_links(
    int parent_fd, const std::string& apath, const std::string& repo, bool missing_ok,
    bool& unreadable, LinkDir where) {
  auto dir = fs::open_dir(parent_fd, layout::k_algorithm);
  if (!dir) {
    if (dir.error().sys_errno == ENOENT && missing_ok) {
      return std::nullopt;
    }
    unreadable = true;
    finding(dir.error().sys_errno == ELOOP ? FindingKind::symlink : FindingKind::unreadable,
            Severity::error, apath, repo, cannot("open directory", apath, dir.error()));
    return std::nullopt;
  }
  std::optional<std::uint64_t> nlink = 1;
  if (where != LinkDir::tag_history) {
    nlink = watch(dir->get(), apath);  // a revision or layer link added after the scan
    if (!nlink) {
      unreadable = true;
      return std::nullopt;
    }
  }
  auto entries = fs::list_dir(dir->get(), apath);
  if (!entries) {
    unreadable = true;
    finding(FindingKind::unreadable, Severity::error, apath, repo,
            cannot("list directory", apath, entries.error()));
    return std::nullopt;
  }
  if (!listed_whole(*nlink, *entries, apath, repo)) {
    unreadable = true;
    return std::nullopt;
  }
  return std::make_pair(std::move(*dir), std::move(*entries));
}

std::vector<Link> Scanner::read_links(int parent_fd, const std::string& path, Repository& owner,
                                      bool& unreadable, LinkSource source) {
  const std::string& repo = owner.name;
  const LinkDir where = source.where;
  std::string apath = layout::join(path, layout::k_algorithm);
  auto opened = open_links(parent_fd, apath, repo, true, unreadable, where);
  if (!opened) {
    return {};
  }
  auto& [dir, entries] = *opened;
  // Each entry is read on its own: a repository with tens of thousands of layers must not
  // be read one link at a time while a cold disk could serve many at once.
  std::atomic<bool> any_unreadable{false};
  std::vector<Link> found(entries.size());
  std::vector<std::uint8_t> keep(entries.size(), 0);
  // What each kept link's directory names. Turned into blob indices after the reads, in one
  // loop whose lookups do not wait on each other: each waits on a cache miss otherwise.
  std::vector<Digest> named(entries.size());
  auto one = [&](std::size_t i) {
    const fs::DirEntry& e = entries[i];
    auto epath = [&] { return layout::join(apath, e.name); };  // for reports only
    auto digest = parse_hex(e.name);
    if (e.type == fs::EntryType::symlink) {
      any_unreadable.store(true);
      finding(FindingKind::symlink, Severity::error, epath(), repo,
              "'" + epath() + "' is a symbolic link; not followed, kept");
      return;
    }
    Link& link = found[i];
    if (e.type != fs::EntryType::directory || !digest) {
      if (e.type == fs::EntryType::directory && parse_hex(lower(e.name))) {
        // Upper-case hex: the registry cannot have written it; keep what it names.
        named[i] = *parse_hex(lower(e.name));
        link.set_problem();
        keep[i] = 1;
      }
      finding(FindingKind::unknown_entry, Severity::error, epath(), repo,
              "'" + epath() + "' is not a link directory; kept");
      return;
    }
    if (source.from_names) {
      // Taken from its directory's name, unexamined (not even its time, which stays 0): it is
      // looked at only if a plan might delete it or its blob (verify_layer_links), or, in a
      // tag's history, only if a plan might delete it (verify_tag_history).
      named[i] = *digest;
      link.set_unverified(true);
      keep[i] = 1;
      return;
    }
    HexLeaf rel(e.name, layout::k_link);
    LinkRead r = read_link(dir.get(), rel.c_str());
    auto lpath = [&] { return layout::join(epath(), layout::k_link); };
    if (!r.exists) {
      // What the registry's own DELETE leaves behind: the link file goes, its directory
      // stays. Not a link; the empty directory is untidy, not a problem.
      if (!inspect_incomplete(dir.get(), e.name, epath(), repo)) {
        // Something there besides leftovers: perhaps the very link the open did not find.
        any_unreadable.store(true);
        finding(FindingKind::unknown_entry, Severity::error, epath(), repo,
                "link directory '" + epath() + "' has no link file but holds other entries; kept");
      }
      return;
    }
    named[i] = *digest;
    link.mtime = static_cast<std::uint32_t>(std::clamp<std::int64_t>(r.mtime, 0, UINT32_MAX));
    seen(r.mtime_ts, lpath);
    record_read(r, *digest, where, link, owner, m_owner_mutex, lpath,
                [&](FindingKind kind, std::string message) {
                  finding(kind, Severity::error, lpath(), repo, std::move(message));
                });
    keep[i] = 1;
  };
  for_each_index(entries.size(), 64, one);
  if (any_unreadable.load()) {
    unreadable = true;
  }
  return kept_links(owner, found, keep, named);
}

std::vector<Link> Scanner::kept_links(Repository& owner, std::vector<Link>& found,
                                      const std::vector<std::uint8_t>& keep,
                                      const std::vector<Digest>& named) {
  std::vector<Link> links;
  links.reserve(static_cast<std::size_t>(std::count(keep.begin(), keep.end(), 1)));
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (keep[i] != 0) {
      found[i].ref = ref_of(owner, named[i]);
      links.push_back(found[i]);
    }
  }
  std::sort(links.begin(), links.end(), [](const Link& a, const Link& b) { return a.ref < b.ref; });
  return links;
}

std::uint32_t Scanner::ref_of(Repository& owner, const Digest& digest) {
  if (std::uint32_t i = blob_index(*m_inv, digest); i != k_no_blob) {
    return i;
  }
  std::lock_guard lock(m_owner_mutex);  // links of one directory are read in parallel
  owner.absent.push_back(digest);       // not shared between links: rare, and kept simple
  return Link::k_absent | static_cast<std::uint32_t>(owner.absent.size() - 1);
}

std::string Scanner::lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

void Scanner::report_strangers(int parent_fd, const std::string& path, const Repository& repo) {
  auto entries = fs::list_dir(parent_fd, path);
  if (!entries) {
    return;  // opening the algorithm directory reports it
  }
  for (const fs::DirEntry& e : *entries) {
    if (e.name == layout::k_algorithm && e.type == fs::EntryType::directory) {
      continue;
    }
    std::string epath = layout::join(path, e.name);
    finding(e.type == fs::EntryType::symlink ? FindingKind::symlink : FindingKind::unknown_entry,
            Severity::error, epath, repo.name,
            "'" + epath + "' is not part of the registry layout (" + describe_type(e.type) +
                "); kept, with its repository");
  }
}

std::string Scanner::describe_type(fs::EntryType type) {
  switch (type) {
    case fs::EntryType::file:
      return "a file";
    case fs::EntryType::directory:
      return "a directory: an unknown digest algorithm";
    case fs::EntryType::symlink:
      return "a symbolic link";
    case fs::EntryType::other:
      break;
  }
  return "a socket, FIFO or device";
}

void Scanner::scan_layers(int layers_fd, Repository& repo) {
  bool unreadable = false;
  std::string path = layout::join(layout::repo_dir(repo.name), layout::k_layers);
  report_strangers(layers_fd, path, repo);
  repo.layers =
      read_links(layers_fd, path, repo, unreadable,
                 LinkSource{.where = LinkDir::layers, .from_names = !m_options.read_layer_links});
  if (unreadable) {
    repo.uncertain = true;
  }
}

void Scanner::scan_manifests(int manifests_fd, std::uint64_t nlink, Repository& repo) {
  std::string mpath = layout::join(layout::repo_dir(repo.name), layout::k_manifests);
  auto entries = fs::list_dir(manifests_fd, mpath);
  if (!entries) {
    repo.uncertain = true;
    repo.tags_uncertain = true;
    keep_all_blobs(mpath, repo.name, "cannot be listed (" + entries.error().reason() + ")");
    return;
  }
  // `tags` left out of the listing would leave every revision untagged.
  if (!listed_whole(nlink, *entries, mpath, repo.name)) {
    repo.uncertain = true;
    repo.tags_uncertain = true;
    m_keep_all.store(true);
    return;
  }
  for (const fs::DirEntry& e : *entries) {
    std::string epath = layout::join(mpath, e.name);
    bool known = e.name == layout::k_revisions || e.name == layout::k_tags;
    if (!known) {
      finding(FindingKind::unknown_entry, Severity::error, epath, repo.name,
              "'" + epath + "' is not part of the registry layout; ignored");
      continue;
    }
    if (e.type != fs::EntryType::directory) {
      // A symlink or a file where revisions or tags belong: unknown references.
      repo.uncertain = true;
      repo.tags_uncertain = true;
      if (e.type == fs::EntryType::symlink) {
        m_keep_all.store(true);
        finding(FindingKind::symlink, Severity::error, epath, repo.name,
                "'" + epath + "' is a symbolic link; not followed, and no blob is deleted");
      } else {
        finding(FindingKind::unknown_entry, Severity::error, epath, repo.name,
                "'" + epath + "' is not a directory; the repository is kept whole");
      }
      continue;
    }
    auto sub = fs::open_dir(manifests_fd, e.name);
    if (!sub) {
      repo.uncertain = true;
      repo.tags_uncertain = true;
      keep_all_blobs(epath, repo.name, unopened(sub.error()));
      continue;
    }
    auto sub_nlink = watch(sub->get(), epath);
    if (!sub_nlink) {
      repo.uncertain = true;
      repo.tags_uncertain = true;
      continue;
    }
    if (e.name == layout::k_revisions) {
      report_strangers(sub->get(), epath, repo);
      bool unreadable = false;
      repo.revisions =
          read_links(sub->get(), epath, repo, unreadable, LinkSource{.where = LinkDir::revisions});
      if (unreadable) {
        repo.uncertain = true;
        m_keep_all.store(true);
      }
    } else {
      scan_tags(sub->get(), *sub_nlink, repo);
    }
  }
}

}  // namespace regsweep::scan_detail
