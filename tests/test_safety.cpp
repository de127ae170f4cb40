// The grace period, the stop-the-world check, the lock and containment.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "regsweep/layout.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/policy.hpp"
#include "regsweep/usage.hpp"
#include "store/fs/lock.hpp"
#include "store/fs/remover.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

using test::deletes_blob;
using test::planned;

GcOptions with_grace(std::int64_t seconds, bool m = false) {
  GcOptions o = test::options(m);
  o.grace = Grace(o.plan.now, seconds);
  return o;
}

TEST(Grace, YoungBlobsAndWhatYoungLinksNameAreKept) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {reg.put_layer("r", "live")}));
  Digest old_orphan = reg.put_blob("old orphan");
  reg.backdate(layout::blob_dir(old_orphan), 2 * 3600);
  Digest young_orphan = reg.put_blob("young orphan");
  // A push in progress: a layer uploaded and linked, no manifest yet.
  Digest pushing = reg.put_layer("pushing", "layer in flight");

  Collection c = test::plan(reg, with_grace(3600));
  EXPECT_TRUE(deletes_blob(c, old_orphan));
  EXPECT_FALSE(deletes_blob(c, young_orphan));
  EXPECT_FALSE(deletes_blob(c, pushing));
  EXPECT_TRUE(planned(c, ActionKind::layer_link).empty());
  EXPECT_TRUE(std::none_of(c.plan.actions.begin(), c.plan.actions.end(),
                           [](const Action& a) { return a.kind == ActionKind::repository; }));
  // The report says what was kept for being young.
  auto kept = [&](const Digest& d) {
    return std::any_of(c.kept_young.begin(), c.kept_young.end(),
                       [&](const Action& a) { return a.digest == d; });
  };
  EXPECT_TRUE(kept(young_orphan));
  EXPECT_TRUE(kept(pushing));
  EXPECT_FALSE(kept(old_orphan));

  // With no grace period (upstream's behaviour), they go.
  Collection now = test::plan(reg, with_grace(0));
  EXPECT_TRUE(deletes_blob(now, young_orphan));
  EXPECT_TRUE(deletes_blob(now, pushing));
  EXPECT_TRUE(now.kept_young.empty());
}

// A cross-repository mount in progress: an old blob, linked into a repository within the
// grace period, no manifest yet. gc does not stat layer links it need not decide on; this one
// it must, since only its time keeps the blob.
TEST(Grace, AYoungLayerLinkToAnOldBlobKeepsIt) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {reg.put_layer("r", "live")}));
  Digest mounted = reg.put_layer("source", "mounted layer");
  reg.remove("repositories/source");
  reg.backdate(layout::blob_dir(mounted), 2 * 3600);
  reg.link_layer("target", mounted);  // the mount, now

  Collection c = test::plan(reg, with_grace(3600));
  EXPECT_FALSE(deletes_blob(c, mounted));
  EXPECT_TRUE(planned(c, ActionKind::layer_link).empty());
  EXPECT_TRUE(std::any_of(c.kept_young.begin(), c.kept_young.end(),
                          [&](const Action& a) { return a.digest == mounted; }));
  Collection now = test::plan(reg, with_grace(0));
  EXPECT_TRUE(deletes_blob(now, mounted));
}

TEST(Grace, AYoungManifestKeepsWhatItReferencesEvenWithoutLinks) {
  test::TempRegistry reg;
  Digest layer = reg.put_layer("r", "its layer");
  reg.backdate(layout::blob_dir(layer), 2 * 3600);
  reg.backdate(layout::layer_link_dir("r", layer), 2 * 3600);
  Digest m = reg.put_image("r", {layer}, "pushed");
  reg.remove(layout::revision_dir("r", m));  // the manifest blob is written, its link not yet
  Digest config = reg.last_config();
  reg.backdate(layout::blob_dir(config), 2 * 3600);
  reg.backdate(layout::layer_link_dir("r", config), 2 * 3600);
  reg.backdate("repositories", 2 * 3600);
  reg.tag("other", "v", reg.put_image("other", {}, "other"));

  Collection c = test::plan(reg, with_grace(3600));
  EXPECT_FALSE(deletes_blob(c, m));
  EXPECT_FALSE(deletes_blob(c, layer));
  EXPECT_FALSE(deletes_blob(c, config));
  EXPECT_TRUE(c.findings.empty());  // a layer read as a possible manifest is not a finding
  Collection now = test::plan(reg, with_grace(0));
  EXPECT_TRUE(deletes_blob(now, layer));
}

