// Retention rules (regsweep prune), each alone and together, on tags whose push times are
// set explicitly.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "regsweep/mark.hpp"
#include "regsweep/retention.hpp"

namespace regsweep {
namespace {

constexpr std::int64_t k_now = 1'800'000'000;
constexpr std::int64_t k_day = 86400;

Digest digest_of(int n) {
  Digest d;
  d.bytes[0] = static_cast<std::uint8_t>(n);
  d.bytes[1] = static_cast<std::uint8_t>(n >> 8);
  return d;
}

// A repository whose tags were pushed `age` days ago each.
Repository repo(const std::string& name, const std::map<std::string, double>& ages) {
  Repository r;
  r.name = name;
  int n = 0;
  for (const auto& [tag, age] : ages) {
    Tag t;
    t.name = tag;
    t.current = digest_of(++n);
    t.has_current = true;
    t.current_mtime = k_now - static_cast<std::int64_t>(age * k_day);
    r.tags.push_back(t);
  }
  std::sort(r.tags.begin(), r.tags.end(),
            [](const Tag& a, const Tag& b) { return a.name < b.name; });
  return r;
}

Inventory inventory(std::vector<Repository> repos) {
  Inventory inv;
  inv.repositories = std::move(repos);
  std::sort(inv.repositories.begin(), inv.repositories.end(),
            [](const Repository& a, const Repository& b) { return a.name < b.name; });
  return inv;
}

// The tags removed, as "repo:tag".
std::set<std::string> removed(const Retention& r) {
  std::set<std::string> out;
  for (const TagVerdict& v : r.verdicts) {
    if (v.remove) {
      out.insert(v.repository + ":" + v.tag);
    }
  }
  return out;
}

Retention decide(const Inventory& inv, const std::vector<RetentionRule>& rules,
                 const Grace& grace = Grace()) {
  auto r = decide_retention(inv, rules, {}, grace, k_now);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : Retention{};
}

RetentionRule rule() {
  RetentionRule r;
  r.name = "test";
  r.keep.clear();  // no default `latest` unless a test asks for it
  r.allow_delete_all = true;
  return r;
}

const Inventory k_ci = inventory({repo(
    "app",
    {{"c1", 10}, {"c2", 9}, {"c3", 8}, {"c4", 3}, {"c5", 2}, {"latest", 1}, {"v1.0.0", 30}})});

TEST(Retention, KeepNKeepsTheMostRecentlyPushed) {
  RetentionRule r = rule();
  r.keep_n = 3;
  EXPECT_EQ(removed(decide(k_ci, {r})),
            (std::set<std::string>{"app:c1", "app:c2", "app:c3", "app:v1.0.0"}));
}

TEST(Retention, OlderThanDeletesOnlyOldTags) {
  RetentionRule r = rule();
  r.older_than = 7 * k_day;
  EXPECT_EQ(removed(decide(k_ci, {r})),
            (std::set<std::string>{"app:c1", "app:c2", "app:c3", "app:v1.0.0"}));
  r.older_than = 9 * k_day + 1;
  EXPECT_EQ(removed(decide(k_ci, {r})), (std::set<std::string>{"app:c1", "app:v1.0.0"}));
}

TEST(Retention, NameRegexSelectsAndNameRegexKeepProtects) {
  RetentionRule r = rule();
  r.name_regex = "c[0-9]+";
  EXPECT_EQ(removed(decide(k_ci, {r})),
            (std::set<std::string>{"app:c1", "app:c2", "app:c3", "app:c4", "app:c5"}));
  r.name_regex = ".*";
  r.name_regex_keep = R"(v\d+\.\d+\.\d+)";
  auto got = removed(decide(k_ci, {r}));
  EXPECT_EQ(got.count("app:v1.0.0"), 0U);
  EXPECT_EQ(got.count("app:latest"), 1U);
  r.name_regex = "c";  // a full match: "c" alone matches no tag here
  EXPECT_TRUE(removed(decide(k_ci, {r})).empty());
}

TEST(Retention, GitLabOrderKeepNThenOlderThan) {
  // GitLab: matching name_regex, minus name_regex_keep, newest first, keep_n kept, and of
  // the rest only those older than older_than deleted.
  RetentionRule r = rule();
  r.name_regex = ".*";
  r.name_regex_keep = "v.*";
  r.keep_n = 2;              // latest (1 day), c5 (2 days)
  r.older_than = 5 * k_day;  // c4 (3 days) stays
  EXPECT_EQ(removed(decide(k_ci, {r})), (std::set<std::string>{"app:c1", "app:c2", "app:c3"}));
}

TEST(Retention, KeepPatternsAndPushedWithin) {
  RetentionRule r = rule();
  r.keep = {"latest", "c[12]"};
  r.pushed_within = 2 * k_day + 1;  // c5, latest
  auto got = removed(decide(k_ci, {r}));
  EXPECT_EQ(got, (std::set<std::string>{"app:c3", "app:c4", "app:v1.0.0"}));
  RetentionRule def;  // the default keep pattern is `latest`
  def.name = "default";
  def.allow_delete_all = true;
  EXPECT_EQ(removed(decide(k_ci, {def})).count("app:latest"), 0U);
}

TEST(Retention, YoungTagsAreNeverDeleted) {
  Inventory inv = inventory({repo("app", {{"old", 10}, {"new", 0.01}})});
  RetentionRule r = rule();
  EXPECT_EQ(removed(decide(inv, {r}, Grace(k_now, 3600))), (std::set<std::string>{"app:old"}));
  EXPECT_EQ(removed(decide(inv, {r}, Grace())), (std::set<std::string>{"app:new", "app:old"}));
}

TEST(Retention, SemverOrderKeepsTheHighestVersions) {
  Inventory inv = inventory({repo("app", {{"v1.2.0", 1},
                                          {"v1.10.0", 5},
                                          {"v1.9.3", 2},
                                          {"v2.0.0-rc.1", 3},
                                          {"v2.0.0", 9},
                                          {"nightly", 0.5}})});
  RetentionRule r = rule();
  r.keep_n = 2;
  r.semver_order = true;
  // Highest: v2.0.0, then v2.0.0-rc.1 (a pre-release is older than its release).
  EXPECT_EQ(removed(decide(inv, {r})),
            (std::set<std::string>{"app:v1.2.0", "app:v1.10.0", "app:v1.9.3", "app:nightly"}));
  r.semver_order = false;  // by push time: nightly, v1.2.0
  EXPECT_EQ(removed(decide(inv, {r})),
            (std::set<std::string>{"app:v1.10.0", "app:v1.9.3", "app:v2.0.0-rc.1", "app:v2.0.0"}));
}

TEST(Retention, RulesAreOrForKeepingAndScopedByRepository) {
  Inventory inv =
      inventory({repo("ci/a", {{"b1", 10}, {"b2", 1}, {"n1", 20}}),
                 repo("ci/b", {{"b1", 10}, {"b2", 1}}), repo("prod/a", {{"b1", 10}, {"b2", 1}})});
  RetentionRule branches = rule();
  branches.name = "branches";
  branches.repositories = {"ci/**"};
  branches.exclude = {"ci/b"};
  branches.name_regex = "b.*";
  branches.older_than = 5 * k_day;
  RetentionRule nightly = rule();
  nightly.name = "nightly";
  nightly.repositories = {"ci/*"};
  nightly.keep_n = 2;  // keeps b2 and b1 in ci/a: b1 is kept by a rule, so it stays
  auto got = decide(inv, {branches, nightly});
  EXPECT_EQ(removed(got), (std::set<std::string>{"ci/a:n1"}));
  for (const TagVerdict& v : got.verdicts) {
    EXPECT_NE(v.repository, "prod/a");  // no rule applies there
    if (v.repository == "ci/a" && v.tag == "b1") {
      EXPECT_FALSE(v.remove);
      EXPECT_EQ(v.rule, "nightly");
    }
    if (v.repository == "ci/a" && v.tag == "n1") {
      EXPECT_EQ(v.rule, "nightly");
      EXPECT_NE(v.reason.find("beyond the 2"), std::string::npos) << v.reason;
    }
  }
  // Without the keep_n rule, branches alone deletes b1 in ci/a.
  EXPECT_EQ(removed(decide(inv, {branches})), (std::set<std::string>{"ci/a:b1"}));
}

TEST(Retention, DeletingEveryTagNeedsTheRuleToSaySo) {
  Inventory inv = inventory({repo("app", {{"a", 10}, {"b", 10}})});
  RetentionRule r = rule();
  r.allow_delete_all = false;
  auto refused = decide_retention(inv, {r}, {}, Grace(), k_now);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("every tag of 'app'"), std::string::npos);
  r.allow_delete_all = true;
  EXPECT_EQ(removed(decide(inv, {r})).size(), 2U);
}

TEST(Retention, UnreadableTagsAndRepositoriesAreKept) {
  Inventory inv =
      inventory({repo("app", {{"a", 10}, {"b", 10}, {"c", 10}}), repo("lost", {{"a", 10}})});
  inv.repositories[0].tags[1].current.reset();  // app:b cannot be read
  inv.repositories[1].tags_uncertain = true;
  RetentionRule r = rule();
  r.allow_delete_all = false;
  Retention got = decide(inv, {r});
  EXPECT_EQ(removed(got), (std::set<std::string>{"app:a", "app:c"}));
  ASSERT_EQ(got.findings.size(), 2U);  // lost's tags are unknown; app's times are equal
  bool unknown = std::any_of(got.findings.begin(), got.findings.end(), [](const Finding& f) {
    return f.kind == FindingKind::tags_unknown && f.repository == "lost";
  });
  EXPECT_TRUE(unknown);
}

TEST(Retention, SamePushTimesAreReported) {
  Inventory copied = inventory({repo("app", {{"a", 3}, {"b", 3}, {"c", 3}})});
  RetentionRule r = rule();
  r.keep_n = 1;
  Retention got = decide(copied, {r});
  ASSERT_EQ(got.findings.size(), 1U);
  EXPECT_EQ(got.findings[0].kind, FindingKind::same_push_time);
  EXPECT_TRUE(decide(k_ci, {r}).findings.empty());
}

// Issue 31, cause 10: cosign's signature, attestation and SBOM tags follow their image: never
// counted against keep_n, never removed while the image keeps a tag, removed with it.
TEST(Retention, SignatureTagsFollowTheirImage) {
  Repository r = repo("app", {{"a", 5}, {"b", 4}, {"c", 3}, {"d", 2}});
  auto tag_of = [&](const std::string& name) -> Tag& {
    return *std::find_if(r.tags.begin(), r.tags.end(),
                         [&](const Tag& t) { return t.name == name; });
  };
  auto sig = [&](const std::string& of, const std::string& suffix, int n, double age) {
    Tag t;
    t.name = "sha256-" + tag_of(of).current->hex() + suffix;
    t.current = digest_of(100 + n);
    t.has_current = true;
    t.current_mtime = k_now - static_cast<std::int64_t>(age * k_day);
    return t;
  };
  // Signatures pushed after their images: the newest tags of all, by push time.
  std::vector<Tag> sigs = {sig("a", ".sig", 1, 0.1), sig("c", ".sig", 2, 0.1),
                           sig("c", ".att", 3, 0.1), sig("d", ".sbom", 4, 0.1)};
  r.tags.insert(r.tags.end(), sigs.begin(), sigs.end());
  std::sort(r.tags.begin(), r.tags.end(),
            [](const Tag& x, const Tag& y) { return x.name < y.name; });
  ASSERT_TRUE(signature_subject(sigs[0].name));
  RetentionRule rule2 = rule();
  rule2.keep_n = 2;  // keeps c and d: the signatures are not counted
  Retention out = decide(inventory({r}), {rule2});
  EXPECT_EQ(removed(out), (std::set<std::string>{"app:a", "app:b", "app:" + sigs[0].name}));
  for (const TagVerdict& v : out.verdicts) {
    if (v.tag == sigs[1].name || v.tag == sigs[2].name || v.tag == sigs[3].name) {
      EXPECT_FALSE(v.remove) << v.tag;
      EXPECT_NE(v.reason.find("follows its image"), std::string::npos) << v.reason;
    }
  }
  // An image that keeps another tag keeps its signature.
  Tag alias = tag_of("a");
  alias.name = "a-alias";
  alias.current_mtime = k_now - 1;  // kept: among the 2 newest
  r.tags.push_back(alias);
  std::sort(r.tags.begin(), r.tags.end(),
            [](const Tag& x, const Tag& y) { return x.name < y.name; });
  out = decide(inventory({r}), {rule2});
  EXPECT_EQ(removed(out).count("app:a"), 1U);
  EXPECT_EQ(removed(out).count("app:" + sigs[0].name), 0U);
}

// Issue 31, cause 11: prune names its repositories; every other one is out of its scope, and
// nothing there moves (-m's untagged manifests included).
TEST(Retention, ApplyPutsTheRepositoriesNoRuleDecidesOutOfScope) {
  Inventory inv = inventory({repo("ci/app", {{"a", 5}, {"b", 1}}), repo("prod/app", {{"x", 9}})});
  RetentionRule r = rule();
  r.keep_n = 1;
  auto decided = decide_retention(inv, {r}, {"ci/**"}, Grace(), k_now);
  ASSERT_TRUE(decided);
  apply_retention(inv, *decided);
  EXPECT_FALSE(inv.repositories[0].out_of_scope);  // ci/app
  EXPECT_TRUE(inv.repositories[1].out_of_scope);   // prod/app
}

TEST(Retention, ApplyMarksExactlyTheRemovedTags) {
  Inventory inv = k_ci;
  RetentionRule r = rule();
  r.keep_n = 5;
  apply_retention(inv, decide(inv, {r}));
  std::set<std::string> marked;
  for (const Tag& t : inv.repositories[0].tags) {
    if (t.remove_requested) {
      marked.insert(t.name);
    }
  }
  EXPECT_EQ(marked, (std::set<std::string>{"c1", "v1.0.0"}));
}

TEST(Retention, PolicyFile) {
  auto rules = parse_retention_policy(R"(
policies:
  - name: ci-branches
    repositories: ["ci/**"]
    exclude: ci/keep
    name_regex: ".*"
    name_regex_keep: '^v\d+\.\d+\.\d+$'
    keep_n: 5
    older_than: 7d
  - repositories: "nightly/*"
    keep: [latest, stable]
    pushed_within: 3d
    order: semver
    allow_delete_all: true
)",
                                      "p.yml");
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 2U);
  const RetentionRule& a = (*rules)[0];
  EXPECT_EQ(a.name, "ci-branches");
  EXPECT_EQ(a.exclude, std::vector<std::string>{"ci/keep"});
  EXPECT_EQ(a.keep_n, 5U);
  EXPECT_EQ(a.older_than, 7 * k_day);
  EXPECT_EQ(a.keep, std::vector<std::string>{"latest"});  // the default
  const RetentionRule& b = (*rules)[1];
  EXPECT_EQ(b.name, "policy 2");
  EXPECT_EQ(b.pushed_within, 3 * k_day);
  EXPECT_TRUE(b.semver_order);
  EXPECT_TRUE(b.allow_delete_all);
  for (const char* bad : {"policies: []", "policies:\n  - keep_n: many", "policies:\n  - kep_n: 5",
                          "policies:\n  - older_than: soon", "nothing: here"}) {
    EXPECT_FALSE(parse_retention_policy(bad, "p.yml")) << bad;
  }
}

