#include "regsweep/timeutil.hpp"

#include <cctype>
#include <ctime>

namespace regsweep {

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) {
      return false;
    }
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

namespace {

// Seconds since the epoch, and the fraction's nanoseconds (to 9 digits), of an RFC 3339 time.
struct TimeParts {
  std::int64_t seconds = 0;
  std::int64_t nanos = 0;
};

std::optional<TimeParts> rfc3339_parts(std::string_view s) {
  int year = 0;
  int mon = 0;
  int day = 0;
  int hour = 0;
  int min = 0;
  int sec = 0;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mon) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, min) || s[16] != ':' ||
      !digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    std::int64_t scale = 100000000;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) != 0) {
      nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
  }
  std::int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0;
    int om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset = (s[pos] == '+' ? 1 : -1) * (std::int64_t{oh} * 3600 + std::int64_t{om} * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return TimeParts{static_cast<std::int64_t>(::timegm(&tm)) - offset, nanos};
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  auto t = rfc3339_parts(s);
  if (!t) {
    return std::nullopt;
  }
  return t->seconds;
}

std::optional<std::int64_t> parse_rfc3339_ns(std::string_view s) {
  auto t = rfc3339_parts(s);
  if (!t) {
    return std::nullopt;
  }
  return t->seconds * 1000000000 + t->nanos;
}

std::optional<std::int64_t> parse_http_date(std::string_view t) {
  // "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110's IMF-fixdate, what HTTP servers send).
  static constexpr std::string_view k_months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (t.size() != 29 || t[3] != ',' || t[4] != ' ' || t[7] != ' ' || t[11] != ' ' || t[16] != ' ' ||
      t[19] != ':' || t[22] != ':' || t.substr(25) != " GMT") {
    return std::nullopt;
  }
  std::size_t month = k_months.find(t.substr(8, 3));
  int day = 0;
  int year = 0;
  int hour = 0;
  int min = 0;
  int sec = 0;
  if (month == std::string_view::npos || month % 3 != 0 || !digits(t, 5, 2, day) ||
      !digits(t, 12, 4, year) || !digits(t, 17, 2, hour) || !digits(t, 20, 2, min) ||
      !digits(t, 23, 2, sec) || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = static_cast<int>(month / 3);
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::optional<std::int64_t> parse_duration(std::string_view s) {
  if (s == "0") {
    return 0;
  }
  if (s.empty()) {
    return std::nullopt;
  }
  // Every step checked: a sum that overflowed would turn negative, and a negative grace
  // period is none at all.
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t start = pos;
    std::int64_t n = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) != 0) {
      if (n > k_max_duration) {
        return std::nullopt;
      }
      n = n * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start || pos == s.size()) {
      return std::nullopt;
    }
    std::int64_t unit = 0;
    switch (s[pos]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return std::nullopt;
    }
    ++pos;
    if (__builtin_mul_overflow(n, unit, &n) || __builtin_add_overflow(total, n, &total) ||
        total > k_max_duration) {
      return std::nullopt;
    }
  }
  return total;
}

std::string format_rfc3339(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) {
    return "";
  }
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace regsweep