// gc's "kept for being young" and du's young bytes are one definition: the blobs a run with
// no grace period would delete that this one keeps.
TEST(Grace, GcAndDuAgreeOnWhatIsKeptForBeingYoung) {
  test::TempRegistry reg;
  // An old layer that only a manifest pushed within the grace period references.
  Digest layer = reg.put_layer("r", "its layer", 3000);
  reg.backdate(layout::blob_dir(layer), 2 * 3600);
  reg.backdate(layout::layer_link_dir("r", layer), 2 * 3600);
  Digest m = reg.put_image("r", {layer}, "pushed");
  reg.remove(layout::revision_dir("r", m));
  Digest config = reg.last_config();
  reg.backdate(layout::blob_dir(config), 2 * 3600);
  reg.backdate(layout::layer_link_dir("r", config), 2 * 3600);
  Digest young_orphan = reg.put_blob(std::string(700, 'y'));
  Digest old_orphan = reg.put_blob(std::string(500, 'o'));
  reg.backdate(layout::blob_dir(old_orphan), 2 * 3600);
  reg.tag("other", "v", reg.put_image("other", {}, "other"));

  Collection c = test::plan(reg, with_grace(3600));
  std::uint64_t kept = 0;
  std::vector<Digest> kept_blobs;
  for (const Action& a : c.kept_young) {
    if (a.kind == ActionKind::blob) {
      kept += a.bytes;
      kept_blobs.push_back(a.digest);
    }
  }
  std::sort(kept_blobs.begin(), kept_blobs.end());
  auto kept_blob = [&](const Digest& d) {
    return std::binary_search(kept_blobs.begin(), kept_blobs.end(), d);
  };
  EXPECT_TRUE(kept_blob(layer));
  EXPECT_TRUE(kept_blob(young_orphan));
  EXPECT_TRUE(kept_blob(m));
  EXPECT_FALSE(kept_blob(old_orphan));
  EXPECT_TRUE(deletes_blob(c, old_orphan));

  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(2);
  UsageOptions uo;
  uo.grace = Grace(static_cast<std::int64_t>(std::time(nullptr)), 3600);
  auto u = compute_usage(*make_fs_store(v2->get()), uo, arena);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->totals.young_bytes, kept);
  EXPECT_EQ(u->totals.unreferenced_bytes, c.plan.blob_bytes);
  EXPECT_EQ(u->totals.referenced_bytes + u->totals.unreferenced_bytes + u->totals.young_bytes,
            u->totals.blob_bytes);
}

TEST(Grace, WithMAYoungUntaggedRevisionIsKept) {
  test::TempRegistry reg;
  Digest old = reg.put_image("r", {reg.put_layer("r", "old")}, "old");
  reg.backdate("repositories/r", 2 * 3600);
  reg.backdate("blobs", 2 * 3600);
  Digest fresh = reg.put_image("r", {reg.put_layer("r", "fresh")}, "fresh");
  reg.tag("r", "v", reg.put_image("r", {}, "tagged"));
  Collection c = test::plan(reg, with_grace(3600, true));
  EXPECT_EQ(planned(c, ActionKind::revision), std::vector<Digest>{old});
  EXPECT_FALSE(deletes_blob(c, fresh));
}

TEST(Activity, YoungUploadsAndChangesDuringTheScanAreReported) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {}));
  reg.backdate("repositories", 2 * 3600);
  reg.backdate("blobs", 2 * 3600);
  EXPECT_TRUE(test::plan(reg, with_grace(3600)).activity.empty());

  reg.start_upload("r", "u", "");
  Collection c = test::plan(reg, with_grace(3600));
  EXPECT_TRUE(c.activity.empty());
  ASSERT_EQ(c.young_uploads.size(), 1U);
  EXPECT_NE(c.young_uploads[0].find("_uploads/u"), std::string::npos);

  test::TempRegistry reg2;
  Digest d = reg2.put_blob("written while scanning");
  reg2.backdate(layout::blob_dir(d), -20);  // modified after the scan started
  Collection c2 = test::plan(reg2, with_grace(0));
  ASSERT_EQ(c2.activity.size(), 1U);
  EXPECT_NE(c2.activity[0].find("changed during the scan"), std::string::npos);
}

