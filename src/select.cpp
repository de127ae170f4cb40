#include "regsweep/select.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <string>
#include <vector>

namespace regsweep {

namespace {

// The pattern split at each `**` outside a bracket expression.
std::vector<std::string> split_at_double_star(std::string_view p) {
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size()) {
      parts.back() += p.substr(i, 2);
      ++i;
    } else if (p[i] == '[') {
      // A bracket expression runs to the first `]` after its first member (which may be `]`).
      std::size_t j = i + 1;
      if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
        ++j;
      }
      if (j < p.size() && p[j] == ']') {
        ++j;
      }
      while (j < p.size() && p[j] != ']') {
        j += p.compare(j, 2, "[:") == 0 && p.find(":]", j + 2) != std::string_view::npos
                 ? p.find(":]", j + 2) + 2 - j
                 : 1;
      }
      std::size_t end = j < p.size() ? j + 1 : i + 1;  // no `]`: a literal `[`
      parts.back() += p.substr(i, end - i);
      i = end - 1;
    } else if (p.compare(i, 2, "**") == 0) {
      parts.emplace_back();
      ++i;
    } else {
      parts.back() += p[i];
    }
  }
  return parts;
}

bool fn(const std::string& pattern, std::string_view s) {
  std::string subject(s);
  return ::fnmatch(pattern.c_str(), subject.c_str(), FNM_PATHNAME) == 0;
}

// Whether s = s0 x1 s1 … xn sn with parts[k] matching sk (fnmatch: `*`, `?` and `[...]`
// within one component) and each x anything. From the last part back: `from[o]` is whether
// the parts after k match some suffix starting at or after offset o.
bool match_parts(const std::vector<std::string>& parts, std::string_view s) {
  const std::size_t n = s.size();
  std::vector<char> from(n + 2, 0);
  for (std::size_t o = 0; o <= n; ++o) {
    from[o] = fn(parts.back(), s.substr(o)) ? 1 : 0;
  }
  for (std::size_t k = parts.size() - 1; k-- > 0;) {
    for (std::size_t o = n + 1; o-- > 0;) {  // suffix OR: a match at o or later
      from[o] = static_cast<char>(from[o] != 0 || from[o + 1] != 0);
    }
    std::vector<char> here(n + 2, 0);
    const std::size_t last = k == 0 ? 0 : n;  // the first part matches from the start only
    for (std::size_t o = 0; o <= last; ++o) {
      for (std::size_t h = o; h <= n && here[o] == 0; ++h) {
        here[o] = static_cast<char>(from[h] != 0 && fn(parts[k], s.substr(o, h - o)));
      }
    }
    from = std::move(here);
  }
  return from[0] != 0;
}

}  // namespace

bool glob_match(std::string_view p, std::string_view s) {
  return match_parts(split_at_double_star(p), s);
}

bool glob_match_any(const std::vector<std::string>& globs, std::string_view name) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return glob_match(g, name); });
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
      // What the scan could not read may be what the spec names: say so.
      std::string unread;
      for (const Finding& f : inventory.findings) {
        if (f.severity == Severity::error) {
          unread = " that could be read (" + f.message + ")";
          break;
        }
      }
      return Error{"'" + specs[i] + "' matches no " +
                       std::string(parsed[i].has_tag ? "tag" : "repository") + unread +
                       "; nothing was removed",
                   0};
    }
  }
  for (Repository& r : inventory.repositories) {
    r.out_of_scope = std::none_of(parsed.begin(), parsed.end(),
                                  [&](const Spec& s) { return glob_match(s.name, r.name); });
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
