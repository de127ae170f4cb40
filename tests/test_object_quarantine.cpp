// The quarantine on object storage (src/store/object/quarantine.cpp), over a bucket in memory:
// server-side copies into docker/registry/quarantine/<run-id>/, checked before the delete; a
// multipart copy above the backend's single-copy limit; a copy that fails keeps its object.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "memory_bucket.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/quarantine.hpp"
#include "regsweep/run.hpp"
#include "store/object/quarantine.hpp"
#include "store/object/store.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

// A tree with something for gc -m to collect: an untagged image and an unused blob.
struct Tree {
  test::TempRegistry reg;
  Digest shared, tagged, untagged, unused;
  Tree() {
    shared = reg.put_layer("app", "shared");
    tagged = reg.put_image("app", {shared}, "v1");
    reg.tag("app", "v1", tagged);
    untagged = reg.put_image("app", {reg.put_layer("app", "an old layer")}, "old");
    unused = reg.put_blob("nothing uses this blob");
    reg.backdate("", 7200);
  }
};

struct InMemory {
  test::MemoryBucket* bucket = nullptr;
  std::unique_ptr<Store> store;
};
InMemory in_memory(const Tree& t) {
  auto owned = std::make_unique<test::MemoryBucket>();
  owned->load(t.reg.v2());
  InMemory out;
  out.bucket = owned.get();
  out.store = object::make_object_store(std::move(owned), "the bucket");
  return out;
}

// The tree's keys with their bytes, the lock aside.
std::map<std::string, std::string> keys_of(const test::MemoryBucket& bucket) {
  std::map<std::string, std::string> out;
  for (const auto& [key, entry] : bucket.objects) {
    if (key.find("regsweep.lock") == std::string::npos) {
      out[key] = entry.bytes;
    }
  }
  return out;
}

CollectRun gc_m(Store& store, tbb::task_arena& arena, bool quarantine) {
  RunContext run = test::run_context(store, arena);
  CollectRequest request;
  request.command = "gc";
  request.options = test::options(true);
  request.quarantine = quarantine;
  request.command_line = "regsweep gc -m --quarantine";
  return collect(run, request);
}

RestoreRun restore_latest(Store& store, tbb::task_arena& arena) {
  RunContext run = test::run_context(store, arena);
  return restore(run, {});
}

// gc -m --quarantine leaves the bucket's tree as a plain gc -m does, with each object it
// deleted copied into the run under its own key; restore gives every key its bytes back and
// deletes the run it emptied. With a single-copy limit below the blobs' sizes, every blob goes
// in a multipart copy of several parts.
void quarantine_and_restore(std::uint64_t copy_limit) {
  Tree quarantined;
  Tree deleted;
  InMemory q = in_memory(quarantined);
  InMemory d = in_memory(deleted);
  q.bucket->copy_limit = copy_limit;
  const auto before = keys_of(*q.bucket);
  tbb::task_arena arena(2);
  CollectRun moved = gc_m(*q.store, arena, true);
  CollectRun gone = gc_m(*d.store, arena, false);
  ASSERT_FALSE(moved.stopped) << moved.stopped->message;
  ASSERT_FALSE(gone.stopped) << gone.stopped->message;
  ASSERT_TRUE(moved.quarantine_run);
  EXPECT_TRUE(moved.swept->errors.empty());
  EXPECT_EQ(keys_of(*q.bucket), keys_of(*d.bucket));
  EXPECT_EQ(q.bucket->objects.count(layout::blob_data(quarantined.unused)), 0U);

  const auto& area = q.bucket->areas["quarantine"];
  const std::string run = *moved.quarantine_run + "/";
  std::size_t moved_keys = 0;
  for (const auto& [key, bytes] : before) {
    if (q.bucket->objects.count(key) == 0) {
      auto it = area.find(run + key);
      ASSERT_NE(it, area.end()) << key << " was deleted without a copy";
      EXPECT_EQ(it->second.bytes, bytes) << key;
      ++moved_keys;
    }
  }
  EXPECT_GE(moved_keys, 4U);
  EXPECT_EQ(area.count(run + std::string(k_journal_file)), 1U);
  auto runs = list_quarantine(*q.store->quarantine());
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1U);
  EXPECT_TRUE((*runs)[0].complete);
  EXPECT_EQ((*runs)[0].objects, moved_keys);
  if (copy_limit < 10) {
    EXPECT_GT(q.bucket->parts_copied, 2 * q.bucket->multipart_completed);
    EXPECT_GE(q.bucket->multipart_completed, moved_keys);
  } else {
    EXPECT_EQ(q.bucket->multipart_completed, 0U);
  }

  RestoreRun back = restore_latest(*q.store, arena);
  ASSERT_FALSE(back.stopped) << back.stopped->message;
  EXPECT_EQ(back.restored->restored, moved_keys);
  EXPECT_TRUE(back.restored->findings.empty());
  EXPECT_EQ(keys_of(*q.bucket), before);
  EXPECT_TRUE(q.bucket->areas["quarantine"].empty()) << "the emptied run is deleted";
  EXPECT_EQ(q.bucket->copies_open(), 0U);
}

