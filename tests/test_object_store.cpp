// The object store every bucket backend shares (src/store/object/), over a bucket in memory:
// the parallel walk, the scan from its listing, the batched remover, the re-listing guard
// and the lock, with no server.

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "fault_store.hpp"
#include "memory_bucket.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/run.hpp"
#include "store/object/http.hpp"
#include "store/object/store.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

// Two repositories sharing a layer; an untagged manifest; a blob nothing references.
struct Tree {
  test::TempRegistry reg;
  Digest shared, own, image, untagged, unused;
  Tree() {
    shared = reg.put_layer("app", "shared");
    reg.link_layer("team/tool", shared);
    own = reg.put_layer("team/tool", "own");
    image = reg.put_image("app", {shared}, "app");
    reg.tag("app", "v1", image);
    Digest tool = reg.put_image("team/tool", {shared, own}, "tool");
    reg.tag("team/tool", "latest", tool);
    untagged = reg.put_image("app", {shared}, "old");
    unused = reg.put_blob("nothing uses this");
    reg.backdate("", 7200);
  }
};

// The keys of a bucket, or the files of a tree, but the lock.
std::set<std::string> keys_of(const test::MemoryBucket& bucket) {
  std::set<std::string> out;
  for (const auto& [key, entry] : bucket.objects) {
    if (key != k_lock_file) {
      out.insert(key);
    }
  }
  return out;
}
std::set<std::string> files_of(const std::string& v2) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(v2)) {
    std::string rel = std::filesystem::relative(e.path(), v2).string();
    if (e.is_regular_file() && rel != k_lock_file) {
      out.insert(rel);
    }
  }
  return out;
}

// What a run that may delete nothing more must leave: the unused blob, the untagged manifest
// and its revision link, and a finding that says why.
void expect_nothing_collected(const test::MemoryBucket& bucket, const Tree& t,
                              const CollectRun& run) {
  EXPECT_EQ(bucket.objects.count(layout::blob_data(t.unused)), 1U);
  EXPECT_EQ(bucket.objects.count(layout::blob_data(t.untagged)), 1U);
  EXPECT_EQ(bucket.objects.count(layout::revision_link("app", t.untagged)), 1U);
  ASSERT_TRUE(run.swept);
  EXPECT_TRUE(has_error(run.swept->findings));
}

// A real run of `options` (gc, with no grace period) on `store`.
CollectRun gc_with(Store& store, tbb::task_arena& arena, GcOptions options) {
  RunContext run = test::run_context(store, arena);
  CollectRequest request;
  request.command = "gc";
  request.options = std::move(options);
  return collect(run, request);
}

CollectRun gc_m(Store& store, tbb::task_arena& arena) {
  return gc_with(store, arena, test::options(true));
}

struct InMemory {
  test::MemoryBucket* bucket;
  std::unique_ptr<Store> store;
  explicit InMemory(const test::TempRegistry& reg) {
    auto owned = std::make_unique<test::MemoryBucket>();
    owned->load(reg.v2());
    bucket = owned.get();
    store = object::make_object_store(std::move(owned), "the bucket");
  }
  // From now on, `meanwhile` runs between the scan and the sweep (FaultStore::before_sweep).
  void between_scan_and_sweep(std::function<void()> meanwhile) {
    auto faulty = std::make_unique<test::FaultStore>(std::move(store));
    faulty->before_sweep = std::move(meanwhile);
    store = std::move(faulty);
  }
};

// One failed deletion, the unused blob's: it stays, and the untagged manifest's blob goes.
void expect_the_unused_blob_alone_kept(const InMemory& mem, const Tree& t, const CollectRun& run) {
  ASSERT_FALSE(run.stopped) << run.stopped->message;
  ASSERT_TRUE(run.swept);
  EXPECT_EQ(run.swept->failed, 1U);
  EXPECT_EQ(mem.bucket->objects.count(layout::blob_data(t.unused)), 1U);
  EXPECT_EQ(mem.bucket->objects.count(layout::blob_data(t.untagged)), 0U);
}

// Whether one of the sweep's errors says `text`.
bool an_error_says(const CollectRun& run, const std::string& text) {
  return std::any_of(run.swept->errors.begin(), run.swept->errors.end(),
                     [&](const auto& e) { return e.second.find(text) != std::string::npos; });
}

