#pragma once

// Object storage: where a registry's S3 driver keeps its tree, and a client for the few S3
// requests regsweep makes (ListObjectsV2, GetObject, PutObject, DeleteObjects,
// ListMultipartUploads, AbortMultipartUpload, GetBucketVersioning, ListObjectVersions).
// Requests are signed by libcurl (CURLOPT_AWS_SIGV4); bodies are parsed with pugixml. The client
// may be used from many threads at once: each request takes a kept-alive handle from a pool, so the
// number of requests in flight is the number of threads asking (the store's arena, --jobs).
//
// Every request has a deadline; 5xx answers, SlowDown and broken connections are retried with
// exponential backoff; what still fails is an Error naming the key and the server's words.
// Secrets are never part of an Error, a log line or anything else the client returns.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/config.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// One object of a listing.
struct S3Object {
  std::string key;  // the full key
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // LastModified, nanoseconds since the epoch
};

// One page of ListObjectsV2.
struct S3Page {
  std::vector<S3Object> objects;
  std::vector<std::string> prefixes;  // CommonPrefixes, with a delimiter
};

// An incomplete multipart upload.
struct S3Multipart {
  std::string key;
  std::string upload_id;
  std::int64_t initiated_ns = 0;
};

// A key a DeleteObjects request did not delete, with the server's code and message.
struct S3DeleteFailure {
  std::string key;
  std::string code;
  std::string message;
  std::string version_id;  // the version asked for, when one was
};

// One version of a key in a versioned bucket, as ListObjectVersions gives it: stored bytes
// or a delete marker.
struct S3Version {
  std::string key;
  std::string version_id;
  bool delete_marker = false;
  bool latest = false;  // the key's current version: what a GET of the key answers with
  std::uint64_t size = 0;
};

struct S3ClientOptions {
  int max_attempts = 6;              // per request, the first included
  long connect_timeout_ms = 10000;   // per attempt
  long request_timeout_ms = 120000;  // per attempt, for requests with small bodies
  long stall_timeout_s = 60;         // a stream that moves no byte for this long fails
  long backoff_first_ms = 100;       // doubled after each failed attempt, with jitter
  long backoff_max_ms = 5000;
};

// What the client did, for reports and benchmarks.
struct S3Counters {
  std::uint64_t requests = 0;  // HTTP requests sent, retries included
  std::uint64_t retries = 0;
};

class S3Client {
 public:
  S3Client(S3Settings settings, S3ClientOptions options = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Settings& settings() const { return m_settings; }

  // Every page of ListObjectsV2 below `prefix` (a full key prefix), with `delimiter` when not
  // empty, to `page` in order. Error when a page cannot be had.
  Status list(std::string_view prefix, std::string_view delimiter,
              const std::function<void(S3Page&)>& page);

  // The object `key` whole; an Error with sys_errno ENOENT when there is none, EFBIG when it
  // is larger than `max` bytes.
  Result<std::string> get(std::string_view key, std::uint64_t max);

  // The object `key` in chunks, in order, to `sink`. A retry after a broken connection
  // resumes from the byte it reached.
  Status get_stream(std::string_view key, const std::function<void(std::string_view)>& sink);

  Status put(std::string_view key, std::string_view body);

  // Deletes up to 1,000 keys in one request (quiet mode): the keys the server did not
  // delete, with its reasons. A key that does not exist counts as deleted (S3's semantics).
  Result<std::vector<S3DeleteFailure>> delete_objects(const std::vector<std::string>& keys);

  // A single key.
  Status delete_object(std::string_view key);

  // Every version of exactly `key` (not of keys it is a prefix of), delete markers included,
  // newest first.
  Result<std::vector<S3Version>> list_versions(std::string_view key);

  // Deletes up to 1,000 versions (key and version id each) in one request: those the server
  // did not delete, with its reasons. Deleting a version removes it for good.
  Result<std::vector<S3DeleteFailure>> delete_versions(const std::vector<S3Version>& versions);

  // The bucket's versioning state: "Enabled", "Suspended", or "" for never enabled.
  Result<std::string> versioning();

  // Incomplete multipart uploads below `prefix`.
  Result<std::vector<S3Multipart>> list_multipart(std::string_view prefix);
  Status abort_multipart(const S3Multipart& upload);

  S3Counters counters() const { return S3Counters{m_requests.load(), m_retries.load()}; }

  // The server's clock minus this machine's, in seconds, from the Date header of the last
  // answer; nothing before one came. Ages of objects are judged by the server's clock.
  std::optional<std::int64_t> clock_offset() const {
    if (!m_clock_known.load(std::memory_order_acquire)) {
      return std::nullopt;
    }
    return m_clock_offset.load(std::memory_order_relaxed);
  }

  struct Handle;  // a curl easy handle, kept alive between requests

 private:
  struct Request;
  struct Response;
  Response perform(Request& request);
  Response attempt(Handle& handle, Request& request);
  std::unique_ptr<Handle> take_handle();
  void give_back(std::unique_ptr<Handle> handle);
  std::string url(std::string_view key, const std::string& query) const;
  Error error_of(const Response& response, std::string_view what, std::string_view key) const;
  // Records the offset of the server's clock from a response's Date header.
  void note_server_clock(const std::string& date);

  S3Settings m_settings;
  S3ClientOptions m_options;
  std::string m_sigv4;  // "aws:amz:<region>:s3"
  std::string m_userpwd;
  std::mutex m_pool_mutex;
  std::vector<std::unique_ptr<Handle>> m_pool;
  std::atomic<std::uint64_t> m_requests{0};
  std::atomic<std::uint64_t> m_retries{0};
  std::atomic<std::int64_t> m_clock_offset{0};
  std::atomic<bool> m_clock_known{false};
};

// URI-encodes `text` as SigV4 wants it: unreserved characters kept, `/` kept when
// `keep_slash`, everything else %XX in upper case.
std::string uri_encode(std::string_view text, bool keep_slash);

}  // namespace regsweep
