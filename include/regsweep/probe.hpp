#pragma once

// Asks whether a registry serves at an address: the stop-the-world check before a sweep.

#include <chrono>
#include <string>

namespace regsweep {

struct ProbeResult {
  bool answers = false;  // an HTTP response came back to GET /v2/
  // Nothing answers and nothing can: the connection was refused (or the socket file is not
  // there) at every address. When neither this nor `answers` is set, whether a registry
  // serves cannot be told, and `unknown` says why.
  bool refused = false;
  std::string unknown;
  std::string url;  // what was asked, for messages ("https://127.0.0.1:5000/v2/")
};

// Sends `GET /v2/` (over TLS when `tls`: the registry has http.tls) to the registry's
// `http.addr` ("host:port", ":port" meaning this machine, "[v6]:port") with `net` "tcp", or to
// the socket path with "unix", and waits at most `timeout` in all, the name's resolution
// included. Never blocks longer. An address it cannot
// parse or resolve, one that does not answer in time, and an answer that is not HTTP leave it
// unknown: only a refused connection says that no registry serves there.
ProbeResult probe_registry(const std::string& addr, const std::string& net, bool tls,
                           std::chrono::milliseconds timeout);

}  // namespace regsweep
