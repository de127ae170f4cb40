// The quarantine (quarantine.hpp, run.hpp): a run moves what it would delete, restore puts
// it back file for file, never replacing what stands, and purge deletes old runs.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "regsweep/layout.hpp"
#include "regsweep/quarantine.hpp"
#include "regsweep/run.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

// Every file below v2 with its bytes' hash (the lock aside): what "the same tree" means.
std::map<std::string, std::string> files_of(const test::TempRegistry& reg) {
  std::map<std::string, std::string> out;
  for (const auto& [path, state] : reg.snapshot()) {
    if (state.type == 'f' && path.rfind("docker/registry/v2/", 0) == 0 &&
        path.find("regsweep.lock") == std::string::npos) {
      out[path] = state.content_sha;
    }
  }
  return out;
}

// A tree with something for gc -m to collect: an untagged image, an unused blob, an empty
// repository.
struct Tree {
  test::TempRegistry reg;
  Digest shared, tagged, untagged, unused;
  Tree() {
    shared = reg.put_layer("app", "shared");
    tagged = reg.put_image("app", {shared}, "v1");
    reg.tag("app", "v1", tagged);
    untagged = reg.put_image("app", {reg.put_layer("app", "old")}, "old");
    unused = reg.put_blob("nothing uses this");
    reg.mkdir("repositories/empty/_manifests/revisions/sha256");
    reg.backdate("", 7200);
  }
};

RunContext context(Store& store, tbb::task_arena& arena, DryRun dry_run = DryRun::no) {
  return test::run_context(store, arena, dry_run);
}

CollectRun gc_m(Store& store, tbb::task_arena& arena, bool quarantine) {
  RunContext run = context(store, arena);
  CollectRequest request;
  request.command = "gc";
  request.options = test::options(true);
  request.quarantine = quarantine;
  request.command_line = "regsweep gc -m --quarantine";
  return collect(run, request);
}

