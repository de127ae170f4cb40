#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>

#include "regsweep/layout.hpp"
#include "regsweep/listing.hpp"
#include "regsweep/usage.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

std::uint64_t file_size(const test::TempRegistry& reg, const Digest& d) {
  struct stat st {};
  EXPECT_EQ(::stat((reg.v2() + "/" + layout::blob_data(d)).c_str(), &st), 0);
  return static_cast<std::uint64_t>(st.st_size);
}

Usage usage_of(const test::TempRegistry& reg, std::vector<std::string> globs = {}) {
  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(2);
  UsageOptions o;
  o.globs = std::move(globs);
  auto u = compute_usage(*make_fs_store(v2->get()), o, arena);
  EXPECT_TRUE(u);
  return std::move(*u);
}

const RepoUsage& row(const Usage& u, const std::string& name) {
  for (const RepoUsage& r : u.repositories) {
    if (r.name == name) {
      return r;
    }
  }
  throw std::runtime_error("no row " + name);
}

TEST(Usage, LogicalExclusiveAndSharedBytesOnAHandBuiltTree) {
  test::TempRegistry reg;
  Digest base = reg.put_layer("a", "base", 10000);
  reg.link_layer("b", base);
  reg.link_layer("c", base);
  Digest la = reg.put_layer("a", "only a", 2000);
  Digest lb = reg.put_layer("b", "only b", 3000);
  Digest ma = reg.put_image("a", {base, la}, "a");
  Digest ca = reg.last_config();
  Digest mb = reg.put_image("b", {base, lb}, "b");
  Digest cb = reg.last_config();
  reg.tag("a", "v1", ma);
  reg.tag("b", "v1", mb);
  // c holds the very same image as a (same manifest, config and layers) under another name.
  reg.link_layer("c", la);
  reg.link_layer("c", ca);
  reg.link_revision("c", ma);
  reg.tag("c", "copy", ma);

  auto sz = [&](const Digest& d) { return file_size(reg, d); };
  Usage u = usage_of(reg);
  const RepoUsage& a = row(u, "a");
  const RepoUsage& b = row(u, "b");
  const RepoUsage& c = row(u, "c");
  EXPECT_EQ(a.logical_bytes, sz(base) + sz(la) + sz(ca) + sz(ma));
  EXPECT_EQ(a.exclusive_bytes, 0U);  // everything of a is also in c
  EXPECT_EQ(a.shared_bytes, a.logical_bytes);
  EXPECT_EQ(b.logical_bytes, sz(base) + sz(lb) + sz(cb) + sz(mb));
  EXPECT_EQ(b.exclusive_bytes, sz(lb) + sz(cb) + sz(mb));
  EXPECT_EQ(b.shared_bytes, sz(base));
  EXPECT_EQ(c.logical_bytes, a.logical_bytes);
  EXPECT_EQ(a.tags, 1U);
  EXPECT_EQ(a.manifests_tagged, 1U);
  EXPECT_EQ(u.totals.blob_bytes, sz(base) + sz(la) + sz(lb) + sz(ca) + sz(cb) + sz(ma) + sz(mb));

  // Globs choose rows; totals stay the whole registry's.
  Usage only_b = usage_of(reg, {"b"});
  ASSERT_EQ(only_b.repositories.size(), 1U);
  EXPECT_EQ(only_b.totals.blob_bytes, u.totals.blob_bytes);
}

