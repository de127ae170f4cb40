#include <gtest/gtest.h>

#include "regsweep/layout.hpp"

namespace regsweep {
namespace {

const std::string k_hex = "0a" + std::string(62, 'b');

Digest dg() {
  return *parse_hex(k_hex);
}

TEST(Layout, BlobPrefixesAcceptedAndRejected) {
  const std::vector<std::pair<std::string, int>> accept = {
      {"00", 0x00}, {"0a", 0x0a}, {"a0", 0xa0}, {"ff", 0xff}, {"7f", 0x7f}};
  for (const auto& [name, value] : accept) {
    auto got = layout::parse_blob_prefix(name);
    ASSERT_TRUE(got) << name;
    EXPECT_EQ(*got, value) << name;
  }
  const std::vector<std::string> reject = {"", "0", "abc", "0A", "FF", "g0", "0g", "-1", " a"};
  for (const std::string& name : reject) {
    EXPECT_FALSE(layout::parse_blob_prefix(name)) << name;
  }
}

TEST(Layout, ParentAndRepositoryOfAPath) {
  EXPECT_EQ(layout::parent("repositories/a/b/_layers/sha256"), "repositories/a/b/_layers");
  EXPECT_EQ(layout::parent("repositories"), "");
  const std::vector<std::pair<std::string, std::string>> table = {
      {"repositories/a/b/_manifests/tags", "a/b"},
      {"repositories/a/b/_layers/sha256/" + k_hex, "a/b"},
      {"repositories/a/b", "a/b"},  // a namespace or repository directory: its own name
      {"repositories/a", "a"},
      {"repositories", ""},  // above every repository
      {"blobs/sha256/0a", ""},
      {"repositoriesx/a", ""},
  };
  for (const auto& [path, repo] : table) {
    EXPECT_EQ(layout::repository_of(path), repo) << path;
  }
}

TEST(Layout, PathsTable) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {layout::blob_dir(dg()), "blobs/sha256/0a/" + k_hex},
      {layout::blob_data(dg()), "blobs/sha256/0a/" + k_hex + "/data"},
      {layout::layer_link("a/b", dg()), "repositories/a/b/_layers/sha256/" + k_hex + "/link"},
      {layout::revision_link("a/b", dg()),
       "repositories/a/b/_manifests/revisions/sha256/" + k_hex + "/link"},
      {layout::revision_dir("x", dg()), "repositories/x/_manifests/revisions/sha256/" + k_hex},
      {layout::tag_current_link("x", "v1"), "repositories/x/_manifests/tags/v1/current/link"},
      {layout::tag_index_entry_dir("x", "v1", dg()),
       "repositories/x/_manifests/tags/v1/index/sha256/" + k_hex},
      {layout::tag_index_dir("x", "v1"), "repositories/x/_manifests/tags/v1/index/sha256"},
      {layout::upload_dir("x", "u-1"), "repositories/x/_uploads/u-1"},
  };
  for (const auto& [got, want] : table) {
    EXPECT_EQ(got, want);
  }
}

TEST(Layout, ParseLinkAccepts) {
  auto c = layout::parse_link("sha256:" + k_hex);
  ASSERT_TRUE(c.digest);
  EXPECT_EQ(*c.digest, dg());
  EXPECT_EQ(c.problem, layout::LinkProblem::none);
}

TEST(Layout, ParseLinkRecoversButFlags) {
  std::string upper = k_hex;
  upper[1] = 'A';
  const std::vector<std::pair<std::string, layout::LinkProblem>> table = {
      {"sha256:" + k_hex + "\n", layout::LinkProblem::trailing_whitespace},
      {"sha256:" + k_hex + " \r\n", layout::LinkProblem::trailing_whitespace},
      {"sha256:" + upper, layout::LinkProblem::upper_case},
  };
  for (const auto& [text, problem] : table) {
    auto c = layout::parse_link(text);
    ASSERT_TRUE(c.digest) << text;
    EXPECT_EQ(*c.digest, dg()) << text;
    EXPECT_EQ(c.problem, problem) << text;
  }
}

TEST(Layout, ParseLinkRejects) {
  const std::vector<std::pair<std::string, layout::LinkProblem>> table = {
      {"", layout::LinkProblem::empty},
      {"\n", layout::LinkProblem::empty},
      {"sha256:" + k_hex.substr(2), layout::LinkProblem::malformed},
      {"sha256:" + k_hex + "00", layout::LinkProblem::malformed},
      {k_hex, layout::LinkProblem::malformed},
      {"sha512:" + k_hex + k_hex, layout::LinkProblem::unknown_algorithm},
      {"sha256:" + k_hex.substr(0, 63) + "z", layout::LinkProblem::malformed},
      {std::string("sha256:\0", 8) + k_hex.substr(1), layout::LinkProblem::malformed},
      {"SHA256:" + k_hex, layout::LinkProblem::malformed},
  };
  for (const auto& [text, problem] : table) {
    auto c = layout::parse_link(text);
    EXPECT_FALSE(c.digest) << text;
    EXPECT_EQ(c.problem, problem) << text;
  }
}

TEST(Layout, RepoComponents) {
  for (const char* ok :
       {"a", "alpine", "my-app", "my--app", "a.b", "a_b", "a__b", "0", "x1-y2.z3"}) {
    EXPECT_TRUE(layout::is_valid_repo_component(ok)) << ok;
  }
  for (const char* bad : {"", "_a", "A", "a_", "-a", "a.", "a..b", "a___b", "a._b", "a b", "é"}) {
    EXPECT_FALSE(layout::is_valid_repo_component(bad)) << bad;
  }
}

