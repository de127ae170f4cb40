#pragma once

// A connection to one redis server, for removing the registry's blob descriptor cache
// entries (blob_cache.hpp). The protocol is hiredis's (Debian's libhiredis: its command
// formatter and reply reader); the transport is here, so that every step has a deadline and
// TLS can be laid over it (Debian's hiredis 0.14 has no TLS of its own).
//
// Nothing here blocks past its deadline: a server that accepts and never answers makes a call
// fail with "no answer within N ms", never hang.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "regsweep/result.hpp"

namespace regsweep::cache {

struct RedisTls {
  bool enabled = false;
  std::string certificate;  // client certificate (PEM), with `key`
  std::string key;
  std::vector<std::string> rootcas;  // CA files; none: the system's
  std::string server_name;           // for SNI and the certificate check: the host
};

struct RedisConnectOptions {
  std::string address;  // host:port, [v6]:port
  std::string username;
  std::string password;
  int db = 0;
  RedisTls tls;
  std::chrono::milliseconds dial_timeout{5000};
  std::chrono::milliseconds io_timeout{5000};  // per round of a pipeline
};

// One reply, as hiredis reads it.
struct RedisReply {
  enum class Type : std::uint8_t { string, array, integer, nil, status, error };
  Type type = Type::nil;
  long long integer = 0;
  std::string text;  // string, status, error
  std::vector<RedisReply> elements;
};

class RedisConnection {
 public:
  // Connects, then AUTH (with the username when one is given) and SELECT db when db != 0.
  // The error names the address.
  static Result<std::unique_ptr<RedisConnection>> connect(const RedisConnectOptions& options);
  virtual ~RedisConnection() = default;

  // Sends every command (each a list of arguments) and reads one reply for each, in order.
  // Stops at the first failure of the connection: `replies` then holds the replies read so
  // far (fewer than the commands) and the error says why. An error reply is a reply.
  virtual Status pipeline(const std::vector<std::vector<std::string>>& commands,
                          std::vector<RedisReply>& replies) = 0;
  virtual const std::string& address() const = 0;
};

// "host", "port" of `address` ("[::1]:6379" gives "::1", "6379"); the port 6379 when absent.
std::pair<std::string, std::string> split_address(const std::string& address);

}  // namespace regsweep::cache
