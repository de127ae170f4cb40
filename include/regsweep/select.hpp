#pragma once

// Selecting repositories and tags by name for `regsweep rm`.

#include <string>
#include <string_view>
#include <vector>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// Matches a repository name (or a tag) against a glob: `*` any run of characters within one
// path component, `**` any run including '/', `?` one character other than '/'.
bool glob_match(std::string_view pattern, std::string_view name);

// True when some glob of `globs` matches `name` (false for none).
bool glob_match_any(const std::vector<std::string>& globs, std::string_view name);

// Marks what `specs` name for removal: `NAME` (a repository, glob allowed) or `NAME:TAG` (a
// tag of the matching repositories; glob allowed in both). Error naming the first spec that
// matches nothing; then nothing is marked.
Status select_removals(Inventory& inventory, const std::vector<std::string>& specs);

}  // namespace regsweep