TEST(ObjectStore, CollectsWhatTheFilesystemStoreCollects) {
  Tree t;
  InMemory mem(t.reg);
  tbb::task_arena arena(2);
  CollectRun in_bucket = gc_m(*mem.store, arena);
  ASSERT_FALSE(in_bucket.stopped) << in_bucket.stopped->message;
  ASSERT_TRUE(in_bucket.swept);
  EXPECT_EQ(in_bucket.swept->failed, 0U);

  auto v2 = open_registry(t.reg.root());
  ASSERT_TRUE(v2);
  auto on_disk = make_fs_store(v2->get(), t.reg.root());
  CollectRun in_tree = gc_m(*on_disk, arena);
  ASSERT_FALSE(in_tree.stopped) << in_tree.stopped->message;
  EXPECT_EQ(in_bucket.collection->plan.actions.size(), in_tree.collection->plan.actions.size());
  EXPECT_EQ(in_bucket.swept->blobs_deleted, in_tree.swept->blobs_deleted);
  EXPECT_GE(in_bucket.swept->blobs_deleted, 2U);  // the unused blob, the untagged manifest
  EXPECT_EQ(keys_of(*mem.bucket), files_of(t.reg.v2()));
  EXPECT_EQ(mem.bucket->objects.count(layout::blob_data(t.unused)), 0U);
  EXPECT_EQ(mem.bucket->objects.count(layout::blob_data(t.shared)), 1U);
}

