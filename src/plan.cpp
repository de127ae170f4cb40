#include "regsweep/plan.hpp"

#include <algorithm>
#include <tuple>

#include "regsweep/layout.hpp"

namespace regsweep {

std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::tag_history:
      return "tag-history";
    case ActionKind::revision:
      return "manifest-revision";
    case ActionKind::layer_link:
      return "layer-link";
    case ActionKind::blob:
      return "blob";
  }
  return "unknown";
}

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::untagged_manifest:
      return "untagged-manifest";
    case Reason::unreferenced_layer_link:
      return "unreferenced-layer-link";
    case Reason::unreferenced_blob:
      return "unreferenced-blob";
  }
  return "unknown";
}

Plan make_plan(const Inventory& inventory, const MarkResult& marks) {
  Plan plan;
  for (std::size_t i = 0; i < inventory.repositories.size(); ++i) {
    const Repository& repo = inventory.repositories[i];
    const RepoMark& rm = marks.repositories[i];
    for (const Digest& d : rm.dead) {
      // Upstream's vacuum removes the manifest from every tag's history, then the revision.
      for (const Tag& tag : repo.tags) {
        bool in_history = std::any_of(tag.history.begin(), tag.history.end(),
                                      [&](const Link& l) { return l.digest == d; });
        if (in_history) {
          plan.actions.push_back(
              Action{ActionKind::tag_history,
                     Reason::untagged_manifest,
                     repo.name,
                     tag.name,
                     d,
                     0,
                     layout::tag_index_entry_dir(repo.name, tag.name, d),
                     {layout::tag_index_dir(repo.name, tag.name),
                      layout::join(layout::tag_dir(repo.name, tag.name), layout::k_index)}});
          ++plan.tag_history;
        }
      }
      plan.actions.push_back(Action{ActionKind::revision,
                                    Reason::untagged_manifest,
                                    repo.name,
                                    "",
                                    d,
                                    0,
                                    layout::revision_dir(repo.name, d),
                                    {}});
      ++plan.manifests;
    }
    if (!rm.keeps_all_layers) {
      for (const Link& l : repo.layers) {
        if (!l.problem && !contains(rm.marked, l.digest)) {
          plan.actions.push_back(Action{ActionKind::layer_link,
                                        Reason::unreferenced_layer_link,
                                        repo.name,
                                        "",
                                        l.digest,
                                        0,
                                        layout::layer_link_dir(repo.name, l.digest),
                                        {}});
          ++plan.layer_links;
        }
      }
    }
  }
  if (!inventory.keep_all_blobs) {
    for (const Blob& b : inventory.blobs) {
      if (!contains(marks.marked, b.digest)) {
        std::string dir = layout::blob_dir(b.digest);
        std::string prefix = layout::blob_prefix_dir(b.digest.hex().substr(0, 2));
        plan.actions.push_back(Action{ActionKind::blob,
                                      Reason::unreferenced_blob,
                                      "",
                                      "",
                                      b.digest,
                                      b.size,
                                      std::move(dir),
                                      {std::move(prefix)}});
        ++plan.blobs;
        plan.blob_bytes += b.size;
      }
    }
  }
  std::stable_sort(plan.actions.begin(), plan.actions.end(), [](const Action& a, const Action& b) {
    return std::tie(a.kind, a.path) < std::tie(b.kind, b.path);
  });
  return plan;
}

}  // namespace regsweep
