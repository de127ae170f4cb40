// The registry probe: one connection, one request, bounded by a deadline.
//
// 1. Parse http.addr: ":5000" and "0.0.0.0:5000" mean this machine (127.0.0.1); "[::]:5000"
//    means ::1; a host name is resolved.
// 2. Connect without blocking, poll until the deadline; the name is resolved within it too.
// 3. Send GET /v2/ and read until the first bytes say "HTTP/" or the deadline passes.
// Only a refused connection says nobody serves; anything else that is not an answer leaves
// it unknown, and a sweep treats unknown as serving (docs/safety.md, rule 3).

#include "regsweep/probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "regsweep/fs.hpp"

namespace regsweep {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd` until the deadline; true when they came.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) {
      return (p.revents & events) != 0;
    }
    if (n == 0 || errno != EINTR) {
      return false;
    }
  }
}

// Connects `fd` to `sa` without blocking past the deadline: 0, or why not (ETIMEDOUT when
// the deadline passed).
int connect_by(int fd, const sockaddr* sa, socklen_t len, Clock::time_point deadline) {
  if (::connect(fd, sa, len) == 0) {
    return 0;
  }
  if (errno != EINPROGRESS) {
    return errno;
  }
  if (!wait_for(fd, POLLOUT, deadline)) {
    return ETIMEDOUT;
  }
  int err = 0;
  socklen_t elen = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
    return errno;
  }
  return err;
}

// Sends the request on a connected socket and reads the start of the answer.
bool asks_http(int fd, Clock::time_point deadline) {
  static constexpr std::string_view k_request =
      "GET /v2/ HTTP/1.0\r\nHost: localhost\r\nUser-Agent: regsweep\r\n\r\n";
  std::size_t sent = 0;
  while (sent < k_request.size()) {
    if (!wait_for(fd, POLLOUT, deadline)) {
      return false;
    }
    ssize_t n = ::send(fd, k_request.data() + sent, k_request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  char buf[5];
  std::size_t got = 0;
  while (got < sizeof(buf)) {
    if (!wait_for(fd, POLLIN, deadline)) {
      return false;
    }
    ssize_t n = ::recv(fd, buf + got, sizeof(buf) - got, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  return std::memcmp(buf, "HTTP/", sizeof(buf)) == 0;
}

}  // namespace

namespace {

// Connects to `sa` and asks; records in `out` an answer, a refusal, or why neither.
void ask(ProbeResult& out, int family, const sockaddr* sa, socklen_t len,
         Clock::time_point deadline, bool& all_refused) {
  fs::Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    all_refused = false;
    out.unknown = std::string("cannot open a socket: ") + std::strerror(errno);
    return;
  }
  if (int why = connect_by(fd.get(), sa, len, deadline); why != 0) {
    if (why == ECONNREFUSED || (family == AF_UNIX && why == ENOENT)) {
      return;  // nothing listens there
    }
    all_refused = false;
    out.unknown = why == ETIMEDOUT ? std::string("no answer within the probe's time")
                                   : std::string("cannot connect: ") + std::strerror(why);
    return;
  }
  all_refused = false;
  if (asks_http(fd.get(), deadline)) {
    out.answers = true;
  } else {
    out.unknown = "something accepts connections there, but gave no HTTP answer in time";
  }
}

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
    int ms = remaining_ms(deadline);
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

ProbeResult probe_registry(const std::string& addr, const std::string& net,
                           std::chrono::milliseconds timeout) {
  ProbeResult out;
  const Clock::time_point deadline = Clock::now() + timeout;
  bool all_refused = true;
  if (addr.empty()) {
    out.unknown = "no address";
    return out;
  }
  if (net == "unix") {
    out.url = "unix:" + addr + " /v2/";
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (addr.size() >= sizeof(sa.sun_path)) {
      out.unknown = "the socket path is too long";
      return out;
    }
    std::memcpy(sa.sun_path, addr.data(), addr.size());
    ask(out, AF_UNIX, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa), deadline, all_refused);
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
  out.url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
            port + "/v2/";
  addrinfo* found = resolve(host, port, deadline, out);
  if (found == nullptr) {
    return out;
  }
  for (addrinfo* ai = found; ai != nullptr && !out.answers; ai = ai->ai_next) {
    if (remaining_ms(deadline) <= 0) {
      all_refused = false;
      out.unknown = "no answer within the probe's time";
      break;
    }
    ask(out, ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline, all_refused);
  }
  ::freeaddrinfo(found);
  out.refused = all_refused && !out.answers;
  return out;
}

}  // namespace regsweep
