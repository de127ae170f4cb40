#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "store/fs/remover.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

// The tree's own remover, each call passed on: the removers below override what they watch
// or break.
class ForwardingRemover : public Remover {
 public:
  explicit ForwardingRemover(int v2_fd) : m_real(make_tree_remover(v2_fd)) {}
  Status remove_tree(std::string_view path) override { return m_real->remove_tree(path); }
  Status remove_empty_tree(std::string_view path) override {
    return m_real->remove_empty_tree(path);
  }
  Result<bool> remove_if_empty(std::string_view path) override {
    return m_real->remove_if_empty(path);
  }
  Status barrier() override { return m_real->barrier(); }
  Status move_aside(std::string_view path, std::string_view to) override {
    return m_real->move_aside(path, to);
  }

 private:
  std::unique_ptr<Remover> m_real;
};

// Records every call, fails on chosen paths, and deletes for real otherwise.
class RecordingRemover final : public ForwardingRemover {
 public:
  RecordingRemover(int v2_fd, std::set<std::string> fail_on)
      : ForwardingRemover(v2_fd), m_fail_on(std::move(fail_on)) {}
  Status remove_tree(std::string_view path) override {
    {
      std::lock_guard lock(m_mutex);
      calls.emplace_back(path);
    }
    if (m_fail_on.count(std::string(path)) != 0) {
      return Error{"cannot remove '" + std::string(path) + "': injected failure", EIO};
    }
    return ForwardingRemover::remove_tree(path);
  }

  std::vector<std::string> calls;

 private:
  std::set<std::string> m_fail_on;
  std::mutex m_mutex;
};

TEST(Sweep, ReferencesGoBeforeWhatTheyPointTo) {
  test::TempRegistry reg;
  Digest l = reg.put_layer("r", "l");
  Digest img = reg.put_image("r", {l}, "old");
  reg.tag("r", "v1", img);
  reg.tag("r", "v1", reg.put_image("r", {}, "new"));
  Collection c = test::plan(reg, true);
  auto v2 = open_registry(reg.root());
  RecordingRemover remover(v2->get(), {});
  tbb::task_arena arena(1);
  SweepResult s = sweep(c.plan, remover, arena);
  EXPECT_EQ(s.failed, 0U);
  // Kinds appear in order: history, revision, layer links, blobs.
  auto kind_of = [&](const std::string& path) {
    for (const Action& a : c.plan.actions) {
      if (a.path() == path) {
        return static_cast<int>(a.kind);
      }
    }
    return -1;
  };
  ASSERT_EQ(remover.calls.size(), c.plan.actions.size());
  for (std::size_t i = 1; i < remover.calls.size(); ++i) {
    EXPECT_LE(kind_of(remover.calls[i - 1]), kind_of(remover.calls[i]));
  }
  EXPECT_FALSE(reg.exists(layout::revision_dir("r", img)));
  EXPECT_FALSE(reg.has_blob(img));
  EXPECT_FALSE(reg.has_blob(l));
  EXPECT_FALSE(reg.exists(layout::tag_index_entry_dir("r", "v1", img)));
  // The tag itself and the layout's own directories stay.
  EXPECT_TRUE(reg.exists(layout::tag_current_link("r", "v1")));
  EXPECT_TRUE(reg.exists(layout::revisions_dir("r")));
  EXPECT_TRUE(reg.exists(std::string(layout::k_blobs_dir)));
  // Emptied blob prefix directories are removed; the others stay.
  for (const Digest& d : {l, img}) {
    std::string prefix = layout::blob_prefix_dir(d.hex().substr(0, 2));
    bool removed =
        std::find(s.removed_dirs.begin(), s.removed_dirs.end(), prefix) != s.removed_dirs.end();
    EXPECT_EQ(reg.exists(prefix), !removed) << prefix;
  }
  for (const std::string& dir : s.removed_dirs) {
    EXPECT_FALSE(reg.exists(dir)) << dir;
  }
}

// What a crash keeps of a sweep: a deletion is durable once a barrier follows it; until then
// a crash (a power loss) may undo it, in any order. Deletes for real, and counts each deletion
// issued while one of an earlier phase (a reference to what it deletes) is not yet durable:
// a crash there could keep the reference and lose what it points to.
class DurabilityRemover final : public ForwardingRemover {
 public:
  DurabilityRemover(int v2_fd, std::map<std::string, int> phase_of)
      : ForwardingRemover(v2_fd), m_phase_of(std::move(phase_of)) {}
  Status remove_tree(std::string_view path) override {
    record(path);
    return ForwardingRemover::remove_tree(path);
  }
  Status remove_empty_tree(std::string_view path) override {
    record(path);
    return ForwardingRemover::remove_empty_tree(path);
  }
  Status move_aside(std::string_view path, std::string_view to) override {
    record(path);
    return ForwardingRemover::move_aside(path, to);
  }
  Status barrier() override {
    std::lock_guard lock(m_mutex);
    m_pending.clear();
    ++barriers;
    return ForwardingRemover::barrier();
  }

