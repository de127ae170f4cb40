// Storage that goes wrong, through the Store seam (tests/fault_store.hpp): no root needed,
// no test skipped. Each case is one of docs/safety.md's rules on a real tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

#include "fault_store.hpp"
#include "regsweep/collect.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/policy.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

using test::FaultStore;

// A tagged image, an untagged one (-m deletes it) and an old orphan blob.
struct Tree {
  test::TempRegistry reg;
  Digest layer, image, untagged_layer, untagged, orphan;
  Tree() {
    layer = reg.put_layer("app", "layer");
    image = reg.put_image("app", {layer}, "app");
    reg.tag("app", "v1", image);
    untagged_layer = reg.put_layer("app", "untagged layer");
    untagged = reg.put_image("app", {untagged_layer}, "untagged");
    orphan = reg.put_blob("an orphan");
  }
};

bool has_error(const std::vector<Finding>& findings, const std::string& path) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
    return f.severity == Severity::error && f.path.find(path) != std::string::npos;
  });
}

// Rule 1: a manifest whose read fails, or ends early, is unknown: no blob goes, and the run
// names it. (tests/test_bad_input.cpp makes the file unreadable with chmod as well, which
// needs root; this reaches the same read through the seam.)
TEST(Faults, AManifestThatCannotBeReadWholeKeepsEveryBlob) {
  for (int variant = 0; variant < 2; ++variant) {
    SCOPED_TRACE(variant == 0 ? "EIO" : "short read");
    Tree t;
    auto v2 = open_registry(t.reg.root());
    ASSERT_TRUE(v2);
    tbb::task_arena arena(2);
    FaultStore store(make_fs_store(v2->get(), t.reg.root()));
    std::string data = layout::blob_data(t.image);
    if (variant == 0) {
      store.read_errors[data] = EIO;
    } else {
      store.short_reads.insert(data);
    }
    for (bool m : {false, true}) {
      auto c = plan_gc(store, test::options(m), arena);
      ASSERT_TRUE(c) << c.error().message;
      EXPECT_TRUE(test::planned(*c, ActionKind::blob).empty()) << "-m " << m;
      EXPECT_TRUE(has_error(c->findings, data)) << "-m " << m;
    }
  }
}

// Rule 3 and issue 31, cause 6: a tag that cannot be deleted still names its manifest, so
// `rm -m app:v1` keeps the manifest and its blobs when the tag's removal fails.
TEST(Faults, ATagThatCannotBeDeletedKeepsWhatItNames) {
  Tree t;
  auto v2 = open_registry(t.reg.root());
  ASSERT_TRUE(v2);
  tbb::task_arena arena(2);
  FaultStore store(make_fs_store(v2->get(), t.reg.root()));
  store.delete_errors[layout::tag_dir("app", "v1")] = EROFS;
  GcOptions o = test::options(true);
  o.remove = {"app:v1"};
  auto c = plan_gc(store, o, arena);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_FALSE(test::planned(*c, ActionKind::blob).empty());  // the plan would delete blobs
  auto swept = sweep_collection(store, *c, true, SweepPolicy{.force = true}, arena);
  ASSERT_TRUE(swept) << swept.error().message;
  EXPECT_GT(swept->failed, 0U);
  EXPECT_TRUE(t.reg.exists(layout::tag_current_link("app", "v1")));
  EXPECT_TRUE(t.reg.exists(layout::revision_link("app", t.image)));
  EXPECT_TRUE(t.reg.has_blob(t.image));
  EXPECT_TRUE(t.reg.has_blob(t.layer));
}

}  // namespace
}  // namespace regsweep
