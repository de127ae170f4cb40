#pragma once

// Reads manifests of every kind the registry stores: Docker schema1 (signed or not), Docker
// schema2, Docker manifest list, OCI image manifest, OCI image index and OCI 1.1 artifacts.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/digest.hpp"

namespace regsweep {

enum class ManifestKind : std::uint8_t {
  unknown,
  docker_schema1,
  docker_schema2,
  docker_manifest_list,
  oci_manifest,
  oci_index,
};

std::string_view to_string(ManifestKind kind);

// A copy of `text` that lives until the program ends; equal texts share one copy. Safe from
// any thread.
std::string_view intern_text(std::string_view text);

struct Manifest {
  ManifestKind kind = ManifestKind::unknown;
  // Interned (intern_text): a million manifests share a handful of media types.
  std::string_view media_type;         // as written, or inferred when absent
  std::vector<Digest> blobs;           // config then layers (schema1: fsLayers), duplicates kept
  std::vector<Digest> children;        // child manifests of a list or index
  std::optional<Digest> subject;       // the manifest this one is attached to
  std::vector<std::string> platforms;  // "os/arch[/variant]" per child of an index
  std::vector<Digest> foreign;         // layers with `urls`: they may have no local blob
  // Descriptors whose digest names another algorithm are accepted and left out: they can
  // name no blob under blobs/sha256.
};

// The outcome of parsing: a manifest or a reason it is not one.
struct ParseOutcome {
  std::optional<Manifest> manifest;
  std::string error;  // lower case; empty when manifest is set
  // Every sha256 digest mentioned anywhere in the document, for keeping what an unreadable
  // manifest might reference. Filled only when parsing failed but the JSON was valid.
  std::vector<Digest> mentioned;
};

// Parses manifests. Holds a reusable simdjson parser: one per thread, never shared.
class ManifestParser {
 public:
  ManifestParser();
  ~ManifestParser();
  ManifestParser(const ManifestParser&) = delete;
  ManifestParser& operator=(const ManifestParser&) = delete;

  ParseOutcome parse(std::string_view bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace regsweep
