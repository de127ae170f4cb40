#pragma once

// The scan's walker (scan.cpp): blobs (blobs.cpp), then repositories (repositories.cpp), each
// directory a task, results gathered per thread and merged by collect().

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <bitset>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/task_group.h>

#include "link_files.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/layout.hpp"
#include "store/fs/scan/fs_scan.hpp"

namespace regsweep::scan_detail {

struct DevInoHash {
  std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& k) const {
    return std::hash<std::uint64_t>()(k.first * 0x9E3779B97F4A7C15ULL ^ k.second);
  }
};

// How far a walk of repositories/ goes: a repository name is at most 255 characters (the
// registry refuses longer ones), so at most 128 components; a directory whose path below
// repositories/ is longer or deeper is neither a repository nor a namespace of one, and a
// tree that goes on has no bottom (a file system with a cycle).
constexpr std::size_t k_max_repo_name = 255;
constexpr std::size_t k_max_repo_depth = 128;

class Scanner {
 public:
  // `inv`: where the blob scan puts the blobs and their lookup; links found after it are
  // held as indices into them.
  // `watched_out`, when given, gets the directories to watch.
  Scanner(int v2_fd, const Inventory* inv, const ScanOptions& options, WatchedDirs* watched_out)
      : m_v2(v2_fd), m_inv(inv), m_options(options), m_watched_out(watched_out) {}

  void finding(FindingKind kind, Severity severity, std::string path, std::string repo,
               std::string message) {
    m_findings.local().push_back(
        Finding{kind, severity, std::move(path), std::move(repo), std::move(message)});
  }

  // Records the newest modification time seen, to tell whether the tree changed under the scan.
  // `path()` gives where; it is built only when the time is the newest so far.
  template <typename Path>
  void seen(const struct timespec& mtime, const Path& path) {
    std::int64_t ns = static_cast<std::int64_t>(mtime.tv_sec) * 1000000000 + mtime.tv_nsec;
    auto& n = m_newest.local();
    if (ns > n.first) {
      n = {ns, path()};
    }
  }

  // Records the modification time of the directory open at `fd` (at `path`), before it is
  // listed, so that revalidate() sees a change made after that. A directory that is the root
  // of a mount below the top of the tree, or that was met before under another path (a bind
  // mount, a file system with a cycle), is treated as a symbolic link: nothing is deleted
  // through it, and nothing it might hold is taken as absent. Returns its link count, or
  // nothing for those.
  std::optional<std::uint64_t> watch(int fd, std::string path);

  // Whether the listing `entries` of the directory at `path` holds every subdirectory its link
  // count `nlink` says it has (2 + subdirectories, on most file systems; 1 where it is not
  // kept). A listing that left some out (a network or FUSE file system) is reported, and
  // false: absence cannot be inferred from it.
  bool listed_whole(std::uint64_t nlink, const std::vector<fs::DirEntry>& entries,
                    const std::string& path, const std::string& repo);

  // Confirms, for each digest a link names but no listing showed as a blob, that the blob's
  // directory is not there, by a direct look. One that is there after all (a listing that
  // left it out) is unknown: everything that links it is kept.
  void confirm_absent();

  void leftover(Leftover::Kind kind, std::string path, std::string repo, std::int64_t mtime = 0) {
    m_leftovers.local().push_back(Leftover{kind, std::move(path), std::move(repo), mtime});
  }

  // Looks into `<parent>/<name>` (at `path`), whose link or data file is missing: records
  // leftovers of interrupted writes, and the directory itself when it holds nothing else.
  // Returns false when it holds something the layout does not know.
  bool inspect_incomplete(int parent_fd, const std::string& name, const std::string& path,
                          const std::string& repo);

  // A prefix directory `blobs/sha256/<name>` that exists but cannot be listed: whether a
  // digest with that prefix has a blob is unknown. A name that is no prefix hides nothing.
  void unknown_prefix(std::string_view name);

  // A blob directory that exists but whose `data` cannot be examined: present, unknown.
  void unknown_blob(const Digest& d);

  void keep_all_blobs(const std::string& path, std::string repo, const std::string& why);

  void scan_blobs(std::vector<Blob>& blobs);

  void all_blobs_unknown();

