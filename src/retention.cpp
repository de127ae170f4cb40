#include "regsweep/retention.hpp"

#include <algorithm>
#include <memory>
#include <tuple>

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include "regsweep/layout.hpp"
#include "regsweep/mark.hpp"
#include "regsweep/select.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

namespace {

// A rule with its expressions compiled once.
struct Compiled {
  const RetentionRule* rule;
  std::shared_ptr<const RE2> select;  // nothing: every tag
  std::shared_ptr<const RE2> keep;
  std::vector<std::vector<std::shared_ptr<const RE2>>> keep_tags;  // each entry's patterns

  bool applies_to(const std::string& repository) const {
    return (rule->repositories.empty() || glob_match_any(rule->repositories, repository)) &&
           !glob_match_any(rule->exclude, repository);
  }
};

// What one rule says of one tag.
enum class Say { nothing, keep, remove };

struct Said {
  Say say = Say::nothing;
  std::string reason;
};

std::string human_age(std::int64_t seconds) {
  if (seconds % 86400 == 0 && seconds >= 86400) {
    return std::to_string(seconds / 86400) + "d";
  }
  if (seconds % 3600 == 0 && seconds >= 3600) {
    return std::to_string(seconds / 3600) + "h";
  }
  return std::to_string(seconds) + "s";
}

// True when tag `a` (of version `va`, nothing when not a version or not ordering by version)
// is newer than `b`; ties broken by push time, then by name, so the result never depends on
// the order tags were listed in.
bool newer(const Tag& a, const std::optional<TagVersion>& va, const Tag& b,
           const std::optional<TagVersion>& vb) {
  if (va.has_value() != vb.has_value()) {
    return va.has_value();  // versions before everything else
  }
  if (va && vb) {
    auto key = [](const TagVersion& v) {
      // A release is newer than its pre-releases.
      return std::make_tuple(v.major, v.minor, v.patch, v.pre.empty(), v.pre);
    };
    if (key(*va) != key(*vb)) {
      return key(*va) > key(*vb);
    }
  }
  if (a.current_mtime != b.current_mtime) {
    return a.current_mtime > b.current_mtime;
  }
  return a.name > b.name;
}

// What a rule with keep_tags says of each tag of `repo`, as zot decides: each tag is the first
// entry's whose patterns it matches (anywhere in the name, as Go's MatchString); of an entry's
// tags, the keep_n most recently pushed and those pushed within pushed_within are kept (all
// when neither is set); the rest, and the tags no entry takes, are deleted. The grace period,
// `keep` globs and name_regex_keep keep a tag whatever zot would say.
std::vector<Said> judge_keep_tags(const Compiled& c, const Repository& repo, const Grace& grace,
                                  std::int64_t now) {
  const RetentionRule& r = *c.rule;
  std::vector<Said> out(repo.tags.size());
  std::vector<std::vector<std::size_t>> groups(r.keep_tags.size());
  for (std::size_t i = 0; i < repo.tags.size(); ++i) {
    const Tag& t = repo.tags[i];
    if (!t.current || t.current_problem || signature_subject(t.name)) {
      continue;  // unreadable (kept), or following its subject (follow_subjects)
    }
    std::size_t e = 0;
    for (; e < c.keep_tags.size(); ++e) {
      const auto& patterns = c.keep_tags[e];
      if (patterns.empty() || std::any_of(patterns.begin(), patterns.end(), [&](const auto& re) {
            return RE2::PartialMatch(t.name, *re);
          })) {
        break;
      }
    }
    if (e == c.keep_tags.size()) {
      out[i] = {Say::remove, "matches no keep_tags patterns"};
    } else {
      groups[e].push_back(i);
    }
  }
  for (std::size_t e = 0; e < groups.size(); ++e) {
    const KeepTagsEntry& entry = r.keep_tags[e];
    std::vector<std::size_t>& group = groups[e];
    std::sort(group.begin(), group.end(), [&](std::size_t a, std::size_t b) {
      return newer(repo.tags[a], std::nullopt, repo.tags[b], std::nullopt);
    });
    const std::string which = "keep_tags entry " + std::to_string(e + 1);
    for (std::size_t k = 0; k < group.size(); ++k) {
      const Tag& t = repo.tags[group[k]];
      Said& s = out[group[k]];
      if (!entry.keep_n && !entry.pushed_within) {
        s = {Say::keep, "matches the patterns of " + which};
      } else if (entry.keep_n && k < *entry.keep_n) {
        s = {Say::keep,
             "among the " + std::to_string(*entry.keep_n) + " most recently pushed of " + which};
      } else if (entry.pushed_within && now - t.current_mtime < *entry.pushed_within) {
        s = {Say::keep, "pushed within " + human_age(*entry.pushed_within) + " (" + which + ")"};
      } else {
        s = {Say::remove, "kept by none of the rules of " + which};
      }
    }
  }
  for (std::size_t i = 0; i < repo.tags.size(); ++i) {
    const Tag& t = repo.tags[i];
    if (out[i].say != Say::remove) {
      continue;
    }
    if (grace.young(t.current_mtime)) {
      out[i] = {Say::keep, "pushed within the grace period"};
    } else if (glob_match_any(r.keep, t.name)) {
      out[i] = {Say::keep, "matches a keep pattern"};
    } else if (c.keep && RE2::FullMatch(t.name, *c.keep)) {
      out[i] = {Say::keep, "matches name_regex_keep"};
    }
  }
  return out;
}

// What rule `c` says of each tag of `repo` (indexed like repo.tags), in GitLab's order.
std::vector<Said> judge(const Compiled& c, const Repository& repo, const Grace& grace,
                        std::int64_t now) {
  if (!c.rule->keep_tags.empty()) {
    return judge_keep_tags(c, repo, grace, now);
  }
  const RetentionRule& r = *c.rule;
  std::vector<Said> out(repo.tags.size());
  std::vector<std::size_t> ranked;
  for (std::size_t i = 0; i < repo.tags.size(); ++i) {
    const Tag& t = repo.tags[i];
    if (!t.current || t.current_problem) {
      continue;  // unreadable: never a candidate (and kept by decide_retention)
    }
    if (signature_subject(t.name)) {
      continue;  // follows its subject (follow_subjects), never counted against keep_n
    }
    if (c.select && !RE2::FullMatch(t.name, *c.select)) {
      continue;
    }
    Said& s = out[i];
    s.say = Say::keep;
    if (grace.young(t.current_mtime)) {
      s.reason = "pushed within the grace period";
    } else if (glob_match_any(r.keep, t.name)) {
      s.reason = "matches a keep pattern";
    } else if (c.keep && RE2::FullMatch(t.name, *c.keep)) {
      s.reason = "matches name_regex_keep";
    } else if (r.pushed_within && now - t.current_mtime < *r.pushed_within) {
      s.reason = "pushed within " + human_age(*r.pushed_within);
    } else {
      ranked.push_back(i);
    }
  }
  // Each tag's version is parsed once, not in every comparison.
  std::vector<std::optional<TagVersion>> versions(repo.tags.size());
  if (r.semver_order) {
    for (std::size_t i : ranked) {
      versions[i] = parse_tag_version(repo.tags[i].name);
    }
  }
  std::sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) {
    return newer(repo.tags[a], versions[a], repo.tags[b], versions[b]);
  });
  const std::string order = r.semver_order ? "highest versions" : "most recently pushed";
  for (std::size_t k = 0; k < ranked.size(); ++k) {
    Said& s = out[ranked[k]];
    const Tag& t = repo.tags[ranked[k]];
    if (r.keep_n && k < *r.keep_n) {
      s = {Say::keep, "among the " + std::to_string(*r.keep_n) + " " + order};
    } else if (r.older_than && now - t.current_mtime < *r.older_than) {
      s = {Say::keep, "pushed less than " + human_age(*r.older_than) + " ago"};
    } else {
      std::string why = r.keep_n ? "beyond the " + std::to_string(*r.keep_n) + " " + order : "";
      if (r.older_than) {
        why += (why.empty() ? "" : ", ") + std::string("older than ") + human_age(*r.older_than);
      }
      s = {Say::remove, why.empty() ? "matches name_regex" : why};
    }
  }
  return out;
}

