#pragma once

// Log lines as the registry writes them (logrus, configured from its `log` section: see
// registry.go's configureLogging), so that a drop-in's lines read like the registry's own
// in the same collector: logfmt ("text"), JSON, or logstash's JSON.

#include <cstdint>
#include <string>
#include <string_view>

#include "regsweep/config.hpp"

namespace regsweep {

enum class LogLevel { error, warning, info };

// Whether `settings.level` lets a line of `level` through, as logrus orders its levels
// (panic, fatal, error, warn, info, debug, trace); an unknown level counts as info, as the
// registry falls back to it.
bool log_enabled(const LogSettings& settings, LogLevel level);

// One record, without its newline, in `settings.formatter`'s form (not empty); `unix_ns` is
// the time of the line, written in RFC 3339 with nanoseconds in this machine's zone. The
// registry's Go-only fields (go.version, instance.id) are not written; log.fields are.
std::string log_record(const LogSettings& settings, LogLevel level, std::string_view message,
                       std::int64_t unix_ns);

// `text` as Go's strconv.Quote (fmt's %q) writes it: in double quotes, with Go's escapes.
std::string go_quote(std::string_view text);

}  // namespace regsweep
