// HTTP helpers of object stores' clients (http.hpp).

#include "store/object/http.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <optional>

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

namespace {

// The value of `line` when it is the header `name` (lower case, with its colon).
std::optional<std::string_view> header_value(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() ||
      !std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return std::nullopt;
  }
  std::string_view v = line.substr(name.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  return v;
}

}  // namespace

std::size_t keep_headers(char* data, std::size_t size, std::size_t n, void* user) {
  std::size_t len = size * n;
  std::string_view line(data, len);
  auto* kept = static_cast<KeptHeaders*>(user);
  if (auto date = header_value(line, "date:")) {
    kept->date = std::string(*date);
  } else if (auto modified = header_value(line, "last-modified:")) {
    kept->last_modified = std::string(*modified);
  } else if (auto length = header_value(line, "content-length:")) {
    kept->content_length = std::string(*length);
  } else if (auto type = header_value(line, "content-type:")) {
    kept->content_type = std::string(*type);
  } else if (auto after = header_value(line, "retry-after:")) {
    kept->retry_after = std::string(*after);
  } else if (auto code = header_value(line, "x-ms-error-code:")) {
    kept->error_code = std::string(*code);
  } else if (auto copy = header_value(line, "x-ms-copy-status:")) {
    kept->copy_status = std::string(*copy);
  }
  return len;
}

Result<StoreObject> object_of_headers(const KeptHeaders& headers, std::string key,
                                      std::string_view shown) {
  std::uint64_t size = 0;
  const std::string& length = headers.content_length;
  auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), size);
  if (length.empty() || ec != std::errc() || end != length.data() + length.size()) {
    return Error{"cannot stat '" + std::string(shown) + "': the answer has no readable size", EIO};
  }
  auto when = parse_http_date(headers.last_modified);
  if (!when) {
    return Error{"cannot stat '" + std::string(shown) + "': the answer has no readable time", EIO};
  }
  return StoreObject{std::move(key), size, *when * 1000000000};
}

void ServerClock::note(const std::string& date_header) {
  if (auto server = parse_http_date(date_header)) {
    // To the second, as the header gives it.
    m_offset.store(*server - static_cast<std::int64_t>(std::time(nullptr)),
                   std::memory_order_relaxed);
    m_known.store(true, std::memory_order_release);
  }
}

std::string md5_base64(std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(body.data(), body.size(), md, &n, EVP_md5(), nullptr);
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), md, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<const char*>(out), n);
}

UrlParts url_parts(const std::string& url) {
  const std::size_t authority = url.find("://") + 3;
  const std::size_t path = std::min(url.find('/', authority), url.size());
  const std::size_t query = std::min(url.find('?', path), url.size());
  UrlParts out{url.substr(authority, path - authority), url.substr(path, query - path),
               query < url.size() ? url.substr(query + 1) : std::string()};
  std::string_view own = url.compare(0, 8, "https://") == 0 ? ":443" : ":80";
  if (out.host.size() > own.size() &&
      out.host.compare(out.host.size() - own.size(), own.size(), own) == 0) {
    out.host.resize(out.host.size() - own.size());
  }
  return out;
}

}  // namespace regsweep::object
