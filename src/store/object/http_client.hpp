#pragma once

// The transport every HTTP object store's client shares: kept-alive libcurl handles in a
// pool, a deadline on every request, retries with exponential backoff and jitter on broken
// connections, 5xx, 429 and what the service says is worth a retry (waiting at least what a
// Retry-After header asks, up to a limit), bodies capped in size or
// streamed (a retry resumes a stream from the byte it reached), and the server's clock. What
// is the service's own (its URLs, signing, error documents) comes in a Service.
//
// perform() may be called from many threads at once: the number of requests in flight is the
// number of threads asking.

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/object/http.hpp"

namespace regsweep::object {

struct HttpOptions {
  int max_attempts = 6;              // per request, the first included
  long connect_timeout_ms = 10000;   // per attempt
  long request_timeout_ms = 120000;  // per attempt, for requests with small bodies
  long stall_timeout_s = 60;         // a stream that moves no byte for this long fails
  long backoff_first_ms = 100;       // doubled after each failed attempt, with jitter
  long backoff_max_ms = 5000;
  long retry_after_max_ms = 30000;  // the longest a Retry-After header makes a retry wait
};

// What a client did, for reports and benchmarks.
struct HttpCounters {
  std::uint64_t requests = 0;  // HTTP requests sent, retries included
  std::uint64_t retries = 0;
};

struct HttpRequest {
  const char* method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value", the service's own
  std::string body;
  std::uint64_t max = 1U << 20U;  // a larger body fails, with too_large set
  // Streaming: the body goes to `sink` instead, from byte `offset` on (advanced as it comes).
  const std::function<void(std::string_view)>* sink = nullptr;
  std::uint64_t offset = 0;
  bool too_large = false;
  bool signed_here = false;  // the caller signed it: the service's prepare() is not called
};

struct HttpResponse {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  KeptHeaders headers;  // Date; a HEAD's Last-Modified and Content-Length
  std::string code;     // the service's error code, from its error document
  std::string message;  // and its message
};

class HttpClient {
 public:
  struct Service {
    // Sets the service's options on a handle before each attempt (signing, credentials),
    // after the shared ones.
    std::function<void(CURL*)> prepare;
    // Reads a failed answer's error document into `code` and `message`.
    std::function<void(HttpResponse&)> inspect;
    // Whether the service's error `code` is worth a retry ("SlowDown").
    std::function<bool(const std::string& code)> retry_code;
    // Signs each attempt (a signature that covers its time and headers): given the request
    // and the headers it goes with (the caller's, a resumed stream's Range, the default
    // Content-Type), adds the signing's own. Not called for a request signed_here.
    std::function<void(const HttpRequest&, std::vector<std::string>& headers)> sign;
  };

  HttpClient(HttpOptions options, Service service, bool skip_verify);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The request, retried as the options say; the last attempt's answer.
  HttpResponse perform(HttpRequest& request);

  HttpCounters counters() const { return HttpCounters{m_requests.load(), m_retries.load()}; }
  // The server's clock minus this machine's, in seconds, from the Date header of the last
  // answer; nothing before one came.
  std::optional<std::int64_t> clock_offset() const { return m_clock.offset(); }

 private:
  struct Handle;
  HttpResponse attempt(Handle& handle, HttpRequest& request);
  std::unique_ptr<Handle> take_handle();
  void give_back(std::unique_ptr<Handle> handle);

  HttpOptions m_options;
  Service m_service;
  bool m_skip_verify;
  std::mutex m_pool_mutex;
  std::vector<std::unique_ptr<Handle>> m_pool;
  std::atomic<std::uint64_t> m_requests{0};
  std::atomic<std::uint64_t> m_retries{0};
  ServerClock m_clock;
};

}  // namespace regsweep::object
