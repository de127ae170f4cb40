#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "regsweep/layout.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

// A registry with the shapes users have: shared base layers, re-pushed tags, a multi-arch
// image, a nested repository, an API-deleted manifest, referrers and orphans.
struct Sample {
  test::TempRegistry reg;
  Digest base, app1, app2, img1, img2, amd, arm, la, lb, index, nested, deleted, deleted_layer;
  Digest orphan, deleted_config;

  Sample() {
    base = reg.put_layer("lib/app", "base", 4096);
    app1 = reg.put_layer("lib/app", "app1", 2048);
    img1 = reg.put_image("lib/app", {base, app1}, "1");
    reg.tag("lib/app", "v1", img1);
    reg.tag("lib/app", "latest", img1);
    app2 = reg.put_layer("lib/app", "app2", 2048);
    img2 = reg.put_image("lib/app", {base, app2}, "2");
    reg.tag("lib/app", "latest", img2);  // re-pushed: img1 keeps tag v1
    la = reg.put_layer("multi", "amd", 1000);
    lb = reg.put_layer("multi", "arm", 1000);
    reg.link_layer("multi", base);
    amd = reg.put_image("multi", {base, la}, "amd");
    arm = reg.put_image("multi", {base, lb}, "arm");
    index = reg.put_index("multi", {amd, arm});
    reg.tag("multi", "v1", index);
    reg.link_layer("lib/app/nested", base);
    nested = reg.put_image("lib/app/nested", {base}, "nested");
    reg.tag("lib/app/nested", "x", nested);
    deleted_layer = reg.put_layer("gone", "gone", 3000);
    deleted = reg.put_image("gone", {deleted_layer}, "gone");
    deleted_config = reg.last_config();
    reg.tag("gone", "v1", deleted);
    reg.api_delete("gone", deleted);
    orphan = reg.put_blob(std::string(5000, 'o'));
  }

  // Every tag's manifest, and everything it references, is on disk.
  void expect_every_tag_resolves() {
    Collection c = test::plan(reg, false);
    for (const Repository& r : c.inventory.repositories) {
      for (const Tag& t : r.tags) {
        ASSERT_TRUE(t.current) << r.name << ":" << t.name;
        std::vector<Digest> todo{*t.current};
        while (!todo.empty()) {
          Digest d = todo.back();
          todo.pop_back();
          ASSERT_TRUE(reg.has_blob(d)) << r.name << ":" << t.name << " needs " << d.str();
          const ManifestRecord* m = c.manifests.find(c.inventory, d);
          if (m != nullptr && m->parsed()) {
            for (const Digest& b : c.manifests.digests(c.inventory, m->blobs())) {
              EXPECT_TRUE(reg.has_blob(b)) << r.name << ":" << t.name << " needs " << b.str();
              EXPECT_TRUE(reg.exists(layout::layer_link(r.name, b)))
                  << r.name << ":" << t.name << " needs its link to " << b.str();
            }
            for (const Digest& child : c.manifests.digests(c.inventory, m->children())) {
              todo.push_back(child);
            }
          }
        }
      }
    }
  }
};

TEST(Collect, DryRunLeavesTheTreeByteIdentical) {
  for (bool m : {false, true}) {
    Sample s;
    auto before = s.reg.snapshot();
    Collection c = test::plan(s.reg, m);
    EXPECT_GT(c.plan.actions.size(), 0U);
    EXPECT_EQ(s.reg.snapshot(), before);
  }
}

TEST(Collect, WithoutMDeletesOnlyUnreferencedBlobs) {
  Sample s;
  test::GcRun run = test::collect(s.reg, false);
  EXPECT_EQ(run.sweep.failed, 0U);
  std::vector<Digest> want = {s.deleted, s.deleted_layer, s.deleted_config, s.orphan};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(test::planned(run.collection, ActionKind::blob), want);
  EXPECT_EQ(run.sweep.bytes_freed, run.collection.plan.blob_bytes);
  // The orphan (5000 bytes), the deleted image's layer (3000), its config and its manifest.
  EXPECT_EQ(run.collection.plan.blob_bytes,
            5000U + 3000U + find_blob(run.collection.inventory, s.deleted)->size +
                find_blob(run.collection.inventory, s.deleted_config)->size);
  for (const Digest& d : want) {
    EXPECT_FALSE(s.reg.has_blob(d));
  }
  // The layer link of the API-deleted image goes; the revisions of img1 stay (tag v1).
  EXPECT_FALSE(s.reg.exists(layout::layer_link("gone", s.deleted_layer)));
  EXPECT_TRUE(s.reg.exists(layout::revision_link("lib/app", s.img1)));
  s.expect_every_tag_resolves();
  // A second run finds nothing more to do.
  test::GcRun again = test::collect(s.reg, false);
  EXPECT_TRUE(again.collection.plan.actions.empty());
}

TEST(Collect, WithMKeepsEveryTaggedImageWhole) {
  Sample s;
  Digest untagged = s.reg.put_image("lib/app", {s.base, s.reg.put_layer("lib/app", "u")}, "u");
  test::GcRun run = test::collect(s.reg, true);
  EXPECT_EQ(run.sweep.failed, 0U);
  EXPECT_FALSE(s.reg.has_blob(untagged));
  EXPECT_TRUE(s.reg.has_blob(s.amd));
  EXPECT_TRUE(s.reg.has_blob(s.arm));
  EXPECT_TRUE(s.reg.has_blob(s.la));
  EXPECT_TRUE(s.reg.has_blob(s.lb));
  EXPECT_TRUE(s.reg.has_blob(s.base));
  s.expect_every_tag_resolves();
}