TEST(Retention, InvalidRegexIsAnError) {
  RetentionRule r = rule();
  r.name_regex = "(";
  auto got = decide_retention(k_ci, {r}, {}, Grace(), k_now);
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("name_regex"), std::string::npos);
}

// Issue 37: the expressions are RE2's, as GitLab's cleanup policies take them: its documented
// examples match the same tags (whole names), `(?i)` works, and what RE2 refuses (a
// lookahead, which GitLab refuses too) is an error naming the rule's field.
TEST(Retention, ExpressionsAreRe2AsGitLabTakesThem) {
  const Inventory inv = inventory({repo("app", {{"main", 1},
                                                {"v1.2.0", 2},
                                                {"v", 3},
                                                {"release", 4},
                                                {"release-2026", 5},
                                                {"Nightly-1", 6},
                                                {"nightly-2", 7},
                                                {"feature-x", 8}})});
  auto matched = [&](const std::string& re) {
    RetentionRule r = rule();
    r.name_regex = re;
    std::set<std::string> out;
    for (const std::string& t : removed(decide(inv, {r}))) {
      out.insert(t.substr(4));  // without "app:"
    }
    return out;
  };
  using Set = std::set<std::string>;
  EXPECT_EQ(matched(".*").size(), 8U);
  EXPECT_EQ(matched("v.+"), (Set{"v1.2.0"}));
  EXPECT_EQ(matched("main"), (Set{"main"}));
  EXPECT_EQ(matched("release.*"), (Set{"release", "release-2026"}));
  EXPECT_EQ(matched("(?:v.+|main|release.*)"), (Set{"main", "release", "release-2026", "v1.2.0"}));
  EXPECT_EQ(matched("(?i)nightly-.*"), (Set{"Nightly-1", "nightly-2"}));
  EXPECT_EQ(matched("nightly-.*"), (Set{"nightly-2"}));
  RetentionRule lookahead = rule();
  lookahead.name_regex_keep = "(?!v).*";
  auto refused = decide_retention(inv, {lookahead}, {}, Grace(), k_now);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("name_regex_keep"), std::string::npos);
  EXPECT_NE(refused.error().message.find("RE2"), std::string::npos) << refused.error().message;
}