// Signature tags (sha256-<hex>.sig/.att/.sbom) follow their subject: one goes when the rules
// remove a tag naming <hex> and no tag naming it is left; otherwise it stays. Repeated, for a
// signature of a signature.
void follow_subjects(const Repository& repo, std::vector<TagVerdict>& verdicts) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (std::size_t i = 0; i < repo.tags.size(); ++i) {
      auto subject = signature_subject(repo.tags[i].name);
      if (!subject || verdicts[i].remove) {
        continue;
      }
      bool removed = false;
      bool left = false;
      for (std::size_t k = 0; k < repo.tags.size(); ++k) {
        const Tag& t = repo.tags[k];
        if (k != i && (!t.current || t.current_problem)) {
          left = true;  // a tag that cannot be read may name it
        } else if (k != i && *t.current == *subject) {
          (verdicts[k].remove ? removed : left) = true;
        }
      }
      TagVerdict& v = verdicts[i];
      v.rule.clear();
      if (removed && !left) {
        v.remove = true;
        v.reason = "its image " + subject->str() + " loses its last tag";
        changed = true;
      } else {
        v.reason = "follows its image " + subject->str() + ", which " +
                   (left ? "keeps a tag" : "no tag the rules remove names");
      }
    }
  }
}

// A warning when every tag of `repo` was pushed within the same second: its push times are
// probably those of a copy, and "newest" means nothing.
void check_times(const Repository& repo, std::vector<Finding>& findings) {
  std::int64_t lo = INT64_MAX;
  std::int64_t hi = INT64_MIN;
  std::size_t n = 0;
  for (const Tag& t : repo.tags) {
    if (t.current) {
      lo = std::min(lo, t.current_mtime);
      hi = std::max(hi, t.current_mtime);
      ++n;
    }
  }
  if (n >= 2 && hi - lo <= 1) {
    findings.push_back(Finding{FindingKind::same_push_time, Severity::warning,
                               layout::tags_dir(repo.name), repo.name,
                               "every tag of '" + repo.name +
                                   "' was pushed within the same second: push times look "
                                   "like those of a copy that did not keep them, so "
                                   "keep_n, older_than and pushed_within decide by name"});
  }
}

