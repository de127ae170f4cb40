#pragma once

// The plan: everything a collection would delete, in the order it must be deleted. A dry run
// renders the plan; a real run hands it to sweep(). Nothing else decides what goes.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/grace.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/mark.hpp"

namespace regsweep {

// In deletion order: what points before what is pointed to.
enum class ActionKind : std::uint8_t {
  tag,          // _manifests/tags/<tag> (rm NAME:TAG, orphan signature tags)
  tag_history,  // _manifests/tags/<tag>/index/sha256/<hex>
  revision,     // _manifests/revisions/sha256/<hex>
  layer_link,   // _layers/sha256/<hex>
  repository,   // a repository's own _manifests, _layers and _uploads
  upload,       // _uploads/<id>
  tidy,         // empty directories and leftovers of interrupted writes
  quarantine,   // blobs/sha256/<xx>/<hex> moved to lost+found (fsck --repair), not deleted
  blob,         // blobs/sha256/<xx>/<hex>
};

enum class Reason : std::uint8_t {
  requested,                // named by `regsweep rm`
  orphan_signature,         // a sha256-<hex>.sig/.att/.sbom tag whose manifest is gone
  untagged_manifest,        // no tag reaches the manifest (delete_untagged, or its tag went)
  unreferenced_layer_link,  // no live manifest of the repository references the blob
  dangling_link,            // the blob the link names does not exist
  empty_repository,         // no tag, no manifest and no upload left
  stale_upload,             // an upload older than the purge age
  empty_directory,          // a directory left empty by the registry's own deletes
  temp_leftover,            // link.<id>.tmp / data.<id>.tmp older than the grace period
  empty_blob_prefix,        // an empty blobs/sha256/<xx> directory
  unreferenced_blob,        // no live manifest of any repository references the blob
  corrupt_blob,             // its bytes do not hash to its name (fsck --repair)
};

std::string_view to_string(ActionKind kind);
std::string_view to_string(Reason reason);

// A name the Inventory holds (a repository, a tag, an upload id, a leftover's path): a
// pointer to the inventory's string, 8 bytes where a string_view takes 16. Null is empty.
class InventoryName {
 public:
  InventoryName() = default;
  InventoryName(const std::string& name) : m_name(&name) {}  // NOLINT: names convert freely
  InventoryName(std::string&&) = delete;                     // a temporary would leave it dangling
  std::string_view view() const { return m_name ? std::string_view(*m_name) : std::string_view(); }
  operator std::string_view() const { return view(); }  // NOLINT
  bool empty() const { return view().empty(); }
  friend bool operator==(InventoryName a, InventoryName b) { return a.view() == b.view(); }
  friend std::strong_ordering operator<=>(InventoryName a, InventoryName b) {
    return a.view() <=> b.view();
  }
  friend std::ostream& operator<<(std::ostream& out, InventoryName n) { return out << n.view(); }

 private:
  const std::string* m_name = nullptr;
};

// One deletion. Small (64 bytes, nothing on the heap): a plan for a million-blob registry
// holds hundreds of thousands. The names it holds point into the Inventory it was planned
// from, which must outlive it; its paths are derived from them.
struct Action {
  ActionKind kind;
  Reason reason;
  InventoryName repository;  // empty for blobs and blob-side tidying
  // tag and tag_history: the tag; upload: its id; tidy: the leftover's path; else empty.
  InventoryName name;
  Digest digest;            // links and blobs; zero otherwise
  std::uint64_t bytes = 0;  // blobs: size of `data`; uploads: their files; otherwise 0

  // What to remove, relative to docker/registry/v2.
  std::string path() const;
  // Directories to remove afterwards if the deletion left them empty, deepest first. Never a
  // directory the layout needs (blobs/sha256, repositories, a repository's `_layers/sha256`,
  // `_manifests/revisions/sha256` or a tag's own directory).
  std::vector<std::string> then_if_empty() const;
};

// A deletion of one link (tag_history, revision, layer_link), held in 24 bytes where an
// Action takes 64: a -m plan for a million-blob registry holds about a million of them. Its
// digest is that of a link's directory, `ref` as in Link. Points into the Inventory.
struct LinkAction {
  const Repository* repository = nullptr;
  const std::string* tag = nullptr;  // tag_history: the tag; otherwise null
  std::uint32_t ref = 0;             // blob index, or Link::k_absent | index into absent
  ActionKind kind = ActionKind::revision;
  Reason reason = Reason::untagged_manifest;
};

// A plan's actions, in deletion order. The bulk of a large collection is held compactly:
// link deletions as LinkActions, blob deletions, which come last, as 4-byte blob indices;
// every action reads as an Action, built on the fly. Points into the Inventory (its blobs and
// repositories), which must outlive it.
class ActionList {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Action;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Action;

