#include "regsweep/log_format.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <map>

#include "regsweep/json_writer.hpp"

namespace regsweep {

namespace {

int rank(std::string_view level) {
  // logrus.ParseLevel's names, most severe first.
  if (level == "panic" || level == "fatal") {
    return -1;
  }
  if (level == "error") {
    return 0;
  }
  if (level == "warn" || level == "warning") {
    return 1;
  }
  if (level == "debug" || level == "trace") {
    return 3;
  }
  return 2;  // info, and anything the registry cannot parse
}

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::error:
      return "error";
    case LogLevel::warning:
      return "warning";
    case LogLevel::info:
      return "info";
  }
  return "info";
}

// Go's time.RFC3339Nano in the local zone: fraction without trailing zeros, "Z" at offset 0.
std::string rfc3339_nano(std::int64_t unix_ns) {
  std::time_t secs = static_cast<std::time_t>(unix_ns / 1000000000);
  long nanos = static_cast<long>(unix_ns % 1000000000);
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  std::array<char, 64> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf.data();
  if (nanos != 0) {
    std::array<char, 24> frac{};
    std::snprintf(frac.data(), frac.size(), ".%09ld", nanos);
    std::string f = frac.data();
    while (f.back() == '0') {
      f.pop_back();
    }
    out += f;
  }
  long off = tm.tm_gmtoff;
  if (off == 0) {
    return out + "Z";
  }
  char sign = off < 0 ? '-' : '+';
  off = off < 0 ? -off : off;
  std::array<char, 40> zone{};
  std::snprintf(zone.data(), zone.size(), "%c%02ld:%02ld", sign, off / 3600, (off % 3600) / 60);
  return out + zone.data();
}

// A value as logrus's text formatter writes it: bare when made of [A-Za-z0-9-._/@^+] only,
// else quoted as %q.
std::string logfmt_value(std::string_view v) {
  for (char ch : v) {
    bool bare = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '-' || ch == '.' || ch == '_' || ch == '/' || ch == '@' || ch == '^' ||
                ch == '+';
    if (!bare) {
      return go_quote(v);
    }
  }
  return std::string(v);
}

// A JSON string as Go's encoding/json writes it, HTML-escaping included (logrus's default).
std::string go_json(std::string_view v) {
  std::string out = "\"";
  for (std::size_t i = 0; i < v.size();) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      std::array<char, 8> u{};
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        std::snprintf(u.data(), u.size(), "\\u%04x", c);
        out += u.data();
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t n = utf8_length(v, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    std::string_view seq = v.substr(i, n);
    if (seq == "\xE2\x80\xA8" || seq == "\xE2\x80\xA9") {
      out += seq == "\xE2\x80\xA8" ? "\\u2028" : "\\u2029";
    } else {
      out += seq;
    }
    i += n;
  }
  return out + "\"";
}

std::string json_object(const std::map<std::string, std::string>& data) {
  std::string out = "{";
  for (const auto& [k, v] : data) {
    out += (out.size() > 1 ? "," : "") + go_json(k) + ":" + go_json(v);
  }
  return out + "}";
}

}  // namespace

bool log_enabled(const LogSettings& settings, LogLevel level) {
  int wanted = level == LogLevel::error ? 0 : level == LogLevel::warning ? 1 : 2;
  return wanted <= rank(settings.level);
}

std::string go_quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::array<char, 8> x{};
    if (c >= 0x80) {
      std::size_t n = utf8_length(text, i);
      if (n > 0) {
        out += text.substr(i, n);
        i += n;
        continue;
      }
      std::snprintf(x.data(), x.size(), "\\x%02x", c);
      out += x.data();
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      switch (c) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          std::snprintf(x.data(), x.size(), "\\x%02x", c);
          out += x.data();
      }
    }
    ++i;
  }
  return out + "\"";
}

std::string log_record(const LogSettings& settings, LogLevel level, std::string_view message,
                       std::int64_t unix_ns) {
  std::string time = rfc3339_nano(unix_ns);
  std::string lvl(level_name(level));
  if (settings.formatter == "json" || settings.formatter == "logstash") {
    std::map<std::string, std::string> data = settings.fields;
    if (settings.formatter == "json") {
      data["time"] = time;
      data["msg"] = std::string(message);
    } else {
      data["@timestamp"] = time;
      data["@version"] = "1";
      data["message"] = std::string(message);
    }
    data["level"] = lvl;
    return json_object(data);
  }
  // logrus's TextFormatter without a terminal: time, level and msg first, then the fields
  // in sorted order.
  std::string out =
      "time=" + logfmt_value(time) + " level=" + lvl + " msg=" + logfmt_value(message);
  for (const auto& [k, v] : settings.fields) {
    out += " " + k + "=" + logfmt_value(v);
  }
  return out;
}

}  // namespace regsweep
