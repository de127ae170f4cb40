#pragma once

// The client for the Blob service requests regsweep makes (List Blobs, Get Blob, Get Blob
// Properties, Put Blob, Delete Blob, Blob Batch, Copy Blob), each attempt signed with the
// account's Shared Key (HMAC-SHA256, OpenSSL), answers read with pugixml, over
// object::HttpClient (pool, deadlines, retries, Retry-After). Usable from many threads. What
// fails is an Error naming the blob and the service's words, never a secret.
//
// The Blob service has no multipart uploads to list (the registry's azure driver writes an
// upload as an append blob, which a listing shows), and copies any size in one Copy Blob:
// those calls of the bucket interface are never made, and say so if they are.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/result.hpp"
#include "store/azure/settings.hpp"
#include "store/object/bucket.hpp"
#include "store/object/http.hpp"
#include "store/object/http_client.hpp"

namespace regsweep {

// The Blob service's version regsweep speaks: Blob Batch needs 2018-11-09 or later.
inline constexpr std::string_view k_azure_api_version = "2020-10-02";
// Sub-requests in one Blob Batch: the service's limit.
inline constexpr std::size_t k_azure_max_batch = 256;

class AzureClient {
 public:
  AzureClient(AzureSettings settings, object::HttpOptions options = {});
  ~AzureClient();
  AzureClient(const AzureClient&) = delete;
  AzureClient& operator=(const AzureClient&) = delete;

  const AzureSettings& settings() const { return m_settings; }
  // A time (seconds since the epoch) as an HTTP date: "Mon, 07 Dec 2026 11:35:13 GMT".
  static std::string http_date(std::int64_t seconds);

  // Each call is object::Bucket's of the same meaning (bucket.hpp), on full blob names.
  Status list(std::string_view prefix, std::string_view delimiter,
              const std::function<void(object::Page&)>& page);
  // Whether any blob's name starts with `prefix` (one listing page of one blob).
  Result<bool> any_below(std::string_view prefix);
  Result<std::string> get(std::string_view key, std::uint64_t max);
  Status get_stream(std::string_view key, const std::function<void(std::string_view)>& sink);
  Result<StoreObject> head(std::string_view key);
  Status put(std::string_view key, std::string_view body);
  // With `unmodified_since` (seconds since the epoch, the service's clock), a deletion is
  // made only if the blob was not written after that second (If-Unmodified-Since): the
  // service answers 412 ConditionNotMet for one written since, and leaves it.
  Status delete_object(std::string_view key, std::optional<std::int64_t> unmodified_since = {});
  // Blob Batch: up to k_azure_max_batch deletions in one request (batch.cpp).
  Result<std::vector<object::DeleteFailure>> delete_objects(
      const std::vector<std::string>& keys, std::optional<std::int64_t> unmodified_since = {});
  // Copy Blob within the account, waited for until the service says it succeeded.
  Status copy(std::string_view source, std::string_view key);

  // Never needed here (see above): empty answers, or ENOTSUP errors naming the call.
  Result<std::vector<object::Multipart>> list_multipart(std::string_view prefix);
  Status abort_multipart(const object::Multipart& upload);
  Result<std::string> start_multipart(std::string_view key);
  Result<std::string> copy_part(const object::Multipart& upload, int part, std::string_view source,
                                std::uint64_t first, std::uint64_t last);
  Status complete_multipart(const object::Multipart& upload, const std::vector<std::string>& tags);
  // Blob versions and soft delete are the account's settings, not the container's: not
  // read here (docs/safety.md). "" and no versions.
  Result<std::string> versioning();
  Result<std::vector<object::Version>> list_versions(std::string_view key);
  Result<std::vector<object::DeleteFailure>> delete_versions(
      const std::vector<object::Version>& versions);

  object::HttpCounters counters() const { return m_http.counters(); }
  std::optional<std::int64_t> clock_offset() const { return m_http.clock_offset(); }

  // The Shared Key signature's string to sign for a request (exposed for tests): `method`,
  // the request's `url` and its `headers` ("Name: value"), `content_length` its body's size.
  std::string string_to_sign(std::string_view method, const std::string& url,
                             const std::vector<std::string>& headers,
                             std::uint64_t content_length) const;
  // The Shared Key signature of `text` with the account key `key` (base64, as given): the
  // base64 HMAC-SHA256.
  static std::string signature(std::string_view key, std::string_view text);
  // The headers that sign a request: x-ms-date (now) and Authorization, appended.
  void sign(std::string_view method, const std::string& url, std::vector<std::string>& headers,
            std::uint64_t content_length) const;
  // The URL of blob `key` ("" for the container), with `query` (encoded) after '?'.
  std::string url(std::string_view key, const std::string& query) const;

 private:
  struct Request {
    const char* method = "GET";
    std::string key;    // full blob name; empty for a container request
    std::string query;  // encoded
    std::vector<std::string> headers;
    std::string body;
    std::uint64_t max = 1U << 20U;
    const std::function<void(std::string_view)>* sink = nullptr;
    std::uint64_t offset = 0;
    bool too_large = false;
    bool account = false;  // a request to the account (Blob Batch), not the container
  };
  using Response = object::HttpResponse;
  Response perform(Request& request);
  // Get Blob Properties of `key`: the answer as it came (head(), and copy()'s polling).
  Response head_answer(std::string_view key);
  Status call(Request req, std::initializer_list<long> ok, std::string_view what);
  // Delete Blob of `key` (delete_object), the answer as it came; deleted(): whether it says
  // the blob is gone (absent already counts).
  Response delete_answer(std::string_view key, std::optional<std::int64_t> unmodified_since);
  static bool deleted(const Response& r);
  Error error_of(const Response& response, std::string_view what, std::string_view key) const;
  std::string shown(std::string_view key) const;
  Error not_here(std::string_view call) const;

  AzureSettings m_settings;
  std::string m_key;  // the account key, decoded
  object::HttpClient m_http;
};

}  // namespace regsweep
