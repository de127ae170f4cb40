#include <gtest/gtest.h>

#include <algorithm>

#include "regsweep/layout.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

using test::deletes_blob;
using test::planned;

TEST(Mark, WithoutMEveryRevisionIsARoot) {
  test::TempRegistry reg;
  Digest shared = reg.put_layer("r", "shared");
  Digest old_layer = reg.put_layer("r", "old");
  Digest old_img = reg.put_image("r", {shared, old_layer}, "old");
  reg.tag("r", "v1", old_img);
  Digest new_img = reg.put_image("r", {shared, reg.put_layer("r", "new")}, "new");
  reg.tag("r", "v1", new_img);  // re-pushed tag: old_img is untagged but still a revision
  Digest orphan = reg.put_blob("orphan");
  Collection c = test::plan(reg, false);
  EXPECT_EQ(planned(c, ActionKind::blob), std::vector<Digest>{orphan});
  EXPECT_TRUE(planned(c, ActionKind::revision).empty());
  EXPECT_TRUE(c.findings.empty());
}

TEST(Mark, WithMUntaggedManifestsGoWithTheirHistory) {
  test::TempRegistry reg;
  Digest shared = reg.put_layer("r", "shared");
  Digest old_layer = reg.put_layer("r", "old");
  Digest old_img = reg.put_image("r", {shared, old_layer}, "old");
  reg.tag("r", "v1", old_img);
  Digest new_layer = reg.put_layer("r", "new");
  Digest new_img = reg.put_image("r", {shared, new_layer}, "new");
  reg.tag("r", "v1", new_img);
  Collection c = test::plan(reg, true);
  EXPECT_EQ(planned(c, ActionKind::revision), std::vector<Digest>{old_img});
  EXPECT_EQ(planned(c, ActionKind::tag_history), std::vector<Digest>{old_img});
  EXPECT_TRUE(deletes_blob(c, old_img));
  EXPECT_TRUE(deletes_blob(c, old_layer));
  EXPECT_FALSE(deletes_blob(c, shared));
  EXPECT_FALSE(deletes_blob(c, new_layer));
  EXPECT_FALSE(deletes_blob(c, new_img));
  // The old layer's link goes too: no live manifest of r references it.
  auto links = planned(c, ActionKind::layer_link);
  EXPECT_TRUE(std::binary_search(links.begin(), links.end(), old_layer));
  EXPECT_FALSE(std::binary_search(links.begin(), links.end(), shared));
}

TEST(Mark, WithMTaggedIndexKeepsItsUntaggedChildren) {
  // 2.8.2 deletes the children's layers here; regsweep follows the index.
  test::TempRegistry reg;
  Digest la = reg.put_layer("m", "amd64");
  Digest lb = reg.put_layer("m", "arm64");
  Digest a = reg.put_image("m", {la}, "a");
  Digest b = reg.put_image("m", {lb}, "b");
  Digest list =
      reg.put_index("m", {a, b}, "application/vnd.docker.distribution.manifest.list.v2+json");
  reg.tag("m", "latest", list);
  Collection c = test::plan(reg, true);
  EXPECT_TRUE(c.plan.actions.empty());
  EXPECT_TRUE(c.findings.empty());
}

TEST(Mark, ChildrenWithoutRevisionLinksAreFollowed) {
  test::TempRegistry reg;
  Digest la = reg.put_layer("m", "la");
  Digest child = reg.put_image("m", {la}, "child");
  reg.remove(layout::revision_dir("m", child));
  Digest idx = reg.put_index("m", {child});
  reg.tag("m", "v", idx);
  for (bool m : {false, true}) {
    Collection c = test::plan(reg, m);
    EXPECT_FALSE(deletes_blob(c, child));
    EXPECT_FALSE(deletes_blob(c, la));
  }
}

TEST(Mark, WithMReferrersFollowTheirSubject) {
  test::TempRegistry reg;
  Digest img = reg.put_image("s", {reg.put_layer("s", "l")});
  reg.tag("s", "v1", img);
  Digest sig = reg.put_referrer("s", img, "sig-payload");
  Digest sig_of_sig = reg.put_referrer("s", sig, "countersig");
  Digest gone = reg.put_image("s", {reg.put_layer("s", "gone")}, "gone");
  Digest orphan_sig = reg.put_referrer("s", gone, "orphan-payload");
  Collection c = test::plan(reg, true);
  auto revs = planned(c, ActionKind::revision);
  std::vector<Digest> want = {gone, orphan_sig};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(revs, want);
  EXPECT_FALSE(deletes_blob(c, sig));
  EXPECT_FALSE(deletes_blob(c, sig_of_sig));
  EXPECT_TRUE(deletes_blob(c, orphan_sig));
}