TEST(Usage, TotalsAgreeWithGcDryRunInBothModes) {
  test::TempRegistry reg;
  Digest base = reg.put_layer("r", "base", 5000);
  Digest old = reg.put_image("r", {base, reg.put_layer("r", "old", 700)}, "old");
  reg.tag("r", "v", old);
  reg.tag("r", "v", reg.put_image("r", {base, reg.put_layer("r", "new", 900)}, "new"));
  Digest gone = reg.put_image("g", {reg.put_layer("g", "gone", 1200)}, "gone");
  reg.tag("g", "x", gone);
  reg.api_delete("g", gone);
  reg.put_blob(std::string(4321, 'o'));
  Usage u = usage_of(reg);
  for (bool m : {false, true}) {
    Collection c = test::plan(reg, m);
    EXPECT_EQ(m ? u.totals.unreferenced_m_bytes : u.totals.unreferenced_bytes, c.plan.blob_bytes)
        << (m ? "-m" : "");
    EXPECT_GT(c.plan.blob_bytes, 0U);
  }
  EXPECT_EQ(u.totals.referenced_bytes + u.totals.unreferenced_bytes + u.totals.young_bytes,
            u.totals.blob_bytes);
  // The API-deleted image is what g would give back.
  EXPECT_EQ(row(u, "g").reclaimable_bytes, u.totals.unreferenced_bytes - 4321U);
  EXPECT_GT(row(u, "r").reclaimable_m_bytes, 0U);
  EXPECT_EQ(row(u, "r").reclaimable_bytes, 0U);
}

TEST(Usage, TotalBlobBytesEqualWhatFindCounts) {
  test::TempRegistry reg;
  for (int i = 0; i < 50; ++i) {
    reg.tag("r" + std::to_string(i % 5), "t" + std::to_string(i),
            reg.put_image("r" + std::to_string(i % 5),
                          {reg.put_layer("r" + std::to_string(i % 5), "l" + std::to_string(i),
                                         100 + static_cast<std::size_t>(i) * 37)},
                          std::to_string(i)));
  }
  reg.put_blob(std::string(999, 'x'));
  std::string cmd = "find '" + reg.v2() +
                    "/blobs/sha256' -mindepth 3 -maxdepth 3 -name data "
                    "-type f -printf '%s\\n'";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::uint64_t sum = 0;
  std::uint64_t count = 0;
  unsigned long long v = 0;
  while (std::fscanf(p, "%llu", &v) == 1) {
    sum += v;
    ++count;
  }
  ::pclose(p);
  Usage u = usage_of(reg);
  EXPECT_EQ(u.totals.blob_bytes, sum);
  EXPECT_EQ(u.totals.blobs, count);
}

TEST(Listing, TagsWithDigestMediaTypePlatformsSizeAndCreation) {
  test::TempRegistry reg;
  Digest l = reg.put_layer("m", "layer", 500);
  Digest cfg =
      reg.put_blob(R"({"architecture":"amd64","os":"linux","created":"2026-05-01T10:00:00Z"})");
  reg.link_layer("m", cfg);
  std::string json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":")" +
      cfg.str() + R"("},"layers":[{"mediaType":"x","size":500,"digest":")" + l.str() + R"("}]})";
  Digest img = reg.put_manifest("m", json);
  Digest idx = reg.put_index("m", {img});
  reg.tag("m", "multi", idx);
  reg.tag("m", "single", img);
  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(2);
  auto listing = list_registry(*make_fs_store(v2->get()), {}, true, arena);
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->repositories.size(), 1U);
  const auto& tags = listing->repositories[0].tags;
  ASSERT_EQ(tags.size(), 2U);
  EXPECT_EQ(tags[0].name, "multi");
  EXPECT_EQ(tags[0].media_type, "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(tags[0].platforms, std::vector<std::string>{"linux/arch0"});
  EXPECT_EQ(tags[0].created, "2026-05-01T10:00:00Z");
  EXPECT_EQ(tags[0].size,
            file_size(reg, idx) + file_size(reg, img) + file_size(reg, cfg) + file_size(reg, l));
  EXPECT_TRUE(tags[0].complete);
  EXPECT_EQ(tags[1].size, file_size(reg, img) + file_size(reg, cfg) + file_size(reg, l));
  reg.remove(layout::blob_dir(l));
  auto again = list_registry(*make_fs_store(v2->get()), {"m"}, true, arena);
  EXPECT_FALSE(again->repositories[0].tags[1].complete);
}

}  // namespace
}  // namespace regsweep
