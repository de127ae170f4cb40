#pragma once

// The filesystem store's scan (src/store/fs/scan/) and its second looks (scan.hpp's
// LazyLooks), over an open `<root>/docker/registry/v2` (`v2_fd`).

#include <functional>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"
#include "regsweep/scan.hpp"

namespace regsweep {

// A directory whose entries decide what may be deleted, with its modification time (in
// nanoseconds) and link count taken before it was listed: a push after the scan changes the
// time, and a new subdirectory (a new link's directory) the count, even within the file
// system's clock tick.
struct Watched {
  std::string path;  // relative to docker/registry/v2
  std::int64_t mtime_ns = 0;
  std::uint64_t nlink = 0;
};

// What the filesystem store's guard compares before each phase (revalidate.hpp): repositories/
// and every directory below it the scan listed down to the link directories
// (`_manifests/tags`, `…/revisions/sha256`, `_layers/sha256`), blob prefix directories, and
// directories that lack their link or data file. Sorted by path. The scan and the second
// looks add to it when given one.
using WatchedDirs = std::vector<Watched>;

// Walks `<root>/docker/registry/v2` once, in parallel inside `arena`, without following any
// symbolic link. Problems with single files become findings in the inventory; an Error is
// returned only when the tree itself cannot be opened (no `docker/registry/v2` directory).
Result<Inventory> scan(int v2_fd, tbb::task_arena& arena, const ScanOptions& options = {},
                       WatchedDirs* watched = nullptr);

// Reads the unverified layer links of repository `r` for which `wanted(r, link)` is true, and
// records what they hold as a full scan would have: their time, a problem (the link is then
// kept) or a second digest. A link directory with no link file (what the registry's own
// delete leaves) is no link: it is dropped from the repository. `v2_fd` is
// `<root>/docker/registry/v2`.
Verified verify_layer_links(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Link&)>& wanted,
                            WatchedDirs* watched = nullptr);

// Reads the unverified tag history links (ScanOptions::read_tag_history false) of repository
// `r` for which `wanted(r, tag, link)` is true, as verify_layer_links reads layer links: a
// history entry with no link file is dropped from its tag, one that holds something else is
// reported, and a link naming another digest is reported (as a full scan would).
Verified verify_tag_history(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Tag&, const Link&)>& wanted,
                            WatchedDirs* watched = nullptr);

// Examines the unexamined blobs (ScanOptions::stat_blobs false) for which `wanted(i)` is
// true, as a full scan would have: a regular `data` gives the blob its size and time;
// anything else is reported, and the blob becomes Blob::k_not_a_blob, added to
// Inventory::unknown_blobs (or, when only leftovers of an interrupted write are there, to
// Inventory::leftovers). The inventory's newest time and leftovers, and `watched`, are
// updated; the findings are returned. `v2_fd` is `<root>/docker/registry/v2`.
Examined examine_blobs(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                       const std::function<bool(std::size_t)>& wanted,
                       WatchedDirs* watched = nullptr);

}  // namespace regsweep
