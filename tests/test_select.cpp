#include <gtest/gtest.h>

#include "regsweep/select.hpp"

namespace regsweep {
namespace {

TEST(Select, Globs) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  };
  const std::vector<Case> table = {
      {"ci/*", "ci/app", true},
      {"ci/*", "ci/app/sub", false},
      {"ci/**", "ci/app/sub", true},
      {"ci/**", "ci", false},
      {"**", "a/b/c", true},
      {"*", "a", true},
      {"*", "a/b", false},
      {"a?c", "abc", true},
      {"a?c", "a/c", false},
      {"lib/app", "lib/app", true},
      {"lib/app", "lib/app/x", false},
      {"*/app", "lib/app", true},
      {"**/sub", "a/b/sub", true},
      {"v1.*", "v1.2", true},
      {"v1.*", "v2.1", false},
      {"", "", true},
      // Bracket expressions, as fnmatch reads them, within one component.
      {"apps/app-[ac]", "apps/app-a", true},
      {"apps/app-[ac]", "apps/app-c", true},
      {"apps/app-[ac]", "apps/app-b", false},
      {"apps/app-[!ac]", "apps/app-b", true},
      {"apps/app-[^ac]", "apps/app-a", false},
      {"v[0-9].*", "v7.1", true},
      {"v[0-9].*", "vx.1", false},
      {"[[:digit:]]*", "1.0", true},
      {"[]x]", "]", true},
      {"a[/]b", "a/b", false},
      {"[", "[", true},
      {"**/app-[ab]", "x/y/app-b", true},
      {"ci/**/[ab]", "ci/q/r/a", true},
      {"ci/**/[ab]", "ci/q/r/c", false},
      {"[*][*]", "**", true},
      {"[*][*]", "ab", false},
      {"a**b**c", "a/x/b/y/c", true},
      {"a**b**c", "a/x/y/c", false},
  };
  for (const auto& c : table) {
    EXPECT_EQ(glob_match(c.pattern, c.name), c.match) << c.pattern << " ~ " << c.name;
  }
}

Inventory sample() {
  Inventory inv;
  for (const char* name : {"a", "a/b", "ci/x", "ci/y/z"}) {
    Repository r;
    r.name = name;
    Tag v1;
    v1.name = "v1";
    Tag v2;
    v2.name = "v2";
    r.tags = {v1, v2};
    inv.repositories.push_back(r);
  }
  return inv;
}

TEST(Select, RepositoriesAndTags) {
  Inventory inv = sample();
  ASSERT_TRUE(select_removals(inv, {"a", "ci/**:v2"}));
  EXPECT_TRUE(inv.repositories[0].remove_requested);
  EXPECT_FALSE(inv.repositories[1].remove_requested);  // a/b is not a
  EXPECT_FALSE(inv.repositories[2].remove_requested);
  EXPECT_FALSE(inv.repositories[2].tags[0].remove_requested);
  EXPECT_TRUE(inv.repositories[2].tags[1].remove_requested);
  EXPECT_TRUE(inv.repositories[3].tags[1].remove_requested);
}

TEST(Select, UnmatchedSpecIsAnErrorAndMarksNothing) {
  Inventory inv = sample();
  auto s = select_removals(inv, {"a", "nope/*"});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("'nope/*'"), std::string::npos);
  EXPECT_FALSE(inv.repositories[0].remove_requested);
  EXPECT_FALSE(select_removals(inv, {"a:v9"}));
  EXPECT_FALSE(select_removals(inv, {"a:"}));
}

}  // namespace
}  // namespace regsweep
