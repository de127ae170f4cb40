// Plans reviewed before they run (reviewed_plan.hpp, run.hpp): a written plan reads back as
// written; apply carries out only what a fresh scan still plans on the same evidence, and
// keeps what changed since the plan, with what depends on it.

#include <gtest/gtest.h>

#include <string>

#include "regsweep/layout.hpp"
#include "regsweep/reviewed_plan.hpp"
#include "regsweep/run.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

// An image tagged v1, an untagged one, a blob nothing references.
struct Tree {
  test::TempRegistry reg;
  Digest shared, tagged, untagged, untagged_layer, unused;
  Tree() {
    shared = reg.put_layer("app", "shared");
    tagged = reg.put_image("app", {shared}, "v1");
    reg.tag("app", "v1", tagged);
    untagged_layer = reg.put_layer("app", "old");
    untagged = reg.put_image("app", {untagged_layer}, "old");
    unused = reg.put_blob("nothing uses this");
    reg.backdate("", 7200);
  }
};

CollectRun gc_m(Store& store, tbb::task_arena& arena, DryRun dry_run,
                const PlanFile* reviewed = nullptr) {
  RunContext run = test::run_context(store, arena, dry_run);
  CollectRequest request;
  request.command = "gc";
  request.options = test::options(true);
  request.reviewed = reviewed;
  return collect(run, request);
}

// The plan a dry run of gc -m writes.
PlanFile written_plan(Store& store, tbb::task_arena& arena) {
  CollectRun dry = gc_m(store, arena, DryRun::yes);
  EXPECT_TRUE(dry.collection);
  PlanFile p;
  p.location = store.location();
  p.directory = "/";
  p.command = "gc";
  p.arguments = {"-m", "-d", "--plan-out", "plan.json"};
  p.command_line = "regsweep gc -m -d --plan-out plan.json";
  p.created = 1796491801;
  for (const Action& a : dry.collection->plan.actions) {
    p.actions.push_back(planned_action(a, dry.collection->inventory));
  }
  return p;
}

TEST(ReviewedPlan, AWrittenPlanReadsBackAsWritten) {
  Tree t;
  tbb::task_arena arena(2);
  auto o = test::open_store(t.reg);
  PlanFile p = written_plan(*o.store, arena);
  p.config = "/etc/docker/registry/config.yml";
  p.config_sha256 = std::string(64, 'a');
  ASSERT_GE(p.actions.size(), 4U);
  auto back = parse_plan_file(plan_file_json(p));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->location, p.location);
  EXPECT_EQ(back->config, p.config);
  EXPECT_EQ(back->config_sha256, p.config_sha256);
  EXPECT_EQ(back->arguments, p.arguments);
  EXPECT_EQ(back->created, p.created);
  EXPECT_EQ(back->actions, p.actions);
  // The evidence: a blob's time, a link's contents.
  bool blob_dated = false;
  bool link_named = false;
  for (const PlannedAction& a : back->actions) {
    blob_dated = blob_dated || (a.kind == "blob" && a.mtime > 0 && a.bytes > 0);
    link_named = link_named || (a.kind == "manifest-revision" && a.link == t.untagged.str());
  }
  EXPECT_TRUE(blob_dated);
  EXPECT_TRUE(link_named);
  EXPECT_FALSE(parse_plan_file("{\"schema\":\"regsweep-plan/2\"}"));
  EXPECT_FALSE(parse_plan_file("not json"));
}

