#pragma once

// Asks whether a registry serves at an address: the stop-the-world check before a sweep.

#include <chrono>
#include <string>

namespace regsweep {

struct ProbeResult {
  bool answers = false;  // an HTTP response came back to GET /v2/
  std::string url;       // what was asked, for messages ("http://127.0.0.1:5000/v2/")
};

// Sends `GET /v2/` to the registry's `http.addr` ("host:port", ":port" meaning this machine,
// "[v6]:port") with `net` "tcp", or to the socket path with "unix", and waits at most
// `timeout` in all. Never blocks longer; an address it cannot parse or reach answers false.
ProbeResult probe_registry(const std::string& addr, const std::string& net,
                           std::chrono::milliseconds timeout);

}  // namespace regsweep
