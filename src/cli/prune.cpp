// `regsweep prune`: retention rules choose tags to remove, then one collection takes them and
// what only they reached (as `rm NAME:TAG` does).

#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <boost/program_options.hpp>

#include "gc.hpp"
#include "options.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/retention.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep::cli {

namespace {

constexpr const char* k_prune_usage =
    R"(usage: regsweep prune [CONFIG | --root DIR] [REPOSITORY-GLOB...] RULES [options]

Deletes tags by retention rules, then collects what only they held: the manifests no
remaining tag reaches (with their children and referrers) and the blobs no remaining manifest
references, in one run. A tag goes when some rule deletes it and no rule keeps it; a tag
younger than the grace period, or whose link cannot be read, is never deleted.

Each rule, per repository, in GitLab's order: the tags matching --name-regex (a full match;
default all), minus those kept outright (--keep patterns, default 'latest'; --name-regex-keep;
--pushed-within), sorted newest first (push time: when the tag's current link was last
written; or --order semver), the newest --keep-n kept, and of the rest only those older than
--older-than deleted. Rules are flags for one rule, or a policy file (--policy FILE) with a
list 'policies:' of rules for cron; there a rule may instead take zot's keepTags model
(keep_tags: the tags no entry keeps are deleted). REPOSITORY-GLOBs limit the repositories
(rm's globs).

options)";

// One rule from the flags, as the raw text given.
struct RuleFlags {
  std::string name_regex;
  std::string name_regex_keep;
  std::vector<std::string> keep;
  std::string keep_n;
  std::string older_than;
  std::string pushed_within;
  std::string order = "pushed";
  bool allow_delete_all = false;
};

std::optional<int> rule_from_flags(const po::variables_map& vm, const RuleFlags& f,
                                   RetentionRule& r) {
  r.name = "flags";
  if (vm.count("name-regex") != 0) {
    r.name_regex = f.name_regex;
  }
  if (vm.count("name-regex-keep") != 0) {
    r.name_regex_keep = f.name_regex_keep;
  }
  if (vm.count("keep") != 0) {
    r.keep = f.keep;
  }
  if (vm.count("keep-n") != 0) {
    try {
      std::size_t used = 0;
      r.keep_n = std::stoull(f.keep_n, &used);
      if (used != f.keep_n.size() || f.keep_n.front() == '-') {
        throw std::invalid_argument(f.keep_n);
      }
    } catch (const std::exception&) {
      return usage_error("--keep-n: '" + f.keep_n + "' is not a number of tags");
    }
  }
  for (auto [flag, text, field] :
       {std::tuple{"older-than", &f.older_than, &r.older_than},
        std::tuple{"pushed-within", &f.pushed_within, &r.pushed_within}}) {
    if (vm.count(flag) != 0) {
      *field = parse_duration(*text);
      if (!*field) {
        return usage_error("--" + std::string(flag) + ": '" + *text +
                           "' is not a duration such as 7d, 12h or 30m (at most 36500d)");
      }
    }
  }
  if (f.order != "pushed" && f.order != "semver") {
    return usage_error("--order: '" + f.order + "' is not 'pushed' or 'semver'");
  }
  r.semver_order = f.order == "semver";
  r.allow_delete_all = f.allow_delete_all;
  return std::nullopt;
}

}  // namespace

std::optional<int> parse_prune(const std::vector<std::string>& args, GcArgs& out) {
  GcRawArgs raw;
  RuleFlags f;
  std::string policy;
  out.command = Collect::prune;
  po::options_description desc = gc_options(k_prune_usage, Collect::prune, raw, out);
  desc.add_options()  //
      ("policy", po::value(&policy)->value_name("FILE"),
       "rules from a YAML policy file (docs/cli.md); not with the rule flags")  //
      ("keep-n", po::value(&f.keep_n)->value_name("N"),
       "keep the N newest of the tags a rule may delete")  //
      ("older-than", po::value(&f.older_than)->value_name("DURATION"),
       "delete only tags pushed longer ago than DURATION (7d, 12h)")  //
      ("name-regex", po::value(&f.name_regex)->value_name("RE"),
       "the tags the rule may delete: a full match of RE (RE2 syntax, as GitLab's; default all)")  //
      ("name-regex-keep", po::value(&f.name_regex_keep)->value_name("RE"),
       "never delete tags RE matches fully")  //
      ("keep", po::value(&f.keep)->value_name("PATTERN")->composing(),
       "never delete tags matching this glob; repeatable (default: latest)")  //
      ("pushed-within", po::value(&f.pushed_within)->value_name("DURATION"),
       "keep tags pushed within DURATION")  //
      ("order", po::value(&f.order)->value_name("pushed|semver"),
       "what newest means: the latest push (default) or the highest version")  //
      ("allow-delete-all", po::bool_switch(&f.allow_delete_all),
       "let the rule delete every tag of a repository (refused otherwise)");
  po::variables_map vm;
  if (auto stop = parse_args(args, desc, vm, k_gc_footer)) {
    return stop;
  }
  if (auto stop = check_gc_args(vm, raw, out)) {
    return stop;
  }
  if (vm.count("args") != 0) {
    for (const std::string& arg : vm["args"].as<std::vector<std::string>>()) {
      if (!out.config && !out.root && out.scope.empty() && looks_like_config(arg)) {
        out.config = arg;
      } else {
        out.scope.push_back(arg);
      }
    }
  }
  bool flags = false;
  for (const char* name : {"keep-n", "older-than", "name-regex", "name-regex-keep", "keep",
                           "pushed-within", "order", "allow-delete-all"}) {
    flags = flags || (vm.count(name) != 0 && !vm[name].defaulted());
  }
  if (!policy.empty() && flags) {
    return usage_error("--policy cannot be used with rule flags: put the rule in the file");
  }
  if (policy.empty() && !flags) {
    return usage_error("prune needs rules: --policy FILE, or --keep-n, --older-than, ...");
  }
  if (!policy.empty()) {
    auto text = fs::read_named_file(policy, 1U << 20U);
    if (!text) {
      std::cerr << "regsweep: cannot read policy file: " << text.error().message << "\n";
      return k_exit_cannot_run;
    }
    auto rules = parse_retention_policy(*text, policy);
    if (!rules) {
      std::cerr << "regsweep: " << rules.error().message << "\n";
      return k_exit_cannot_run;
    }
    out.rules = std::move(*rules);
    return std::nullopt;
  }
  RetentionRule r;
  if (auto stop = rule_from_flags(vm, f, r)) {
    return stop;
  }
  out.rules.push_back(std::move(r));
  return std::nullopt;
}

int run_prune(const std::vector<std::string>& args) {
  GcArgs a;
  if (auto stop = parse_prune(args, a)) {
    return *stop;
  }
  a.command_line = command_line("prune", args);
  a.arguments = args;
  return run_collection(a);
}

}  // namespace regsweep::cli