  // Scans `blobs/sha256/<e.name>`, appending its blobs to `out`.
  void scan_prefix(int blobs_fd, const fs::DirEntry& e, std::vector<Blob>& out);

  // Opens the prefix directory `e` (at `path`); a symbolic link, a stranger or a directory
  // that cannot be opened is reported (what it may hold is unknown) and gives nothing.
  std::optional<fs::Fd> open_prefix(int blobs_fd, const fs::DirEntry& e, const std::string& path);

  // Examines entry `b` of the open prefix directory `prefix` (at `path`): a blob is appended
  // to `out` with its size and time; anything else is reported, and a blob it may be is
  // unknown.
  void scan_blob(int prefix_fd, const std::string& prefix, const std::string& path,
                 const fs::DirEntry& b, std::vector<Blob>& out);

  // Stats `<hex>/data` in the open prefix directory (at `path`): true, with `blob`'s size
  // and time set, when it is a regular file; otherwise reports it (the blob is unknown, or
  // only leftovers of an interrupted write are there) and returns false.
  bool examine_data(int prefix_fd, const std::string& path, const std::string& hex, Blob& blob);

  // examine_data for the blobs at `todo` (sorted indices into `blobs`), in parallel, a task
  // per prefix directory; one that is no blob becomes Blob::k_not_a_blob.
  void examine_blobs(std::vector<Blob>& blobs, const std::vector<std::size_t>& todo);

  // What examine_blobs found, into `inv` (unknown blobs, leftovers, the newest time), the
  // watched directories (m_watched_out) and `out` (findings).
  void merge_examined(Inventory& inv, Examined& out);

  // Walks a directory below repositories/ whose repository name would be `name`.
  void walk(fs::Fd dir, const std::string& name, tbb::task_group& group);

  // A reserved entry `e` (at `epath`) of `repo`'s directory: `_manifests`, `_layers` and
  // `_uploads` are scanned; anything else is reported.
  void scan_own_dir(int dir_fd, const fs::DirEntry& e, const std::string& epath, Repository& repo);

  // Any other entry of the directory of `repo` (a repository when `is_repo`): a directory is
  // walked as a task of `group`; a symbolic link keeps every blob.
  void descend(int dir_fd, const fs::DirEntry& e, const std::string& epath, Repository& repo,
               bool is_repo, tbb::task_group& group);

  // Opens and lists the algorithm directory `apath` (`sha256`) of a link directory. Nothing
  // when it is missing and `missing_ok`, or cannot be read (then `unreadable` is set).
  std::optional<std::pair<fs::Fd, std::vector<fs::DirEntry>>> open_links(
      int parent_fd, const std::string& apath, const std::string& repo, bool missing_ok,
      bool& unreadable, LinkDir where);

  // How read_links takes the links of one directory.
  struct LinkSource {
    LinkDir where = LinkDir::revisions;
    // Each link is taken from its directory's name, unread and unverified (ScanOptions).
    bool from_names = false;
  };
  // Reads `<dir>/<hex>/link` entries of a sha256 link directory (revisions, layers, history);
  // a missing `sha256` directory holds none.
  std::vector<Link> read_links(int parent_fd, const std::string& path, Repository& owner,
                               bool& unreadable, LinkSource source);
  // The links `keep` selects of those found, with their blobs, sorted by blob.
  std::vector<Link> kept_links(Repository& owner, std::vector<Link>& found,
                               const std::vector<std::uint8_t>& keep,
                               const std::vector<Digest>& named);

  // A link's reference to the digest its directory names: the blob's index, or a new entry
  // in the repository's list of absent digests.
  std::uint32_t ref_of(Repository& owner, const Digest& digest);

  static std::string lower(std::string s);

  // Reports every entry of a link directory's parent (`_layers`, `_manifests/revisions`) but
  // the algorithm directory: another algorithm, a file, a socket. Each is kept, and the
  // finding keeps its repository from being removed whole.
  void report_strangers(int parent_fd, const std::string& path, const Repository& repo);

  static std::string describe_type(fs::EntryType type);

  void scan_layers(int layers_fd, Repository& repo);

  // `nlink`: the link count watch() gave for the directory, to check its listing against.
  void scan_manifests(int manifests_fd, std::uint64_t nlink, Repository& repo);

