#pragma once

// The plan: everything a collection would delete, in the order it must be deleted. A dry run
// renders the plan; a real run hands it to sweep(). Nothing else decides what goes.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/digest.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/mark.hpp"

namespace regsweep {

// In deletion order: what points before what is pointed to.
enum class ActionKind {
  tag_history,  // _manifests/tags/<tag>/index/sha256/<hex>
  revision,     // _manifests/revisions/sha256/<hex>
  layer_link,   // _layers/sha256/<hex>
  blob,         // blobs/sha256/<xx>/<hex>
};

enum class Reason {
  untagged_manifest,        // delete_untagged: no tag names the manifest or anything above it
  unreferenced_layer_link,  // no live manifest of the repository references the blob
  unreferenced_blob,        // no live manifest of any repository references the blob
};

std::string_view to_string(ActionKind kind);
std::string_view to_string(Reason reason);

struct Action {
  ActionKind kind;
  Reason reason;
  std::string repository;  // empty for blobs
  std::string tag;         // tag_history only
  Digest digest;
  std::uint64_t bytes = 0;  // blobs: size of `data`; links: 0
  std::string path;         // directory to remove, relative to docker/registry/v2
  // Directories to remove afterwards if the deletion left them empty, deepest first. Never a
  // directory the layout needs (blobs/sha256, a repository's `_layers/sha256`,
  // `_manifests/revisions/sha256` or a tag's own directory).
  std::vector<std::string> then_if_empty;
};

struct Plan {
  std::vector<Action> actions;  // sorted by kind, then path
  std::uint64_t manifests = 0;  // dead manifests (revisions to delete)
  std::uint64_t blobs = 0;
  std::uint64_t blob_bytes = 0;
  std::uint64_t layer_links = 0;
  std::uint64_t tag_history = 0;
};

// Builds the plan. No blob is planned when the inventory says every blob must be kept; no
// link of a repository is planned while something in it could not be read.
Plan make_plan(const Inventory& inventory, const MarkResult& marks);

}  // namespace regsweep
