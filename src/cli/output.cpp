#include "output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>

namespace regsweep::cli {

namespace {

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string temp_beside(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

}  // namespace

std::optional<std::string> output_problem(const std::string& path) {
  if (path == "-") {
    return std::nullopt;
  }
  if (path.empty()) {
    return std::string("an output file name is empty");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return "'" + path + "' is a directory; give a file name";
  }
  // The file is written beside itself and renamed: its directory must take a new file.
  std::string probe = path + ".probe.XXXXXX";
  int fd = ::mkostemp(probe.data(), O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return "cannot write '" + path + "': cannot create a file in '" + directory_of(path) +
           "': " + std::strerror(err);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return std::nullopt;
}

bool write_atomically(const std::string& path, const std::string& text) {
  std::string tmp = temp_beside(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

void prom_gauge_family(std::ostream& out, std::string_view name, std::string_view help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n";
}

std::string prom_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {
LogSettings& log_style() {
  static LogSettings style;
  return style;
}
}  // namespace

void set_log_style(const LogSettings& settings) {
  log_style() = settings;
}

void log_line(std::ostream& out, LogLevel level, std::string_view plain_prefix,
              std::string_view message) {
  const LogSettings& style = log_style();
  if (style.formatter.empty()) {
    out << plain_prefix << message << '\n';
    return;
  }
  if (!log_enabled(style, level)) {
    return;
  }
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  out << log_record(style, level, message,
                    static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec)
      << '\n';
}

}  // namespace regsweep::cli