// Between the review and apply, the untagged image is tagged again: it is kept, whole, and
// reported; the rest of the plan is carried out.
TEST(ReviewedPlan, ATagPushedAfterTheReviewKeepsItsImage) {
  Tree t;
  tbb::task_arena arena(2);
  auto o = test::open_store(t.reg);
  PlanFile p = written_plan(*o.store, arena);
  t.reg.tag("app", "again", t.untagged);
  CollectRun applied = gc_m(*o.store, arena, DryRun::no, &p);
  ASSERT_FALSE(applied.stopped) << applied.stopped->message;
  ASSERT_TRUE(applied.swept);
  EXPECT_TRUE(t.reg.has_blob(t.untagged));
  EXPECT_TRUE(t.reg.has_blob(t.untagged_layer));
  EXPECT_FALSE(t.reg.has_blob(t.unused)) << "the rest of the plan is carried out";
  EXPECT_TRUE(t.reg.has_blob(t.tagged));
  ASSERT_TRUE(applied.reviewed);
  EXPECT_GE(applied.reviewed->changed, 3U);  // its revision, its blob and its layer
  EXPECT_EQ(applied.reviewed->not_reviewed, 0U);
  EXPECT_TRUE(test::has_finding(applied.swept->findings, FindingKind::changed_since_plan,
                                layout::blob_dir(t.untagged_layer)));
}

// What the fresh scan plans that the review did not see is not done: a new unused blob is
// left; a manifest untagged since (a non-blob deletion not reviewed) keeps every blob.
TEST(ReviewedPlan, WhatWasNotReviewedIsNotDone) {
  {
    Tree t;
    tbb::task_arena arena(2);
    auto o = test::open_store(t.reg);
    PlanFile p = written_plan(*o.store, arena);
    Digest later = t.reg.put_blob("unused since the review");
    t.reg.backdate("", 7200);
    CollectRun applied = gc_m(*o.store, arena, DryRun::no, &p);
    ASSERT_FALSE(applied.stopped) << applied.stopped->message;
    EXPECT_TRUE(t.reg.has_blob(later));
    EXPECT_FALSE(t.reg.has_blob(t.unused));
    EXPECT_EQ(applied.reviewed->not_reviewed, 1U);
  }
  {
    Tree t;
    tbb::task_arena arena(2);
    auto o = test::open_store(t.reg);
    PlanFile p = written_plan(*o.store, arena);
    t.reg.remove(layout::tag_dir("app", "v1"));  // the tagged image is untagged now
    CollectRun applied = gc_m(*o.store, arena, DryRun::no, &p);
    ASSERT_FALSE(applied.stopped) << applied.stopped->message;
    EXPECT_TRUE(t.reg.has_blob(t.tagged));
    EXPECT_TRUE(t.reg.has_blob(t.shared));
    EXPECT_TRUE(t.reg.has_blob(t.unused)) << "no blob goes while an unreviewed deletion waits";
    EXPECT_GE(applied.reviewed->not_reviewed, 1U);
    EXPECT_GE(applied.reviewed->dependent, 1U);
  }
}

// The same blob with another time is other evidence: kept and reported.
TEST(ReviewedPlan, ABlobWrittenAgainIsOtherEvidence) {
  Tree t;
  tbb::task_arena arena(2);
  auto o = test::open_store(t.reg);
  PlanFile p = written_plan(*o.store, arena);
  t.reg.backdate(layout::blob_data(t.unused), 3600);
  CollectRun applied = gc_m(*o.store, arena, DryRun::no, &p);
  ASSERT_FALSE(applied.stopped) << applied.stopped->message;
  EXPECT_TRUE(t.reg.has_blob(t.unused));
  EXPECT_FALSE(t.reg.has_blob(t.untagged));
  EXPECT_TRUE(test::has_finding(applied.swept->findings, FindingKind::changed_since_plan,
                                layout::blob_dir(t.unused)));
}

TEST(ReviewedPlan, APlanForAnotherRootIsRefusedBeforeAnything) {
  Tree t;
  tbb::task_arena arena(2);
  auto o = test::open_store(t.reg);
  PlanFile p = written_plan(*o.store, arena);
  p.location = "/somewhere/else";
  CollectRun applied = gc_m(*o.store, arena, DryRun::no, &p);
  ASSERT_TRUE(applied.stopped);
  EXPECT_NE(applied.stopped->message.find("/somewhere/else"), std::string::npos);
  EXPECT_TRUE(t.reg.has_blob(t.unused));
  EXPECT_FALSE(applied.collection);
}

}  // namespace
}  // namespace regsweep
