#include "regsweep/finding.hpp"

#include <algorithm>
#include <tuple>

namespace regsweep {

std::string_view to_string(FindingKind kind) {
  switch (kind) {
    case FindingKind::malformed_link:
      return "malformed-link";
    case FindingKind::link_mismatch:
      return "link-mismatch";
    case FindingKind::symlink:
      return "symlink";
    case FindingKind::unreadable:
      return "unreadable";
    case FindingKind::unknown_entry:
      return "unknown-entry";
    case FindingKind::invalid_name:
      return "invalid-name";
    case FindingKind::manifest_unparseable:
      return "manifest-unparseable";
    case FindingKind::manifest_missing:
      return "manifest-missing";
    case FindingKind::child_missing:
      return "child-missing";
    case FindingKind::blob_without_data:
      return "blob-without-data";
    case FindingKind::changed_since_scan:
      return "changed-since-scan";
    case FindingKind::changed_since_plan:
      return "changed-since-plan";
    case FindingKind::delete_failed:
      return "delete-failed";
    case FindingKind::same_push_time:
      return "same-push-time";
    case FindingKind::tags_unknown:
      return "tags-unknown";
    case FindingKind::cache_stale:
      return "cache-stale";
  }
  return "unknown";
}

std::string_view to_string(Severity severity) {
  return severity == Severity::error ? "error" : "warning";
}

void sort_findings(std::vector<Finding>& findings) {
  std::sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.path, a.kind, a.repository, a.message) <
           std::tie(b.path, b.kind, b.repository, b.message);
  });
  findings.erase(std::unique(findings.begin(), findings.end(),
                             [](const Finding& a, const Finding& b) {
                               return a.path == b.path && a.kind == b.kind &&
                                      a.repository == b.repository && a.message == b.message;
                             }),
                 findings.end());
}

std::string printable(std::string_view text) {
  auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (std::none_of(text.begin(), text.end(),
                   [&](char c) { return control(static_cast<unsigned char>(c)); })) {
    return std::string(text);
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 8);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (control(c)) {
      out += "\\x";
      out += k_hex[c >> 4U];
      out += k_hex[c & 0xFU];
    } else {
      out += ch;
    }
  }
  return out;
}

std::size_t count_severity(const std::vector<Finding>& findings, Severity s) {
  return static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(),
                                                [s](const Finding& f) { return f.severity == s; }));
}

bool has_error(const std::vector<Finding>& findings) {
  return count_severity(findings, Severity::error) > 0;
}

}  // namespace regsweep
