#pragma once

// The storage seam: everything the pipeline asks of where a registry tree is stored. The
// stages (graph, mark, plan, sweep) are written against a Store, never against a directory
// or a bucket, so that another kind of storage is a new implementation of this interface and
// nothing else.
//
// Keys and paths are relative to `docker/registry/v2/` and use the registry's own layout
// (layout.hpp), the same on a filesystem and in object storage.
//
// What an implementation must keep, whatever its storage (docs/safety.md):
// * what it cannot read is reported, never taken as absent;
// * nothing outside the tree is ever read or removed; a filesystem store follows no symbolic
//   link below the root;
// * every call returns in bounded time.

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/finding.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/result.hpp"
#include "regsweep/scan.hpp"

namespace regsweep {

class QuarantineArea;  // quarantine.hpp
class Remover;         // sweep.hpp
class SweepGuard;      // sweep.hpp

// One stored object, as a listing gives it.
struct StoreObject {
  std::string key;  // relative to docker/registry/v2
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // last modification, nanoseconds since the epoch
};

// How deep a listing goes: the whole tree below its prefix, or one level (a '/' delimiter),
// with the directories of the next level as prefixes.
enum class ListDepth { tree, one_level };

// One page of a listing, in key order.
struct ListPage {
  std::vector<StoreObject> objects;
  std::vector<std::string> prefixes;  // ListDepth::one_level: the next level, each ending in '/'
};

// What a direct look at one object finds: a read of it of at most 0 bytes (`look`) says
// absent (ENOENT), present (it has bytes, or is empty), or unknown (any other error). Absence
// that justifies a deletion is confirmed so (docs/safety.md, rule 1).
enum class Presence { absent, present, unknown };
inline Presence presence_of(const Result<std::string>& look) {
  if (look || look.error().sys_errno == EFBIG) {
    return Presence::present;
  }
  return look.error().sys_errno == ENOENT ? Presence::absent : Presence::unknown;
}
// The same from a stat (Store::stat): absent (ENOENT), present, or unknown.
inline Presence presence_of(const Result<StoreObject>& look) {
  if (look) {
    return Presence::present;
  }
  return look.error().sys_errno == ENOENT ? Presence::absent : Presence::unknown;
}

// What every store answers, whatever its storage: list, read, stream, stat, delete in
// batches (the remover), lock; and the two things whose fast form depends on the storage: the
// scan (a disk is walked by directory, a bucket listed in parallel by prefix) and the guard
// (what "unchanged since the scan" can be checked by). list, read, stream and stat are also
// what generic code asks when it needs one more look (fsck's repairs, the listing scanner).
//
// read(), stream(), stat() and the remover may be called from many threads at once.
class Store {
 public:
  // `location`: where the tree is, for messages: a directory or a bucket and prefix.
  explicit Store(std::string location) : m_location(std::move(location)) {}
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& location() const { return m_location; }

  // The scan stage: the inventory of the whole tree, with findings for what could not be read.
  // Error only when the tree itself cannot be read.
  virtual Result<Inventory> scan(tbb::task_arena& arena, const ScanOptions& options) = 0;

  // The second looks of a store whose scan leaves things unread (ScanOptions; scan.hpp):
  // none (null) for one whose scan reads everything. Called through the functions below.
  virtual LazyLooks* lazy_looks() { return nullptr; }

  // The objects below the directory `prefix` ("" for the whole tree), with their sizes and
  // times, page by page in key order to `page`; with ListDepth::one_level only those directly
  // in it, and the directories below as prefixes. A store may call `page` from one thread
  // only. Error, naming the path, when something below cannot be listed: a listing is
  // complete or it is an error.
  virtual Status list(std::string_view prefix, ListDepth depth,
                      const std::function<void(const ListPage&)>& page) = 0;

  // A small object whole (a manifest, a link, an image config): an error naming the key when
  // it cannot be read, is not a plain object, or is larger than `max` bytes.
  virtual Result<std::string> read(std::string_view key, std::uint64_t max) = 0;

  // A large object (a blob's data) in chunks, in order, to `sink`.
  virtual Status stream(std::string_view key,
                        const std::function<void(std::string_view chunk)>& sink) = 0;

