// Scanning: one walk of docker/registry/v2, in parallel, never following a symbolic link.
//
// 1. blobs/sha256/<xx>/<hex>/data: one task per prefix directory; one fstatat per blob for
//    its size. Only directories holding a regular `data` file are blobs (as upstream).
// 2. repositories/: a task per directory. A directory holding `_manifests`, `_layers` or
//    `_uploads` is a repository (either marker, as 2.8 and 3.x disagree); other `_` names are
//    never descended into; every other directory may be a namespace or a nested repository.
// 3. Each repository's links are read (revision, layer, tag current and history links).
// Whatever cannot be read becomes a finding and sets the flag that keeps what it might hold.

#include "store/fs/scan/fs_scan.hpp"

#include "scanner.hpp"

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

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

using scan_detail::Scanner;

Result<Inventory> scan(int v2_fd, tbb::task_arena& arena, const ScanOptions& options,
                       WatchedDirs* watched) {
  Inventory inv;
  struct timespec started {};
  ::clock_gettime(CLOCK_REALTIME, &started);
  inv.scan_started_ns = static_cast<std::int64_t>(started.tv_sec) * 1000000000 + started.tv_nsec;
  Scanner scanner(v2_fd, &inv, options, watched);
  arena.execute([&] {
    tbb::task_group group;
    // Blobs first: every link found afterwards is held as an index into them.
    scanner.scan_blobs(inv.blobs);
    inv.blob_lookup = BlobLookup(inv.blobs);
    auto repos = fs::open_dir(v2_fd, layout::k_repositories_dir);
    if (repos) {
      inv.has_repositories_dir = true;
      group.run([&scanner, &group, fd = std::make_shared<fs::Fd>(std::move(*repos))]() {
        progress().begin("reading repositories");
        scanner.walk(std::move(*fd), "", group);
      });
    } else if (repos.error().sys_errno != ENOENT) {
      scanner.keep_all_blobs(std::string(layout::k_repositories_dir), "",
                             scan_detail::unopened(repos.error()));
    }
    group.wait();
    scanner.confirm_absent();
  });
  scanner.collect(inv);
  keep_blobs_without_repositories(inv);
  return inv;
}

}  // namespace regsweep
