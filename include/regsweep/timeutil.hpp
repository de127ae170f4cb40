#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace regsweep {

// Parses an RFC 3339 time ("2026-11-22T13:00:00Z", fractional seconds and numeric offsets
// allowed) as written in an upload's `startedat`. Seconds since the epoch, or nullopt.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

// The same in nanoseconds since the epoch, the fraction of a second kept (to 9 digits): an
// object's LastModified ("2026-11-30T22:49:54.123Z").
std::optional<std::int64_t> parse_rfc3339_ns(std::string_view text);

// An HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110's IMF-fixdate): seconds since the
// epoch, or nothing.
std::optional<std::int64_t> parse_http_date(std::string_view text);

// The longest duration parse_duration accepts: 100 years. A longer one means nothing for a
// grace period or an age, and arithmetic on it could overflow.
constexpr std::int64_t k_max_duration = std::int64_t{36500} * 86400;

// Parses a duration: "0", or a sequence of <number><unit> with units s, m, h, d
// ("168h", "1h30m", "7d", "0s"). Seconds, or nullopt when malformed or longer than
// k_max_duration.
std::optional<std::int64_t> parse_duration(std::string_view text);

// "2026-11-22T13:00:00Z" for a time in seconds since the epoch (UTC).
std::string format_rfc3339(std::int64_t seconds);

}  // namespace regsweep