  // A direct look at one object: its size and time. An error naming the key when it cannot be
  // had: ENOENT when there is no such object (the confirmation of absence rule 1 asks for),
  // EINVAL when it is not a plain object (a directory, a link), anything else when unknown.
  virtual Result<StoreObject> stat(std::string_view key) = 0;

  // What deletes and moves, in batches (sweep.hpp).
  virtual std::unique_ptr<Remover> remover() = 0;

  // Rule 3 of docs/safety.md: what a sweep's deletions depend on is taken again from the
  // storage before each phase and compared with what the scan observed: `scanned`, which
  // must outlive the guard. The current links of the tags of the repositories
  // `watch_tags_of` (indices into scanned.repositories) are taken again too: with -m, those
  // that lose a manifest, since a tag moved onto one makes it live again.
  virtual std::unique_ptr<SweepGuard> guard(const Inventory& scanned,
                                            std::vector<std::size_t> watch_tags_of) = 0;

  // The run lock, held by a run that may delete from before its scan until it ends.
  virtual Result<std::unique_ptr<RegistryLock>> lock(std::string_view command) = 0;

  // The storage's clock minus this machine's, in seconds, where the storage keeps its own
  // (an object store stamps objects with its clock): "now" for ages is this machine's clock
  // plus it. Nothing for a local tree, and when it cannot be had.
  virtual std::optional<std::int64_t> clock_offset() { return std::nullopt; }

  // Where --quarantine moves what a run would delete (quarantine.hpp); none (null) in a
  // store that has no quarantine yet.
  virtual QuarantineArea* quarantine() { return nullptr; }

  // Whether deleting here frees space: not in a versioned bucket, which keeps what is
  // deleted as a noncurrent version (`keeps`), or when that cannot be told (`unknown`);
  // `why` says which, for the operator.
  struct DeletionEffect {
    bool keeps = false;
    bool unknown = false;
    std::string why;
  };
  virtual DeletionEffect deletion_effect() { return {}; }

  // What --delete-noncurrent-versions deleted in a store that keeps deleted objects.
  struct Purged {
    std::uint64_t versions = 0;  // noncurrent versions deleted
    std::uint64_t bytes = 0;     // their bytes, freed
    std::vector<Finding> findings;
  };
  // From now on, the removers made note each object they delete, for purge_noncurrent().
  virtual void note_deletions() {}
  // Deletes the noncurrent versions of exactly the objects the removers deleted since
  // note_deletions(), while each one's current version is a delete marker: an object written
  // again since keeps its versions. Nothing any read of the store answers changes. Nothing
  // to do in a store that keeps no versions.
  virtual Purged purge_noncurrent(tbb::task_arena& /*arena*/) { return {}; }

 private:
  std::string m_location;
};

// Every object below `prefix`, one at a time: the pages of a whole-tree listing.
inline Status list_objects(Store& store, std::string_view prefix,
                           const std::function<void(const StoreObject&)>& visit) {
  return store.list(prefix, ListDepth::tree, [&](const ListPage& page) {
    for (const StoreObject& o : page.objects) {
      visit(o);
    }
  });
}

// A store's second looks (Store::lazy_looks); nothing to do in a store that has none.
inline Verified verify_layer_links(Store& store, Inventory& inventory, tbb::task_arena& arena,
                                   const std::function<bool(std::size_t, const Link&)>& wanted) {
  LazyLooks* lazy = store.lazy_looks();
  return lazy != nullptr ? lazy->verify_layer_links(inventory, arena, wanted) : Verified{};
}
inline Verified verify_tag_history(
    Store& store, Inventory& inventory, tbb::task_arena& arena,
    const std::function<bool(std::size_t, const Tag&, const Link&)>& wanted) {
  LazyLooks* lazy = store.lazy_looks();
  return lazy != nullptr ? lazy->verify_tag_history(inventory, arena, wanted) : Verified{};
}
inline Examined examine_blobs(Store& store, Inventory& inventory, tbb::task_arena& arena,
                              const std::function<bool(std::size_t)>& wanted) {
  LazyLooks* lazy = store.lazy_looks();
  return lazy != nullptr ? lazy->examine_blobs(inventory, arena, wanted) : Examined{};
}

}  // namespace regsweep
