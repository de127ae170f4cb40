// The scan of a repository's tags (`_manifests/tags`) and uploads (`_uploads`).

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

void Scanner::read_current(int tag_fd, const std::string& epath, const Repository& repo, Tag& tag,
                           std::atomic<bool>& uncertain) {
  std::string cur_rel = std::string(layout::k_current) + "/" + std::string(layout::k_link);
  std::string cpath = layout::tag_current_link(repo.name, tag.name);
  LinkRead r = read_link(tag_fd, cur_rel.c_str());
  if (!r.exists) {
    // No current link, when a direct look agrees: `current` is not there, or holds nothing
    // but leftovers. Anything else (the link listed after all, an error) leaves the tag
    // unknown, and a tag that might resolve is never taken for one that does not.
    std::string cdir = layout::join(epath, layout::k_current);
    auto current = fs::open_dir(tag_fd, layout::k_current);
    bool absent = false;
    if (current) {
      absent = inspect_incomplete(tag_fd, std::string(layout::k_current), cdir, repo.name);
    } else if (current.error().sys_errno == ENOENT) {
      auto listed = fs::list_dir(tag_fd, epath);
      absent = listed && std::none_of(listed->begin(), listed->end(), [](const fs::DirEntry& e) {
                 return e.name == layout::k_current;
               });
    }
    if (!absent) {
      tag.current_problem = true;
      uncertain.store(true);
      finding(FindingKind::unreadable, Severity::error, cpath, repo.name,
              "link '" + cpath +
                  "' could not be opened (No such file or directory), yet its directory says it "
                  "may be there; every revision is kept");
    }
    return;
  }
  tag.has_current = true;
  tag.current = r.digest;
  tag.current_mtime = r.mtime;
  tag.current_mtime_ns =
      static_cast<std::int64_t>(r.mtime_ts.tv_sec) * 1000000000 + r.mtime_ts.tv_nsec;
  seen(r.mtime_ts, [&] { return cpath; });
  if (!r.problem.empty()) {
    tag.current_problem = true;
    uncertain.store(true);
    finding(r.kind, Severity::error, cpath, repo.name,
            "link '" + cpath + "' " + r.problem + "; every revision is kept");
  }
}

std::optional<Tag> Scanner::read_tag(int tags_fd, const fs::DirEntry& e, const std::string& tpath,
                                     Repository& repo, std::atomic<bool>& uncertain) {
  std::string epath = layout::join(tpath, e.name);
  if (e.type != fs::EntryType::directory) {
    uncertain.store(true);
    finding(e.type == fs::EntryType::symlink ? FindingKind::symlink : FindingKind::unknown_entry,
            Severity::error, epath, repo.name,
            "'" + epath + "' is not a tag directory; every revision is kept");
    return std::nullopt;
  }
  if (!layout::is_valid_tag(e.name)) {
    finding(FindingKind::invalid_name, Severity::error, epath, repo.name,
            "'" + epath + "' is not a valid tag name; read anyway");
  }
  auto dir = fs::open_dir(tags_fd, e.name);
  if (!dir) {
    uncertain.store(true);
    finding(FindingKind::unreadable, Severity::error, epath, repo.name,
            cannot("open directory", epath, dir.error()) + "; every revision is kept");
    return std::nullopt;
  }
  Tag tag;
  tag.name = e.name;
  read_current(dir->get(), epath, repo, tag, uncertain);
  auto index = fs::open_dir(dir->get(), layout::k_index);
  if (index) {
    bool unreadable = false;
    // A tag without a current link is read whole: whether it is an empty leftover or a tag
    // that does not resolve depends on what its history holds.
    tag.history =
        read_links(index->get(), layout::join(epath, layout::k_index), repo, unreadable,
                   LinkSource{.where = LinkDir::tag_history,
                              .from_names = !m_options.read_tag_history && tag.has_current});
  } else if (index.error().sys_errno != ENOENT) {
    finding(FindingKind::unreadable, Severity::error, layout::join(epath, layout::k_index),
            repo.name,
            cannot("open directory", layout::join(epath, layout::k_index), index.error()));
  }
  if (!tag.has_current) {
    TreeStats inside = tree_stats(dir->get());
    if (tag.history.empty() && inside.files == 0 && !inside.error) {
      // What is left of a tag whose link files were removed: nothing to resolve.
      struct stat st {};
      ::fstat(dir->get(), &st);
      leftover(Leftover::Kind::empty_tag_dir, epath, repo.name,
               std::max<std::int64_t>(st.st_mtim.tv_sec, inside.newest));
      return std::nullopt;
    }
    finding(FindingKind::malformed_link, Severity::warning, epath, repo.name,
            "tag directory '" + epath + "' has no current link; the tag does not resolve");
  }
  return tag;
}

