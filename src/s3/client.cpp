// The S3 client: libcurl signs (CURLOPT_AWS_SIGV4) and transfers, pugixml reads the bodies.

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include <pugixml.hpp>

#include "regsweep/markup.hpp"
#include "regsweep/s3.hpp"

namespace regsweep {

namespace {

constexpr std::string_view k_empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string hex(const unsigned char* data, unsigned n) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(n) * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = k_digits[data[i] >> 4U];
    out[2 * i + 1] = k_digits[data[i] & 0xFU];
  }
  return out;
}

std::string sha256_hex(std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(body.data(), body.size(), md, &n, EVP_sha256(), nullptr);
  return hex(md, n);
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

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

// ---- settings ----

std::string S3Settings::location() const {
  return "s3://" + bucket + (rootdirectory.empty() ? "" : "/" + rootdirectory);
}

std::string S3Settings::v2_prefix() const {
  return (rootdirectory.empty() ? "" : rootdirectory + "/") + "docker/registry/v2/";
}

std::string S3Settings::key(std::string_view v2_relative) const {
  return v2_prefix() + std::string(v2_relative);
}

std::optional<S3Settings> parse_s3_url(std::string_view text) {
  constexpr std::string_view k_scheme = "s3://";
  if (text.substr(0, k_scheme.size()) != k_scheme) {
    return std::nullopt;
  }
  text.remove_prefix(k_scheme.size());
  S3Settings s;
  auto slash = text.find('/');
  s.bucket = std::string(text.substr(0, slash));
  if (s.bucket.empty()) {
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    std::string_view rest = text.substr(slash + 1);
    while (!rest.empty() && rest.back() == '/') {
      rest.remove_suffix(1);
    }
    while (!rest.empty() && rest.front() == '/') {
      rest.remove_prefix(1);
    }
    s.rootdirectory = std::string(rest);
  }
  return s;
}

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

// The number the `n` decimal digits of `t` at `at` write, or nothing when one is no digit.
std::optional<unsigned> digits(std::string_view t, std::size_t at, std::size_t n) {
  unsigned v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (t[i] < '0' || t[i] > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<unsigned>(t[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<std::int64_t> parse_s3_time(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
      t[13] != ':' || t[16] != ':' || (t.back() != 'Z' && t.back() != 'z')) {
    return std::nullopt;
  }
  auto num = [&](std::size_t at, std::size_t n) { return digits(t, at, n); };
  auto y = num(0, 4);
  auto mo = num(5, 2);
  auto d = num(8, 2);
  auto h = num(11, 2);
  auto mi = num(14, 2);
  auto s = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 ||
      *mi > 59 || *s > 60) {
    return std::nullopt;
  }
  std::int64_t ns = 0;
  if (t.size() > 20) {
    if (t[19] != '.') {
      return std::nullopt;
    }
    std::int64_t scale = 100000000;
    for (std::size_t i = 20; i + 1 < t.size(); ++i) {
      if (t[i] < '0' || t[i] > '9') {
        return std::nullopt;
      }
      ns += (t[i] - '0') * scale;
      scale /= 10;
    }
  }
  std::int64_t secs = days_from_civil(*y, *mo, *d) * 86400 + std::int64_t{*h} * 3600 +
                      std::int64_t{*mi} * 60 + std::int64_t{*s};
  return secs * 1000000000 + ns;
}

std::optional<std::int64_t> parse_http_date(std::string_view t) {
  // "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110's IMF-fixdate, what S3 servers send).
  static constexpr std::string_view k_months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (t.size() != 29 || t[3] != ',' || t[4] != ' ' || t[7] != ' ' || t[11] != ' ' || t[16] != ' ' ||
      t[19] != ':' || t[22] != ':' || t.substr(25) != " GMT") {
    return std::nullopt;
  }
  auto num = [&](std::size_t at, std::size_t n) { return digits(t, at, n); };
  std::size_t month = k_months.find(t.substr(8, 3));
  auto d = num(5, 2);
  auto y = num(12, 4);
  auto h = num(17, 2);
  auto mi = num(20, 2);
  auto s = num(23, 2);
  if (month == std::string_view::npos || month % 3 != 0 || !d || !y || !h || !mi || !s || *d < 1 ||
      *d > 31 || *h > 23 || *mi > 59 || *s > 60) {
    return std::nullopt;
  }
  return days_from_civil(*y, static_cast<unsigned>(month / 3 + 1), *d) * 86400 +
         std::int64_t{*h} * 3600 + std::int64_t{*mi} * 60 + std::int64_t{*s};
}

// ---- requests ----

struct S3Client::Handle {
  CURL* curl = nullptr;
  Handle() : curl(curl_easy_init()) {}
  ~Handle() { curl_easy_cleanup(curl); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

struct S3Client::Request {
  const char* method = "GET";
  std::string key;    // full key; empty for a bucket request
  std::string query;  // already encoded, parameters in sorted order
  std::string body;
  std::string content_md5;
  std::uint64_t max = 1U << 20U;  // a larger body fails with EFBIG
  // Streaming: the body goes to `sink` instead, from byte `offset` on.
  const std::function<void(std::string_view)>* sink = nullptr;
  std::uint64_t offset = 0;
  bool too_large = false;
};

struct S3Client::Response {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  std::string code;     // the S3 error Code
  std::string message;  // the S3 error Message
  std::string date;     // the Date header, as sent
};

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

namespace {

// Keeps the value of a response's Date header.
std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
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

}  // namespace

void S3Client::note_server_clock(const std::string& date) {
  if (auto server = parse_http_date(date)) {
    // The server's clock against this machine's, to the second: ages are the server's.
    m_clock_offset.store(*server - static_cast<std::int64_t>(std::time(nullptr)),
                         std::memory_order_relaxed);
    m_clock_known.store(true, std::memory_order_release);
  }
}

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
      (request.body.empty() ? std::string(k_empty_sha256) : sha256_hex(request.body));
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
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.date);
  r.curl = curl_easy_perform(c);
  note_server_clock(r.date);
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

Status S3Client::list(std::string_view prefix, std::string_view delimiter,
                      const std::function<void(S3Page&)>& page) {
  std::string token;
  while (true) {
    Request req;
    // Parameters in the order SigV4's canonical request sorts them.
    std::string q;
    if (!token.empty()) {
      q += "continuation-token=" + uri_encode(token, false) + "&";
    }
    if (!delimiter.empty()) {
      q += "delimiter=" + uri_encode(delimiter, false) + "&";
    }
    q += "list-type=2&max-keys=1000&prefix=" + uri_encode(prefix, false);
    req.query = q;
    req.max = 64U << 20U;
    Response r = perform(req);
    if (r.curl != CURLE_OK || r.status != 200) {
      return error_of(r, "list", prefix);
    }
    pugi::xml_document doc;  // parsed in the body's own buffer: a page is the listing's largest
    if (!doc.load_buffer_inplace(r.body.data(), r.body.size())) {
      return Error{"cannot list 's3://" + m_settings.bucket + "/" + std::string(prefix) +
                       "': the server's answer is not XML",
                   EIO};
    }
    pugi::xml_node root = doc.child("ListBucketResult");
    S3Page p;
    for (pugi::xml_node c : root.children("Contents")) {
      S3Object o;
      o.key = c.child_value("Key");
      o.size = c.child("Size").text().as_ullong();
      auto t = parse_s3_time(c.child_value("LastModified"));
      if (!t) {
        return Error{"cannot list 's3://" + m_settings.bucket + "/" + std::string(prefix) +
                         "': object '" + o.key + "' has no readable LastModified",
                     EIO};
      }
      o.mtime_ns = *t;
      p.objects.push_back(std::move(o));
    }
    for (pugi::xml_node c : root.children("CommonPrefixes")) {
      p.prefixes.emplace_back(c.child_value("Prefix"));
    }
    bool truncated = std::string_view(root.child_value("IsTruncated")) == "true";
    token = root.child_value("NextContinuationToken");
    doc.reset();  // the page's objects are all that is needed now
    std::string().swap(r.body);
    page(p);
    if (!truncated) {
      return ok_status();
    }
    if (token.empty()) {
      return Error{"cannot list 's3://" + m_settings.bucket + "/" + std::string(prefix) +
                       "': a truncated page without a continuation token",
                   EIO};
    }
  }
}

Result<std::string> S3Client::get(std::string_view key, std::uint64_t max) {
  Request req;
  req.key = std::string(key);
  req.max = max;
  Response r = perform(req);
  // The server's answer first: a 404's error document is larger than a small `max` too.
  if (r.status >= 300) {
    return error_of(r, "read", key);
  }
  if (req.too_large) {
    return Error{"'s3://" + m_settings.bucket + "/" + std::string(key) + "' is larger than " +
                     std::to_string(max) + " bytes",
                 EFBIG};
  }
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "read", key);
  }
  return std::move(r.body);
}

Status S3Client::get_stream(std::string_view key,
                            const std::function<void(std::string_view)>& sink) {
  Request req;
  req.key = std::string(key);
  req.sink = &sink;
  Response r = perform(req);
  if (r.curl != CURLE_OK || (r.status != 200 && r.status != 206)) {
    return error_of(r, "read", key);
  }
  return ok_status();
}

Status S3Client::put(std::string_view key, std::string_view body) {
  Request req;
  req.method = "PUT";
  req.key = std::string(key);
  req.body = std::string(body);
  Response r = perform(req);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "write", key);
  }
  return ok_status();
}

