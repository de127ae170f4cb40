// Reading, after marking, the layer links a scan only stat'ed: those a plan might delete.

#include <atomic>
#include <mutex>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include "links.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/scan.hpp"

namespace regsweep {

using namespace scan_detail;  // NOLINT(google-build-using-namespace): the scan's own helpers

Verified verify_layer_links(int v2_fd, Inventory& inventory, tbb::task_arena& arena,
                            const std::function<bool(std::size_t, const Link&)>& wanted) {
  tbb::enumerable_thread_specific<std::vector<Finding>> findings;
  std::atomic<bool> other_targets{false};
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
      auto dir = fs::open_dir(v2_fd, dir_path);
      std::mutex owner_mutex;  // guards repo.other_targets
      // In parallel within a repository too: one may hold most of the links to read.
      for_each_index(todo.size(), 64, [&](std::size_t k) {
        Link& link = repo.layers[todo[k]];
        const Digest& named = link_digest(inventory, repo, link);
        auto lpath = [&] { return layout::layer_link(repo.name, named); };  // for reports only
        LinkRead got;
        if (!dir) {
          got.exists = true;
          got.kind = FindingKind::unreadable;
          got.problem = "cannot be read: " + dir.error().reason();
        } else {
          got = reread_link(dir->get(), HexLeaf(named.hex(), layout::k_link).c_str());
          if (!got.exists) {
            got.exists = true;
            got.kind = FindingKind::unreadable;
            got.problem = "was there when the scan began and is gone now";
          }
        }
        record_read(got, named, LinkDir::layers, link, repo, owner_mutex, lpath,
                    [&](FindingKind kind, std::string message) {
                      findings.local().push_back(
                          Finding{kind, Severity::error, lpath(), repo.name, std::move(message)});
                    });
        if (link.other() != Link::k_no_other) {
          other_targets.store(true);
        }
      });
    });
  });
  Verified out;
  for (auto& v : findings) {
    out.findings.insert(out.findings.end(), v.begin(), v.end());
  }
  out.other_targets = other_targets.load();
  return out;
}

}  // namespace regsweep
