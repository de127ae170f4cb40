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
#include "regsweep/graph.hpp"
#include "regsweep/inventory.hpp"

namespace regsweep {

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
  std::vector<Digest> marked_absent;  // digests it keeps that have no blob, sorted, unique
  bool keeps_all_layers = false;      // a manifest could not be read: every `_layers` blob kept
  // A manifest a tag or revision reaches could not be read or parsed (empty, not JSON, read
  // differently by Go, its blob unknown): what it references is unknown, so no blob goes.
  bool unreadable_manifest = false;
  bool removed = false;                            // the whole repository was requested removed
  std::vector<std::string> removed_tags;           // tags requested removed
  std::vector<std::string> orphan_signature_tags;  // signature tags whose manifest is gone

  // True when this repository keeps the blob `link` (one of `repo`'s) names.
  bool keeps(const Inventory& inventory, const Repository& repo, const Link& link) const;
};

struct MarkResult {
  std::vector<RepoMark> repositories;  // parallel to Inventory::repositories
  std::vector<bool> blob_marked;       // parallel to Inventory::blobs: kept by something
  std::vector<Digest> marked_absent;   // union of what is kept but has no blob, sorted, unique
  std::vector<Finding> findings;
  // Some repository reached a manifest it could not read: no blob is deleted in the run.
  bool keep_all_blobs = false;

  // How many digests are marked, with or without a blob.
  std::size_t marked_count() const;
};

// Marks, in parallel over repositories inside `arena`. Never touches the disk.
MarkResult mark(const Inventory& inventory, const ManifestTable& manifests,
                const MarkOptions& options, tbb::task_arena& arena);

// True when `digest` is in the sorted vector.
bool contains(const std::vector<Digest>& sorted, const Digest& digest);

// A tag `sha256-<hex>.sig|.att|.sbom`: where tools that cannot use the referrers API (cosign)
// keep a signature, attestation or SBOM of manifest <hex>. That manifest's digest, or nothing
// for any other tag. Such a tag follows its subject: prune never counts it nor removes it
// while the subject keeps a tag.
std::optional<Digest> signature_subject(std::string_view tag);

}  // namespace regsweep
