// Whole repositories, `rm`, stale uploads, tidying and orphan signatures.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <ctime>

#include "regsweep/layout.hpp"
#include "regsweep/timeutil.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

using test::planned;

std::string rfc3339_ago(std::int64_t seconds) {
  std::time_t t = std::time(nullptr) - seconds;
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::vector<std::string> actions(const Collection& c, ActionKind kind) {
  std::vector<std::string> out;
  for (const Action& a : c.plan.actions) {
    if (a.kind == kind) {
      out.push_back(a.kind == ActionKind::repository ? std::string(a.repository) : a.path());
    }
  }
  return out;
}

// Every directory below `rel` with nothing in it (as `find -type d -empty`).
std::vector<std::string> empty_dirs(const test::TempRegistry& reg, const std::string& rel) {
  namespace bfs = boost::filesystem;
  std::vector<std::string> out;
  boost::system::error_code ec;
  bfs::path base = bfs::path(reg.v2()) / rel;
  for (bfs::recursive_directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    if (bfs::is_directory(it->symlink_status()) && bfs::is_empty(it->path())) {
      out.push_back(it->path().string().substr(reg.v2().size() + 1));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Nested {
  test::TempRegistry reg;
  Digest shared, pa, pb, ca;
  Nested() {
    shared = reg.put_layer("a", "shared");
    reg.link_layer("a/b", shared);
    pa = reg.put_layer("a", "parent-only");
    Digest parent = reg.put_image("a", {shared, pa}, "parent");
    reg.tag("a", "v1", parent);
    ca = reg.put_layer("a/b", "child-only");
    Digest child = reg.put_image("a/b", {shared, ca}, "child");
    reg.tag("a/b", "v1", child);
    m_parent = parent;
    m_child = child;
  }
  Digest m_parent, m_child;
};

TEST(Repositories, ChildSurvivesItsParentsRemoval) {
  Nested n;
  n.reg.api_delete("a", n.m_parent);
  test::GcRun run = test::collect(n.reg);
  EXPECT_EQ(actions(run.collection, ActionKind::repository), std::vector<std::string>{"a"});
  EXPECT_FALSE(n.reg.exists("repositories/a/_manifests"));
  EXPECT_FALSE(n.reg.exists("repositories/a/_layers"));
  EXPECT_TRUE(n.reg.exists(layout::tag_current_link("a/b", "v1")));
  EXPECT_TRUE(n.reg.has_blob(n.shared));
  EXPECT_TRUE(n.reg.has_blob(n.ca));
  EXPECT_FALSE(n.reg.has_blob(n.pa));
  EXPECT_TRUE(n.reg.exists(layout::layer_link("a/b", n.shared)));
  // A second run: the child is still a repository, and nothing is left to do.
  test::GcRun again = test::collect(n.reg);
  EXPECT_TRUE(again.collection.plan.actions.empty());
  ASSERT_EQ(again.collection.inventory.repositories.size(), 1U);
  EXPECT_EQ(again.collection.inventory.repositories[0].name, "a/b");
}

TEST(Repositories, ParentSurvivesItsChildsRemoval) {
  Nested n;
  n.reg.api_delete("a/b", n.m_child);
  test::GcRun run = test::collect(n.reg);
  EXPECT_EQ(actions(run.collection, ActionKind::repository), std::vector<std::string>{"a/b"});
  EXPECT_FALSE(n.reg.exists("repositories/a/b"));
  EXPECT_TRUE(n.reg.exists(layout::tag_current_link("a", "v1")));
  EXPECT_TRUE(n.reg.has_blob(n.shared));
  EXPECT_TRUE(n.reg.has_blob(n.pa));
  EXPECT_FALSE(n.reg.has_blob(n.ca));
}

TEST(Repositories, KeepEmptyReposKeepsThem) {
  Nested n;
  n.reg.api_delete("a/b", n.m_child);
  GcOptions o = test::options();
  o.plan.remove_empty_repositories = false;
  test::GcRun run = test::collect(n.reg, o);
  EXPECT_TRUE(actions(run.collection, ActionKind::repository).empty());
  EXPECT_TRUE(n.reg.exists("repositories/a/b/_manifests"));
  EXPECT_FALSE(n.reg.has_blob(n.ca));
}

TEST(Repositories, WithMARepositoryOfUntaggedManifestsGoes) {
  test::TempRegistry reg;
  reg.put_image("untagged", {reg.put_layer("untagged", "u")});
  reg.tag("kept", "v", reg.put_image("kept", {reg.put_layer("kept", "k")}));
  EXPECT_TRUE(actions(test::plan(reg, false), ActionKind::repository).empty());
  EXPECT_EQ(actions(test::plan(reg, true), ActionKind::repository),
            std::vector<std::string>{"untagged"});
}

TEST(Repositories, AnUploadKeepsARepositoryUntilPurged) {
  test::TempRegistry reg;
  reg.start_upload("pushing", "u1", rfc3339_ago(60));
  reg.link_layer("pushing", reg.put_blob("layer being pushed"));
  EXPECT_TRUE(actions(test::plan(reg), ActionKind::repository).empty());
  GcOptions purge = test::options();
  purge.plan.purge_uploads_older_than = 0;
  Collection c = test::plan(reg, purge);
  EXPECT_EQ(actions(c, ActionKind::repository), std::vector<std::string>{"pushing"});
}

TEST(Rm, RemovesRepositoriesAndWhatOnlyTheyHeld) {
  Nested n;
  Digest other = n.reg.put_image("x", {n.reg.put_layer("x", "x")});
  n.reg.tag("x", "1", other);
  GcOptions o = test::options();
  o.remove = {"a"};
  test::GcRun run = test::collect(n.reg, o);
  EXPECT_EQ(actions(run.collection, ActionKind::repository), std::vector<std::string>{"a"});
  EXPECT_FALSE(n.reg.has_blob(n.pa));
  EXPECT_TRUE(n.reg.has_blob(n.shared));  // a/b still needs it
  EXPECT_TRUE(n.reg.exists(layout::tag_current_link("a/b", "v1")));
  EXPECT_TRUE(n.reg.has_blob(other));

  GcOptions all = test::options();
  all.remove = {"**"};
  test::GcRun gone = test::collect(n.reg, all);
  EXPECT_TRUE(gone.collection.inventory.blobs.size() > 0);
  EXPECT_FALSE(n.reg.exists("repositories/a"));
  EXPECT_FALSE(n.reg.exists("repositories/x"));
  EXPECT_TRUE(empty_dirs(n.reg, "blobs").size() <= 1);  // blobs/sha256 itself
  EXPECT_FALSE(n.reg.has_blob(n.shared));
}

TEST(Rm, UnmatchedNameDeletesNothing) {
  Nested n;
  auto before = n.reg.snapshot();
  GcOptions o = test::options();
  o.remove = {"a", "nope"};
  EXPECT_THROW(test::collect(n.reg, o), std::runtime_error);
  EXPECT_EQ(n.reg.snapshot(), before);
}

TEST(Rm, ATagTakesOnlyWhatNoOtherTagNeeds) {
  test::TempRegistry reg;
  Digest base = reg.put_layer("r", "base");
  Digest l1 = reg.put_layer("r", "one");
  Digest l2 = reg.put_layer("r", "two");
  Digest m1 = reg.put_image("r", {base, l1}, "1");
  Digest m2 = reg.put_image("r", {base, l2}, "2");
  reg.tag("r", "v1", m1);
  reg.tag("r", "v2", m2);
  reg.tag("r", "stable", m2);
  Digest sig = reg.put_referrer("r", m1, "signature of v1");
  Digest untagged = reg.put_image("r", {base}, "untagged");

  GcOptions o = test::options();
  o.remove = {"r:v1", "r:v2"};
  test::GcRun run = test::collect(reg, o);
  EXPECT_FALSE(reg.exists(layout::tag_dir("r", "v1")));
  EXPECT_FALSE(reg.exists(layout::tag_dir("r", "v2")));
  EXPECT_FALSE(reg.has_blob(m1));  // only v1 named it
  EXPECT_FALSE(reg.has_blob(l1));
  EXPECT_FALSE(reg.has_blob(sig));  // attached to m1: goes with it
  EXPECT_TRUE(reg.has_blob(m2));    // still tagged stable
  EXPECT_TRUE(reg.has_blob(l2));
  EXPECT_TRUE(reg.has_blob(base));
  EXPECT_TRUE(reg.has_blob(untagged));  // untagged before: kept without -m, as always
  EXPECT_TRUE(reg.exists(layout::tag_current_link("r", "stable")));
}

TEST(Rm, NoGcOnlyUnlinks) {
  Nested n;
  Digest other = n.reg.put_image("a", {}, "other");
  n.reg.tag("a", "v2", other);
  n.reg.tag("a", "also", other);
  GcOptions o = test::options();
  o.remove = {"a:v1", "a:v2"};
  o.plan.collect = false;
  test::GcRun run = test::collect(n.reg, o);
  // The tags, and the revision (with its history) that only v1 reached; no blob, no layer link.
  EXPECT_EQ(run.collection.plan.tags, 2U);
  EXPECT_EQ(run.collection.plan.manifests, 1U);
  EXPECT_EQ(run.collection.plan.blobs + run.collection.plan.layer_links, 0U);
  EXPECT_FALSE(n.reg.exists(layout::tag_dir("a", "v1")));
  EXPECT_FALSE(n.reg.exists(layout::revision_link("a", n.m_parent)));
  EXPECT_TRUE(n.reg.exists(layout::revision_link("a", other)));
  EXPECT_TRUE(n.reg.has_blob(n.m_parent));
  EXPECT_TRUE(n.reg.exists(layout::layer_link("a", n.pa)));
  // The next gc collects what the removed tag alone held.
  test::GcRun gc = test::collect(n.reg);
  EXPECT_FALSE(n.reg.has_blob(n.m_parent));
  EXPECT_FALSE(n.reg.has_blob(n.pa));
  EXPECT_TRUE(n.reg.has_blob(n.shared));
}

TEST(Uploads, PurgedByStartTimeOrElseNewestModification) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {}));
  reg.start_upload("r", "fresh", rfc3339_ago(3600));
  reg.start_upload("r", "old", rfc3339_ago(200 * 3600), std::string(1000, 'x'));
  reg.start_upload("r", "nostart-old", "");
  reg.backdate(layout::upload_dir("r", "nostart-old"), 200 * 3600);
  reg.start_upload("r", "nostart-new", "");
  reg.start_upload("r", "garbled-old", "not a time");
  reg.backdate(layout::upload_dir("r", "garbled-old"), 200 * 3600);

  EXPECT_TRUE(actions(test::plan(reg), ActionKind::upload).empty());  // kept by default

  GcOptions week = test::options();
  week.plan.purge_uploads_older_than = 168 * 3600;
  Collection c = test::plan(reg, week);
  std::vector<std::string> want = {layout::upload_dir("r", "garbled-old"),
                                   layout::upload_dir("r", "nostart-old"),
                                   layout::upload_dir("r", "old")};
  EXPECT_EQ(actions(c, ActionKind::upload), want);
  EXPECT_EQ(c.plan.upload_bytes, 1000U + std::string("partial").size() * 2 +
                                     std::string("not a time").size() + rfc3339_ago(0).size());

  GcOptions now = test::options();
  now.plan.purge_uploads_older_than = 0;
  test::GcRun run = test::collect(reg, now);
  EXPECT_EQ(actions(run.collection, ActionKind::upload).size(), 5U);
  EXPECT_FALSE(reg.exists(layout::uploads_dir("r")));  // left empty, so removed
}

// What a sweep killed between removing a file and its directory leaves: an empty blob
// directory, alone in its prefix, and an empty tag history entry. The next run removes the
// directories the interrupted actions would have removed after them, and nothing else.
TEST(Tidy, InterruptedSweepLeftoversAreCleanedUpToTheirParents) {
  test::TempRegistry reg;
  Digest live = reg.put_image("r", {reg.put_layer("r", "l")}, "live");
  reg.tag("r", "v1", live);
  Digest gone = sha256_of("a blob whose data file a killed sweep removed");
  std::string blob_dir = layout::blob_dir(gone);
  reg.mkdir(blob_dir);
  // A tag whose history held only the entry being removed.
  reg.write(layout::tag_current_link("r", "t2"), live.str());
  std::string history_dir = layout::tag_index_entry_dir("r", "t2", gone);
  reg.mkdir(history_dir);
  test::GcRun run = test::collect(reg);
  EXPECT_FALSE(reg.exists(blob_dir));
  bool prefix_shared = false;
  for (const Blob& b : run.collection.inventory.blobs) {
    prefix_shared =
        prefix_shared || (b.has_data() && b.digest.hex().substr(0, 2) == gone.hex().substr(0, 2));
  }
  EXPECT_EQ(reg.exists(layout::blob_prefix_dir(gone.hex().substr(0, 2))), prefix_shared);
  EXPECT_FALSE(reg.exists(history_dir));
  EXPECT_FALSE(reg.exists(layout::tag_index_dir("r", "t2")));
  EXPECT_FALSE(reg.exists(layout::join(layout::tag_dir("r", "t2"), layout::k_index)));
  EXPECT_TRUE(reg.exists(layout::tag_current_link("r", "t2")));
  EXPECT_TRUE(reg.exists(layout::tag_current_link("r", "v1")));
  EXPECT_TRUE(empty_dirs(reg, "blobs").empty());
  // Nothing is left for a third run.
  EXPECT_TRUE(test::collect(reg).collection.plan.actions.empty());
}

TEST(Tidy, ApiDeleteLeftoversGoAndNoEmptyDirectoryRemains) {
  test::TempRegistry reg;
  Digest keep = reg.put_image("r", {reg.put_layer("r", "keep")}, "keep");
  reg.tag("r", "v1", keep);
  for (int i = 0; i < 3; ++i) {
    Digest d = reg.put_image("r", {reg.put_layer("r", "gone" + std::to_string(i))},
                             "gone" + std::to_string(i));
    reg.tag("r", "t" + std::to_string(i), d);
    // What 2.8's DELETE leaves: the link file goes, its directory stays; the tag goes.
    reg.remove(layout::revision_link("r", d));
    reg.remove(layout::tag_dir("r", "t" + std::to_string(i)));
  }
  reg.mkdir(layout::tag_dir("r", "emptytag") + "/index/sha256");
  reg.mkdir(layout::uploads_dir("r"));
  reg.mkdir("blobs/sha256/ff");
  // Interrupted writes: an old one goes, a fresh one stays.
  Digest tmp_d = sha256_of("tmp");
  reg.write(layout::join(layout::layer_link_dir("r", tmp_d), "link.0a1b.tmp"), tmp_d.str());
  reg.backdate(layout::layer_link_dir("r", tmp_d), 2 * 3600);
  Digest fresh_d = sha256_of("fresh");
  reg.write(layout::join(layout::layer_link_dir("r", fresh_d), "link.9z.tmp"), fresh_d.str());
  // Dangling links: their blobs are gone.
  Digest ghost = sha256_of("ghost");
  reg.link_layer("r", ghost);

  test::GcRun run = test::collect(reg);
  EXPECT_EQ(run.sweep.failed, 0U);
  // By kind: 3 emptied revision directories, the empty tag, the empty _uploads, the empty
  // blob prefix ff, one old temp file. The ghost link names no blob, but no manifest
  // references it either: it goes as unreferenced, not as dangling.
  const Plan& p = run.collection.plan;
  EXPECT_EQ(p.empty_dirs, 5U);
  EXPECT_EQ(p.temp_files, 1U);
  EXPECT_EQ(p.empty_blob_prefixes, 1U);
  EXPECT_EQ(p.dangling_links, 0U);
  EXPECT_EQ(p.tidy, 7U);
  EXPECT_FALSE(reg.exists(layout::layer_link_dir("r", ghost)));
  EXPECT_FALSE(reg.exists(layout::layer_link_dir("r", tmp_d)));
  EXPECT_TRUE(reg.exists(layout::join(layout::layer_link_dir("r", fresh_d), "link.9z.tmp")));
  EXPECT_TRUE(reg.exists(layout::tag_current_link("r", "v1")));
  EXPECT_TRUE(reg.has_blob(keep));
  EXPECT_EQ(empty_dirs(reg, "repositories"), std::vector<std::string>{});
  EXPECT_EQ(empty_dirs(reg, "blobs"), std::vector<std::string>{});
}

TEST(Tidy, UnknownBlobsBlockDanglingLinkRemoval) {
  test::TempRegistry reg;
  // An image whose layer blob is not where the scan can see it.
  Digest ghost = sha256_of("ghost");
  reg.link_layer("r", ghost);
  reg.tag("r", "v", reg.put_image("r", {ghost}));
  Collection before = test::plan(reg);
  EXPECT_EQ(actions(before, ActionKind::layer_link),
            std::vector<std::string>{layout::layer_link_dir("r", ghost)});
  EXPECT_EQ(before.plan.dangling_links, 1U);
  reg.symlink("/nonexistent", "blobs/sha256/" + ghost.hex().substr(0, 2));
  Collection c = test::plan(reg);
  EXPECT_TRUE(actions(c, ActionKind::layer_link).empty());
}

TEST(Signatures, OrphanSignatureTagsGoWithTheirBlobs) {
  test::TempRegistry reg;
  Digest img = reg.put_image("r", {reg.put_layer("r", "img")}, "img");
  reg.tag("r", "v1", img);
  Digest gone = reg.put_image("r", {reg.put_layer("r", "gone")}, "gone");
  Digest sig_live = reg.put_image("r", {reg.put_layer("r", "sig-live")}, "sig-live");
  Digest sig_dead = reg.put_image("r", {reg.put_layer("r", "sig-dead")}, "sig-dead");
  reg.tag("r", "sha256-" + img.hex() + ".sig", sig_live);
  reg.tag("r", "sha256-" + gone.hex() + ".sig", sig_dead);
  reg.tag("r", "sha256-" + sig_dead.hex() + ".att", reg.put_image("r", {}, "att-of-sig"));
  reg.api_delete("r", gone);

  EXPECT_TRUE(actions(test::plan(reg), ActionKind::tag).empty());  // only when asked

  GcOptions o = test::options();
  o.delete_orphan_signatures = true;
  test::GcRun run = test::collect(reg, o);
  std::vector<std::string> want = {layout::tag_dir("r", "sha256-" + gone.hex() + ".sig"),
                                   layout::tag_dir("r", "sha256-" + sig_dead.hex() + ".att")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(actions(run.collection, ActionKind::tag), want);
  EXPECT_FALSE(reg.has_blob(sig_dead));
  EXPECT_TRUE(reg.has_blob(sig_live));
  EXPECT_TRUE(reg.exists(layout::tag_current_link("r", "sha256-" + img.hex() + ".sig")));
}

}  // namespace
}  // namespace regsweep