// Issue 37: a young upload is kept by the grace period whatever happens; it refuses a sweep
// only while a registry may be serving. When the probe found none (SweepPolicy::known_stopped)
// the sweep goes on and the upload stays.
TEST(Activity, AYoungUploadRefusesOnlyWhileARegistryMayServe) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {}));
  Digest orphan = reg.put_blob("an old orphan");
  reg.backdate("repositories", 2 * 3600);
  reg.backdate("blobs", 2 * 3600);
  reg.start_upload("r", "u", "");
  Collection c = test::plan(reg, with_grace(3600));
  ASSERT_EQ(c.young_uploads.size(), 1U);
  ASSERT_TRUE(test::deletes_blob(c, orphan));
  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(2);
  auto store = make_fs_store(v2->get());
  auto before = reg.snapshot();
  auto refused = sweep_collection(*store, c, false, SweepPolicy{}, arena);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("configuration file"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find("looks active"), std::string::npos);
  EXPECT_EQ(reg.snapshot(), before);
  auto swept = sweep_collection(*store, c, false, SweepPolicy{.known_stopped = true}, arena);
  ASSERT_TRUE(swept) << swept.error().message;
  EXPECT_FALSE(reg.exists(layout::blob_dir(orphan)));
  EXPECT_TRUE(reg.exists(layout::upload_dir("r", "u")));
}

// Issue 31, cause 11: `rm ci/app:old -m` removes untagged manifests in ci/app only; another
// repository's untagged manifest, its empty leftovers and the repository itself stay.
TEST(Scope, RmAndPruneMoveNothingOutsideWhatTheyName) {
  test::TempRegistry reg;
  Digest old_image = reg.put_image("ci/app", {reg.put_layer("ci/app", "old")}, "old");
  reg.tag("ci/app", "old", old_image);
  reg.tag("ci/app", "new", reg.put_image("ci/app", {}, "new"));
  Digest untagged = reg.put_image("prod/app", {reg.put_layer("prod/app", "u")}, "untagged");
  reg.tag("prod/app", "v1", reg.put_image("prod/app", {}, "v1"));
  reg.mkdir("repositories/empty/_layers");  // an empty repository elsewhere
  GcOptions options;
  options.delete_untagged = true;
  options.remove = {"ci/app:old"};
  Collection c = test::plan(reg, options);
  EXPECT_EQ(test::planned(c, ActionKind::revision), std::vector<Digest>{old_image});
  for (const Action& a : c.plan.actions) {
    EXPECT_TRUE(a.repository.empty() || a.repository.view() == "ci/app") << a.path();
  }
  std::vector<Digest> blobs = test::planned(c, ActionKind::blob);
  EXPECT_EQ(std::count(blobs.begin(), blobs.end(), untagged), 0);
  // A plain gc -m still takes it.
  Collection gc = test::plan(reg, true);
  EXPECT_EQ(test::planned(gc, ActionKind::revision).size(), 1U);
}

// Issue 31, cause 9: a time well past the end of the scan is a clock that is wrong, not a
// registry writing; the refusal says so and names the file.
TEST(Activity, AFileDatedInTheFutureIsNamedAsSuch) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {}));
  reg.put_blob("an orphan");
  Digest d = reg.put_blob("from a machine whose clock is ahead");
  reg.backdate(layout::blob_data(d), -3600);
  Collection c = test::plan(reg, with_grace(0));
  ASSERT_EQ(c.activity.size(), 1U);
  EXPECT_TRUE(c.dated_in_future);
  EXPECT_NE(c.activity[0].find("'" + layout::blob_dir(d) + "' is dated in the future"),
            std::string::npos)
      << c.activity[0];
  Status refused = may_sweep(c, SweepPolicy{});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("dated in the future"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("looks active"), std::string::npos);
}

