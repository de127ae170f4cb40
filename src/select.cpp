#include "regsweep/select.hpp"

namespace regsweep {

bool glob_match(std::string_view p, std::string_view s) {
  // Iterative matcher with backtracking to the last star, as fnmatch does.
  std::size_t pi = 0;
  std::size_t si = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_s = 0;
  bool star_crosses = false;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_crosses = pi + 1 < p.size() && p[pi + 1] == '*';
      pi += star_crosses ? 2 : 1;
      star_p = pi;
      star_s = si;
      continue;
    }
    if (pi < p.size() && (p[pi] == s[si] || (p[pi] == '?' && s[si] != '/'))) {
      ++pi;
      ++si;
      continue;
    }
    if (star_p != std::string_view::npos && (star_crosses || s[star_s] != '/')) {
      pi = star_p;
      si = ++star_s;
      continue;
    }
    return false;
  }
  while (pi < p.size() && p[pi] == '*') {
    ++pi;
  }
  return pi == p.size();
}

Status select_removals(Inventory& inventory, const std::vector<std::string>& specs) {
  struct Spec {
    std::string name;
    std::string tag;
    bool has_tag;
  };
  std::vector<Spec> parsed;
  for (const std::string& spec : specs) {
    std::size_t colon = spec.rfind(':');
    std::size_t slash = spec.rfind('/');
    bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
    Spec s{has_tag ? spec.substr(0, colon) : spec, has_tag ? spec.substr(colon + 1) : "", has_tag};
    if (s.name.empty() || (has_tag && s.tag.empty())) {
      return Error{"'" + spec + "' is not NAME or NAME:TAG", 0};
    }
    parsed.push_back(std::move(s));
  }
  // First check every spec matches something, so that nothing is marked on error.
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    bool matched = false;
    for (const Repository& r : inventory.repositories) {
      if (!glob_match(parsed[i].name, r.name)) {
        continue;
      }
      if (!parsed[i].has_tag) {
        matched = true;
        break;
      }
      for (const Tag& t : r.tags) {
        matched = matched || glob_match(parsed[i].tag, t.name);
      }
    }
    if (!matched) {
      return Error{"'" + specs[i] + "' matches no " +
                       std::string(parsed[i].has_tag ? "tag" : "repository") +
                       "; nothing was removed",
                   0};
    }
  }
  for (const Spec& s : parsed) {
    for (Repository& r : inventory.repositories) {
      if (!glob_match(s.name, r.name)) {
        continue;
      }
      if (!s.has_tag) {
        r.remove_requested = true;
        continue;
      }
      for (Tag& t : r.tags) {
        if (glob_match(s.tag, t.name)) {
          t.remove_requested = true;
        }
      }
    }
  }
  return ok_status();
}

}  // namespace regsweep
