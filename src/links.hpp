#pragma once

// What every store's scan shares about link files: what a link's text names, how what a
// read found is recorded on the link, and a parallel loop. The filesystem's reading of them
// is in store/fs/scan/link_files.hpp.

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

// What the registry writes to a link file: "sha256:" and 64 hex digits, nothing else.
inline constexpr std::int64_t k_link_size = 71;

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

}  // namespace regsweep::scan_detail
