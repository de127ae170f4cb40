// The shared HTTP transport of object stores' clients (http_client.hpp).

#include "store/object/http_client.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <thread>

#include <strings.h>

#include "regsweep/timeutil.hpp"

namespace regsweep::object {

struct HttpClient::Handle {
  CURL* curl = nullptr;
  Handle() : curl(curl_easy_init()) {}
  ~Handle() { curl_easy_cleanup(curl); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

namespace {

struct Transfer {
  std::string* body;
  std::uint64_t max;
  const std::function<void(std::string_view)>* sink;
  std::uint64_t* received;
  bool* too_large;
  CURL* curl;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->sink != nullptr && status / 100 == 2) {
    (*t->sink)(std::string_view(data, len));
    *t->received += len;
    return len;
  }
  if (t->body->size() + len > t->max) {
    *t->too_large = true;
    return 0;  // aborts the transfer
  }
  if (t->body->empty()) {
    // The whole body at once: appending would double the buffer as it grows.
    curl_off_t length = -1;
    curl_easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length > 0 && static_cast<std::uint64_t>(length) <= t->max) {
      t->body->reserve(static_cast<std::size_t>(length));
    }
  }
  t->body->append(data, len);
  return len;
}

bool retryable_transfer(CURLcode c) {
  return c == CURLE_COULDNT_CONNECT || c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR ||
         c == CURLE_OPERATION_TIMEDOUT || c == CURLE_GOT_NOTHING || c == CURLE_PARTIAL_FILE ||
         c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

// What a Retry-After header asks to wait (seconds, or an HTTP date), in milliseconds, at most
// `limit`; 0 when there is none or it cannot be read.
long retry_after_ms(const std::string& value, long limit) {
  if (value.empty()) {
    return 0;
  }
  long ms = 0;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    ms = value.size() > 6 ? limit : std::stol(value) * 1000;
  } else if (auto when = parse_http_date(value)) {
    ms = (*when - static_cast<long>(std::time(nullptr))) * 1000;
  }
  return std::clamp(ms, 0L, limit);
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

HttpClient::HttpClient(HttpOptions options, Service service, bool skip_verify)
    : m_options(options), m_service(std::move(service)), m_skip_verify(skip_verify) {
  global_init();
}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Handle> HttpClient::take_handle() {
  {
    std::lock_guard lock(m_pool_mutex);
    if (!m_pool.empty()) {
      auto h = std::move(m_pool.back());
      m_pool.pop_back();
      return h;
    }
  }
  return std::make_unique<Handle>();
}

void HttpClient::give_back(std::unique_ptr<Handle> handle) {
  std::lock_guard lock(m_pool_mutex);
  m_pool.push_back(std::move(handle));
}

HttpResponse HttpClient::attempt(Handle& handle, HttpRequest& request) {
  HttpResponse r;
  CURL* c = handle.curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, m_options.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (m_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (request.sink != nullptr) {
    // A stream may take long; it fails when it stalls instead.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, m_options.stall_timeout_s);
  } else {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, m_options.request_timeout_ms);
  }
  if (m_service.prepare && !request.signed_here) {
    m_service.prepare(c);
  }
  std::vector<std::string> lines = request.headers;
  if (request.sink != nullptr && request.offset > 0) {
    lines.push_back("Range: bytes=" + std::to_string(request.offset) + "-");
  }
  std::string method = request.method;
  if ((method == "PUT" || method == "POST") &&
      std::none_of(lines.begin(), lines.end(), [](const std::string& h) {
        return h.size() > 13 && strncasecmp(h.c_str(), "content-type:", 13) == 0;
      })) {
    lines.emplace_back("Content-Type: application/octet-stream");
  }
  if (m_service.sign && !request.signed_here) {
    m_service.sign(request, lines);
  }
  struct curl_slist* headers = nullptr;
  for (const std::string& h : lines) {
    headers = curl_slist_append(headers, h.c_str());
  }
  if (method == "PUT" || method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method == "DELETE") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  std::uint64_t received = 0;
  Transfer t{&r.body, request.max, request.sink, &received, &request.too_large, c};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_headers);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  r.curl = curl_easy_perform(c);
  m_clock.note(r.headers.date);
  curl_slist_free_all(headers);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  request.offset += received;
  if (r.curl != CURLE_OK) {
    r.curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(r.curl);
  }
  if (r.status >= 300 && !r.body.empty() && m_service.inspect) {
    m_service.inspect(r);
  }
  m_requests.fetch_add(1, std::memory_order_relaxed);
  return r;
}

HttpResponse HttpClient::perform(HttpRequest& request) {
  auto handle = take_handle();
  HttpResponse r;
  thread_local std::minstd_rand jitter(
      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  long backoff = m_options.backoff_first_ms;
  for (int i = 0; i < m_options.max_attempts; ++i) {
    r = attempt(*handle, request);
    bool retry = r.curl != CURLE_OK ? retryable_transfer(r.curl)
                                    : r.status >= 500 || r.status == 429 ||
                                          (m_service.retry_code && m_service.retry_code(r.code));
    if (request.too_large || !retry || i + 1 == m_options.max_attempts) {
      break;
    }
    m_retries.fetch_add(1, std::memory_order_relaxed);
    long wait = backoff / 2 + static_cast<long>(jitter() % static_cast<unsigned>(backoff / 2 + 1));
    wait = std::max(wait, retry_after_ms(r.headers.retry_after, m_options.retry_after_max_ms));
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    backoff = std::min(backoff * 2, m_options.backoff_max_ms);
  }
  give_back(std::move(handle));
  return r;
}

}  // namespace regsweep::object
