#include "regsweep/json_writer.hpp"

#include <cstdio>

namespace regsweep {

std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = 0;
  if (c < 0x80) {
    return 1;
  }
  if ((c & 0xE0U) == 0xC0U && c >= 0xC2) {
    n = 2;
  } else if ((c & 0xF0U) == 0xE0U) {
    n = 3;
  } else if ((c & 0xF8U) == 0xF0U && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0U) != 0x80U) {
      return 0;
    }
  }
  if (n == 3) {
    unsigned char c1 = byte(i + 1);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) {
      return 0;
    }
  }
  if (n == 4) {
    unsigned char c1 = byte(i + 1);
    if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) {
      return 0;
    }
  }
  return n;
}

namespace {

void escape(std::string& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      ++i;
    } else {
      std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
    }
  }
  out.push_back('"');
}

}  // namespace

void JsonWriter::before_value() {
  if (m_after_key) {
    m_after_key = false;
    return;
  }
  if (!m_first.empty()) {
    if (!m_first.back()) {
      m_out.push_back(',');
    }
    m_first.back() = false;
  }
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  m_out.push_back('{');
  m_first.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  m_out.push_back('}');
  m_first.pop_back();
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  m_out.push_back('[');
  m_first.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  m_out.push_back(']');
  m_first.pop_back();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  before_value();
  escape(m_out, name);
  m_out.push_back(':');
  m_after_key = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  before_value();
  escape(m_out, text);
  return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t number) {
  before_value();
  m_out += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t number) {
  before_value();
  m_out += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
  before_value();
  m_out += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  m_out += "null";
  return *this;
}

}  // namespace regsweep
