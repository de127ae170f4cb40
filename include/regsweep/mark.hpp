#pragma once

// Marking: which manifests are live in each repository and which digests they keep.
//
// Roots, per repository:
//   * without delete_untagged: every revision link (every manifest pushed and not deleted);
//   * with delete_untagged: the manifests that tags' `current` links name;
//   * always: a revision whose manifest cannot be read (it is never deleted);
//   * with delete_untagged, when a tag's `current` link cannot be read: every revision.
//   * always: a revision or tag younger than the grace period, and (as a mark) the blob of a
//     young `_layers` link: a push in progress is never collected;
//   * never: what only a tag removed on request (or an orphan signature tag) reached; that
//     goes even without delete_untagged, as the registry's own DELETE would take it.
// From a live manifest: its own blob, config and layers, and its children (lists and indexes,
// recursively, whether or not the child has a revision link). With delete_untagged, a revision
// whose `subject` is live is live too (signatures, SBOMs, attestations follow their image).
// Reachability is computed per repository, so the result never depends on visiting order.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/grace.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/manifest.hpp"

namespace regsweep {

// A digest a manifest references: the index of its blob in Inventory::blobs, or, when no
// blob has that digest, k_absent_ref | an index into the table's absent digests. Four bytes a
// reference instead of a digest's 32: a million-blob registry holds a hundred thousand
// manifests, each naming several blobs, for as long as the run lasts.
using ManifestRef = std::uint32_t;
constexpr ManifestRef k_absent_ref = k_absent_bit;
constexpr ManifestRef k_no_ref = 0xFFFFFFFFU;

// What a manifest references, as the marker needs it; the parse's other details are dropped.
struct ManifestRecord {
  enum class State : std::uint8_t { unreadable, parsed };
  // What is rare: why a manifest is unreadable and what it might reference, an index's
  // platforms, layers with `urls`.
  struct Rare {
    std::string error;
    std::vector<Digest> mentioned;       // unreadable: sha256 digests found in the text
    std::vector<std::string> platforms;  // "os/arch[/variant]" per child of an index
    std::vector<Digest> foreign;         // layers with `urls`: they may have no local blob
  };
  State state = State::unreadable;
  ManifestKind kind = ManifestKind::unknown;
  std::uint32_t blob_count = 0;   // config then layers (schema1: fsLayers), duplicates kept
  std::uint32_t child_count = 0;  // child manifests of a list or index
  ManifestRef subject = k_no_ref;
  std::string_view media_type;          // interned; as written, or inferred when absent
  std::unique_ptr<ManifestRef[]> refs;  // blob_count blobs, then child_count children
  std::unique_ptr<Rare> rare;

  bool parsed() const { return state == State::parsed; }
  bool has_subject() const { return subject != k_no_ref; }
  std::span<const ManifestRef> blobs() const { return {refs.get(), blob_count}; }
  std::span<const ManifestRef> children() const { return {refs.get() + blob_count, child_count}; }
  const std::string& error() const;
  const std::vector<std::string>& platforms() const;
  bool is_foreign(const Digest& digest) const;
};

// Every manifest read, keyed by the index of its blob. A digest with no blob is never read:
// find() gives nullptr for it, as for a blob that was not read as a manifest.
class ManifestTable {
 public:
  const ManifestRecord* find(const Inventory& inventory, const Digest& digest) const;
  const ManifestRecord* find(ManifestRef ref) const;
  // The digest a reference names.
  const Digest& digest(const Inventory& inventory, ManifestRef ref) const {
    return (ref & k_absent_ref) != 0 ? m_absent[ref & ~k_absent_ref] : inventory.blobs[ref].digest;
  }
  // The blob a reference names; k_no_blob when it has none.
  static std::uint32_t blob(ManifestRef ref) { return (ref & k_absent_ref) != 0 ? k_no_blob : ref; }
  std::vector<Digest> digests(const Inventory& inventory, std::span<const ManifestRef> refs) const;

 private:
  friend ManifestTable load_manifests(int, const Inventory&, tbb::task_arena&,
                                      std::vector<Finding>&, const std::vector<Digest>&);
  std::vector<std::uint32_t> m_keys;      // blob indices, sorted
  std::vector<ManifestRecord> m_records;  // parallel to m_keys
  std::vector<Digest> m_absent;           // referenced digests with no blob
};

// Reads and parses, once each, every manifest that a revision or tag names and, recursively,
// their children, in parallel inside `arena`. `v2_fd` is `<root>/docker/registry/v2`.
// Unreadable manifests are recorded in the table and reported in `findings`. `speculative`
// blobs (young blobs that may be manifests of a push in progress) are parsed too, and kept in
// the table only when they are manifests; they are never reported.
ManifestTable load_manifests(int v2_fd, const Inventory& inventory, tbb::task_arena& arena,
                             std::vector<Finding>& findings,
                             const std::vector<Digest>& speculative = {});

struct MarkOptions {
  // A young revision or tag is a root, a young layer link keeps its blob, and a young blob
  // that is a manifest keeps everything it references. Default: nothing is young.
  Grace grace;
  bool delete_untagged = false;
  // Tags `sha256-<hex>.sig|.att|.sbom` whose manifest <hex> is gone are removed.
  bool delete_orphan_signatures = false;
};

struct RepoMark {
  std::vector<Digest> live;  // live manifests, sorted
  std::vector<Digest> dead;  // delete_untagged only: revisions to delete, sorted
  // Every blob this repository keeps, as indices into Inventory::blobs, sorted, unique: four
  // bytes a mark instead of a digest's 32.
  std::vector<std::uint32_t> marked;
  std::vector<Digest> marked_absent;      // digests it keeps that have no blob, sorted, unique
  bool keeps_all_layers = false;          // a manifest could not be read: every `_layers` blob kept
  bool removed = false;                   // the whole repository was requested removed
  std::vector<std::string> removed_tags;  // tags requested removed
  std::vector<std::string> orphan_signature_tags;  // signature tags whose manifest is gone

  // True when this repository keeps the blob `link` (one of `repo`'s) names.
  bool keeps(const Inventory& inventory, const Repository& repo, const Link& link) const;
};

struct MarkResult {
  std::vector<RepoMark> repositories;  // parallel to Inventory::repositories
  std::vector<bool> blob_marked;       // parallel to Inventory::blobs: kept by something
  std::vector<Digest> marked_absent;   // union of what is kept but has no blob, sorted, unique
  std::vector<Finding> findings;

  // How many digests are marked, with or without a blob.
  std::size_t marked_count() const;
};

// Marks, in parallel over repositories inside `arena`. Never touches the disk.
MarkResult mark(const Inventory& inventory, const ManifestTable& manifests,
                const MarkOptions& options, tbb::task_arena& arena);

// True when `digest` is in the sorted vector.
bool contains(const std::vector<Digest>& sorted, const Digest& digest);

}  // namespace regsweep