// `re` compiled as RE2 (GitLab's syntax: `(?i)` and the like), to be matched whole; nothing
// when absent; `error` set when it does not compile.
std::shared_ptr<const RE2> compile(const std::optional<std::string>& re, const std::string& what,
                                   const std::string& rule, std::string& error) {
  if (!re) {
    return nullptr;
  }
  RE2::Options options;
  options.set_log_errors(false);
  auto compiled = std::make_shared<const RE2>(*re, options);
  if (!compiled->ok()) {
    error = rule + ": " + what + " '" + *re +
            "' is not a regular expression (RE2 syntax): " + compiled->error();
    return nullptr;
  }
  return compiled;
}

// Every rule with its expressions compiled; an error naming the first that does not compile.
Result<std::vector<Compiled>> compile_rules(const std::vector<RetentionRule>& rules) {
  std::vector<Compiled> compiled;
  for (const RetentionRule& r : rules) {
    std::string error;
    Compiled c{&r,
               compile(r.name_regex, "name_regex", r.name, error),
               compile(r.name_regex_keep, "name_regex_keep", r.name, error),
               {}};
    for (const KeepTagsEntry& entry : r.keep_tags) {
      std::vector<std::shared_ptr<const RE2>> patterns;
      for (const std::string& p : entry.patterns) {
        patterns.push_back(compile(p, "keep_tags pattern", r.name, error));
      }
      c.keep_tags.push_back(std::move(patterns));
    }
    if (!error.empty()) {
      return Error{error, 0};
    }
    compiled.push_back(std::move(c));
  }
  return compiled;
}

}  // namespace

std::optional<TagVersion> parse_tag_version(const std::string& tag) {
  static const RE2 version(
      R"([vV]?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:-([0-9A-Za-z.-]+))?)");
  std::string major;
  std::string minor;
  std::string patch;
  std::string pre;
  if (!RE2::FullMatch(tag, version, &major, &minor, &patch, &pre)) {
    return std::nullopt;
  }
  auto num = [](const std::string& digits) { return digits.empty() ? 0ULL : std::stoull(digits); };
  return TagVersion{num(major), num(minor), num(patch), pre};
}

