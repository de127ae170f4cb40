#include "regsweep/collect.hpp"

#include <cerrno>

#include "regsweep/layout.hpp"
#include "regsweep/scan.hpp"
#include "regsweep/select.hpp"

namespace regsweep {

Result<fs::Fd> open_registry(const std::string& root) {
  auto root_fd = fs::open_root(root);
  if (!root_fd) {
    return root_fd.error();
  }
  auto v2 = fs::open_dir(root_fd->get(), layout::k_v2_dir);
  if (!v2) {
    if (v2.error().sys_errno == ENOENT || v2.error().sys_errno == ENOTDIR) {
      return Error{"'" + root + "' holds no registry: '" + root + "/" +
                       std::string(layout::k_v2_dir) + "' does not exist",
                   v2.error().sys_errno};
    }
    return v2.error();
  }
  return v2;
}

Result<Collection> plan_gc(int v2_fd, const GcOptions& options, tbb::task_arena& arena) {
  auto inventory = scan(v2_fd, arena);
  if (!inventory) {
    return inventory.error();
  }
  Collection c;
  c.inventory = std::move(*inventory);
  if (!options.remove.empty()) {
    if (Status s = select_removals(c.inventory, options.remove); !s) {
      return s.error();
    }
  }
  std::vector<Finding> manifest_findings;
  c.manifests = load_manifests(v2_fd, c.inventory, arena, manifest_findings);
  c.marks = mark(c.inventory, c.manifests,
                 MarkOptions{options.delete_untagged, options.delete_orphan_signatures}, arena);
  c.findings = c.inventory.findings;
  c.findings.insert(c.findings.end(), manifest_findings.begin(), manifest_findings.end());
  c.findings.insert(c.findings.end(), c.marks.findings.begin(), c.marks.findings.end());
  sort_findings(c.findings);
  c.plan = make_plan(c.inventory, c.marks, c.findings, options.plan);
  return c;
}

}  // namespace regsweep