TEST(Layout, Tags) {
  for (const char* ok : {"latest", "v1.2.3", "_x", "A-b_c.d", "sha256-abc.sig"}) {
    EXPECT_TRUE(layout::is_valid_tag(ok)) << ok;
  }
  EXPECT_TRUE(layout::is_valid_tag(std::string(128, 'a')));
  for (const char* bad : {"", ".x", "-x", "a/b", "a:b", "a b"}) {
    EXPECT_FALSE(layout::is_valid_tag(bad)) << bad;
  }
  EXPECT_FALSE(layout::is_valid_tag(std::string(129, 'a')));
}

TEST(Layout, TempLeftovers) {
  EXPECT_TRUE(layout::is_temp_leftover("link.0b8e1f.tmp"));
  EXPECT_TRUE(layout::is_temp_leftover("data.0b8e1f.tmp"));
  EXPECT_FALSE(layout::is_temp_leftover("link"));
  EXPECT_FALSE(layout::is_temp_leftover("data"));
  EXPECT_FALSE(layout::is_temp_leftover("other.tmp"));
}

TEST(Layout, EveryPathClassifiesBackToItsSpec) {
  using layout::PathKind;
  Digest d = *parse_hex("ab" + std::string(62, '3'));
  Digest prefix_only;
  prefix_only.bytes[0] = 0xab;
  std::vector<layout::PathSpec> specs;
  specs.push_back({PathKind::blob_prefix, "", "", prefix_only});
  for (PathKind k : {PathKind::blob_dir, PathKind::blob_data}) {
    specs.push_back({k, "", "", d});
  }
  for (std::string repo : {"r", "library/ubuntu", "a/b/c.d_e-f"}) {
    specs.push_back({PathKind::repository, repo, "", Digest{}});
    for (PathKind k : {PathKind::layer_link_dir, PathKind::layer_link, PathKind::revision_dir,
                       PathKind::revision_link}) {
      specs.push_back({k, repo, "", d});
    }
    for (PathKind k : {PathKind::tag_dir, PathKind::tag_current_link, PathKind::tag_index_dir}) {
      specs.push_back({k, repo, "v1.0", Digest{}});
    }
    for (PathKind k : {PathKind::tag_index_entry_dir, PathKind::tag_index_entry_link}) {
      specs.push_back({k, repo, "latest", d});
    }
    specs.push_back({PathKind::upload_dir, repo, "0b8e1f-uuid", Digest{}});
  }
  for (const layout::PathSpec& spec : specs) {
    std::string path = layout::path_of(spec);
    auto back = layout::classify(path);
    ASSERT_TRUE(back) << path;
    EXPECT_EQ(*back, spec) << path;
    EXPECT_TRUE(layout::is_contained(path)) << path;
  }
  EXPECT_EQ(layout::path_of(specs[1]), layout::blob_dir(d));
  EXPECT_TRUE(layout::is_at_or_below("repositories/a/b", "repositories/a"));
  EXPECT_TRUE(layout::is_at_or_below("repositories/a", "repositories/a"));
  EXPECT_FALSE(layout::is_at_or_below("repositories/ab", "repositories/a"));
  EXPECT_EQ(layout::base_name("blobs/sha256/ab"), "ab");
  EXPECT_EQ(layout::base_name("x"), "x");
}

TEST(Layout, WhatTheLayoutDoesNotNameIsNotClassified) {
  std::string hex = "ab" + std::string(62, '3');
  for (const std::string& bad :
       std::vector<std::string>{"",
                                "blobs",
                                "blobs/sha256",
                                "blobs/sha512/ab",
                                "blobs/sha256/AB",
                                "blobs/sha256/cd/" + hex,  // the prefix does not match the digest
                                "blobs/sha256/ab/" + hex + "/other",
                                "blobs/sha256/ab/" + hex + "/data/x",
                                "repositories",
                                "repositories/_layers",
                                "repositories/r/_layers/sha256",
                                "repositories/r/_layers/sha256/xyz",
                                "repositories/r/_layers/sha256/" + hex + "/link/x",
                                "repositories/r/_manifests",
                                "repositories/r/_manifests/revisions/sha256",
                                "repositories/r/_manifests/tags",
                                "repositories/r/_manifests/tags/v/current",
                                "repositories/r/_manifests/tags/v/index/sha256/bad",
                                "repositories/r/_uploads",
                                "repositories/r/_uploads/id/data",
                                "repositories/r/_other/x",
                                "repositories//r",
                                "repositories/r/",
                                "lost+found/x",
                                "docker/registry"}) {
    EXPECT_FALSE(layout::classify(bad)) << bad;
  }
  for (const std::string& outside : std::vector<std::string>{
           "", "/etc", "blobs", "blobs/sha256", "blobs/sha256/../..", "repositories",
           "repositories/../x", "repositories/./x", "repositories//x", "docker", "lost+found/x"}) {
    EXPECT_FALSE(layout::is_contained(outside)) << outside;
  }
}

}  // namespace
}  // namespace regsweep

namespace regsweep {
namespace {

TEST(Layout, KeysAreTakenApartAndJoinedHereOnly) {
  auto parts = layout::split_key("repositories/team/app/_layers/sha256//x");
  ASSERT_EQ(parts.size(), 7U);
  EXPECT_EQ(parts[5], "");  // an empty component is kept: the key leaves the layout there
  EXPECT_EQ(layout::join_parts(parts, 1, 3), "team/app");
  EXPECT_EQ(layout::repository_end(parts), 3U);
  EXPECT_EQ(layout::repository_end(layout::split_key("repositories/ns/app")), 3U);
  EXPECT_EQ(layout::split_key("").size(), 1U);
}

}  // namespace
}  // namespace regsweep