Result<Retention> decide_retention(const Inventory& inventory,
                                   const std::vector<RetentionRule>& rules,
                                   const std::vector<std::string>& scope, const Grace& grace,
                                   std::int64_t now) {
  auto compiled = compile_rules(rules);
  if (!compiled) {
    return compiled.error();
  }
  Retention out;
  for (const Repository& repo : inventory.repositories) {
    if (!scope.empty() && !glob_match_any(scope, repo.name)) {
      continue;
    }
    std::vector<const Compiled*> apply;
    for (const Compiled& c : *compiled) {
      if (c.applies_to(repo.name)) {
        apply.push_back(&c);
      }
    }
    if (apply.empty() || repo.tags.empty()) {
      continue;
    }
    if (repo.tags_uncertain || repo.uncertain) {
      out.findings.push_back(Finding{
          FindingKind::tags_unknown, Severity::error, layout::tags_dir(repo.name), repo.name,
          "the tags of '" + repo.name + "' cannot all be read; none of them is pruned"});
      continue;
    }
    check_times(repo, out.findings);
    std::vector<TagVerdict> verdicts(repo.tags.size());
    for (std::size_t i = 0; i < repo.tags.size(); ++i) {
      verdicts[i] = TagVerdict{repo.name, repo.tags[i].name,   repo.tags[i].current_mtime, false,
                               "",        "no rule selects it"};
      if (!repo.tags[i].current || repo.tags[i].current_problem) {
        verdicts[i].reason = "its current link cannot be read";
      }
    }
    std::vector<bool> kept(repo.tags.size(), false);
    bool may_empty = false;
    for (const Compiled* c : apply) {
      may_empty = may_empty || c->rule->allow_delete_all;
      std::vector<Said> said = judge(*c, repo, grace, now);
      for (std::size_t i = 0; i < said.size(); ++i) {
        TagVerdict& v = verdicts[i];
        if (said[i].say == Say::keep && !kept[i]) {
          kept[i] = true;
          v.remove = false;
          v.rule = c->rule->name;
          v.reason = said[i].reason;
        } else if (said[i].say == Say::remove && !kept[i] && !v.remove) {
          v.remove = true;
          v.rule = c->rule->name;
          v.reason = said[i].reason;
        }
      }
    }
    follow_subjects(repo, verdicts);
    std::size_t removed = 0;
    for (const TagVerdict& v : verdicts) {
      removed += v.remove ? 1 : 0;
    }
    if (removed == repo.tags.size() && !may_empty) {
      return Error{"the rules would delete every tag of '" + repo.name + "' (" +
                       std::to_string(removed) +
                       "); nothing was deleted. If that is meant, allow it in the rule "
                       "(allow_delete_all: true, or --allow-delete-all)",
                   0};
    }
    out.verdicts.insert(out.verdicts.end(), verdicts.begin(), verdicts.end());
  }
  return out;
}

void apply_retention(Inventory& inventory, const Retention& retention) {
  // The repositories no rule decided on are out of prune's scope: nothing there moves.
  for (Repository& r : inventory.repositories) {
    r.out_of_scope = true;
  }
  for (const TagVerdict& v : retention.verdicts) {
    auto repo = std::lower_bound(
        inventory.repositories.begin(), inventory.repositories.end(), v.repository,
        [](const Repository& r, const std::string& name) { return r.name < name; });
    if (repo != inventory.repositories.end() && repo->name == v.repository) {
      repo->out_of_scope = false;
    }
  }
  for (const TagVerdict& v : retention.verdicts) {
    if (!v.remove) {
      continue;
    }
    auto repo = std::lower_bound(
        inventory.repositories.begin(), inventory.repositories.end(), v.repository,
        [](const Repository& r, const std::string& name) { return r.name < name; });
    if (repo == inventory.repositories.end() || repo->name != v.repository) {
      continue;
    }
    auto tag =
        std::lower_bound(repo->tags.begin(), repo->tags.end(), v.tag,
                         [](const Tag& t, const std::string& name) { return t.name < name; });
    if (tag != repo->tags.end() && tag->name == v.tag) {
      tag->remove_requested = true;
    }
  }
}

namespace {

std::vector<std::string> strings_of(const YAML::Node& n, const std::string& where) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.as<std::string>());
  } else if (n.IsSequence()) {
    for (const auto& e : n) {
      out.push_back(e.as<std::string>());
    }
  } else {
    throw std::runtime_error(where + " must be a string or a list of strings");
  }
  return out;
}

std::int64_t duration_of(const YAML::Node& n, const std::string& where) {
  auto d = parse_duration(n.as<std::string>());
  if (!d) {
    throw std::runtime_error(where + ": '" + n.as<std::string>() +
                             "' is not a duration such as 7d, 12h or 30m");
  }
  return *d;
}