// A phase goes out in as many requests as the arena has threads, each as full as the phase
// allows, not a few keys a request: 240 unused blobs, batches of up to 100, 4 threads.
// Issue 37: the lock is docker/registry/regsweep.lock, beside v2. An earlier build's lock in
// v2, renewed lately, refuses the run; a stale one is removed once the new lock is held.
TEST(ObjectStore, TheLockIsBesideV2AndAnEarlierBuildsLockInV2IsHonoured) {
  Tree t;
  InMemory mem(t.reg);
  const std::string legacy(k_legacy_lock);
  mem.bucket->objects[legacy] =
      test::MemoryBucket::Entry{"pid 1 on elsewhere, started 2026-12-07T07:00:00Z: regsweep gc\n",
                                test::MemoryBucket::now_ns()};
  auto refused = mem.store->lock("gc");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("earlier build"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(mem.bucket->areas[""].count(std::string(k_lock_file)), 0U);
  // Not renewed for 10 minutes: its run is gone.
  mem.bucket->objects[legacy].mtime_ns =
      test::MemoryBucket::now_ns() - std::int64_t{600} * 1000000000;
  {
    auto taken = mem.store->lock("gc");
    ASSERT_TRUE(taken) << taken.error().message;
    EXPECT_EQ(mem.bucket->objects.count(legacy), 0U);
    EXPECT_EQ(mem.bucket->areas[""].count(std::string(k_lock_file)), 1U);
  }
  EXPECT_EQ(mem.bucket->areas[""].count(std::string(k_lock_file)), 0U);  // released
}

TEST(ObjectStore, APhaseSendsAFewFullBatchesInParallel) {
  Tree t;
  for (int i = 0; i < 240; ++i) {
    t.reg.put_blob("unused " + std::to_string(i));
  }
  t.reg.backdate("", 7200);
  InMemory mem(t.reg);
  mem.bucket->batch_limit = 100;
  tbb::task_arena arena(4);
  CollectRun run = gc_with(*mem.store, arena, test::options(false));
  ASSERT_FALSE(run.stopped) << run.stopped->message;
  ASSERT_TRUE(run.swept);
  EXPECT_EQ(run.swept->failed, 0U);
  EXPECT_EQ(run.swept->blobs_deleted, 241U);
  std::size_t keys = 0;
  for (std::size_t b : mem.bucket->batches) {
    keys += b;
    EXPECT_LE(b, 100U);
  }
  EXPECT_EQ(keys, 241U);
  // 241 blobs over 4 threads: 61 a request, so 4 requests (5 at most, as ranges split).
  EXPECT_LE(mem.bucket->batches.size(), 5U);
}

// Rule 3: a key written to a repository between the scan and the sweep (a push) keeps every
// deletion in that repository and every blob.
TEST(ObjectStore, AKeyWrittenAfterTheScanKeepsItsRepositoryAndEveryBlob) {
  Tree t;
  InMemory mem(t.reg);
  Digest pushed = sha256_of("pushed since");
  mem.between_scan_and_sweep(
      [&] { (void)mem.bucket->put(layout::layer_link("app", pushed), "sha256:" + pushed.hex()); });
  tbb::task_arena arena(2);
  CollectRun run = gc_m(*mem.store, arena);
  ASSERT_FALSE(run.stopped) << run.stopped->message;
  ASSERT_TRUE(run.swept);
  EXPECT_GT(run.swept->skipped_count, 0U);
  expect_nothing_collected(*mem.bucket, t, run);
}

// Rule 3 where the store can make a deletion conditional (Azure Blob's If-Unmodified-Since): a
// blob written again after the scan began is not deleted, though the guard, which lists
// repositories/ again and not blobs/, cannot see it; the rest is.
TEST(ObjectStore, ABlobWrittenAgainAfterTheScanBeganIsNotDeleted) {
  Tree t;
  InMemory mem(t.reg);
  mem.bucket->conditional = true;
  std::int64_t before = std::time(nullptr);
  mem.between_scan_and_sweep([&] {  // nothing else runs between the scan and the sweep
    mem.bucket->objects[layout::blob_data(t.unused)].mtime_ns =
        (std::time(nullptr) + 5) * 1000000000LL;
  });
  tbb::task_arena arena(2);
  CollectRun run = gc_m(*mem.store, arena);
  ASSERT_NO_FATAL_FAILURE(expect_the_unused_blob_alone_kept(mem, t, run));
  ASSERT_FALSE(mem.bucket->unmodified_since.empty());
  for (std::int64_t since : mem.bucket->unmodified_since) {
    EXPECT_GE(since, before);  // the second the scan began, not an earlier one
    EXPECT_LE(since, std::time(nullptr) + 1);
  }
  EXPECT_TRUE(an_error_says(run, "written after the scan began"));
}

// A key the server refuses to delete is a failed deletion, named with the bucket's own name
// for it; the rest of the batch is deleted.
TEST(ObjectStore, ARefusedDeleteIsAFailedDeletionNamingTheKey) {
  Tree t;
  InMemory mem(t.reg);
  mem.bucket->refuse_delete.insert(layout::blob_data(t.unused));
  tbb::task_arena arena(2);
  CollectRun run = gc_m(*mem.store, arena);
  ASSERT_NO_FATAL_FAILURE(expect_the_unused_blob_alone_kept(mem, t, run));
  EXPECT_TRUE(an_error_says(run, "mem://tree/" + layout::blob_data(t.unused)));
}

// Rule 1: a listing that fails part way (here on its second page) is no listing: the run
// stops before planning, and nothing is deleted.
TEST(ObjectStore, AListingThatFailsOnAPageStopsTheRun) {
  Tree t;
  InMemory mem(t.reg);
  auto before = mem.bucket->objects.size();
  mem.bucket->fail_prefix = "repositories/app/_manifests/";
  mem.bucket->fail_page = 2;
  tbb::task_arena arena(2);
  CollectRun run = gc_m(*mem.store, arena);
  ASSERT_TRUE(run.stopped);
  EXPECT_NE(run.stopped->message.find("mem://tree/repositories/app/_manifests/"), std::string::npos)
      << run.stopped->message;
  EXPECT_FALSE(run.swept);
  EXPECT_EQ(mem.bucket->objects.size(), before);
}

// Rule 3: when the guard cannot list `repositories/` again before a phase, whether anything
// changed is unknown: nothing more is deleted, and the run says why.
TEST(ObjectStore, AGuardThatCannotListAgainDeletesNothingMore) {
  Tree t;
  InMemory mem(t.reg);
  mem.between_scan_and_sweep([&] {
    mem.bucket->fail_prefix = "repositories/";
    mem.bucket->fail_page = 1;
  });
  tbb::task_arena arena(2);
  CollectRun run = gc_m(*mem.store, arena);
  ASSERT_FALSE(run.stopped) << run.stopped->message;
  ASSERT_TRUE(run.swept);
  EXPECT_EQ(run.swept->blobs_deleted, 0U);
  expect_nothing_collected(*mem.bucket, t, run);
}

// An incomplete multipart upload joins its upload (or makes the repository it is in, when
// that has no other key), dated by when it started; --purge-uploads aborts an old one.
TEST(ObjectStore, IncompleteMultipartUploadsJoinTheirUploadAndArePurged) {
  Tree t;
  InMemory mem(t.reg);
  const std::int64_t old_ns = (std::time(nullptr) - 30 * 86400) * std::int64_t{1000000000};
  mem.bucket->multipart = {
      {layout::upload_dir("app", "u-1") + "/data", "id-1", old_ns},
      {layout::upload_dir("gone/repo", "u-2") + "/data", "id-2", old_ns},
  };
  tbb::task_arena arena(2);
  auto inv = mem.store->scan(arena, ScanOptions{});
  ASSERT_TRUE(inv) << inv.error().message;
  auto named = [&](const std::string& name) -> const Repository* {
    for (const Repository& r : inv->repositories) {
      if (r.name == name) {
        return &r;
      }
    }
    return nullptr;
  };
  const Repository* app = named("app");
  const Repository* gone = named("gone/repo");
  ASSERT_NE(app, nullptr);
  ASSERT_NE(gone, nullptr);
  ASSERT_EQ(app->uploads.size(), 1U);
  EXPECT_EQ(app->uploads[0].id, "u-1");
  EXPECT_EQ(app->uploads[0].newest_mtime, old_ns / 1000000000);
  ASSERT_EQ(gone->uploads.size(), 1U);
  EXPECT_TRUE(test::has_finding(inv->findings, FindingKind::unknown_entry, "gone/repo"));

  GcOptions purging = test::options();
  purging.plan.purge_uploads_older_than = 7 * 86400;
  CollectRun done = gc_with(*mem.store, arena, purging);
  ASSERT_FALSE(done.stopped) << done.stopped->message;
  std::sort(mem.bucket->aborted.begin(), mem.bucket->aborted.end());
  EXPECT_EQ(mem.bucket->aborted,
            (std::vector<std::string>{layout::upload_dir("app", "u-1") + "/data",
                                      layout::upload_dir("gone/repo", "u-2") + "/data"}));
}

}  // namespace
}  // namespace regsweep

