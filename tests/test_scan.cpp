#include <gtest/gtest.h>

#include <algorithm>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/layout.hpp"
#include "store/fs/scan/fs_scan.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

using test::has_finding;

// Digests as they come (uniform), clustered on a few 8-byte prefixes, and with prefixes far
// from uniform: the lookup must find each blob and nothing else in all three.
TEST(Scan, BlobIndexFindsEveryBlobAndNothingElse) {
  for (int shape = 0; shape < 3; ++shape) {
    std::vector<Digest> present;
    std::vector<Digest> absent{Digest{}};
    absent.back().bytes.fill(0);
    Digest top;
    top.bytes.fill(0xff);
    absent.push_back(top);
    for (int i = 0; i < 6000; ++i) {
      Digest d = sha256_of(std::to_string(shape) + "/" + std::to_string(i));
      if (shape == 1) {
        std::fill(d.bytes.begin(), d.bytes.begin() + 8, static_cast<std::uint8_t>(i % 3 * 0x40));
      } else if (shape == 2) {
        std::uint64_t p = 1ULL << static_cast<unsigned>(i % 63);
        for (int k = 7; k >= 0; --k, p >>= 8U) {
          d.bytes[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(p & 0xffU);
        }
      }
      (i % 3 == 0 ? absent : present).push_back(d);
    }
    std::sort(present.begin(), present.end());
    std::vector<Blob> blobs;
    for (const Digest& d : present) {
      blobs.push_back(Blob{d, 1, 0});
    }
    for (std::size_t i = 0; i < present.size(); ++i) {
      ASSERT_EQ(blob_index(blobs, present[i]), i) << "shape " << shape;
    }
    for (const Digest& d : absent) {
      ASSERT_EQ(blob_index(blobs, d), k_no_blob) << "shape " << shape << " " << d.str();
    }
    EXPECT_EQ(blob_index(std::vector<Blob>{}, present[0]), k_no_blob);

    // The bucket table, over lists of every size around its thresholds, answers the same.
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64},
                          std::size_t{65}, std::size_t{1000}, blobs.size()}) {
      Inventory inv;
      inv.blobs.assign(blobs.begin(), blobs.begin() + static_cast<std::ptrdiff_t>(n));
      inv.blob_lookup = BlobLookup(inv.blobs);
      for (std::size_t i = 0; i < blobs.size(); ++i) {
        ASSERT_EQ(blob_index(inv, present[i]), i < n ? i : k_no_blob)
            << "shape " << shape << " n " << n << " i " << i;
      }
      for (const Digest& d : absent) {
        ASSERT_EQ(blob_index(inv, d), k_no_blob) << "shape " << shape << " n " << n;
      }
    }
    // A table asked about another list than its own does not use its buckets.
    Inventory inv;
    inv.blobs = blobs;
    inv.blob_lookup = BlobLookup(inv.blobs);
    std::vector<Blob> fewer(blobs.begin() + 1, blobs.end());
    EXPECT_EQ(inv.blob_lookup.find(fewer, present[1]), 0U) << "shape " << shape;
    Inventory copy = inv;
    copy.blobs.erase(copy.blobs.begin());
    EXPECT_EQ(blob_index(copy, present[2]), 1U) << "shape " << shape;
  }
}

Inventory scan_of(const test::TempRegistry& reg) {
  auto v2 = open_registry(reg.root());
  EXPECT_TRUE(v2);
  tbb::task_arena arena(2);
  auto inv = scan(v2->get(), arena);
  EXPECT_TRUE(inv);
  return std::move(*inv);
}

std::vector<std::string> names(const Inventory& inv) {
  std::vector<std::string> out;
  for (const auto& r : inv.repositories) {
    out.push_back(r.name);
  }
  return out;
}

TEST(Scan, RefusesARootWithoutATree) {
  test::TempRegistry reg;
  auto bad = open_registry(reg.v2());  // one level too deep
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("docker/registry/v2"), std::string::npos);
  EXPECT_FALSE(open_registry(reg.root() + "/nonexistent"));
}

TEST(Scan, EmptyRegistryIsNotAnError) {
  test::TempRegistry reg;
  Inventory inv = scan_of(reg);
  EXPECT_FALSE(inv.has_repositories_dir);
  EXPECT_TRUE(inv.repositories.empty());
  EXPECT_TRUE(inv.blobs.empty());
  EXPECT_TRUE(inv.findings.empty());
}