Result<std::string> S3Client::versioning() {
  Request req;
  req.query = "versioning=";
  req.max = 1U << 20U;
  Response r = perform(req);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "read the versioning state of", "");
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(r.body.data(), r.body.size())) {
    return Error{"cannot read the versioning state of 's3://" + m_settings.bucket +
                     "': the server's answer is not XML",
                 EIO};
  }
  return std::string(doc.child("VersioningConfiguration").child_value("Status"));
}

Status S3Client::delete_object(std::string_view key) {
  Request req;
  req.method = "DELETE";
  req.key = std::string(key);
  Response r = perform(req);
  if (r.curl != CURLE_OK || (r.status != 204 && r.status != 200 && r.status != 404)) {
    return error_of(r, "delete", key);
  }
  return ok_status();
}

namespace {

// The body of a DeleteObjects request (quiet mode), with a version id for each key that
// has one.
std::string delete_body(const std::vector<S3Version>& objects) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
  for (const S3Version& o : objects) {
    body += "<Object><Key>" + markup_escape(o.key) + "</Key>";
    if (!o.version_id.empty()) {
      body += "<VersionId>" + markup_escape(o.version_id) + "</VersionId>";
    }
    body += "</Object>";
  }
  body += "</Delete>";
  return body;
}

}  // namespace

