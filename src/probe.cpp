// The registry probe: one connection, one request, bounded by a deadline.
//
// 1. Parse http.addr: ":5000" and "0.0.0.0:5000" mean this machine (127.0.0.1); "[::]:5000"
//    means ::1; a host name is resolved.
// 2. Connect without blocking, poll until the deadline.
// 3. Send GET /v2/ and read until the first bytes say "HTTP/" or the deadline passes.

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

// Connects `fd` to `sa` without blocking past the deadline.
bool connect_by(int fd, const sockaddr* sa, socklen_t len, Clock::time_point deadline) {
  if (::connect(fd, sa, len) == 0) {
    return true;
  }
  if (errno != EINPROGRESS) {
    return false;
  }
  if (!wait_for(fd, POLLOUT, deadline)) {
    return false;
  }
  int err = 0;
  socklen_t elen = sizeof(err);
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
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

ProbeResult probe_registry(const std::string& addr, const std::string& net,
                           std::chrono::milliseconds timeout) {
  ProbeResult out;
  const Clock::time_point deadline = Clock::now() + timeout;
  if (addr.empty()) {
    return out;
  }
  if (net == "unix") {
    out.url = "unix:" + addr + " /v2/";
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (addr.size() >= sizeof(sa.sun_path)) {
      return out;
    }
    std::memcpy(sa.sun_path, addr.data(), addr.size());
    fs::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    out.answers =
        fd.valid() &&
        connect_by(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa), deadline) &&
        asks_http(fd.get(), deadline);
    return out;
  }
  // "host:port", ":port", "[v6]:port".
  std::size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
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
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) {
    return out;
  }
  for (addrinfo* ai = found; ai != nullptr && !out.answers && remaining_ms(deadline) > 0;
       ai = ai->ai_next) {
    fs::Fd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    out.answers = fd.valid() && connect_by(fd.get(), ai->ai_addr, ai->ai_addrlen, deadline) &&
                  asks_http(fd.get(), deadline);
  }
  ::freeaddrinfo(found);
  return out;
}

}  // namespace regsweep
