#pragma once

// What every HTTP object store's client needs whatever its API: URI encoding, Content-MD5,
// the mapping of its keys to the tree's, and the server's clock, from the Date header of its
// answers (object stores stamp objects with their own clock, and ages are judged by it).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep::object {

// URI-encodes `text` (RFC 3986, as SigV4 and Azure's shared key want it): unreserved
// characters kept, `/` kept when `keep_slash`, everything else %XX in upper case.
std::string uri_encode(std::string_view text, bool keep_slash);
// The base64 MD5 of a request's body, for Content-MD5.
std::string md5_base64(std::string_view body);
// HMAC-SHA256 of `data` with `key`, raw bytes: what SigV4 and Azure's Shared Key sign with.
std::string hmac_sha256(std::string_view key, std::string_view data);

// A request URL's parts, as a signature covers them: the host as the Host header says it (a
// scheme's own port left out, as libcurl sends it), the path, the query (after '?').
struct UrlParts {
  std::string host;
  std::string path;
  std::string query;
};
UrlParts url_parts(const std::string& url);

// A backend's keys are the tree's behind a prefix ("<rootdirectory>/docker/registry/v2/").
class KeyPrefix {
 public:
  explicit KeyPrefix(std::string prefix) : m_prefix(std::move(prefix)) {}
  const std::string& prefix() const { return m_prefix; }
  std::string full(std::string_view key) const { return m_prefix + std::string(key); }
  // A backend's key as the tree's: without the prefix (which every key listed below it has).
  std::string tree(const std::string& key) const {
    return key.compare(0, m_prefix.size(), m_prefix) == 0 ? key.substr(m_prefix.size()) : key;
  }
  // The same for each of what a request answered (failures, uploads, versions).
  template <typename Keyed>
  Result<std::vector<Keyed>> tree(Result<std::vector<Keyed>> answered) const {
    if (answered) {
      for (Keyed& k : *answered) {
        k.key = tree(k.key);
      }
    }
    return answered;
  }
  // `keyed` (a multipart upload, a version) with its key made full.
  template <typename Keyed>
  Keyed with_full_key(Keyed keyed) const {
    keyed.key = full(keyed.key);
    return keyed;
  }

 private:
  std::string m_prefix;
};

// The headers of an answer an object store's client reads: the server's clock, an object's
// size and time (a HEAD request's answer), how long to wait before a retry, and the service's
// own that a body cannot carry (a HEAD's error code, a copy's state).
struct KeptHeaders {
  std::string date;            // Date, as sent
  std::string last_modified;   // Last-Modified
  std::string content_length;  // Content-Length
  std::string content_type;    // Content-Type (a multipart answer's boundary)
  std::string retry_after;     // Retry-After: seconds, or an HTTP date
  std::string error_code;      // x-ms-error-code (Azure)
  std::string copy_status;     // x-ms-copy-status (Azure)
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