Result<std::vector<S3DeleteFailure>> S3Client::delete_objects(
    const std::vector<std::string>& keys) {
  std::vector<S3Version> objects(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    objects[i].key = keys[i];
  }
  return delete_versions(objects);
}

Result<std::vector<S3DeleteFailure>> S3Client::delete_versions(
    const std::vector<S3Version>& versions) {
  std::vector<S3DeleteFailure> failed;
  if (versions.empty()) {
    return failed;
  }
  Request req;
  req.method = "POST";
  req.query = "delete=";
  req.body = delete_body(versions);
  req.content_md5 = md5_base64(req.body);
  req.max = 64U << 20U;
  Response r = perform(req);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "delete a batch of " + std::to_string(versions.size()) + " keys from",
                    versions[0].key);
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(r.body.data(), r.body.size())) {
    return Error{"a batch delete's answer is not XML; whether its keys are gone is unknown", EIO};
  }
  for (pugi::xml_node e : doc.child("DeleteResult").children("Error")) {
    failed.push_back(S3DeleteFailure{e.child_value("Key"), e.child_value("Code"),
                                     e.child_value("Message"), e.child_value("VersionId")});
  }
  return failed;
}

Result<std::vector<S3Version>> S3Client::list_versions(std::string_view key) {
  std::vector<S3Version> out;
  std::string key_marker;
  std::string id_marker;
  while (true) {
    Request req;
    // Parameters in the order SigV4's canonical request sorts them.
    std::string q;
    if (!key_marker.empty()) {
      q += "key-marker=" + uri_encode(key_marker, false) + "&";
    }
    q += "max-keys=1000&prefix=" + uri_encode(key, false) + "&";
    if (!id_marker.empty()) {
      q += "version-id-marker=" + uri_encode(id_marker, false) + "&";
    }
    q += "versions=";
    req.query = q;
    req.max = 64U << 20U;
    Response r = perform(req);
    if (r.curl != CURLE_OK || r.status != 200) {
      return error_of(r, "list the versions of", key);
    }
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size())) {
      return Error{"cannot list the versions of 's3://" + m_settings.bucket + "/" +
                       std::string(key) + "': the server's answer is not XML",
                   EIO};
    }
    pugi::xml_node root = doc.child("ListVersionsResult");
    if (!root) {
      return Error{"cannot list the versions of 's3://" + m_settings.bucket + "/" +
                       std::string(key) + "': the server's answer is no version listing",
                   EIO};
    }
    bool past = false;  // keys sort after `key`: its own versions are all listed
    for (pugi::xml_node v : root.children()) {
      std::string_view name = v.name();
      if (name != "Version" && name != "DeleteMarker") {
        continue;
      }
      if (std::string_view(v.child_value("Key")) != key) {
        past = true;
        continue;
      }
      S3Version version;
      version.key = std::string(key);
      version.version_id = v.child_value("VersionId");
      version.delete_marker = name == "DeleteMarker";
      version.latest = std::string_view(v.child_value("IsLatest")) == "true";
      version.size = v.child("Size").text().as_ullong();
      out.push_back(std::move(version));
    }
    if (past || std::string_view(root.child_value("IsTruncated")) != "true") {
      return out;
    }
    key_marker = root.child_value("NextKeyMarker");
    id_marker = root.child_value("NextVersionIdMarker");
    if (key_marker.empty() && id_marker.empty()) {
      return Error{"cannot list the versions of 's3://" + m_settings.bucket + "/" +
                       std::string(key) + "': a truncated page without a marker",
                   EIO};
    }
  }
}

