#pragma once

// The offline catalog (`regsweep ls`): repositories and, per tag, what it names.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

struct TagInfo {
  std::string name;
  std::optional<Digest> digest;        // what `current/link` names
  std::string media_type;              // of the manifest; empty when it cannot be read
  std::vector<std::string> platforms;  // "os/arch[/variant]" per child of a list or index
  std::uint64_t size = 0;              // the manifest and every blob it reaches, once
  std::string created;                 // the newest `created` of its image configs
  bool complete = true;                // every blob it reaches exists
};

struct RepoListing {
  std::string name;
  std::vector<TagInfo> tags;  // sorted by name; filled only when tags were asked for
};

struct Listing {
  std::vector<RepoListing> repositories;  // sorted by name
  std::vector<Finding> findings;
};

// Lists the repositories matching `globs` (all when empty), with their tags when `with_tags`.
Result<Listing> list_registry(Store& store, const std::vector<std::string>& globs, bool with_tags,
                              tbb::task_arena& arena);

}  // namespace regsweep
