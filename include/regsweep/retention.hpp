#pragma once

// Retention (`regsweep prune`): which tags go, by rules an operator writes once. Decides
// only; the tags chosen are marked for removal in the inventory, and gc's own marking and
// plan then take what only they reached (as `rm NAME:TAG` does).
//
// Per repository and rule, with GitLab's documented order: the tags matching name_regex
// (default all) → minus those the rule keeps outright (younger than the grace period, a
// `keep` pattern, name_regex_keep, pushed within pushed_within) → sorted newest first (push
// time, or version) → the newest keep_n kept → of the rest, only those older than older_than
// deleted. Several rules are OR'd for keeping: a tag goes when some rule deletes it and no
// rule keeps it. A tag whose current link cannot be read is never deleted.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "regsweep/finding.hpp"
#include "regsweep/grace.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

// One entry of zot's keepTags (RetentionRule::keep_tags): a tag is its entry's when the first
// entry whose patterns it matches is this one; of an entry's tags, those among the keep_n most
// recently pushed, or pushed within pushed_within, are kept (all of them when neither is set).
struct KeepTagsEntry {
  std::vector<std::string> patterns;          // RE2, unanchored as zot's; empty: every tag
  std::optional<std::uint64_t> keep_n;        // zot's mostRecentlyPushedCount
  std::optional<std::int64_t> pushed_within;  // zot's pushedWithin (s)
};

struct RetentionRule {
  std::string name;                            // for reports: "policy 1", or the file's `name`
  std::vector<std::string> repositories;       // globs (rm's syntax); empty: every repository
  std::vector<std::string> exclude;            // globs of repositories left alone
  std::optional<std::string> name_regex;       // tags it may delete (a full match); default: all
  std::optional<std::string> name_regex_keep;  // tags it never deletes (a full match)
  std::vector<std::string> keep{"latest"};     // tag globs it never deletes
  std::optional<std::uint64_t> keep_n;         // the newest N of the rest are kept
  std::optional<std::int64_t> older_than;      // only tags pushed longer ago are deleted (s)
  std::optional<std::int64_t> pushed_within;   // tags pushed within this are kept (s)
  bool semver_order = false;  // newest = highest version (v-prefix allowed) instead of latest push
  bool allow_delete_all = false;  // may delete every tag of a repository
  // zot's model instead of GitLab's: the tags no entry keeps are deleted. With it, the rule
  // takes no name_regex, keep_n, older_than, pushed_within or order (parse_retention_policy).
  std::vector<KeepTagsEntry> keep_tags;
};

struct TagVerdict {
  std::string repository;
  std::string tag;
  std::int64_t pushed = 0;  // the current link's modification time
  bool remove = false;
  std::string rule;    // the rule that decided: its name, or empty when no rule selects it
  std::string reason;  // why, in words
};

struct Retention {
  std::vector<TagVerdict> verdicts;  // by repository, then tag
  std::vector<Finding> findings;     // warnings: same push times, tags that cannot be read
};

// Decides every tag of the repositories `rules` apply to (and `scope` globs choose, when not
// empty). Error when the rules would delete every tag of a repository and none of the rules
// that apply to it allows that, or a regular expression is invalid: nothing is decided.
Result<Retention> decide_retention(const Inventory& inventory,
                                   const std::vector<RetentionRule>& rules,
                                   const std::vector<std::string>& scope, const Grace& grace,
                                   std::int64_t now);

// Marks the tags `retention` removes in `inventory` (Tag::remove_requested).
void apply_retention(Inventory& inventory, const Retention& retention);

// prune's choice of tags, for GcOptions::select_tags: decided on the scanned inventory,
// before marking (gc's own marking and plan then take what only those tags reached), applied,
// its findings added to the inventory's, and the verdicts kept in `decided`, which must
// outlive the returned function.
std::function<Status(Inventory&)> tags_by_rules(std::vector<RetentionRule> rules,
                                                std::vector<std::string> scope, Grace grace,
                                                std::int64_t now,
                                                std::optional<Retention>& decided);

// The rules of a policy file: a list `policies:` of entries with `name`, `repositories`,
// `exclude`, `keep_n`, `older_than`, `name_regex`, `name_regex_keep`, `keep`, `pushed_within`,
// `order` (`pushed` or `semver`), `allow_delete_all`. Error naming the file and the entry for
// anything else.
Result<std::vector<RetentionRule>> parse_retention_policy(const std::string& yaml_text,
                                                          const std::string& path);

// A tag's version for semver ordering: major, minor, patch, and whether it has a
// pre-release suffix; nothing when it is no version ("v1.2.3", "1.2", "2.0.0-rc.1").
struct TagVersion {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::string pre;  // empty for a release
};
std::optional<TagVersion> parse_tag_version(const std::string& tag);

}  // namespace regsweep