  std::vector<std::string> unsafe;  // deletions issued before an earlier phase was durable
  int barriers = 0;

 private:
  void record(std::string_view path) {
    std::lock_guard lock(m_mutex);
    auto it = m_phase_of.find(std::string(path));
    int phase = it == m_phase_of.end() ? 1000 : it->second;
    for (int earlier : m_pending) {
      if (earlier < phase) {
        unsafe.emplace_back(path);
        break;
      }
    }
    m_pending.insert(phase);
  }
  std::map<std::string, int> m_phase_of;
  std::multiset<int> m_pending;  // phases of the deletions since the last barrier
  std::mutex m_mutex;
};

// A crash after any phase's deletions, before its barrier, never leaves a link to a deleted
// blob: each phase is made durable (one barrier) before the next starts.
TEST(Sweep, ACrashBetweenPhasesNeverLeavesALinkToADeletedBlob) {
  test::TempRegistry reg;
  Digest shared = reg.put_layer("r", "shared");
  for (int i = 0; i < 6; ++i) {
    Digest own = reg.put_layer("r", "own " + std::to_string(i));
    Digest img = reg.put_image("r", {shared, own}, "img " + std::to_string(i));
    reg.tag("r", "t" + std::to_string(i % 2), img);  // most images end untagged
  }
  reg.put_blob("unreferenced");
  Collection c = test::plan(reg, true);
  std::map<std::string, int> phase_of;
  int phase = -1;
  std::optional<ActionKind> last;
  for (const Action& a : c.plan.actions) {
    if (!last || *last != a.kind) {
      ++phase;
      last = a.kind;
    }
    phase_of[a.path()] = phase;
  }
  ASSERT_GE(phase, 3) << "history, revisions, layer links and blobs";
  auto v2 = open_registry(reg.root());
  DurabilityRemover remover(v2->get(), phase_of);
  tbb::task_arena arena(2);
  SweepResult s = sweep(c.plan, remover, arena);
  EXPECT_EQ(s.failed, 0U);
  EXPECT_TRUE(remover.unsafe.empty())
      << remover.unsafe.size() << " deletions issued before an earlier phase was durable, '"
      << remover.unsafe.front() << "' first";
  // One barrier a phase, and one for the emptied directories: not one a directory.
  EXPECT_GE(remover.barriers, phase + 1);
  EXPECT_LE(remover.barriers, phase + 2);
}

// A barrier that fails (a write-back error): what the phase deleted may come back after a
// crash, so nothing of a later phase is deleted, and an error says why.
TEST(Sweep, ABarrierThatFailsStopsTheLaterPhases) {
  class FailingBarrier final : public ForwardingRemover {
   public:
    using ForwardingRemover::ForwardingRemover;
    Status barrier() override { return Error{"sync the filesystem: injected failure", EIO}; }
  };
  test::TempRegistry reg;
  Digest layer = reg.put_layer("r", "layer");
  Digest img = reg.put_image("r", {layer}, "old");
  reg.tag("r", "v1", img);
  reg.tag("r", "v1", reg.put_image("r", {}, "new"));
  Collection c = test::plan(reg, true);
  auto v2 = open_registry(reg.root());
  FailingBarrier remover(v2->get());
  tbb::task_arena arena(2);
  SweepResult s = sweep(c.plan, remover, arena);
  EXPECT_TRUE(reg.has_blob(layer));  // a later phase: not deleted
  EXPECT_TRUE(reg.has_blob(img));
  EXPECT_GT(s.skipped_count, 0U);
  EXPECT_TRUE(std::any_of(s.findings.begin(), s.findings.end(), [](const Finding& f) {
    return f.severity == Severity::error && f.message.find("durable") != std::string::npos;
  }));
}

TEST(Sweep, AFailedDeleteIsRecordedAndTheSweepGoesOn) {
  test::TempRegistry reg;
  reg.mkdir("repositories");  // without it, blobs are kept as a sign of a wrong root
  std::vector<Digest> orphans;
  for (int i = 0; i < 10; ++i) {
    orphans.push_back(reg.put_blob("orphan " + std::to_string(i)));
  }
  Collection c = test::plan(reg, false);
  ASSERT_EQ(c.plan.blobs, 10U);
  auto v2 = open_registry(reg.root());
  std::string failing = layout::blob_dir(orphans[3]);
  RecordingRemover remover(v2->get(), {failing});
  tbb::task_arena arena(2);
  SweepResult s = sweep(c.plan, remover, arena);
  EXPECT_EQ(s.failed, 1U);
  EXPECT_EQ(s.blobs_deleted, 9U);
  ASSERT_EQ(s.findings.size(), 1U);
  EXPECT_EQ(s.findings[0].kind, FindingKind::delete_failed);
  EXPECT_NE(s.findings[0].message.find(failing), std::string::npos);
  // The error belongs to that action, and to no other.
  for (std::size_t i = 0; i < c.plan.actions.size(); ++i) {
    EXPECT_EQ(s.error(i).empty(), c.plan.actions[i].path() != failing) << i;
  }
  for (std::size_t i = 0; i < orphans.size(); ++i) {
    EXPECT_EQ(reg.has_blob(orphans[i]), i == 3) << i;
  }
}

