// The safety sequence as one library call (run.hpp): gc and fsck --repair alike go probe ->
// lock -> plan -> may-sweep -> sweep, and a dry run changes nothing.

#include <gtest/gtest.h>

#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "fault_store.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/run.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

// One image, tagged; one blob no manifest references; a layer link naming no blob; a
// corrupt blob in use.
struct Tree {
  test::TempRegistry reg;
  Digest layer, image, unused, ghost, spoiled;
  Tree() {
    layer = reg.put_layer("app", "layer");
    spoiled = reg.put_layer("app", "spoiled");
    image = reg.put_image("app", {layer, spoiled}, "app");
    reg.tag("app", "v1", image);
    unused = reg.put_blob("unused");
    ghost = sha256_of("ghost");
    reg.link_layer("app", ghost);
    reg.write(layout::blob_data(spoiled), "flipped bytes");
    reg.backdate("", 7200);
  }
};

struct Context {
  fs::Fd v2;
  tbb::task_arena arena{2};
  std::vector<Notice> notices;
  explicit Context(const test::TempRegistry& reg) {
    auto opened = open_registry(reg.root());
    EXPECT_TRUE(opened) << opened.error().message;
    v2 = std::move(*opened);
  }
  RunContext on(Store& store, DryRun dry) {
    return RunContext{.store = store,
                      .arena = arena,
                      .dry_run = dry,
                      .policy = {},
                      .serve = std::nullopt,
                      .config_path = {},
                      .notify = [this](const Notice& n) { notices.push_back(n); },
                      .before_step = {},
                      .cache = {}};
  }
};

CollectRequest gc_request() {
  CollectRequest r;
  r.command = "gc";
  r.options = test::options();
  return r;
}

FsckOptions verify_all() {
  FsckOptions o;
  o.verify_percent = 100;
  o.now = static_cast<std::int64_t>(std::time(nullptr));
  return o;
}

TEST(Run, ADryRunTakesNoLockAndChangesNothing) {
  Tree t;
  Context ctx(t.reg);
  auto store = make_fs_store(ctx.v2.get(), t.reg.root());
  auto before = t.reg.snapshot();
  RunContext dry = ctx.on(*store, DryRun::yes);
  CollectRun planned = collect(dry, gc_request());
  ASSERT_FALSE(planned.stopped) << planned.stopped->message;
  ASSERT_TRUE(planned.collection);
  EXPECT_FALSE(planned.swept);
  EXPECT_GT(planned.collection->plan.blobs, 0U);
  CheckRun checked = check(dry, verify_all());
  ASSERT_TRUE(checked.report);
  EXPECT_EQ(checked.report->repairs.size(), 2U);
  EXPECT_EQ(t.reg.snapshot(), before);  // no lock file either

  RunContext real = ctx.on(*store, DryRun::no);
  CollectRun swept = collect(real, gc_request());
  ASSERT_FALSE(swept.stopped) << swept.stopped->message;
  ASSERT_TRUE(swept.swept);
  EXPECT_FALSE(t.reg.has_blob(t.unused));
  EXPECT_TRUE(t.reg.has_blob(t.layer));
  // A run that deletes took the lock, beside v2, not in it (issue 37).
  EXPECT_TRUE(t.reg.exists("../" + std::string(k_lock_file)));
  EXPECT_FALSE(t.reg.exists(std::string(k_legacy_lock)));
}

// fsck --repair refuses, as gc does, when the scan shows something writing to the tree: here
// a file dated in the future, whose age cannot be told. Nothing is repaired.
TEST(Run, RepairsAreRefusedWhileTheTreeLooksWritten) {
  Tree t;
  t.reg.backdate(layout::tag_current_link("app", "v1"), -86400);
  Context ctx(t.reg);
  auto store = make_fs_store(ctx.v2.get(), t.reg.root());
  RunContext real = ctx.on(*store, DryRun::no);
  CheckRun refused = check(real, verify_all());
  ASSERT_TRUE(refused.stopped);
  EXPECT_NE(refused.stopped->message.find("dated in the future"), std::string::npos)
      << refused.stopped->message;
  EXPECT_TRUE(t.reg.exists(layout::layer_link("app", t.ghost)));
  EXPECT_TRUE(t.reg.exists(layout::blob_data(t.spoiled)));
  ASSERT_FALSE(ctx.notices.empty());
  EXPECT_EQ(ctx.notices.back().level, Notice::Level::refusal);

  real.policy.force = true;
  CheckRun forced = check(real, verify_all());
  ASSERT_FALSE(forced.stopped) << forced.stopped->message;
  EXPECT_FALSE(t.reg.exists(layout::layer_link("app", t.ghost)));
}