// zot's keepTags: a list of {patterns, keep_n, pushed_within} (its own key names are taken
// too: mostRecentlyPushedCount, pushedWithin).
std::vector<KeepTagsEntry> keep_tags_of(const YAML::Node& n, const std::string& where) {
  if (!n.IsSequence() || n.size() == 0) {
    throw std::runtime_error(where + " must be a list of entries");
  }
  std::vector<KeepTagsEntry> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string at = where + " entry " + std::to_string(i + 1);
    if (!n[i].IsMap()) {
      throw std::runtime_error(at + " is not a mapping");
    }
    KeepTagsEntry e;
    for (const auto& kv : n[i]) {
      const std::string key = kv.first.as<std::string>();
      if (key == "patterns") {
        e.patterns = strings_of(kv.second, at + ": patterns");
      } else if (key == "keep_n" || key == "mostRecentlyPushedCount") {
        e.keep_n = kv.second.as<std::uint64_t>();
      } else if (key == "pushed_within" || key == "pushedWithin") {
        e.pushed_within = duration_of(kv.second, at + ": " + key);
      } else if (key == "mostRecentlyPulledCount" || key == "pulledWithin") {
        throw std::runtime_error(at + ": " + key +
                                 " cannot be honoured: the registry's storage records no pulls");
      } else {
        throw std::runtime_error(at + ": unknown key '" + key + "'");
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

RetentionRule rule_of(const YAML::Node& p, std::size_t index) {
  RetentionRule r;
  r.name = "policy " + std::to_string(index + 1);
  if (p["name"]) {
    r.name = p["name"].as<std::string>();
  }
  for (const auto& kv : p) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string where = r.name + ": " + key;
    if (key == "name") {
    } else if (key == "repositories") {
      r.repositories = strings_of(v, where);
    } else if (key == "exclude") {
      r.exclude = strings_of(v, where);
    } else if (key == "keep") {
      r.keep = strings_of(v, where);
    } else if (key == "name_regex") {
      r.name_regex = v.as<std::string>();
    } else if (key == "name_regex_keep") {
      r.name_regex_keep = v.as<std::string>();
    } else if (key == "keep_n") {
      r.keep_n = v.as<std::uint64_t>();
    } else if (key == "older_than") {
      r.older_than = duration_of(v, where);
    } else if (key == "pushed_within") {
      r.pushed_within = duration_of(v, where);
    } else if (key == "order") {
      std::string o = v.as<std::string>();
      if (o != "pushed" && o != "semver") {
        throw std::runtime_error(where + " must be 'pushed' or 'semver'");
      }
      r.semver_order = o == "semver";
    } else if (key == "allow_delete_all") {
      r.allow_delete_all = v.as<bool>();
    } else if (key == "keep_tags") {
      r.keep_tags = keep_tags_of(v, where);
    } else {
      throw std::runtime_error(r.name + ": unknown key '" + key + "'");
    }
  }
  if (!r.keep_tags.empty() &&
      (r.name_regex || r.keep_n || r.older_than || r.pushed_within || r.semver_order)) {
    throw std::runtime_error(r.name +
                             ": keep_tags (zot's model) takes keep_n and pushed_within in its "
                             "entries, and no name_regex, older_than or order beside it");
  }
  return r;
}

}  // namespace

Result<std::vector<RetentionRule>> parse_retention_policy(const std::string& yaml_text,
                                                          const std::string& path) {
  std::vector<RetentionRule> rules;
  try {
    YAML::Node doc = YAML::Load(yaml_text);
    YAML::Node policies = doc["policies"];
    if (!policies || !policies.IsSequence() || policies.size() == 0) {
      return Error{"policy file '" + path + "' has no list 'policies:'", 0};
    }
    for (std::size_t i = 0; i < policies.size(); ++i) {
      if (!policies[i].IsMap()) {
        return Error{
            "policy file '" + path + "': entry " + std::to_string(i + 1) + " is not a mapping", 0};
      }
      rules.push_back(rule_of(policies[i], i));
    }
  } catch (const std::exception& e) {
    return Error{"policy file '" + path + "': " + e.what(), 0};
  }
  return rules;
}

std::function<Status(Inventory&)> tags_by_rules(std::vector<RetentionRule> rules,
                                                std::vector<std::string> scope, Grace grace,
                                                std::int64_t now,
                                                std::optional<Retention>& decided) {
  return [rules = std::move(rules), scope = std::move(scope), grace, now,
          &decided](Inventory& inv) -> Status {
    auto chosen = decide_retention(inv, rules, scope, grace, now);
    if (!chosen) {
      return chosen.error();
    }
    apply_retention(inv, *chosen);
    inv.findings.insert(inv.findings.end(), chosen->findings.begin(), chosen->findings.end());
    decided = std::move(*chosen);
    return ok_status();
  };
}

}  // namespace regsweep