TEST(Scan, NestedRepositoriesAndEitherMarker) {
  test::TempRegistry reg;
  Digest l = reg.put_layer("a", "l1");
  reg.tag("a", "v1", reg.put_image("a", {l}));
  reg.tag("a/b", "v1", reg.put_image("a/b", {reg.put_layer("a/b", "l2")}));
  reg.tag("ns/deep/c", "x", reg.put_image("ns/deep/c", {}));
  // A repository with _manifests but no _layers (2.8 would miss it) and one with only _layers.
  reg.put_manifest("only-manifests",
                   R"({"schemaVersion":2,"config":{"digest":")" + l.str() + R"("},"layers":[]})");
  reg.link_layer("only-layers", l);
  // Reserved names are never descended into, even when they look like repositories.
  reg.link_layer("a/_junk/x", l);
  Inventory inv = scan_of(reg);
  EXPECT_EQ(names(inv),
            (std::vector<std::string>{"a", "a/b", "ns/deep/c", "only-layers", "only-manifests"}));
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::unknown_entry, "repositories/a/_junk"));
  EXPECT_EQ(inv.repositories[0].tags.size(), 1U);
  EXPECT_EQ(inv.repositories[0].layers.size(), 2U);  // l1 + config
  EXPECT_EQ(inv.repositories[0].revisions.size(), 1U);
  EXPECT_FALSE(inv.keep_all_blobs);
}

// A repository name is at most 255 characters: a directory below repositories/ whose path
// is longer is no repository the registry serves, and the walk stops there (a file system
// with a cycle, a link loop through FUSE, goes on otherwise until 128 levels). What it may
// hold is unknown: every blob is kept, and the path is named (issue 31, cause 8).
TEST(Scan, APathLongerThanARepositoryNameIsNotWalkedAndKeepsEveryBlob) {
  test::TempRegistry reg;
  std::string long_name = std::string(150, 'a') + "/" + std::string(150, 'b');
  reg.tag(long_name, "v1", reg.put_image(long_name, {reg.put_layer(long_name, "layer")}));
  reg.tag("ok", "v1", reg.put_image("ok", {}));
  reg.put_blob("an orphan");
  Collection c = test::plan(reg, false);
  EXPECT_TRUE(test::planned(c, ActionKind::blob).empty());
  EXPECT_TRUE(std::any_of(c.findings.begin(), c.findings.end(), [&](const Finding& f) {
    return f.severity == Severity::error && f.path == layout::repo_dir(long_name) &&
           f.message.find("longer than a repository name can be") != std::string::npos;
  }));
}

TEST(Scan, BlobsWithSizesAndOddEntries) {
  test::TempRegistry reg;
  Digest a = reg.put_blob("hello");
  Digest b = reg.put_blob(std::string(1000, 'x'));
  reg.mkdir("blobs/sha256/ab/" + std::string(64, 'a').replace(0, 2, "ab") + "");  // no data
  reg.mkdir("blobs/sha256/c");  // a one-character prefix: upstream panics on such entries
  reg.write("blobs/sha256/" + a.hex().substr(0, 2) + "/stray", "x");
  Inventory inv = scan_of(reg);
  ASSERT_EQ(inv.blobs.size(), 2U);
  EXPECT_EQ(find_blob(inv, a)->size, 5U);
  EXPECT_EQ(find_blob(inv, b)->size, 1000U);
  // An empty blob directory is a leftover to tidy, not a problem.
  ASSERT_EQ(inv.leftovers.size(), 1U);
  EXPECT_EQ(inv.leftovers[0].kind, Leftover::Kind::empty_dir);
  EXPECT_EQ(inv.leftovers[0].path.substr(0, 18), "blobs/sha256/ab/ab");
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::unknown_entry, "blobs/sha256/c"));
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::unknown_entry, "/stray"));
}

TEST(Scan, MalformedLinksAreFindingsAndKeepTheirDigest) {
  test::TempRegistry reg;
  Digest m = reg.put_image("r", {});
  reg.write(layout::revision_link("r", m), m.str() + "\n");
  Digest other = reg.put_blob("other");
  Digest m2 = reg.put_blob("m2");
  reg.write(layout::revision_link("r", m2), other.str());  // mismatch
  Digest m3 = reg.put_blob("m3");
  reg.write(layout::revision_link("r", m3), "");  // empty
  reg.write(layout::tag_current_link("r", "bad"), "garbage");
  Inventory inv = scan_of(reg);
  ASSERT_EQ(inv.repositories.size(), 1U);
  const Repository& r = inv.repositories[0];
  ASSERT_EQ(r.revisions.size(), 3U);
  for (const Link& l : r.revisions) {
    EXPECT_TRUE(l.problem());
  }
  EXPECT_TRUE(r.tags_uncertain);
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::malformed_link, m.hex() + "/link"));
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::link_mismatch, m2.hex() + "/link"));
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::malformed_link, m3.hex() + "/link"));
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::malformed_link, "tags/bad/current/link"));
}

TEST(Scan, SymlinksAreReportedAndNeverFollowed) {
  test::TempRegistry reg;
  test::TempRegistry outside;
  outside.tag("evil", "v1", outside.put_image("evil", {outside.put_layer("evil", "o")}));
  reg.tag("r", "v1", reg.put_image("r", {}));
  reg.symlink(outside.v2() + "/repositories/evil", "repositories/linked");
  Inventory inv = scan_of(reg);
  EXPECT_EQ(names(inv), (std::vector<std::string>{"r"}));
  EXPECT_TRUE(has_finding(inv.findings, FindingKind::symlink, "repositories/linked"));
  EXPECT_TRUE(inv.keep_all_blobs);  // a symlinked repository could reference any blob
}

}  // namespace
}  // namespace regsweep
