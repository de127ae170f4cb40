#pragma once

// Rule 3 of docs/safety.md: what was true at the scan must still be true at the delete.
//
// The scan recorded the modification time of every directory whose entries decide what may
// be deleted (WatchedDirs, fs_scan.hpp) and of every tag's current link. Before each phase of the
// sweep, the Revalidator takes them again: a directory changed in a repository (a manifest,
// tag or layer link pushed since the scan) skips every deletion in that repository; any
// change at all skips every blob deletion and blob-side tidying, since a new manifest may
// reference an old blob. Directories the sweep itself deleted from are taken anew instead.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/inventory.hpp"
#include "regsweep/sweep.hpp"
#include "store/fs/scan/fs_scan.hpp"

namespace regsweep {

class Revalidator final : public SweepGuard {
 public:
  // `v2_fd`: the open docker/registry/v2. `scanned` must outlive the Revalidator; `watched`
  // is what the scan of it recorded. The current links of the tags of the repositories
  // `watch_tags_of` are watched too (see Store::guard).
  Revalidator(int v2_fd, const Inventory& scanned, WatchedDirs watched,
              std::vector<std::size_t> watch_tags_of);

  void before_phase(ActionKind next, const Plan& plan, const std::vector<std::uint8_t>& done,
                    std::vector<std::uint8_t>& skip) override;
  std::vector<Finding> take_findings() override;

  // The repositories found changed so far (for tests).
  const std::set<std::string>& changed_repositories() const { return m_changes.repositories(); }

 private:
  // The directories the sweep's own deletions since the last check touched (their times
  // moved); records what it removed whole in m_gone.
  std::set<std::string> own_changes(ActionKind next, const Plan& plan,
                                    const std::vector<std::uint8_t>& done);
  // Whether `path` is at or below something the sweep removed whole.
  bool removed(const std::string& path) const;
  // Takes every watched directory again; those in `touched` get a new baseline.
  void check_watched(const std::set<std::string>& touched);
  // Takes the current links of the watched repositories' tags again.
  void check_tags();

  int m_v2;
  const Inventory& m_scanned;
  std::vector<Watched> m_watched;        // baselines, taken anew after the sweep deletes in one
  std::vector<std::size_t> m_tag_repos;  // repositories whose tags are watched
  ChangesSinceScan m_changes{"the tree"};
  std::set<std::string> m_gone;       // paths the sweep removed whole
  std::size_t m_processed = 0;        // actions whose outcome was taken into account
  std::string_view m_last_link_repo;  // the last link deletion's repository and kind
  ActionKind m_last_link_kind = ActionKind::blob;
};

}  // namespace regsweep