// fsck --repair goes through the store's guard, as a sweep does: after the tree changed
// since the scan (a push wrote a layer link), a corrupt blob is not moved aside, since what
// was pushed may need it; the repair says why.
TEST(Run, ARepairWaitsForATreeThatChangedSinceTheScan) {
  Tree t;
  Context ctx(t.reg);
  test::FaultStore store(make_fs_store(ctx.v2.get(), t.reg.root()));
  store.before_sweep = [&t] { t.reg.link_layer("other", t.spoiled); };
  RunContext real = ctx.on(store, DryRun::no);
  CheckRun done = check(real, verify_all());
  ASSERT_FALSE(done.stopped) << done.stopped->message;
  ASSERT_TRUE(done.report);
  EXPECT_TRUE(t.reg.exists(layout::blob_data(t.spoiled)));
  bool said = false;
  for (const Repair& r : done.report->repairs) {
    if (r.action == RepairAction::move_to_lost_found) {
      said = r.error.find("changed since the scan") != std::string::npos;
    }
  }
  EXPECT_TRUE(said);
}

TEST(Run, MaxDeleteIsACountOrAShareOfTheBytes) {
  auto count = parse_delete_cap("10");
  ASSERT_TRUE(count && count->blobs);
  EXPECT_EQ(*count->blobs, 10U);
  EXPECT_FALSE(count->percent);
  auto share = parse_delete_cap("2.5%");
  ASSERT_TRUE(share && share->percent);
  EXPECT_DOUBLE_EQ(*share->percent, 2.5);
  for (const char* bad : {"", "x", "0%", "101%", "-1", "1e3", "%", "5 %", "1.5"}) {
    EXPECT_FALSE(parse_delete_cap(bad)) << bad;
  }
}

// --max-delete: a plan that deletes more than the cap deletes nothing, not even with --force;
// a dry run says a real run would stop.
TEST(Run, APlanOverTheCapDeletesNothing) {
  for (const char* given : {"0", "0.1%"}) {
    SCOPED_TRACE(given);
    Tree t;
    Context ctx(t.reg);
    auto store = make_fs_store(ctx.v2.get(), t.reg.root());
    auto before = t.reg.snapshot();
    CollectRequest capped = gc_request();
    capped.max_delete = parse_delete_cap(given);
    capped.options.every_blob_size = true;  // as the command line asks for a share
    RunContext dry = ctx.on(*store, DryRun::yes);
    CollectRun planned = collect(dry, capped);
    ASSERT_FALSE(planned.stopped) << planned.stopped->message;
    ASSERT_FALSE(ctx.notices.empty());
    EXPECT_NE(ctx.notices.back().text.find("a real run would not sweep"), std::string::npos);
    RunContext real = ctx.on(*store, DryRun::no);
    real.policy.force = true;
    CollectRun refused = collect(real, capped);
    ASSERT_TRUE(refused.stopped);
    EXPECT_NE(refused.stopped->message.find(std::string("more than --max-delete ") + given),
              std::string::npos)
        << refused.stopped->message;
    EXPECT_FALSE(refused.swept);
    // Every path is still there, and only the lock was added (it changed v2's time).
    std::set<std::string> paths_before;
    std::set<std::string> paths_after;
    for (const auto& entry : before) {
      paths_before.insert(entry.first);
    }
    for (const auto& entry : t.reg.snapshot()) {
      if (entry.first.find(std::string(k_lock_file)) == std::string::npos) {
        paths_after.insert(entry.first);
      }
    }
    EXPECT_EQ(paths_after, paths_before);
    EXPECT_TRUE(t.reg.has_blob(t.unused));

    CollectRequest roomy = gc_request();
    roomy.max_delete = parse_delete_cap("100%");
    roomy.options.every_blob_size = true;
    CollectRun swept = collect(real, roomy);
    ASSERT_FALSE(swept.stopped) << swept.stopped->message;
    EXPECT_FALSE(t.reg.has_blob(t.unused));
  }
}

}  // namespace
}  // namespace regsweep
