// HTTP helpers of object stores' clients (http.hpp).

#include "store/object/http.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "regsweep/timeutil.hpp"

namespace regsweep::object {

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char k_digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += k_digits[c >> 4U];
      out += k_digits[c & 0xFU];
    }
  }
  return out;
}

std::size_t keep_date_header(char* data, std::size_t size, std::size_t n, void* user) {
  std::size_t len = size * n;
  std::string_view line(data, len);
  constexpr std::string_view k_date = "date:";
  if (line.size() > k_date.size() &&
      std::equal(k_date.begin(), k_date.end(), line.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    std::string_view v = line.substr(k_date.size());
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
      v.remove_prefix(1);
    }
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
      v.remove_suffix(1);
    }
    *static_cast<std::string*>(user) = std::string(v);
  }
  return len;
}

void ServerClock::note(const std::string& date_header) {
  if (auto server = parse_http_date(date_header)) {
    // To the second, as the header gives it.
    m_offset.store(*server - static_cast<std::int64_t>(std::time(nullptr)),
                   std::memory_order_relaxed);
    m_known.store(true, std::memory_order_release);
  }
}

}  // namespace regsweep::object
