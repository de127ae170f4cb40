#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace regsweep {

// The length of the valid UTF-8 sequence starting at s[i] (1 to 4), or 0 when it is not
// valid: overlong forms, surrogates and code points past U+10FFFF are not.
std::size_t utf8_length(std::string_view s, std::size_t i);

// A small streaming JSON writer (simdjson 3.0 has no builder). Compact output, one value per
// call; commas are placed for the caller. Strings are escaped; invalid UTF-8 bytes become
// U+FFFD so the output is always valid JSON.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(std::uint64_t number);
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();

  const std::string& str() const { return m_out; }

 private:
  void before_value();
  std::string m_out;
  std::vector<bool> m_first;  // per open container: no element written yet
  bool m_after_key = false;
};

}  // namespace regsweep