// The refusal is the library's: a caller that sweeps a collection through sweep_collection
// gets it too, and nothing is deleted unless forced.
TEST(Activity, ALibraryCallerIsRefusedWhileTheRegistryLooksActive) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {}));
  reg.put_blob("an orphan");
  Digest d = reg.put_blob("written while scanning");
  reg.backdate(layout::blob_dir(d), -20);  // modified after the scan started
  Collection c = test::plan(reg, with_grace(0));
  ASSERT_FALSE(c.activity.empty());
  ASSERT_FALSE(c.plan.actions.empty());
  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(2);
  auto before = reg.snapshot();
  auto store = make_fs_store(v2->get());
  auto refused = sweep_collection(*store, c, false, SweepPolicy{}, arena);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("looks active"), std::string::npos);
  EXPECT_EQ(reg.snapshot(), before);
  // Even with the registry known to be stopped (issue 37): something else writes.
  EXPECT_FALSE(sweep_collection(*store, c, false, SweepPolicy{.known_stopped = true}, arena));
  EXPECT_EQ(reg.snapshot(), before);
  SweepPolicy forced;
  forced.force = true;
  auto swept = sweep_collection(*store, c, false, forced, arena);
  ASSERT_TRUE(swept);
  EXPECT_GT(swept->done, 0U);
}

TEST(Lock, ASecondRunIsRefusedAndADeadHoldersLockIsTakenOver) {
  test::TempRegistry reg;
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  {
    auto first = acquire_lock(v2->get(), "gc");
    ASSERT_TRUE(first);
    EXPECT_TRUE((*first)->previous_holder().empty());
    // flock locks belong to the open file description: a second open conflicts, as a second
    // process would.
    auto second = acquire_lock(v2->get(), "rm");
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos);
    EXPECT_NE(second.error().message.find("regsweep gc"), std::string::npos);
  }
  // Released cleanly: the next holder finds no previous holder.
  auto again = acquire_lock(v2->get(), "gc");
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->previous_holder().empty());
  again->reset();

  // A holder killed while holding it: the kernel drops the flock, the file keeps its text.
  pid_t child = ::fork();
  if (child == 0) {
    auto held = acquire_lock(v2->get(), "gc");
    ::_exit(held ? 0 : 1);  // exits without running destructors
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto taken = acquire_lock(v2->get(), "gc");
  ASSERT_TRUE(taken);
  EXPECT_NE((*taken)->previous_holder().find("pid " + std::to_string(child)), std::string::npos);
}

TEST(Lock, ASymlinkedLockFileIsRefused) {
  test::TempRegistry reg;
  test::TempRegistry outside;
  outside.write("target", "precious");
  reg.symlink(outside.v2() + "/target", "../" + std::string(k_lock_file));
  auto before = outside.snapshot();
  auto v2 = open_registry(reg.root());
  EXPECT_FALSE(acquire_lock(v2->get(), "gc"));
  EXPECT_EQ(outside.snapshot(), before);
}