Result<std::vector<S3Multipart>> S3Client::list_multipart(std::string_view prefix) {
  std::vector<S3Multipart> out;
  std::string key_marker;
  std::string id_marker;
  while (true) {
    Request req;
    std::string q;
    if (!key_marker.empty()) {
      q += "key-marker=" + uri_encode(key_marker, false) + "&";
    }
    q += "prefix=" + uri_encode(prefix, false) + "&uploads=";
    if (!id_marker.empty()) {
      q += "&upload-id-marker=" + uri_encode(id_marker, false);
    }
    req.query = q;
    req.max = 64U << 20U;
    Response r = perform(req);
    if (r.curl != CURLE_OK || r.status != 200) {
      return error_of(r, "list the multipart uploads of", prefix);
    }
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size())) {
      return Error{"the multipart upload listing is not XML", EIO};
    }
    pugi::xml_node root = doc.child("ListMultipartUploadsResult");
    for (pugi::xml_node u : root.children("Upload")) {
      S3Multipart m;
      m.key = u.child_value("Key");
      m.upload_id = u.child_value("UploadId");
      m.initiated_ns = parse_s3_time(u.child_value("Initiated")).value_or(0);
      out.push_back(std::move(m));
    }
    if (std::string_view(root.child_value("IsTruncated")) != "true") {
      return out;
    }
    key_marker = root.child_value("NextKeyMarker");
    id_marker = root.child_value("NextUploadIdMarker");
    if (key_marker.empty() && id_marker.empty()) {
      return out;
    }
  }
}

Status S3Client::abort_multipart(const S3Multipart& upload) {
  Request req;
  req.method = "DELETE";
  req.key = upload.key;
  req.query = "uploadId=" + uri_encode(upload.upload_id, false);
  Response r = perform(req);
  if (r.curl != CURLE_OK || (r.status != 204 && r.status != 404)) {
    return error_of(r, "abort the multipart upload of", upload.key);
  }
  return ok_status();
}

}  // namespace regsweep