  void scan_tags(int tags_fd, std::uint64_t nlink, Repository& repo);

  // The tag directory `e` of `repo`; nothing when it is no tag or an empty leftover.
  std::optional<Tag> read_tag(int tags_fd, const fs::DirEntry& e, const std::string& tpath,
                              Repository& repo, std::atomic<bool>& uncertain);

  // The tag's `current/link`, read from its open directory.
  void read_current(int tag_fd, const std::string& epath, const Repository& repo, Tag& tag,
                    std::atomic<bool>& uncertain);

  void scan_uploads(int uploads_fd, Repository& repo);

  void collect(Inventory& inv) {
    for (auto& v : m_repos) {
      for (auto& r : v) {
        if (m_alias.load()) {
          r.uncertain = true;
          r.tags_uncertain = true;
        }
        inv.repositories.push_back(std::move(r));
      }
    }
    std::sort(inv.repositories.begin(), inv.repositories.end(),
              [](const Repository& a, const Repository& b) { return a.name < b.name; });
    for (auto& v : m_findings) {
      inv.findings.insert(inv.findings.end(), v.begin(), v.end());
    }
    sort_findings(inv.findings);
    inv.keep_all_blobs = m_keep_all.load();
    inv.unknown_prefixes = m_unknown_prefixes;
    merge_found(inv);
  }

  // What the walk found besides repositories and findings, into `inv`: unknown blobs and
  // the newest time merged, leftovers added; the watched directories into `m_watched_out`
  // (each list sorted).
  void merge_found(Inventory& inv) {
    if (m_blobs_incomplete.load()) {
      inv.blobs_complete = false;
    }
    inv.unknown_blobs.insert(inv.unknown_blobs.end(), m_unknown_blobs.begin(),
                             m_unknown_blobs.end());
    std::sort(inv.unknown_blobs.begin(), inv.unknown_blobs.end());
    inv.unknown_blobs.erase(std::unique(inv.unknown_blobs.begin(), inv.unknown_blobs.end()),
                            inv.unknown_blobs.end());
    for (const auto& n : m_newest) {
      if (n.first > inv.newest_mtime_ns) {
        inv.newest_mtime_ns = n.first;
        inv.newest_path = n.second;
      }
    }
    for (auto& v : m_leftovers) {
      inv.leftovers.insert(inv.leftovers.end(), v.begin(), v.end());
    }
    if (m_watched_out != nullptr) {
      for (auto& v : m_watched) {
        m_watched_out->insert(m_watched_out->end(), std::make_move_iterator(v.begin()),
                              std::make_move_iterator(v.end()));
      }
      std::sort(m_watched_out->begin(), m_watched_out->end(),
                [](const Watched& a, const Watched& b) { return a.path < b.path; });
    }
    std::sort(inv.leftovers.begin(), inv.leftovers.end(),
              [](const Leftover& a, const Leftover& b) { return a.path < b.path; });
  }

 private:
  int m_v2;
  const Inventory* m_inv;
  ScanOptions m_options;
  WatchedDirs* m_watched_out;
  std::mutex m_owner_mutex;  // guards Repository::absent and other_targets while links are read
  tbb::enumerable_thread_specific<std::vector<Finding>> m_findings;
  tbb::enumerable_thread_specific<std::vector<Repository>> m_repos;
  tbb::enumerable_thread_specific<std::vector<Leftover>> m_leftovers;
  tbb::enumerable_thread_specific<std::vector<Watched>> m_watched;
  tbb::enumerable_thread_specific<std::pair<std::int64_t, std::string>> m_newest;
  std::atomic<bool> m_keep_all{false};
  // A mount point or an alias was met: every repository keeps all its links (collect()).
  std::atomic<bool> m_alias{false};
  std::atomic<bool> m_blobs_incomplete{false};
  std::atomic<bool> m_not_blobs{false};
  std::mutex m_dirs_mutex;  // guards m_dirs
  std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, std::string, DevInoHash>
      m_dirs;                  // every directory watched: (device, inode) -> its path
  std::mutex m_unknown_mutex;  // guards the two below
  std::bitset<256> m_unknown_prefixes;
  std::vector<Digest> m_unknown_blobs;
};

}  // namespace regsweep::scan_detail