// Issue 37: the lock is kept out of the registry's v2 directory. An earlier build's lock
// there still refuses a run while it is held, and is removed once it is free.
TEST(Lock, TheLockIsBesideV2AndAnEarlierBuildsLockInV2IsHonoured) {
  test::TempRegistry reg;
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  const std::string legacy = reg.v2() + "/" + std::string(k_legacy_lock);
  int held = ::open(legacy.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(held, 0);
  const std::string body = "pid 1 on elsewhere, started 2026-12-07T07:00:00Z: regsweep gc\n";
  ASSERT_EQ(::write(held, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  auto refused = acquire_lock(v2->get(), "gc");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("docker/registry/v2/regsweep.lock"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("pid 1 on elsewhere"), std::string::npos);
  EXPECT_TRUE(reg.exists(std::string(k_legacy_lock)));
  ::close(held);  // the earlier build's run ends
  {
    auto taken = acquire_lock(v2->get(), "gc");
    ASSERT_TRUE(taken) << taken.error().message;
    EXPECT_FALSE(reg.exists(std::string(k_legacy_lock)));
    EXPECT_TRUE(reg.exists("../" + std::string(k_lock_file)));
  }
  // Nothing of the lock is left in v2 after a run.
  auto again = acquire_lock(v2->get(), "gc");
  ASSERT_TRUE(again);
  again->reset();
  EXPECT_FALSE(reg.exists(std::string(k_legacy_lock)));
}

TEST(Containment, TheSweeperRefusesPathsOutsideTheTree) {
  test::TempRegistry reg;
  test::TempRegistry outside;
  outside.write("precious/data", "keep");
  auto before = outside.snapshot();
  auto v2 = open_registry(reg.root());
  auto remover = make_tree_remover(v2->get());
  std::string escape = "../../../../" + outside.root().substr(1) + "/docker/registry/v2/precious";
  for (const std::string& bad :
       {escape, std::string("/etc"), std::string(""), std::string("blobs/../.."),
        std::string("docker"), outside.v2() + "/precious"}) {
    EXPECT_FALSE(remover->remove_tree(bad)) << bad;
  }
  EXPECT_EQ(outside.snapshot(), before);
}

// fsck --repair moves a corrupt blob through the same Remover: only a blob, only into
// lost+found, never over something already there.
TEST(Containment, OnlyABlobMovesAsideAndOnlyIntoLostFound) {
  test::TempRegistry reg;
  Digest blob = reg.put_blob("corrupt, say");
  Digest other = reg.put_blob("another");
  reg.tag("r", "v", reg.put_image("r", {}, "img"));
  auto v2 = open_registry(reg.root());
  auto remover = make_tree_remover(v2->get());
  const std::string dir = layout::blob_dir(blob);
  auto before = reg.snapshot();
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {layout::repo_dir("r"), "lost+found/r"},
           {dir, "lost+found/../escaped"},
           {dir, "lost+found/"},
           {dir, "repositories/moved"},
           {dir, "elsewhere/x"},
           {"blobs/sha256/../../repositories", "lost+found/x"},
       }) {
    EXPECT_FALSE(remover->move_aside(from, to)) << from << " -> " << to;
  }
  EXPECT_EQ(reg.snapshot(), before);
  ASSERT_TRUE(remover->move_aside(dir, "lost+found/sha256-x"));
  EXPECT_FALSE(reg.exists(dir));
  EXPECT_TRUE(reg.exists("lost+found/sha256-x/data"));
  // Never replaces: the first blob's bytes stay where they went.
  EXPECT_FALSE(remover->move_aside(layout::blob_dir(other), "lost+found/sha256-x"));
  EXPECT_TRUE(reg.exists(layout::blob_dir(other)));
}

}  // namespace
}  // namespace regsweep

namespace regsweep {
namespace {

TEST(Containment, SymlinksPlantedInTheTreeNeverReachOutside) {
  test::TempRegistry outside;  // a registry-shaped directory that must stay intact
  Digest o = outside.put_layer("victim", "outside layer");
  outside.tag("victim", "v", outside.put_image("victim", {o}));
  outside.write("precious.txt", "keep me");
  auto before = outside.snapshot();

  test::TempRegistry reg;
  Digest l = reg.put_layer("r", "layer");
  Digest m = reg.put_image("r", {l});
  reg.tag("r", "v", m);
  reg.put_blob("orphan");
  std::string ov2 = outside.v2();
  reg.symlink(ov2 + "/blobs/sha256/" + o.hex().substr(0, 2), "blobs/sha256/zz");
  reg.symlink(ov2 + "/blobs/sha256/" + o.hex().substr(0, 2) + "/" + o.hex(),
              "blobs/sha256/" + l.hex().substr(0, 2) + "/" +
                  std::string(62, 'a').insert(0, l.hex().substr(0, 2)));
  reg.symlink(ov2 + "/repositories/victim", "repositories/evil");
  reg.symlink(ov2 + "/repositories/victim/_layers", "repositories/r2/_layers");
  reg.symlink(ov2 + "/precious.txt",
              "repositories/r/_layers/sha256/" + std::string(64, 'b') + "/link");
  reg.symlink(ov2, "repositories/r/_manifests/tags/escape");

  for (bool m_flag : {false, true}) {
    GcOptions o1 = test::options(m_flag);
    test::GcRun run = test::collect(reg, o1);
    EXPECT_GT(std::count_if(run.collection.findings.begin(), run.collection.findings.end(),
                            [](const Finding& f) { return f.kind == FindingKind::symlink; }),
              3);
  }
  GcOptions everything = test::options(true);
  everything.remove = {"**"};
  test::collect(reg, everything);
  EXPECT_EQ(outside.snapshot(), before);
  EXPECT_TRUE(outside.has_blob(o));
}

}  // namespace
}  // namespace regsweep
