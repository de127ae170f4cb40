// The registry probe: `GET /v2/` with libcurl (http, or https when the registry serves TLS),
// bounded by one deadline.
//
// 1. Parse http.addr: ":5000" and "0.0.0.0:5000" mean this machine (127.0.0.1); "[::]:5000"
//    means ::1; a host name is resolved here, within the deadline (getaddrinfo_a), so that
//    each of its addresses is asked on its own (CURLOPT_CONNECT_TO).
// 2. Ask each address until one answers: any HTTP status is an answer.
// Only a refused connection at every address says nobody serves; anything else that is not
// an answer leaves it unknown, and a sweep treats unknown as serving (docs/safety.md, rule 3).
// No proxy is used, whatever the environment says: the probe asks this machine's network.

#include "regsweep/probe.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace regsweep {

namespace {

using Clock = std::chrono::steady_clock;

long remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<long>(left.count()) : 0;
}

std::size_t discard(char* /*data*/, std::size_t size, std::size_t n, void* /*user*/) {
  return size * n;
}

// Why no answer came, from what libcurl says: empty when nothing listens there (refused).
std::string why_no_answer(CURLcode rc, long os_errno, bool unix_socket) {
  if (rc == CURLE_COULDNT_CONNECT &&
      (os_errno == ECONNREFUSED || (unix_socket && os_errno == ENOENT))) {
    return {};
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return "no answer within the probe's time";
  }
  if (rc == CURLE_COULDNT_CONNECT) {
    return std::string("cannot connect: ") +
           (os_errno != 0 ? std::strerror(static_cast<int>(os_errno)) : "unknown error");
  }
  return std::string("something accepts connections there, but gave no HTTP answer (") +
         curl_easy_strerror(rc) + ")";
}

// Asks `url` once, at the numeric address `connect_to` ("HOST:PORT:ADDR:PORT", empty for
// none) or on the socket `unix_path`; records in `out` an answer, or why none came.
void ask(ProbeResult& out, const std::string& url, const std::string& connect_to,
         const std::string& unix_path, Clock::time_point deadline, bool& all_refused) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  long ms = remaining_ms(deadline);
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> c(curl_easy_init(), curl_easy_cleanup);
  if (ms <= 0 || !c) {
    all_refused = false;
    out.unknown = ms <= 0 ? "no answer within the probe's time" : "cannot start an HTTP request";
    return;
  }
  curl_slist* to = connect_to.empty() ? nullptr : curl_slist_append(nullptr, connect_to.c_str());
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_CONNECT_TO, to);
  if (!unix_path.empty()) {
    curl_easy_setopt(c.get(), CURLOPT_UNIX_SOCKET_PATH, unix_path.c_str());
  }
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(c.get(), CURLOPT_PROXY, "");
  curl_easy_setopt(c.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c.get(), CURLOPT_USERAGENT, "regsweep");
  // Whether something serves, not who: the probe sends nothing secret.
  curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, discard);
  CURLcode rc = curl_easy_perform(c.get());
  curl_slist_free_all(to);
  long status = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status > 0) {
    out.answers = true;
    return;
  }
  long os_errno = 0;
  curl_easy_getinfo(c.get(), CURLINFO_OS_ERRNO, &os_errno);
  std::string why = why_no_answer(rc, os_errno, !unix_path.empty());
  if (!why.empty()) {
    all_refused = false;
    out.unknown = why;
  }
}

}  // namespace

namespace {

// Resolves `host` within the deadline (getaddrinfo_a): a resolver that does not answer must
// not hang the run. The addresses (freeaddrinfo them), or null with `out.unknown` saying why.
addrinfo* resolve(const std::string& host, const std::string& port, Clock::time_point deadline,
                  ProbeResult& out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  gaicb request{};
  request.ar_name = host.c_str();
  request.ar_service = port.c_str();
  request.ar_request = &hints;
  gaicb* list[1] = {&request};
  if (::getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr) != 0) {
    out.unknown = "cannot resolve '" + host + "'";
    return nullptr;
  }
  while (::gai_error(&request) == EAI_INPROGRESS) {
    int ms = static_cast<int>(remaining_ms(deadline));
    if (ms <= 0) {
      ::gai_cancel(&request);
      while (::gai_error(&request) == EAI_INPROGRESS) {  // the lookup thread owns it until done
        ::usleep(1000);
      }
      break;
    }
    timespec wait{ms / 1000, static_cast<long>(ms % 1000) * 1000000};
    const gaicb* const pending[1] = {&request};
    ::gai_suspend(pending, 1, &wait);
  }
  int rc = ::gai_error(&request);
  if (rc != 0 || request.ar_result == nullptr) {
    out.unknown = "'" + host + "' does not resolve on this machine (" +
                  (rc == EAI_CANCELED || rc == EAI_INPROGRESS ? std::string("no answer in time")
                                                              : std::string(::gai_strerror(rc))) +
                  ")";
    if (request.ar_result != nullptr) {
      ::freeaddrinfo(request.ar_result);
    }
    return nullptr;
  }
  return request.ar_result;
}

}  // namespace

ProbeResult probe_registry(const std::string& addr, const std::string& net, bool tls,
                           std::chrono::milliseconds timeout) {
  ProbeResult out;
  const Clock::time_point deadline = Clock::now() + timeout;
  const std::string scheme = tls ? "https" : "http";
  bool all_refused = true;
  if (addr.empty()) {
    out.unknown = "no address";
    return out;
  }
  if (net == "unix") {
    out.url = "unix:" + addr + " /v2/";
    ask(out, scheme + "://localhost/v2/", "", addr, deadline, all_refused);
    out.refused = all_refused && !out.answers;
    return out;
  }
  // "host:port", ":port", "[v6]:port".
  std::size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    out.unknown = "'" + addr + "' is not host:port";
    return out;
  }
  std::string host = addr.substr(0, colon);
  std::string port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0") {
    host = "127.0.0.1";  // every interface: this machine answers on loopback
  } else if (host == "::") {
    host = "::1";
  }
  const std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out.url = scheme + "://" + url_host + ":" + port + "/v2/";
  addrinfo* found = resolve(host, port, deadline, out);
  if (found == nullptr) {
    return out;
  }
  for (addrinfo* ai = found; ai != nullptr && !out.answers; ai = ai->ai_next) {
    char numeric[INET6_ADDRSTRLEN] = {0};
    const void* where =
        ai->ai_family == AF_INET6
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr);
    if (::inet_ntop(ai->ai_family, where, numeric, sizeof(numeric)) == nullptr) {
      all_refused = false;
      out.unknown = "cannot name an address of '" + host + "'";
      continue;
    }
    std::string target = ai->ai_family == AF_INET6 ? "[" + std::string(numeric) + "]" : numeric;
    ask(out, out.url, url_host + ":" + port + ":" + target + ":" + port, "", deadline, all_refused);
  }
  ::freeaddrinfo(found);
  out.refused = all_refused && !out.answers;
  return out;
}

}  // namespace regsweep
