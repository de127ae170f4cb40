#pragma once

// Files the command line writes (--json FILE, --prometheus FILE): checked before a run
// starts, written whole or not at all.

#include <optional>
#include <string>

namespace regsweep::cli {

// Nothing when `path` can be written (created or replaced by a rename in its directory);
// else why not, naming the path. "-" (standard output) is always writable.
std::optional<std::string> output_problem(const std::string& path);

// Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader sees
// the old file or the new one, never half of one.
bool write_atomically(const std::string& path, const std::string& text);

// Escapes a Prometheus label value.
std::string prom_escape(const std::string& s);

}  // namespace regsweep::cli