// What an unreadable manifest references is unknown: it may be any blob, linked or not
// (issue 31, cause 13), so no blob goes.
TEST(Mark, UnreadableManifestKeepsEveryBlob) {
  test::TempRegistry reg;
  Digest l1 = reg.put_layer("r", "l1");
  Digest l2 = reg.put_layer("r", "l2");
  Digest bad = reg.put_manifest("r", "{\"schemaVersion\": 2, truncated");
  reg.tag("r", "v1", bad);
  Digest unlinked = reg.put_blob("nobody links me");
  for (bool m : {false, true}) {
    Collection c = test::plan(reg, m);
    EXPECT_FALSE(deletes_blob(c, l1));
    EXPECT_FALSE(deletes_blob(c, l2));
    EXPECT_FALSE(deletes_blob(c, bad));
    EXPECT_FALSE(deletes_blob(c, unlinked));
    EXPECT_TRUE(planned(c, ActionKind::blob).empty());
    EXPECT_TRUE(planned(c, ActionKind::layer_link).empty());
    EXPECT_TRUE(std::any_of(c.findings.begin(), c.findings.end(), [](const Finding& f) {
      return f.kind == FindingKind::manifest_unparseable && f.severity == Severity::error;
    }));
  }
}

TEST(Mark, WithMAnUnreadableTagKeepsEveryRevision) {
  test::TempRegistry reg;
  Digest a = reg.put_image("r", {reg.put_layer("r", "a")}, "a");
  Digest b = reg.put_image("r", {reg.put_layer("r", "b")}, "b");
  reg.tag("r", "good", a);
  reg.write(layout::tag_current_link("r", "broken"), "not a digest");
  Collection c = test::plan(reg, true);
  EXPECT_TRUE(planned(c, ActionKind::revision).empty());
  EXPECT_FALSE(deletes_blob(c, b));
}

TEST(Mark, ResultDoesNotDependOnRepositoryOrder) {
  // The same child is untagged in one repository and tagged (through an index) in another.
  test::TempRegistry reg;
  Digest l = reg.put_layer("a", "l");
  reg.put_layer("z", "l");
  Digest child_a = reg.put_image("a", {l}, "c");
  Digest child_z = reg.put_image("z", {l}, "c");
  ASSERT_EQ(child_a, child_z);
  reg.tag("z", "v", reg.put_index("z", {child_z}));
  // And tagged directly in a third: a marker that remembers what it visited across
  // repositories would not follow it again in z, or in m, depending on which came first.
  reg.put_layer("m", "l");
  reg.tag("m", "v", reg.put_image("m", {l}, "c"));
  Digest loose = reg.put_layer("a", "linked, in no manifest");
  GcOptions opts = test::options(true);
  opts.plan.remove_empty_repositories = false;  // keep `a`, to see its revision go
  Collection c = test::plan(reg, opts);
  // In a, the child is untagged: its revision goes; the blob stays because z needs it.
  EXPECT_EQ(planned(c, ActionKind::revision), std::vector<Digest>{child_a});
  EXPECT_FALSE(deletes_blob(c, child_a));
  EXPECT_FALSE(deletes_blob(c, l));

  // Reverse the repositories and mark again: the same digests are marked.
  Inventory reversed = c.inventory;
  std::reverse(reversed.repositories.begin(), reversed.repositories.end());
  // One thread: repositories are marked in the order of the vector, so that the two orders
  // below are really two orders.
  tbb::task_arena arena(1);
  // Named: a positional MarkOptions{true} set young_after (the first field) to 1, so that
  // everything was young and marked, and no order bug could show.
  MarkOptions options;
  options.delete_untagged = true;
  MarkResult again = mark(reversed, c.manifests, options, arena);
  MarkResult forward = mark(c.inventory, c.manifests, options, arena);
  EXPECT_EQ(forward.blob_marked, c.marks.blob_marked);
  EXPECT_TRUE(deletes_blob(c, loose)) << "nothing is unmarked: the test cannot see an order bug";
  EXPECT_EQ(again.blob_marked, c.marks.blob_marked);
  EXPECT_EQ(again.marked_absent, c.marks.marked_absent);
  // Per repository too: what each keeps decides which of its layer links go.
  for (std::size_t i = 0; i < reversed.repositories.size(); ++i) {
    std::size_t j = reversed.repositories.size() - 1 - i;
    ASSERT_EQ(reversed.repositories[i].name, c.inventory.repositories[j].name);
    EXPECT_EQ(again.repositories[i].marked, forward.repositories[j].marked)
        << reversed.repositories[i].name;
    EXPECT_EQ(again.repositories[i].live, forward.repositories[j].live)
        << reversed.repositories[i].name;
  }
}

TEST(Mark, MissingManifestsAreReportedNotFatal) {
  test::TempRegistry reg;
  Digest ghost = sha256_of("never stored");
  reg.link_revision("r", ghost);
  reg.tag("r", "t", ghost);
  Digest kept = reg.put_image("r", {}, "kept");
  reg.tag("r", "ok", kept);
  Collection c = test::plan(reg, false);
  EXPECT_TRUE(std::any_of(c.findings.begin(), c.findings.end(), [](const Finding& f) {
    return f.kind == FindingKind::manifest_missing && f.severity == Severity::error;
  }));
  EXPECT_FALSE(deletes_blob(c, kept));
}

}  // namespace
}  // namespace regsweep