namespace regsweep {
namespace {

// What a listing gives, pages joined: each key with its size, and the prefixes.
struct Listed {
  std::map<std::string, std::uint64_t> objects;
  std::set<std::string> prefixes;
  Status status = ok_status();
};
Listed listed(Store& store, std::string_view prefix, ListDepth depth) {
  Listed out;
  out.status = store.list(prefix, depth, [&](const ListPage& page) {
    for (const StoreObject& o : page.objects) {
      EXPECT_TRUE(out.objects.emplace(o.key, o.size).second) << "listed twice: " << o.key;
    }
    out.prefixes.insert(page.prefixes.begin(), page.prefixes.end());
  });
  return out;
}

// The seam's primitives answer alike on a disk and in a bucket: a store is these, whatever
// the storage.
TEST(ObjectStore, ListsAndStatsAsTheFilesystemStoreDoes) {
  Tree t;
  InMemory mem(t.reg);
  auto v2 = open_registry(t.reg.root());
  ASSERT_TRUE(v2);
  auto disk = make_fs_store(v2->get(), t.reg.root());
  for (Store* store : {mem.store.get(), disk.get()}) {
    SCOPED_TRACE(store->location());
    Listed top = listed(*store, "repositories", ListDepth::one_level);
    ASSERT_TRUE(top.status) << top.status.error().message;
    EXPECT_EQ(top.prefixes, (std::set<std::string>{"repositories/app/", "repositories/team/"}));
    EXPECT_TRUE(top.objects.empty());
    Listed all = listed(*store, "", ListDepth::tree);
    ASSERT_TRUE(all.status) << all.status.error().message;
    EXPECT_TRUE(all.prefixes.empty());
    EXPECT_EQ(all.objects.count(layout::tag_current_link("team/tool", "latest")), 1U);

    std::string data = layout::blob_data(t.unused);
    auto found = store->stat(data);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->key, data);
    EXPECT_EQ(found->size, std::string("nothing uses this").size());
    EXPECT_EQ(found->size, all.objects.at(data));
    EXPECT_GT(found->mtime_ns, 0);
    EXPECT_EQ(presence_of(found), Presence::present);
    auto missing = store->stat(layout::blob_data(sha256_of("never written")));
    ASSERT_FALSE(missing);
    EXPECT_EQ(presence_of(missing), Presence::absent);
    EXPECT_NE(missing.error().message.find(layout::blob_data(sha256_of("never written"))),
              std::string::npos)
        << missing.error().message;
  }
  // On a disk, a directory where an object is asked for is not absent: it is unknown.
  auto dir = disk->stat("repositories/app");
  ASSERT_FALSE(dir);
  EXPECT_EQ(presence_of(dir), Presence::unknown);
}

// A HEAD's answer: the object's size and time from its headers, or an error naming it.
TEST(ObjectStore, AHeadAnswerGivesSizeAndTimeOrAnError) {
  object::KeptHeaders h;
  h.date = "Sun, 06 Dec 2026 18:00:00 GMT";
  h.last_modified = "Sat, 05 Dec 2026 17:30:01 GMT";
  h.content_length = "1234";
  auto o = object::object_of_headers(h, "k", "s3://b/k");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->size, 1234U);
  EXPECT_EQ(o->mtime_ns, 1796491801LL * 1000000000);
  h.content_length = "12x";
  auto bad = object::object_of_headers(h, "k", "s3://b/k");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("s3://b/k"), std::string::npos);
  h.content_length = "1";
  h.last_modified.clear();
  EXPECT_FALSE(object::object_of_headers(h, "k", "s3://b/k"));
}

}  // namespace
}  // namespace regsweep