// Issue 37: zot's keepTags, decided as zot decides (pkg/retention): a tag belongs to the first
// entry whose patterns it matches anywhere in its name; an entry keeps the top keep_n by push
// OR those pushed within pushed_within (all of its tags when it sets neither); the others,
// and the tags no entry takes, are deleted.
TEST(Retention, KeepTagsIsZotsModel) {
  // Tags pushed 1 to 8 days ago.
  const Inventory inv = inventory({repo("app", {{"a1", 1},
                                                {"a2", 2},
                                                {"a3", 3},
                                                {"a4", 4},
                                                {"v2.1", 5},
                                                {"xv2", 6},
                                                {"web-prod", 7},
                                                {"v3.0", 8}})});
  auto kept = [&](std::vector<KeepTagsEntry> entries) {
    RetentionRule r = rule();
    r.keep_tags = std::move(entries);
    std::set<std::string> out;
    for (const TagVerdict& v : decide(inv, {r}).verdicts) {
      if (!v.remove) {
        out.insert(v.tag);
      }
    }
    return out;
  };
  using Set = std::set<std::string>;
  // Patterns only: every tag they match (anywhere in the name) is kept, the rest deleted.
  EXPECT_EQ(kept({{.patterns = {"v2.*", ".*-prod"}, .keep_n = {}, .pushed_within = {}}}),
            (Set{"v2.1", "xv2", "web-prod"}));
  // A count and a time: the 2 most recent OR pushed within 4 days (strictly): a1, a2, a3.
  // (GitLab's reading, keep_n counted after those pushed within, would keep a4 and v2.1 too.)
  EXPECT_EQ(kept({{.patterns = {}, .keep_n = 2, .pushed_within = 4 * k_day}}),
            (Set{"a1", "a2", "a3"}));
  RetentionRule gitlab = rule();
  gitlab.keep_n = 2;
  gitlab.pushed_within = 4 * k_day;
  EXPECT_EQ(removed(decide(inv, {gitlab})), (Set{"app:xv2", "app:web-prod", "app:v3.0"}));
  // A tag is the first matching entry's only: v-tags go to the first, which keeps one of them;
  // the second keeps the two most recent of the others.
  EXPECT_EQ(kept({{.patterns = {"^v"}, .keep_n = 1, .pushed_within = {}},
                  {.patterns = {}, .keep_n = 2, .pushed_within = {}}}),
            (Set{"v2.1", "a1", "a2"}));
  // The grace period keeps what zot would delete.
  RetentionRule young = rule();
  young.keep_tags = {{.patterns = {"^v"}, .keep_n = {}, .pushed_within = {}}};
  Retention r = decide(inv, {young}, Grace(k_now, 2 * k_day + 1));
  Set left;
  for (const TagVerdict& v : r.verdicts) {
    if (!v.remove) {
      left.insert(v.tag);
    }
  }
  EXPECT_EQ(left, (Set{"a1", "a2", "v2.1", "v3.0"}));
}

