#pragma once

// Files the command line writes (--json FILE, --prometheus FILE): checked before a run
// starts, written whole or not at all.

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace regsweep::cli {

// Nothing when `path` can be written (created or replaced by a rename in its directory);
// else why not, naming the path. "-" (standard output) is always writable.
std::optional<std::string> output_problem(const std::string& path);

// Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader sees
// the old file or the new one, never half of one.
bool write_atomically(const std::string& path, const std::string& text);

// Writes the HELP and TYPE lines of a gauge family in Prometheus's text format.
void prom_gauge_family(std::ostream& out, std::string_view name, std::string_view help);

// Escapes a Prometheus label value.
std::string prom_escape(const std::string& s);

}  // namespace regsweep::cli