void Scanner::scan_tags(int tags_fd, std::uint64_t nlink, Repository& repo) {
  std::string tpath = layout::tags_dir(repo.name);
  auto entries = fs::list_dir(tags_fd, tpath);
  if (!entries) {
    repo.tags_uncertain = true;
    finding(FindingKind::unreadable, Severity::error, tpath, repo.name,
            cannot("list directory", tpath, entries.error()) + "; every revision is kept");
    return;
  }
  // A tag left out of the listing would leave its manifest untagged.
  if (!listed_whole(nlink, *entries, tpath, repo.name)) {
    repo.tags_uncertain = true;
    return;
  }
  // Each tag is read on its own (see read_links): a repository may have thousands.
  std::atomic<bool> uncertain{false};
  std::vector<std::optional<Tag>> found(entries->size());
  for_each_index(entries->size(), 16, [&](std::size_t i) {
    found[i] = read_tag(tags_fd, (*entries)[i], tpath, repo, uncertain);
  });
  if (uncertain.load()) {
    repo.tags_uncertain = true;
  }
  repo.tags.reserve(entries->size());
  for (auto& t : found) {
    if (t) {
      repo.tags.push_back(std::move(*t));
    }
  }
  std::sort(repo.tags.begin(), repo.tags.end(),
            [](const Tag& a, const Tag& b) { return a.name < b.name; });
}

void Scanner::scan_uploads(int uploads_fd, Repository& repo) {
  std::string upath = layout::uploads_dir(repo.name);
  auto entries = fs::list_dir(uploads_fd, upath);
  if (!entries) {
    finding(FindingKind::unreadable, Severity::error, upath, repo.name,
            cannot("list directory", upath, entries.error()));
    return;
  }
  if (entries->empty()) {
    // The registry creates `_uploads` on demand; an empty one is untidy only.
    struct stat st {};
    ::fstat(uploads_fd, &st);
    leftover(Leftover::Kind::empty_dir, upath, repo.name, st.st_mtim.tv_sec);
  }
  for (const fs::DirEntry& e : *entries) {
    std::string epath = layout::join(upath, e.name);
    Upload up;
    up.id = e.name;
    if (e.type != fs::EntryType::directory) {
      finding(e.type == fs::EntryType::symlink ? FindingKind::symlink : FindingKind::unknown_entry,
              Severity::error, epath, repo.name,
              "'" + epath + "' is not an upload directory; kept");
      continue;
    }
    auto dir = fs::open_dir(uploads_fd, e.name);
    if (!dir) {
      up.problem = true;
      finding(FindingKind::unreadable, Severity::error, epath, repo.name,
              cannot("open directory", epath, dir.error()));
      repo.uploads.push_back(std::move(up));
      continue;
    }
    TreeStats st = tree_stats(dir->get());
    up.bytes = st.bytes;
    up.newest_mtime = st.newest;
    up.problem = st.error;
    seen(st.newest_ts, [&] { return epath; });
    if (st.error) {
      finding(FindingKind::unreadable, Severity::error, epath, repo.name,
              "upload '" + epath + "' holds something unreadable or a symbolic link; never purged");
    }
    auto started = fs::read_file(dir->get(), layout::k_startedat, 256);
    if (started) {
      up.started = parse_rfc3339(*started);
    }
    repo.uploads.push_back(std::move(up));
  }
  std::sort(repo.uploads.begin(), repo.uploads.end(),
            [](const Upload& a, const Upload& b) { return a.id < b.id; });
}

}  // namespace regsweep::scan_detail
