// Reading, after marking, the links a scan took from their names: the layer links a plan
// might delete, or whose blob it might, and the tag history links it might delete.

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include "link_files.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "store/fs/scan/fs_scan.hpp"

namespace regsweep {

using namespace scan_detail;  // NOLINT(google-build-using-namespace): the scan's own helpers

namespace {

// A link directory without its link file, as the scan would have looked into it: nothing in
// it (what the registry's own delete leaves: untidy), only leftovers of interrupted writes,
// or something else (a finding; the directory is kept).
void inspect_linkless(int layers_fd, const std::string& hex, const std::string& path,
                      const std::string& repo, std::vector<Leftover>& leftovers,
                      std::vector<Watched>& watched, std::vector<Finding>& findings) {
  auto dir = fs::open_dir(layers_fd, hex);
  struct stat dst {};
  if (dir && ::fstat(dir->get(), &dst) == 0) {
    // A link written into it later must be seen before anything is deleted (rule 3), as the
    // scan watches every directory it looks into.
    watched.push_back(Watched{
        path, static_cast<std::int64_t>(dst.st_mtim.tv_sec) * 1000000000 + dst.st_mtim.tv_nsec,
        static_cast<std::uint64_t>(dst.st_nlink)});
  }
  auto entries =
      dir ? fs::list_dir(dir->get(), path) : Result<std::vector<fs::DirEntry>>(dir.error());
  if (!entries) {
    findings.push_back(
        Finding{FindingKind::unreadable, Severity::error, path, repo,
                "cannot list directory '" + path + "': " + entries.error().reason() + "; kept"});
    return;
  }
  std::vector<Leftover> found;
  for (const fs::DirEntry& e : *entries) {
    struct stat st {};
    if (e.type != fs::EntryType::file || !layout::is_temp_leftover(e.name) ||
        ::fstatat(dir->get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      findings.push_back(
          Finding{FindingKind::unknown_entry, Severity::error, path, repo,
                  "link directory '" + path + "' has no link file but holds other entries; kept"});
      return;
    }
    found.push_back(
        Leftover{Leftover::Kind::temp_file, layout::join(path, e.name), repo, st.st_mtim.tv_sec});
  }
  if (entries->empty()) {
    struct stat st {};
    ::fstat(dir->get(), &st);
    found.push_back(Leftover{Leftover::Kind::empty_dir, path, repo, st.st_mtim.tv_sec});
  }
  leftovers.insert(leftovers.end(), found.begin(), found.end());
}

// Reads links a scan took from their names, one directory at a time, and gathers what the
// reads found.
class Verifier {
 public:
  Verifier(int v2_fd, const Inventory& inventory, WatchedDirs* watched_out)
      : m_v2(v2_fd), m_inventory(inventory), m_watched_out(watched_out) {}

  // Reads `links[i]` for each i of `todo` (ascending), all in `dir_path` (a `sha256` link
  // directory below v2), as a full scan would have: its time, a problem (the link is then
  // kept) or a second digest. A link directory with no link file is no link: it is erased
  // from `links`. `link_dir(digest)` gives a link's directory, for reports.
  template <typename LinkDirPath>
  void verify_dir(Repository& repo, std::vector<Link>& links, const std::vector<std::size_t>& todo,
                  const std::string& dir_path, LinkDir where, const LinkDirPath& link_dir) {
    auto dir = fs::open_dir(m_v2, dir_path);
    std::mutex owner_mutex;  // guards repo.other_targets
    std::vector<std::uint8_t> gone(todo.size(), 0);
    // In parallel within a directory too: one may hold most of the links to read.
    for_each_index(todo.size(), 64, [&](std::size_t k) {
      Link& link = links[todo[k]];
      const Digest& named = link_digest(m_inventory, repo, link);
      auto lpath = [&] { return layout::join(link_dir(named), layout::k_link); };  // reports only
      LinkRead got;
      if (!dir) {
        got.exists = true;
        got.kind = FindingKind::unreadable;
        got.problem = "cannot be read: " + dir.error().reason();
      } else {
        got = read_link(dir->get(), HexLeaf(named.hex(), layout::k_link).c_str());
        if (!got.exists) {
          gone[k] = 1;  // no link: an empty link directory, or one whose link went since
          inspect_linkless(dir->get(), named.hex(), link_dir(named), repo.name, m_leftovers.local(),
                           m_watched.local(), m_findings.local());
          return;
        }
      }
      link.mtime = static_cast<std::uint32_t>(std::clamp<std::int64_t>(got.mtime, 0, UINT32_MAX));
      for (std::int64_t seen = m_newest.load();
           got.mtime > seen && !m_newest.compare_exchange_weak(seen, got.mtime);) {
      }
      record_read(got, named, where, link, repo, owner_mutex, lpath,
                  [&](FindingKind kind, std::string message) {
                    m_findings.local().push_back(
                        Finding{kind, Severity::error, lpath(), repo.name, std::move(message)});
                  });
      if (link.other() != Link::k_no_other) {
        m_other_targets.store(true);
      }
    });
    // No link file: no link. A link that went since the scan is the guard's business.
    for (std::size_t k = todo.size(); k-- > 0;) {
      if (gone[k] != 0) {
        links.erase(links.begin() + static_cast<std::ptrdiff_t>(todo[k]));
      }
    }
  }

  // What the reads found; the leftovers go into `inventory`, the directories to watch into
  // the list given.
  Verified finish(Inventory& inventory) {
    Verified out;
    for (auto& v : m_findings) {
      out.findings.insert(out.findings.end(), v.begin(), v.end());
    }
    for (auto& v : m_leftovers) {
      inventory.leftovers.insert(inventory.leftovers.end(), v.begin(), v.end());
    }
    std::sort(inventory.leftovers.begin(), inventory.leftovers.end(),
              [](const Leftover& a, const Leftover& b) { return a.path < b.path; });
    if (m_watched_out != nullptr) {
      for (auto& v : m_watched) {
        m_watched_out->insert(m_watched_out->end(), v.begin(), v.end());
      }
      std::sort(m_watched_out->begin(), m_watched_out->end(),
                [](const Watched& a, const Watched& b) { return a.path < b.path; });
    }
    out.other_targets = m_other_targets.load();
    out.newest_mtime = m_newest.load();
    return out;
  }

 private:
  int m_v2;
  const Inventory& m_inventory;
  WatchedDirs* m_watched_out;
  tbb::enumerable_thread_specific<std::vector<Finding>> m_findings;
  tbb::enumerable_thread_specific<std::vector<Leftover>> m_leftovers;
  tbb::enumerable_thread_specific<std::vector<Watched>> m_watched;
  std::atomic<bool> m_other_targets{false};
  std::atomic<std::int64_t> m_newest{0};
};

}  // namespace

Verified verify_layer_links(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Link&)>& wanted,
                            WatchedDirs* watched) {
  Verifier verifier(v2_fd, inventory, watched);
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, inventory.repositories.size(), [&](std::size_t r) {
      Repository& repo = inventory.repositories[r];
      std::vector<std::size_t> todo;
      for (std::size_t i = 0; i < repo.layers.size(); ++i) {
        if (repo.layers[i].unverified() && wanted(r, repo.layers[i])) {
          todo.push_back(i);
        }
      }
      if (todo.empty()) {
        return;
      }
      std::string dir_path = layout::join(
          layout::join(layout::repo_dir(repo.name), layout::k_layers), layout::k_algorithm);
      verifier.verify_dir(repo, repo.layers, todo, dir_path, LinkDir::layers,
                          [&](const Digest& d) { return layout::layer_link_dir(repo.name, d); });
    });
  });
  return verifier.finish(inventory);
}

Verified verify_tag_history(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Tag&, const Link&)>& wanted,
                            WatchedDirs* watched) {
  Verifier verifier(v2_fd, inventory, watched);
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, inventory.repositories.size(), [&](std::size_t r) {
      Repository& repo = inventory.repositories[r];
      for (Tag& tag : repo.tags) {
        std::vector<std::size_t> todo;
        for (std::size_t i = 0; i < tag.history.size(); ++i) {
          if (tag.history[i].unverified() && wanted(r, tag, tag.history[i])) {
            todo.push_back(i);
          }
        }
        if (todo.empty()) {
          continue;
        }
        verifier.verify_dir(repo, tag.history, todo, layout::tag_index_dir(repo.name, tag.name),
                            LinkDir::tag_history, [&](const Digest& d) {
                              return layout::tag_index_entry_dir(repo.name, tag.name, d);
                            });
      }
    });
  });
  return verifier.finish(inventory);
}

}  // namespace regsweep
