// Actions: what one deletion is (its path and what it may leave empty), and the compact list
// a plan holds them in (plan.hpp).

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/layout.hpp"
#include "regsweep/plan.hpp"

namespace regsweep {

std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::tag:
      return "tag";
    case ActionKind::tag_history:
      return "tag-history";
    case ActionKind::revision:
      return "manifest-revision";
    case ActionKind::layer_link:
      return "layer-link";
    case ActionKind::repository:
      return "repository";
    case ActionKind::upload:
      return "upload";
    case ActionKind::tidy:
      return "tidy";
    case ActionKind::quarantine:
      return "quarantine";
    case ActionKind::blob:
      return "blob";
  }
  return "unknown";
}

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::requested:
      return "requested";
    case Reason::orphan_signature:
      return "orphan-signature";
    case Reason::untagged_manifest:
      return "untagged-manifest";
    case Reason::unreferenced_layer_link:
      return "unreferenced-layer-link";
    case Reason::dangling_link:
      return "dangling-link";
    case Reason::empty_repository:
      return "empty-repository";
    case Reason::stale_upload:
      return "stale-upload";
    case Reason::empty_directory:
      return "empty-directory";
    case Reason::temp_leftover:
      return "temp-leftover";
    case Reason::empty_blob_prefix:
      return "empty-blob-prefix";
    case Reason::unreferenced_blob:
      return "unreferenced-blob";
    case Reason::corrupt_blob:
      return "corrupt-blob";
  }
  return "unknown";
}

namespace {

// Every ancestor of `repo_path` below `repositories/`, deepest first: a removed repository's
// namespaces go when nothing else is left in them.
std::vector<std::string> repo_ancestors(const std::string& repo) {
  std::vector<std::string> out;
  std::string name = repo;
  while (!name.empty()) {
    out.push_back(layout::repo_dir(name));
    name = layout::parent(name);
  }
  return out;
}

// What a tag history entry's deletion may leave empty: its index/sha256 and index.
std::vector<std::string> tag_history_dirs(std::string_view repo, std::string_view tag) {
  return {layout::tag_index_dir(repo, tag),
          layout::join(layout::tag_dir(repo, tag), layout::k_index)};
}

}  // namespace

std::string Action::path() const {
  std::string repo(repository);
  switch (kind) {
    case ActionKind::tag:
      return layout::tag_dir(repo, std::string(name));
    case ActionKind::tag_history:
      return layout::tag_index_entry_dir(repo, std::string(name), digest);
    case ActionKind::revision:
      return layout::revision_dir(repo, digest);
    case ActionKind::layer_link:
      return layout::layer_link_dir(repo, digest);
    case ActionKind::repository:
      return layout::repo_dir(repo);
    case ActionKind::upload:
      return layout::upload_dir(repo, std::string(name));
    case ActionKind::tidy:
      return std::string(name);
    case ActionKind::quarantine:
    case ActionKind::blob:
      return layout::blob_dir(digest);
  }
  return {};
}

std::vector<std::string> Action::then_if_empty() const {
  std::string repo(repository);
  switch (kind) {
    case ActionKind::tag_history:
      return tag_history_dirs(repo, name);
    case ActionKind::repository:
      return repo_ancestors(repo);
    case ActionKind::upload:
      return {layout::uploads_dir(repo)};
    case ActionKind::tidy: {
      if (reason == Reason::temp_leftover) {
        return {layout::parent(name)};  // the link or blob directory, if that was all it held
      }
      if (reason != Reason::empty_directory) {
        return {};
      }
      // An empty blob or tag history directory, as an interrupted sweep leaves it: clean up
      // after it as the blob or tag_history action would have, so a second run ends where an
      // uninterrupted one does.
      auto spec = layout::classify(name);
      if (spec && spec->kind == layout::PathKind::blob_dir) {
        return {layout::parent(name)};
      }
      if (spec && spec->kind == layout::PathKind::tag_index_entry_dir) {
        return tag_history_dirs(spec->repository, spec->name);
      }
      return {};
    }
    case ActionKind::quarantine:
    case ActionKind::blob:
      return {layout::parent(layout::blob_dir(digest))};
    case ActionKind::tag:
    case ActionKind::revision:
    case ActionKind::layer_link:
      return {};
  }
  return {};
}

ActionList::ActionList(std::deque<Action> others, std::deque<LinkAction> links,
                       const std::vector<Blob>& blob_list, std::vector<std::uint32_t> blobs)
    : m_others(std::move(others)),
      m_links(std::move(links)),
      m_blob_list(blob_list.data()),
      m_blobs(std::move(blobs)) {
  auto is_link = [](ActionKind k) {
    return k == ActionKind::tag_history || k == ActionKind::revision || k == ActionKind::layer_link;
  };
  for (const Action& a : m_others) {
    if (is_link(a.kind)) {
      throw std::logic_error("planning: a link deletion outside the list of links");
    }
    m_before_links += a.kind < ActionKind::tag_history ? 1 : 0;
  }
}

Action ActionList::operator[](std::size_t i) const {
  if (i < m_before_links) {
    return m_others[i];
  }
  i -= m_before_links;
  if (i < m_links.size()) {
    const LinkAction& l = m_links[i];
    const Repository& repo = *l.repository;
    const Digest& d = ref_digest(m_blob_list, repo, l.ref);
    return Action{l.kind,    l.reason,
                  repo.name, l.tag != nullptr ? InventoryName(*l.tag) : InventoryName(),
                  d,         0};
  }
  i -= m_links.size();
  if (i < m_others.size() - m_before_links) {
    return m_others[m_before_links + i];
  }
  i -= m_others.size() - m_before_links;
  const Blob& b = m_blob_list[m_blobs[i]];
  return Action{ActionKind::blob, Reason::unreferenced_blob, {}, {}, b.digest, b.size};
}

}  // namespace regsweep
