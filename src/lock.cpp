// What a run lock says of its holder, whatever the store (lock.hpp).

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

#include "regsweep/lock.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

std::string lock_body(std::string_view command) {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return "pid " + std::to_string(::getpid()) + " on " + host + ", started " +
         format_rfc3339(static_cast<std::int64_t>(std::time(nullptr))) + ": regsweep " +
         std::string(command) + "\n";
}

bool lock_holder_gone(const std::string& body) {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  unsigned long pid = 0;
  char on[256] = {0};
  if (std::sscanf(body.c_str(), "pid %lu on %255[^,],", &pid, on) != 2 || pid == 0) {
    return false;
  }
  return std::string(on) == host && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace regsweep
