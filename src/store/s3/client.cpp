// The S3 client: libcurl signs (CURLOPT_AWS_SIGV4) and transfers, pugixml reads the bodies.

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include <pugixml.hpp>

#include "regsweep/digest.hpp"
#include "regsweep/timeutil.hpp"
#include "store/s3/client.hpp"
#include "store/s3/request.hpp"

namespace regsweep {

namespace {

constexpr std::string_view k_empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

// ---- requests ----

S3Client::S3Client(S3Settings settings, S3ClientOptions options)
    : m_settings(std::move(settings)), m_options(options) {
  global_init();
  m_sigv4 =
      "aws:amz:" + (m_settings.region.empty() ? std::string("us-east-1") : m_settings.region) +
      ":s3";
  m_userpwd = m_settings.access_key + ":" + m_settings.secret_key;
}

S3Client::~S3Client() = default;

std::unique_ptr<S3Client::Handle> S3Client::take_handle() {
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

void S3Client::give_back(std::unique_ptr<Handle> handle) {
  std::lock_guard lock(m_pool_mutex);
  m_pool.push_back(std::move(handle));
}

std::string S3Client::url(std::string_view key, const std::string& query) const {
  std::string endpoint = m_settings.endpoint;
  bool path_style = m_settings.force_path_style || !endpoint.empty();
  if (endpoint.empty()) {
    endpoint = "s3." + (m_settings.region.empty() ? std::string("us-east-1") : m_settings.region) +
               ".amazonaws.com";
  }
  if (endpoint.find("://") == std::string::npos) {
    endpoint = (m_settings.secure ? "https://" : "http://") + endpoint;
  }
  while (!endpoint.empty() && endpoint.back() == '/') {
    endpoint.pop_back();
  }
  std::string out;
  if (path_style) {
    out = endpoint + "/" + uri_encode(m_settings.bucket, false);
  } else {
    auto at = endpoint.find("://") + 3;
    out = endpoint.substr(0, at) + m_settings.bucket + "." + endpoint.substr(at);
  }
  out += "/" + uri_encode(key, true);
  if (!query.empty()) {
    out += "?" + query;
  }
  return out;
}

namespace {

struct Transfer {
  std::string* body;
  std::uint64_t max;
  const std::function<void(std::string_view)>* sink;
  std::uint64_t* received;
  bool* too_large;
  long status_seen = 0;
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

bool retryable(const S3Client::Handle* /*unused*/, CURLcode c, long status,
               const std::string& code) {
  if (c != CURLE_OK) {
    return c == CURLE_COULDNT_CONNECT || c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR ||
           c == CURLE_OPERATION_TIMEDOUT || c == CURLE_GOT_NOTHING || c == CURLE_PARTIAL_FILE ||
           c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
  }
  return status >= 500 || status == 429 || code == "SlowDown" || code == "RequestTimeout" ||
         code == "InternalError";
}

}  // namespace

S3Client::Response S3Client::attempt(Handle& handle, Request& request) {
  Response r;
  CURL* c = handle.curl;
  curl_easy_reset(c);
  std::string u = url(request.key, request.query);
  curl_easy_setopt(c, CURLOPT_URL, u.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, m_sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, m_userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, m_options.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (m_settings.skip_verify) {
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
  struct curl_slist* headers = nullptr;
  std::string content_sha =
      "x-amz-content-sha256: " +
      (request.body.empty() ? std::string(k_empty_sha256) : sha256_of(request.body).hex());
  headers = curl_slist_append(headers, content_sha.c_str());
  std::string token;
  if (!m_settings.session_token.empty()) {
    token = "x-amz-security-token: " + m_settings.session_token;
    headers = curl_slist_append(headers, token.c_str());
  }
  std::string md5;
  if (!request.content_md5.empty()) {
    md5 = "Content-MD5: " + request.content_md5;
    headers = curl_slist_append(headers, md5.c_str());
  }
  std::string range;
  if (request.sink != nullptr && request.offset > 0) {
    range = "Range: bytes=" + std::to_string(request.offset) + "-";
    headers = curl_slist_append(headers, range.c_str());
  }
  std::string method = request.method;
  if (method == "PUT" || method == "POST") {
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method == "DELETE") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  std::uint64_t received = 0;
  Transfer t{&r.body, request.max, request.sink, &received, &request.too_large, 0, c};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, object::keep_date_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.date);
  r.curl = curl_easy_perform(c);
  m_clock.note(r.date);
  curl_slist_free_all(headers);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  request.offset += received;
  if (r.curl != CURLE_OK) {
    r.curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(r.curl);
  }
  if (r.status >= 300 && !r.body.empty()) {
    pugi::xml_document doc;
    if (doc.load_buffer(r.body.data(), r.body.size())) {
      r.code = doc.child("Error").child_value("Code");
      r.message = doc.child("Error").child_value("Message");
    }
  }
  m_requests.fetch_add(1, std::memory_order_relaxed);
  return r;
}

S3Client::Response S3Client::perform(Request& request) {
  auto handle = take_handle();
  Response r;
  thread_local std::minstd_rand jitter(
      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  long backoff = m_options.backoff_first_ms;
  for (int i = 0; i < m_options.max_attempts; ++i) {
    r = attempt(*handle, request);
    if (request.too_large || !retryable(handle.get(), r.curl, r.status, r.code)) {
      break;
    }
    if (i + 1 == m_options.max_attempts) {
      break;
    }
    m_retries.fetch_add(1, std::memory_order_relaxed);
    long wait = backoff / 2 + static_cast<long>(jitter() % static_cast<unsigned>(backoff / 2 + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    backoff = std::min(backoff * 2, m_options.backoff_max_ms);
    if (request.sink == nullptr) {
      r.body.clear();
    }
  }
  give_back(std::move(handle));
  return r;
}

Error S3Client::error_of(const Response& r, std::string_view what, std::string_view key) const {
  std::string where = "'s3://" + m_settings.bucket + "/" + std::string(key) + "'";
  // A transfer cut short by the caller's size limit still has the server's status.
  if (r.curl != CURLE_OK && r.status < 300) {
    return Error{"cannot " + std::string(what) + " " + where + ": " + r.curl_error + " (endpoint " +
                     url("", "").substr(0, url("", "").find('/', 8)) + ")",
                 EIO};
  }
  std::string server = std::to_string(r.status) + (r.code.empty() ? "" : " " + r.code) +
                       (r.message.empty() ? "" : ": " + r.message);
  int err = EIO;
  std::string hint;
  if (r.code == "NoSuchBucket") {
    hint = "; the bucket '" + m_settings.bucket + "' does not exist";
    err = ENOENT;
  } else if (r.status == 404) {
    err = ENOENT;
  } else if (r.code == "InvalidObjectState") {
    hint =
        "; the object is in an archive storage class: what it holds is unknown until it is "
        "restored";
    err = EIO;
  } else if (r.code == "RequestTimeTooSkewed") {
    hint = "; this machine's clock and the server's" +
           (r.date.empty() ? std::string() : " (" + r.date + ")") +
           " differ by more than S3 allows: correct the clock";
    err = EACCES;
  } else if (r.status == 403 || r.code == "InvalidAccessKeyId" ||
             r.code == "SignatureDoesNotMatch") {
    hint = "; check the access key and secret key";
    err = EACCES;
  }
  return Error{
      "cannot " + std::string(what) + " " + where + ": the server answered " + server + hint, err};
}

}  // namespace regsweep