TEST(Quarantine, RunIdsSortByTimeAndSayWhen) {
  std::string a = new_run_id(1796491801'000);
  std::string b = new_run_id(1796491801'007);  // the same second: still in order
  std::string c = new_run_id(1796491802'000);
  EXPECT_TRUE(is_run_id(a)) << a;
  EXPECT_EQ(a.substr(0, 21), "20261205T173001.000Z-");
  EXPECT_EQ(b.substr(0, 21), "20261205T173001.007Z-");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(run_started(b), 1796491801);
  for (const char* bad : {"", "20261205T173001Z", "20261205T173001.000Z-12345G", "../etc",
                          "20261205T173001Z-123456", "20261205X173001.000Z-123456"}) {
    EXPECT_FALSE(is_run_id(bad)) << bad;
  }
}

TEST(Quarantine, AJournalReadsBackAsWritten) {
  QuarantineJournal j{.run_id = new_run_id(1796491801'000),
                      .started = 1796491801,
                      .ended = 1796491805,
                      .command = "regsweep gc -m --quarantine '/a b'",
                      .location = "/var/lib/registry",
                      .complete = true,
                      .planned = {"blobs/sha256/ab/x"},
                      .moved = {StoreObject{"blobs/sha256/ab/x/data", 12, 0}}};
  auto back = parse_journal(journal_json(j));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->run_id, j.run_id);
  EXPECT_EQ(back->started, j.started);
  EXPECT_EQ(back->command, j.command);
  EXPECT_TRUE(back->complete);
  ASSERT_EQ(back->moved.size(), 1U);
  EXPECT_EQ(back->moved[0].size, 12U);
  EXPECT_FALSE(parse_journal("{\"version\":2}"));
  EXPECT_FALSE(parse_journal("not json"));
}

// What --quarantine leaves in v2 is what a deletion leaves; restore gives back every file
// with its bytes, and deletes the run it emptied.
TEST(Quarantine, LeavesWhatADeletionLeavesAndRestoresTheSameTree) {
  Tree quarantined;
  Tree deleted;
  auto before = files_of(quarantined.reg);
  tbb::task_arena arena(2);
  auto q = test::open_store(quarantined.reg);
  auto d = test::open_store(deleted.reg);
  CollectRun moved = gc_m(*q.store, arena, true);
  CollectRun gone = gc_m(*d.store, arena, false);
  ASSERT_FALSE(moved.stopped) << moved.stopped->message;
  ASSERT_FALSE(gone.stopped) << gone.stopped->message;
  ASSERT_TRUE(moved.quarantine_run);
  EXPECT_FALSE(gone.quarantine_run);
  EXPECT_GE(moved.swept->blobs_deleted, 3U);
  EXPECT_FALSE(quarantined.reg.has_blob(quarantined.unused));
  EXPECT_FALSE(quarantined.reg.has_blob(quarantined.untagged));
  // The same v2, path for path (the trees' digests are the same: the same content).
  EXPECT_EQ(files_of(quarantined.reg), files_of(deleted.reg));
  CollectRun again = gc_m(*q.store, arena, true);
  EXPECT_FALSE(again.quarantine_run) << "nothing to move makes no run";
  QuarantineArea* area = q.store->quarantine();
  ASSERT_NE(area, nullptr);
  auto runs = list_quarantine(*area);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1U);
  EXPECT_EQ((*runs)[0].id, *moved.quarantine_run);
  EXPECT_TRUE((*runs)[0].complete);
  EXPECT_GT((*runs)[0].objects, 3U);

  RunContext dry = context(*q.store, arena, DryRun::yes);
  RestoreRun would = restore(dry, {});
  ASSERT_TRUE(would.restored);
  EXPECT_EQ(would.restored->restored, (*runs)[0].objects);
  EXPECT_EQ(files_of(quarantined.reg), files_of(deleted.reg)) << "a dry run changes nothing";

  RunContext real = context(*q.store, arena);
  RestoreRun back = restore(real, {});
  ASSERT_FALSE(back.stopped) << back.stopped->message;
  EXPECT_EQ(back.restored->restored, (*runs)[0].objects);
  EXPECT_TRUE(back.restored->findings.empty());
  EXPECT_EQ(files_of(quarantined.reg), before);
  EXPECT_EQ(back.restored->purged, std::vector<std::string>{*moved.quarantine_run});
  EXPECT_TRUE(area->runs()->empty());
}

// Restore replaces nothing: where the same bytes stand again it leaves the object, where
// other bytes stand it keeps both and says so; the run stays.
TEST(Quarantine, RestoreNeverReplacesWhatStands) {
  Tree t;
  tbb::task_arena arena(2);
  auto q = test::open_store(t.reg);
  CollectRun moved = gc_m(*q.store, arena, true);
  ASSERT_TRUE(moved.quarantine_run);
  // The unused blob is pushed again (the same bytes); the untagged manifest's revision link
  // is written again naming something else.
  t.reg.put_blob("nothing uses this");
  std::string revision = layout::revision_link("app", t.untagged);
  t.reg.write(revision, "sha256:" + std::string(64, 'a'));
  RunContext run = context(*q.store, arena);
  RestoreRun back = restore(run, {*moved.quarantine_run});
  ASSERT_FALSE(back.stopped) << back.stopped->message;
  EXPECT_EQ(back.restored->identical, 1U);
  ASSERT_EQ(back.restored->findings.size(), 1U);
  EXPECT_EQ(back.restored->findings[0].path, revision);
  EXPECT_NE(back.restored->findings[0].message.find(*moved.quarantine_run), std::string::npos);
  EXPECT_TRUE(back.restored->purged.empty());
  EXPECT_EQ(q.store->quarantine()->runs()->size(), 1U);
  auto still = q.store->read(revision, 1024);
  ASSERT_TRUE(still);
  EXPECT_EQ(*still, "sha256:" + std::string(64, 'a'));
  EXPECT_TRUE(t.reg.has_blob(t.untagged)) << "the rest went back";
}

TEST(Quarantine, PurgeDeletesOnlyRunsOlderThanTheAge) {
  Tree t;
  tbb::task_arena arena(2);
  auto q = test::open_store(t.reg);
  QuarantineArea* area = q.store->quarantine();
  std::string old_id = new_run_id(1000000000'000);  // 2001
  ASSERT_TRUE(area->create(old_id));
  CollectRun moved = gc_m(*q.store, arena, true);
  ASSERT_TRUE(moved.quarantine_run);
  RunContext run = context(*q.store, arena);
  PurgeRun purged = purge_quarantine(run, 7 * 86400);
  ASSERT_FALSE(purged.stopped);
  ASSERT_EQ(purged.purged.size(), 1U);
  EXPECT_EQ(purged.purged[0].id, old_id);
  EXPECT_EQ(*area->runs(), std::vector<std::string>{*moved.quarantine_run});
}

}  // namespace
}  // namespace regsweep
