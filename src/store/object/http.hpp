#pragma once

// What every HTTP object store's client needs whatever its API: URI encoding, and the
// server's clock, from the Date header of its answers (object stores stamp objects with
// their own clock, and ages are judged by it).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep::object {

// URI-encodes `text` (RFC 3986, as SigV4 and Azure's shared key want it): unreserved
// characters kept, `/` kept when `keep_slash`, everything else %XX in upper case.
std::string uri_encode(std::string_view text, bool keep_slash);

// The headers of an answer an object store's client reads: the server's clock, and an
// object's size and time (a HEAD request's answer).
struct KeptHeaders {
  std::string date;            // Date, as sent
  std::string last_modified;   // Last-Modified
  std::string content_length;  // Content-Length
};

// A libcurl CURLOPT_HEADERFUNCTION that keeps those headers' values in the KeptHeaders its
// user pointer points to.
std::size_t keep_headers(char* data, std::size_t size, std::size_t n, void* user);

// The object a HEAD request's headers describe: `key`, with the size of Content-Length and the
// time of Last-Modified (to the second); an error naming `shown` when either is unreadable.
Result<StoreObject> object_of_headers(const KeptHeaders& headers, std::string key,
                                      std::string_view shown);

// The server's clock minus this machine's, in seconds, from the last Date header seen.
class ServerClock {
 public:
  void note(const std::string& date_header);
  std::optional<std::int64_t> offset() const {
    if (!m_known.load(std::memory_order_acquire)) {
      return std::nullopt;
    }
    return m_offset.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> m_offset{0};
  std::atomic<bool> m_known{false};
};

}  // namespace regsweep::object
