// The redis connection: a non-blocking socket (or TLS over it, OpenSSL) whose every wait is a
// poll(2) with what is left of a deadline, and hiredis's formatter and reader for the
// protocol.
//
// 1. connect(): resolve, connect within the dial timeout, TLS handshake, AUTH, SELECT.
// 2. pipeline(): write the formatted commands while reading replies as they come (so that a
//    server whose output buffer fills never waits on a client still writing), until one
//    reply per command is read or the deadline passes.

#include "cache/redis_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace regsweep::cache {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

std::string ssl_error_text() {
  unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  if (code == 0) {
    return "TLS error";
  }
  std::array<char, 256> buf{};
  ERR_error_string_n(code, buf.data(), buf.size());
  ERR_clear_error();
  return buf.data();
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(convert(r->element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::nil;
  }
  return out;
}

struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

class Connection final : public RedisConnection {
 public:
  Connection(std::string address, int fd, std::chrono::milliseconds io_timeout)
      : m_address(std::move(address)),
        m_fd(fd),
        m_io_timeout(io_timeout),
        m_reader(redisReaderCreate()) {}
  ~Connection() override {
    m_ssl.reset();
    ::close(m_fd);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& address() const override { return m_address; }

  Status start_tls(const RedisTls& tls, Clock::time_point deadline);
  Status pipeline(const std::vector<std::vector<std::string>>& commands,
                  std::vector<RedisReply>& replies) override;

 private:
  // Bytes moved, 0 when the socket would block (`want` set to the poll events it waits for),
  // -1 on an error (message in m_failure).
  long read_some(char* buf, std::size_t n, short& want);
  long write_some(const char* buf, std::size_t n, short& want);
  Error failure(const std::string& what) const {
    return Error{"redis at '" + m_address + "': " + what, 0};
  }

  std::string m_address;
  int m_fd;
  std::chrono::milliseconds m_io_timeout;
  std::unique_ptr<redisReader, ReaderFree> m_reader;
  std::unique_ptr<SSL_CTX, SslCtxFree> m_ctx;
  std::unique_ptr<SSL, SslFree> m_ssl;
  std::string m_failure;
};

long Connection::read_some(char* buf, std::size_t n, short& want) {
  if (!m_ssl) {
    ssize_t got = ::recv(m_fd, buf, n, 0);
    if (got > 0) {
      return got;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      want = POLLIN;
      return 0;
    }
    m_failure = got == 0 ? "the server closed the connection" : std::strerror(errno);
    return -1;
  }
  int got = SSL_read(m_ssl.get(), buf, static_cast<int>(n));
  if (got > 0) {
    return got;
  }
  int e = SSL_get_error(m_ssl.get(), got);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return 0;
  }
  m_failure = e == SSL_ERROR_ZERO_RETURN ? "the server closed the connection" : ssl_error_text();
  return -1;
}

long Connection::write_some(const char* buf, std::size_t n, short& want) {
  if (!m_ssl) {
    ssize_t put = ::send(m_fd, buf, n, MSG_NOSIGNAL);
    if (put >= 0) {
      return put;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      want = POLLOUT;
      return 0;
    }
    m_failure = std::strerror(errno);
    return -1;
  }
  int put = SSL_write(m_ssl.get(), buf, static_cast<int>(n));
  if (put > 0) {
    return put;
  }
  int e = SSL_get_error(m_ssl.get(), put);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return 0;
  }
  m_failure = ssl_error_text();
  return -1;
}

