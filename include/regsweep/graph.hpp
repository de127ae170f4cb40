#pragma once

// The graph stage: scan -> inventory, then every manifest the inventory's revisions and tags
// name, read once each. What every command starts from (gc, rm, du, ls -t, fsck): a Graph is
// the inventory, the manifests and what was found reading them. Marking and planning read it
// and never touch the storage.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/grace.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/manifest.hpp"
#include "regsweep/result.hpp"
#include "regsweep/scan.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

// A digest a manifest references: the index of its blob in Inventory::blobs, or, when no
// blob has that digest, k_absent_ref | an index into the table's absent digests (see k_absent_bit).
// Four bytes a reference instead of a digest's 32: a million-blob registry holds a hundred thousand
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

// Examines blobs (indices into Inventory::blobs) a lazy scan left unexamined.
using BlobExaminer = std::function<void(const std::vector<std::uint32_t>& blobs)>;

struct ManifestLoader;  // graph.cpp

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
  friend struct ManifestLoader;
  std::vector<std::uint32_t> m_keys;      // blob indices, sorted
  std::vector<ManifestRecord> m_records;  // parallel to m_keys
  std::vector<Digest> m_absent;           // referenced digests with no blob
};

// Reads and parses, once each, every manifest that a revision or tag names and, recursively,
// their children, in parallel inside `arena`, from `store`.
// Unreadable manifests are recorded in the table and reported in `findings`. `speculative`
// blobs (young blobs that may be manifests of a push in progress) are parsed too, and kept in
// the table only when they are manifests; they are never reported.
//
// A blob a lazy scan took from its name (Blob::unexamined) that cannot be read is handed to
// `examine` (Store::examine_blobs over the same inventory) before it is reported: if it is no
// blob after all, it gets no record and no manifest finding, as after a full scan.
ManifestTable load_manifests(Store& store, const Inventory& inventory, tbb::task_arena& arena,
                             std::vector<Finding>& findings,
                             const std::vector<Digest>& speculative = {},
                             const BlobExaminer& examine = {});

// The BlobExaminer of `store` over `inventory` (Store::examine_blobs for the blobs given, a
// sorted list), whose findings go to `findings`. All must outlive it.
BlobExaminer blob_examiner(Store& store, Inventory& inventory, tbb::task_arena& arena,
                           std::vector<Finding>& findings);

// Reads the `speculative` blobs not yet in `table` (young blobs a lazy scan learnt the age of
// after marking) and the children they name, into `table`, as load_manifests does.
void load_speculative(ManifestTable& table, Store& store, const Inventory& inventory,
                      tbb::task_arena& arena, std::vector<Finding>& findings,
                      const std::vector<Digest>& speculative, const BlobExaminer& examine);

// Young blobs that may be manifests of a push in progress (read by load_manifests).
std::vector<Digest> young_blobs(const Inventory& inventory, const Grace& grace);

// True when the grace period keeps anything of `inventory` at all: when nothing is young, a
// marking with it and one without are the same.
bool anything_young(const Inventory& inventory, const Grace& grace);

struct GraphOptions {
  ScanOptions scan;
  // Read the manifests (ls without tags needs none).
  bool read_manifests = true;
  // Young blobs are read as possible manifests of a push in progress.
  Grace grace;
  // `regsweep rm`: NAME or NAME:TAG specs (globs) to mark for removal in the inventory.
  std::vector<std::string> remove;
  // `regsweep prune`: chooses tags to remove (Tag::remove_requested) from the scanned
  // inventory, and may add findings to it; an error stops the run before marking.
  std::function<Status(Inventory&)> select_tags;
};

struct Graph {
  Inventory inventory;
  ManifestTable manifests;
  std::vector<Finding> findings;  // the scan's and the manifests', sorted
};

// Scans the tree in `store` and loads its manifests. Error when the tree cannot be read or a
// removal spec matches nothing.
Result<Graph> build_graph(Store& store, const GraphOptions& options, tbb::task_arena& arena);

}  // namespace regsweep
