#pragma once

// The scan's reading of link files and small directories (scan.cpp, verify.cpp): what a
// link file names, read or only stat'ed, without following a symbolic link.

#include <sys/stat.h>

#include <array>
#include <cassert>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"

namespace regsweep::scan_detail {

inline constexpr std::size_t k_link_max = 4096;

// "cannot <what> '<path>': <why>", naming `path` from the top of the tree whatever path the
// failed call was given (a component below an open directory, or '.').
std::string cannot(std::string_view what, const std::string& path, const Error& error);

// Why a directory could not be opened, to follow its path: "is a symbolic link; not
// followed", "is a mount point; not followed", or "cannot be opened (<reason>)".
std::string unopened(const Error& error);

// Said of a blob whose contents are unknown.
inline constexpr std::string_view k_unknown_blob =
    ", and since it cannot be read, everything that links it is kept";

struct LinkRead {
  bool exists = false;
  std::optional<Digest> digest;
  std::string problem;  // empty when the link is valid
  FindingKind kind = FindingKind::malformed_link;
  std::int64_t mtime = 0;
  struct timespec mtime_ts {};
  bool unverified = false;  // not read: `digest` is the directory's
};

// The digest a link's text names, or why it names none.
void parse_into(LinkRead& out, std::string_view text);

// Opens `<dirfd>/<rel>` as a link file without following a final symbolic link; -1 with
// `out` saying why when it cannot (nothing there: out.exists stays false).
int open_link(int dirfd, const char* rel, LinkRead& out);

// Reads `<dirfd>/<rel>` as a link file without following a final symbolic link.
LinkRead read_link(int dirfd, const char* rel);

// What the registry writes to a link file: "sha256:" and 64 hex digits, nothing else.
inline constexpr std::int64_t k_link_size = 71;

// `<hex>/<leaf>` for a 64-digit directory name and a 4-letter leaf (`link`, `data`), built on
// the stack: the scan builds one for each of a registry's millions of blobs and links. Only
// for a name parse_hex accepted.
class HexLeaf {
 public:
  HexLeaf(std::string_view hex, std::string_view leaf) {
    assert(hex.size() == 64 && leaf.size() == 4);
    std::memcpy(m_buf.data(), hex.data(), 64);
    m_buf[64] = '/';
    std::memcpy(m_buf.data() + 65, leaf.data(), 4);
    m_buf[69] = '\0';
  }
  const char* c_str() const { return m_buf.data(); }

 private:
  std::array<char, 70> m_buf{};
};

// Which links a directory holds: marking keeps both digests of a mismatched revision link,
// but of a layer or tag history link only the link itself (and, where a repository keeps
// every layer, both digests of its layer links).
enum class LinkDir { revisions, layers, tag_history };

// Records on `link`, whose directory names `named`, what reading its file found; reports a
// problem through `report(kind, message)`. `owner_mutex` guards owner.other_targets.
// `lpath()` gives the link's path, built only for a report.
template <typename Path, typename Report>
void record_read(const LinkRead& r, const Digest& named, LinkDir where, Link& link,
                 Repository& owner, std::mutex& owner_mutex, const Path& lpath,
                 const Report& report) {
  link.set_unverified(r.unverified);
  if (r.digest && *r.digest != named) {
    std::lock_guard lock(owner_mutex);
    link.set_other(static_cast<std::uint32_t>(owner.other_targets.size()));
    owner.other_targets.push_back(*r.digest);
  }
  if (!r.problem.empty()) {
    link.set_problem();
    report(r.kind, "link '" + lpath() + "' " + r.problem + "; kept");
  } else if (*r.digest != named) {
    link.set_problem();
    report(FindingKind::link_mismatch,
           "link '" + lpath() + "' names " + r.digest->str() +
               (where == LinkDir::revisions ? "; both digests are kept" : "; the link is kept"));
  }
}

// Calls fn(i) for i in [0, n): in parallel, `grain` at a time, when n exceeds `grain`.
template <typename Fn>
void for_each_index(std::size_t n, std::size_t grain, const Fn& fn) {
  if (n <= grain) {
    for (std::size_t i = 0; i < n; ++i) {
      fn(i);
    }
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, grain),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      for (std::size_t i = range.begin(); i != range.end(); ++i) {
                        fn(i);
                      }
                    });
}

struct TreeStats {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::int64_t newest = 0;
  struct timespec newest_ts {};
  bool error = false;
};

// Counts the regular files below a directory (never following links), with their total size
// and newest modification time. Used for uploads and tag directories, which are small.
TreeStats tree_stats(int dirfd, int depth = 0);

}  // namespace regsweep::scan_detail
