#pragma once

// Files the command line writes (--json FILE, --prometheus FILE): checked before a run
// starts, written whole or not at all. And its log lines on stderr.

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "regsweep/config.hpp"
#include "regsweep/log_format.hpp"

namespace regsweep::cli {

// How log lines are written from now on: plain ("Deleting blob: …", "warning: …") while
// `settings.formatter` is empty, else as the registry writes its own (log_format.hpp). gc, rm
// and prune set it from the registry's configuration (log.formatter, REGISTRY_LOG_FORMATTER).
void set_log_style(const LogSettings& settings);

// One log line on `out`: `plain_prefix` and `message` in the plain form; else a record of
// `level` whose message is `message`, or nothing when the configured level hides it.
void log_line(std::ostream& out, LogLevel level, std::string_view plain_prefix,
              std::string_view message);

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