// Issue 31, cause 6: a tag that cannot be removed still names its manifest; rm must then keep
// the revision, the layer links and the blobs, or the tag that is left returns 404.
TEST(Sweep, WhatAFailedDeletionLeavesReferencedIsKept) {
  test::TempRegistry reg;
  Digest l = reg.put_layer("r", "l");
  Digest img = reg.put_image("r", {l}, "img");
  reg.tag("r", "v1", img);
  reg.tag("r", "v2", reg.put_image("r", {}, "stays"));  // r stays: its links go one by one
  Digest other = reg.put_layer("s", "other");
  reg.api_delete("s", reg.put_image("s", {other}, "gone"));  // garbage elsewhere
  GcOptions options;
  options.delete_untagged = true;
  options.remove = {"r:v1"};
  Collection c = test::plan(reg, options);
  ASSERT_FALSE(test::planned(c, ActionKind::revision).empty());
  ASSERT_FALSE(test::planned(c, ActionKind::blob).empty());
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  std::string tag_dir = layout::tag_dir("r", "v1");
  RecordingRemover remover(v2->get(), {tag_dir});
  tbb::task_arena arena(2);
  SweepResult s = sweep(c.plan, remover, arena);
  ASSERT_EQ(s.errors.size(), 1U);
  EXPECT_EQ(c.plan.actions[s.errors[0].first].path(), tag_dir) << s.errors[0].second;
  EXPECT_EQ(s.failed, 1U);
  EXPECT_GT(s.skipped_count, 0U);
  EXPECT_TRUE(reg.exists(layout::tag_current_link("r", "v1")));
  EXPECT_TRUE(reg.exists(layout::revision_dir("r", img)));
  EXPECT_TRUE(reg.exists(layout::layer_link_dir("r", l)));
  EXPECT_TRUE(reg.has_blob(img));
  EXPECT_TRUE(reg.has_blob(l));
  // The run says why, and a delete_failed finding is an error: exit 3.
  bool said = false;
  for (const Finding& f : s.findings) {
    said = said || (f.severity == Severity::error &&
                    f.message.find("still referenced") != std::string::npos);
  }
  EXPECT_TRUE(said);
}

// A directory the scan saw empty is tidied only while it still holds no file.
TEST(Sweep, TidyOfAnEmptyDirectoryNeverRemovesAFile) {
  test::TempRegistry reg;
  reg.mkdir("repositories/r/_uploads");
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  // What the scan saw empty now holds a file (a listing that left it out, or a write since).
  reg.write("repositories/r/_uploads/x/data", "an upload");
  auto remover = make_tree_remover(v2->get());
  Status s = remover->remove_empty_tree("repositories/r/_uploads");
  EXPECT_FALSE(s);
  EXPECT_TRUE(reg.exists("repositories/r/_uploads/x/data"));
  reg.remove("repositories/r/_uploads/x/data");
  EXPECT_TRUE(remover->remove_empty_tree("repositories/r/_uploads"));
  EXPECT_FALSE(reg.exists("repositories/r/_uploads"));
}

// Issue 31, cause 8: a tree with no bottom (a file system with a cycle) ends the removal.
TEST(Sweep, RemoveTreeStopsAtADepthNoLayoutReaches) {
  test::TempRegistry reg;
  std::string deep = "blobs/sha256/aa/x";
  for (int i = 0; i < 40; ++i) {
    deep += "/d";
  }
  reg.write(deep + "/f", "f");
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  Status s = fs::remove_tree(v2->get(), "blobs/sha256/aa/x");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("directories deep"), std::string::npos) << s.error().message;
  EXPECT_TRUE(reg.exists(deep + "/f"));
}

TEST(Sweep, RemoveTreeNeverFollowsSymlinks) {
  test::TempRegistry reg;
  test::TempRegistry outside;
  outside.write("precious", "keep me");
  reg.write("blobs/sha256/aa/x/data", "d");
  reg.symlink(outside.v2(), "blobs/sha256/aa/x/escape");
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(fs::remove_tree(v2->get(), "blobs/sha256/aa/x"));
  EXPECT_FALSE(reg.exists("blobs/sha256/aa/x"));
  EXPECT_TRUE(outside.exists("precious"));
  // A symlinked component on the way is refused.
  reg.symlink(outside.v2(), "blobs/sha256/bb");
  EXPECT_FALSE(fs::remove_tree(v2->get(), "blobs/sha256/bb/precious"));
  EXPECT_TRUE(outside.exists("precious"));
}

}  // namespace
}  // namespace regsweep