TEST(Retention, KeepTagsInAPolicyFile) {
  auto rules = parse_retention_policy(
      "policies:\n  - repositories: ['infra/*']\n    keep: []\n    keep_tags:\n"
      "      - patterns: ['v2.*', '.*-prod']\n"
      "      - mostRecentlyPushedCount: 10\n        pushedWithin: 720h\n",
      "p.yml");
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 1U);
  ASSERT_EQ((*rules)[0].keep_tags.size(), 2U);
  EXPECT_EQ((*rules)[0].keep_tags[0].patterns.size(), 2U);
  EXPECT_EQ((*rules)[0].keep_tags[1].keep_n, 10U);
  EXPECT_EQ((*rules)[0].keep_tags[1].pushed_within, 720 * 3600);
  // Pull times are not in the tree; a rule beside keep_tags would be another model.
  EXPECT_FALSE(
      parse_retention_policy("policies:\n  - keep_tags:\n      - pulledWithin: 168h\n", "p.yml"));
  EXPECT_FALSE(parse_retention_policy(
      "policies:\n  - keep_n: 3\n    keep_tags:\n      - patterns: ['v.*']\n", "p.yml"));
}

TEST(Retention, TagVersions) {
  EXPECT_EQ(parse_tag_version("v1.2.3")->minor, 2U);
  EXPECT_EQ(parse_tag_version("2.0.0-rc.1")->pre, "rc.1");
  EXPECT_EQ(parse_tag_version("1.5")->patch, 0U);
  EXPECT_FALSE(parse_tag_version("latest"));
  EXPECT_FALSE(parse_tag_version("v1.2.3.4"));
}

}  // namespace
}  // namespace regsweep