Status Connection::start_tls(const RedisTls& tls, Clock::time_point deadline) {
  m_ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!m_ctx) {
    return failure(ssl_error_text());
  }
  SSL_CTX_set_verify(m_ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (tls.rootcas.empty()) {
    SSL_CTX_set_default_verify_paths(m_ctx.get());
  }
  for (const std::string& ca : tls.rootcas) {
    if (SSL_CTX_load_verify_locations(m_ctx.get(), ca.c_str(), nullptr) != 1) {
      return failure("cannot read the CA file '" + ca + "': " + ssl_error_text());
    }
  }
  if (!tls.certificate.empty() && !tls.key.empty()) {
    if (SSL_CTX_use_certificate_chain_file(m_ctx.get(), tls.certificate.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(m_ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return failure("cannot read the client certificate '" + tls.certificate + "' or key '" +
                     tls.key + "': " + ssl_error_text());
    }
  }
  SSL_CTX_set_mode(m_ctx.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  m_ssl.reset(SSL_new(m_ctx.get()));
  if (!m_ssl || SSL_set_fd(m_ssl.get(), m_fd) != 1) {
    return failure(ssl_error_text());
  }
  // The name the certificate must carry: an IP address is checked as one (and sent as no
  // server name, which may not be an address); a host name as a DNS name.
  if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(m_ssl.get()), tls.server_name.c_str()) != 1) {
    SSL_set_tlsext_host_name(m_ssl.get(), tls.server_name.c_str());
    SSL_set1_host(m_ssl.get(), tls.server_name.c_str());
  }
  while (true) {
    int r = SSL_connect(m_ssl.get());
    if (r == 1) {
      return ok_status();
    }
    int e = SSL_get_error(m_ssl.get(), r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      return failure("TLS handshake failed: " + ssl_error_text());
    }
    pollfd p{m_fd, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      return failure("no TLS handshake within the dial timeout");
    }
  }
}

Status Connection::pipeline(const std::vector<std::vector<std::string>>& commands,
                            std::vector<RedisReply>& replies) {
  std::string out;
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& command : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    char* formatted = nullptr;
    int len =
        redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (len < 0) {
      return failure("cannot format a command");
    }
    out.append(formatted, static_cast<std::size_t>(len));
    redisFreeCommand(formatted);
  }
  std::size_t written = 0;
  std::size_t wanted = replies.size() + commands.size();
  auto deadline = Clock::now() + m_io_timeout;
  std::array<char, 16384> buf{};
  while (replies.size() < wanted) {
    // Whatever the reader already holds first.
    void* raw = nullptr;
    if (redisReaderGetReply(m_reader.get(), &raw) != REDIS_OK) {
      return failure(std::string("unreadable reply: ") + m_reader->errstr);
    }
    if (raw != nullptr) {
      replies.push_back(convert(static_cast<redisReply*>(raw)));
      freeReplyObject(raw);
      deadline = Clock::now() + m_io_timeout;  // the server answers: time for the next round
      continue;
    }
    short want = 0;
    if (written < out.size()) {
      long put = write_some(out.data() + written, out.size() - written, want);
      if (put < 0) {
        return failure(m_failure);
      }
      written += static_cast<std::size_t>(put);
    }
    long got = read_some(buf.data(), buf.size(), want);
    if (got < 0) {
      return failure(m_failure);
    }
    if (got > 0) {
      redisReaderFeed(m_reader.get(), buf.data(), static_cast<std::size_t>(got));
      continue;
    }
    if (written < out.size() && !m_ssl) {
      want |= POLLOUT;
    }
    pollfd p{m_fd, want != 0 ? want : static_cast<short>(POLLIN), 0};
    int ready = ::poll(&p, 1, ms_left(deadline));
    if (ready == 0) {
      return failure("no answer within " + std::to_string(m_io_timeout.count()) + " ms");
    }
    if (ready < 0 && errno != EINTR) {
      return failure(std::strerror(errno));
    }
  }
  return ok_status();
}

// A connected non-blocking socket, or an error naming the address.
Result<int> dial(const std::string& address, Clock::time_point deadline) {
  auto [host, port] = split_address(address);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int e = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); e != 0) {
    return Error{"redis at '" + address + "': cannot resolve '" + host + "': " + gai_strerror(e),
                 0};
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int ready = ::poll(&p, 1, ms_left(deadline));
      int err = 0;
      socklen_t len = sizeof err;
      if (ready > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        ::freeaddrinfo(found);
        return fd;
      }
      why = ready == 0 ? "no connection within the dial timeout" : std::strerror(err);
    } else {
      why = std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return Error{"redis at '" + address + "': cannot connect: " + why, ECONNREFUSED};
}

// The reply to a setup command, as an error when it is one.
Status expect_ok(RedisConnection& c, std::vector<std::string> command, const std::string& what) {
  std::vector<RedisReply> replies;
  if (Status s = c.pipeline({std::move(command)}, replies); !s) {
    return s;
  }
  if (replies.front().type == RedisReply::Type::error) {
    return Error{"redis at '" + c.address() + "': " + what + " refused: " + replies.front().text,
                 EACCES};
  }
  return ok_status();
}

}  // namespace

std::pair<std::string, std::string> split_address(const std::string& address) {
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    if (close != std::string::npos) {
      std::string host = address.substr(1, close - 1);
      if (close + 1 < address.size() && address[close + 1] == ':') {
        return {host, address.substr(close + 2)};
      }
      return {host, "6379"};
    }
  }
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return {address, "6379"};
  }
  return {address.substr(0, colon), address.substr(colon + 1)};
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::connect(const RedisConnectOptions& o) {
  auto deadline = Clock::now() + o.dial_timeout;
  auto fd = dial(o.address, deadline);
  if (!fd) {
    return fd.error();
  }
  auto c = std::make_unique<Connection>(o.address, *fd, o.io_timeout);
  if (o.tls.enabled) {
    RedisTls tls = o.tls;
    if (tls.server_name.empty()) {
      tls.server_name = split_address(o.address).first;
    }
    if (Status s = c->start_tls(tls, deadline); !s) {
      return s.error();
    }
  }
  if (!o.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!o.username.empty()) {
      auth.push_back(o.username);
    }
    auth.push_back(o.password);
    if (Status s = expect_ok(*c, std::move(auth), "AUTH"); !s) {
      return s.error();
    }
  }
  if (o.db != 0) {
    if (Status s =
            expect_ok(*c, {"SELECT", std::to_string(o.db)}, "SELECT " + std::to_string(o.db));
        !s) {
      return s.error();
    }
  }
  return std::unique_ptr<RedisConnection>(std::move(c));
}

}  // namespace regsweep::cache
