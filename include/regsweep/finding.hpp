#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace regsweep {

// How much a finding matters. `error`: something was kept because of it, a delete failed or a
// pull may fail (the run exits 3). `warning`: untidy but harmless; the exit code is unchanged.
enum class Severity { warning, error };

enum class FindingKind {
  malformed_link,        // a link file that is empty or not a sha256 digest
  link_mismatch,         // a link whose content names another digest than its path
  symlink,               // a symbolic link inside the tree: never followed, never deleted
  unreadable,            // a file or directory that could not be read
  unknown_entry,         // a file or directory the layout does not know
  invalid_name,          // a repository or tag name the registry would not accept
  manifest_unparseable,  // a manifest blob that is not a manifest regsweep can read
  manifest_missing,      // a revision or tag whose manifest blob does not exist
  child_missing,         // a list or index names a child manifest that does not exist
  blob_without_data,     // a blob directory with no data file
  delete_failed,         // the sweep could not remove something
  changed_since_scan,    // the tree changed between the scan and a deletion: it was skipped
  changed_since_plan,    // apply: a reviewed action a fresh scan no longer plans: not done
  same_push_time,        // every tag of a repository has one time: push order is unknown
  tags_unknown,          // prune: a repository's tags cannot all be read; none is pruned
  cache_stale,  // the registry's redis cache may still list what was deleted (blob_cache.hpp)
};

std::string_view to_string(FindingKind kind);
std::string_view to_string(Severity severity);

// One problem found in the tree. `path` is relative to `<root>/docker/registry/v2/`.
struct Finding {
  FindingKind kind;
  Severity severity;
  std::string path;
  std::string repository;  // empty when the finding belongs to no repository
  std::string message;     // lower case, names the path in quotes
};

// `text` fit for one line of a terminal or a log: control characters (a newline in a tag
// name, an escape sequence in a directory name) written as \n, \r, \t or \xNN, and a
// backslash before them as \\. Text without them is returned unchanged.
std::string printable(std::string_view text);

// How many of `findings` have severity `s`.
std::size_t count_severity(const std::vector<Finding>& findings, Severity s);

// Whether one of `findings` is an error (a run that found it exits 3).
bool has_error(const std::vector<Finding>& findings);

// Orders findings by path, then kind, so reports are deterministic.
void sort_findings(std::vector<Finding>& findings);

}  // namespace regsweep