TEST(ObjectQuarantine, LeavesWhatADeletionLeavesAndRestoresEveryKey) {
  quarantine_and_restore(5ULL << 30U);
}

TEST(ObjectQuarantine, LargeObjectsGoInMultipartCopies) {
  quarantine_and_restore(4);
}

// A copy that fails leaves its object where it was, and its path is reported; the rest of
// the run goes on.
TEST(ObjectQuarantine, AFailedCopyDeletesNothingOfItsPath) {
  Tree t;
  InMemory q = in_memory(t);
  const std::string kept = layout::blob_data(t.unused);
  q.bucket->refuse_copy.insert(kept);
  tbb::task_arena arena(2);
  CollectRun moved = gc_m(*q.store, arena, true);
  ASSERT_FALSE(moved.stopped) << moved.stopped->message;
  ASSERT_TRUE(moved.swept);
  ASSERT_EQ(moved.swept->errors.size(), 1U);
  EXPECT_NE(moved.swept->errors[0].second.find("refused by the test"), std::string::npos);
  EXPECT_EQ(q.bucket->objects.count(kept), 1U);
  EXPECT_EQ(q.bucket->objects.count(layout::blob_data(t.untagged)), 0U) << "the rest goes on";
  EXPECT_EQ(q.bucket->areas["quarantine"].count(*moved.quarantine_run + "/" + kept), 0U);
}

// copy_object in parts: each range once, in order; a part that fails aborts the upload and
// leaves nothing at the key.
TEST(ObjectQuarantine, MultipartCopyCoversEachByteOnceAndAbortsOnFailure) {
  test::MemoryBucket bucket;
  bucket.copy_limit = 10;
  const std::string bytes = "0123456789abcdefghijKLMNO";  // 25 bytes: parts of 10, 10, 5
  ASSERT_TRUE(bucket.put("blobs/big", bytes));
  auto area = bucket.beside("quarantine");
  ASSERT_TRUE(object::copy_object(bucket, "blobs/big", *area, "run/blobs/big", bytes.size()));
  EXPECT_EQ(bucket.parts_copied, 3U);
  EXPECT_EQ(bucket.single_copies, 0U);
  EXPECT_EQ(bucket.areas["quarantine"].at("run/blobs/big").bytes, bytes);

  ASSERT_TRUE(bucket.put("blobs/small", "tiny"));
  ASSERT_TRUE(object::copy_object(bucket, "blobs/small", *area, "run/blobs/small", 4));
  EXPECT_EQ(bucket.single_copies, 1U);

  bucket.refuse_copy.insert("blobs/big");
  Status failed = object::copy_object(bucket, "blobs/big", *area, "run/again", bytes.size());
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("blobs/big"), std::string::npos);
  EXPECT_EQ(bucket.areas["quarantine"].count("run/again"), 0U);
  EXPECT_EQ(bucket.multipart_aborted, 1U);
  EXPECT_EQ(bucket.copies_open(), 0U);

  // A copy whose size is not the source's is an error (a source that changed under it).
  bucket.refuse_copy.clear();
  Status short_copy = object::copy_object(bucket, "blobs/small", *area, "run/x", 5);
  ASSERT_FALSE(short_copy);
  EXPECT_NE(short_copy.error().message.find("not 5"), std::string::npos);
}

// Restore replaces nothing: the same bytes pushed again are left, other bytes are kept and
// reported, and the run stays.
TEST(ObjectQuarantine, RestoreNeverReplacesWhatStands) {
  Tree t;
  InMemory q = in_memory(t);
  tbb::task_arena arena(2);
  CollectRun moved = gc_m(*q.store, arena, true);
  ASSERT_TRUE(moved.quarantine_run);
  const std::string unused = layout::blob_data(t.unused);
  const std::string revision = layout::revision_link("app", t.untagged);
  ASSERT_TRUE(q.bucket->put(unused, "nothing uses this blob"));
  ASSERT_TRUE(q.bucket->put(revision, "sha256:" + std::string(64, 'a')));
  RestoreRun back = restore_latest(*q.store, arena);
  ASSERT_FALSE(back.stopped) << back.stopped->message;
  EXPECT_EQ(back.restored->identical, 1U);
  ASSERT_EQ(back.restored->findings.size(), 1U);
  EXPECT_EQ(back.restored->findings[0].path, revision);
  EXPECT_TRUE(back.restored->purged.empty());
  EXPECT_EQ(q.bucket->objects.at(revision).bytes, "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(q.bucket->objects.count(layout::blob_data(t.untagged)), 1U) << "the rest went back";
  EXPECT_EQ(q.store->quarantine()->runs()->size(), 1U);
}

}  // namespace
}  // namespace regsweep