    Iterator() = default;
    Iterator(const ActionList* list, std::size_t i) : m_list(list), m_i(i) {}
    Action operator*() const { return (*m_list)[m_i]; }
    Iterator& operator++() {
      ++m_i;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++m_i;
      return old;
    }
    bool operator==(const Iterator& other) const { return m_i == other.m_i; }

   private:
    const ActionList* m_list = nullptr;
    std::size_t m_i = 0;
  };

  ActionList() = default;
  // `others`: every action but links and blobs, in order; `links`: the link deletions, in
  // order; `blobs`: indices into `blob_list`, in order. Links come after the tag deletions
  // in `others` and before the rest, as ActionKind orders them.
  ActionList(std::deque<Action> others, std::deque<LinkAction> links,
             const std::vector<Blob>& blob_list, std::vector<std::uint32_t> blobs);

  std::size_t size() const { return m_others.size() + m_links.size() + m_blobs.size(); }
  bool empty() const { return size() == 0; }
  Action operator[](std::size_t i) const;
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, size()}; }

 private:
  std::deque<Action> m_others;     // grown without copies; indexed in constant time
  std::size_t m_before_links = 0;  // how many of m_others come before the links
  std::deque<LinkAction> m_links;
  const Blob* m_blob_list = nullptr;  // the inventory's blobs (their buffer survives a move)
  std::vector<std::uint32_t> m_blobs;
};

struct PlanOptions {
  bool remove_empty_repositories = true;
  std::optional<std::int64_t> purge_uploads_older_than;  // seconds; nullopt: keep uploads
  bool tidy = true;
  bool collect = true;   // false: only what was requested (rm --no-gc)
  std::int64_t now = 0;  // seconds since the epoch
  // Temp files of interrupted writes are kept this long whatever the grace period: one may
  // be a write in progress.
  std::int64_t temp_grace = 3600;
};

struct Plan {
  ActionList actions;  // sorted by kind, then repository, name and digest
  std::uint64_t tags = 0;
  std::uint64_t manifests = 0;  // revisions to delete
  std::uint64_t tag_history = 0;
  std::uint64_t layer_links = 0;
  std::uint64_t repositories = 0;
  std::uint64_t uploads = 0;
  std::uint64_t upload_bytes = 0;
  std::uint64_t tidy = 0;  // leftovers of every kind below
  std::uint64_t empty_dirs = 0;
  std::uint64_t temp_files = 0;
  std::uint64_t empty_blob_prefixes = 0;
  std::uint64_t dangling_links = 0;  // also counted in manifests or layer_links
  std::uint64_t blobs = 0;
  std::uint64_t blob_bytes = 0;
  std::uint64_t quarantined = 0;
  // When the plan was made (seconds since the epoch): names what moves to lost+found.
  std::int64_t made_at = 0;
  // What the planner left because it is young, though nothing marks it: dangling links,
  // uploads, repositories with a young entry, leftovers. (What the grace period kept through
  // marking is found by comparing markings: kept_for_being_young.)
  std::vector<Action> kept_young;
};

// The repairs of `fsck --repair` as a plan for sweep(): `links` (dangling, or naming a blob
// that moves aside) removed, then `corrupt` blobs (indices into Inventory::blobs) moved to
// lost+found/sha256-<hex>-<made_at>. Nothing is deleted that could hold data.
Plan make_repair_plan(const Inventory& inventory, std::deque<LinkAction> links,
                      const std::vector<std::uint32_t>& corrupt, std::int64_t made_at);

// The blobs a plan deletes, as indices into Inventory::blobs: those no repository marks,
// unless young or unless the inventory says every blob must be kept. In digest order.
std::vector<std::uint32_t> collectable_blobs(const Inventory& inventory, const MarkResult& marks,
                                             const Grace& grace);

// Builds the plan. No blob is planned when the inventory says every blob must be kept; no
// link of a repository is planned while something in it could not be read; no repository is
// removed while a finding of severity error names it; nothing young is planned (`grace`, the
// same the marks were made with).
Plan make_plan(const Inventory& inventory, const MarkResult& marks,
               const std::vector<Finding>& findings, const PlanOptions& options,
               const Grace& grace);

// The blobs a run with no grace period would delete that `grace` keeps: collectable under
// `ageless` (the same marking without a grace period) and not under `marks`. In digest order.
std::vector<std::uint32_t> young_blobs_kept(const Inventory& inventory, const MarkResult& marks,
                                            const MarkResult& ageless, const Grace& grace);

// Everything the grace period kept, from the two markings and the plan: the blobs of
// young_blobs_kept, the layer links and (with delete_untagged) revisions only the grace period
// keeps, and what the planner itself left for being young (Plan::kept_young). In plan order.
std::vector<Action> kept_for_being_young(const Inventory& inventory, const MarkResult& marks,
                                         const MarkResult& ageless, const Plan& plan,
                                         const Grace& grace);

}  // namespace regsweep