TEST(Collect, NestedRepositoriesAreIndependent) {
  Sample s;
  // Delete the parent's images through the API: the nested repository keeps the shared base.
  s.reg.api_delete("lib/app", s.img1);
  s.reg.api_delete("lib/app", s.img2);
  test::GcRun run = test::collect(s.reg, false);
  EXPECT_FALSE(s.reg.has_blob(s.app1));
  EXPECT_FALSE(s.reg.has_blob(s.app2));
  EXPECT_TRUE(s.reg.has_blob(s.base));
  EXPECT_TRUE(s.reg.has_blob(s.nested));
  EXPECT_TRUE(s.reg.exists(layout::layer_link("lib/app/nested", s.base)));
  s.expect_every_tag_resolves();
}

TEST(Collect, ParallelismDoesNotChangeThePlan) {
  Sample s;
  Collection one = test::plan(s.reg, true, 1);
  Collection two = test::plan(s.reg, true, 2);
  Collection many = test::plan(s.reg, true, 8);
  auto paths = [](const Collection& c) {
    std::vector<std::string> out;
    for (const Action& a : c.plan.actions) {
      out.push_back(std::string(to_string(a.kind)) + " " + a.path());
    }
    return out;
  };
  EXPECT_EQ(paths(one), paths(two));
  EXPECT_EQ(paths(one), paths(many));
  EXPECT_EQ(one.marks.blob_marked, many.marks.blob_marked);
  EXPECT_EQ(one.marks.marked_absent, many.marks.marked_absent);
}

// Link deletions are held apart from the other actions and read back from where they point;
// the plan must still read in deletion order: by kind, then repository, tag and digest, with
// links to absent blobs (dangling) sorted among links to present ones by their digests.
TEST(Collect, PlanReadsInDeletionOrderWithDanglingAndPresentLinksMixed) {
  test::TempRegistry reg;
  for (const std::string repo : {"b", "a/x", "a"}) {
    for (int i = 0; i < 12; ++i) {
      std::string n = repo + std::to_string(i);
      Digest layer = reg.put_layer(repo, n, 64);
      Digest img = reg.put_image(repo, {layer}, n);
      reg.tag(repo, i % 3 == 0 ? "keep" : "old" + std::to_string(i % 2), img);
      reg.link_layer(repo, sha256_of("ghost " + n));     // no blob: dangling
      reg.link_layer(repo, reg.put_blob("loose " + n));  // a blob no manifest references
    }
    reg.tag(repo, "keep", reg.put_image(repo, {}, repo + " tip"));
  }
  Collection c = test::plan(reg, true);
  std::vector<Action> got(c.plan.actions.begin(), c.plan.actions.end());
  ASSERT_EQ(got.size(), c.plan.actions.size());
  // Per repository: "keep" ends on the tip, "old0" on image 10, "old1" on image 11; the
  // other 10 images go with their layer and config links, beside 12 ghosts and 12 loose.
  EXPECT_EQ(c.plan.manifests, 30U);
  EXPECT_EQ(c.plan.layer_links, 3U * (10 + 10 + 12 + 12));
  EXPECT_GE(c.plan.tag_history, 30U);
  std::size_t absent = 0;
  for (const Action& a : got) {
    absent += a.kind == ActionKind::layer_link && !reg.has_blob(a.digest) ? 1 : 0;
  }
  EXPECT_EQ(absent, 36U);
  auto key = [](const Action& a) {
    return std::make_tuple(a.kind, std::string(a.repository.view()), std::string(a.name.view()),
                           a.digest, a.reason);
  };
  for (std::size_t i = 1; i < got.size(); ++i) {
    ASSERT_LE(key(got[i - 1]), key(got[i]))
        << i << ": " << got[i - 1].path() << " then " << got[i].path();
  }
  // Every planned link names a digest a link of its repository holds.
  for (const Action& a : got) {
    if (a.kind == ActionKind::layer_link) {
      EXPECT_TRUE(reg.exists(layout::layer_link(std::string(a.repository.view()), a.digest)))
          << a.path();
    }
  }
}

TEST(Collect, SymlinkedRepositoryBlocksBlobDeletionButNotTheRun) {
  Sample s;
  test::TempRegistry outside;
  outside.write("repositories/x/_layers/sha256/keep", "");
  s.reg.symlink(outside.v2() + "/repositories/x", "repositories/linked");
  auto before_outside = outside.snapshot();
  test::GcRun run = test::collect(s.reg, false);
  EXPECT_EQ(run.collection.plan.blobs, 0U);
  EXPECT_TRUE(s.reg.has_blob(s.orphan));
  EXPECT_EQ(outside.snapshot(), before_outside);
  EXPECT_TRUE(std::any_of(run.collection.findings.begin(), run.collection.findings.end(),
                          [](const Finding& f) { return f.kind == FindingKind::symlink; }));
}

}  // namespace
}  // namespace regsweep
