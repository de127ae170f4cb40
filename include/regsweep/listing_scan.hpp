#pragma once

// The scan of a tree an object store holds: the inventory built from a listing of its keys,
// with the few objects whose content decides something read through `read`. The same
// Inventory the filesystem scan gives for the same content, so that every later stage is the
// store's business no more.
//
// What the keys tell is taken from the keys: a blob's digest, size and time; the digest a
// revision, layer or tag history link names (its directory's), when the link has exactly the
// size the registry writes. Read: every tag's `current/link`, each upload's `startedat`, and
// every link of another size (to report what is wrong with it). With ScanOptions::
// read_layer_links (fsck), every link is read and compared with its key. No link is left
// unverified (Link::unverified): a layer link taken from its key is taken as read, as upstream
// takes it, so nothing is read again before deleting it (docs/safety.md, object storage).
//
// An object store has no symbolic links, no empty directories, no files of other types; it
// has keys the filesystem cannot: a key that is also a "directory" of other keys (`…/data`
// and `…/data/x`). Any key the layout does not know is a finding; a blob directory holding
// one is unknown (kept, with everything that links it), a repository holding one is never
// removed whole.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"
#include "regsweep/scan.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

// Reads a small object by its key relative to docker/registry/v2, as Store::read.
using ObjectReader = std::function<Result<std::string>(std::string_view key, std::uint64_t max)>;

namespace listing_detail {
class ListingScan;
}

// The inventory built from a listing given piece by piece, as a parallel listing gives it: in
// any order, except that every key below `blobs/` comes before any key below
// `repositories/` (blobs_listed() says when). No key is kept once it is parsed: a link
// becomes the inventory's Link (12 bytes) as it is listed, and the few links and tag links
// that must be read are read by the layout's key for their digest. The memory a scan needs
// grows with what the inventory holds, not with the length of the keys.
class ListingInventory {
 public:
  ListingInventory(ObjectReader read, const ScanOptions& options);
  ~ListingInventory();
  ListingInventory(const ListingInventory&) = delete;
  ListingInventory& operator=(const ListingInventory&) = delete;

  // One listing: the keys below a prefix, whole or one level of them (with the common
  // prefixes), in key order page by page. Units of one inventory may run in many threads.
  class Unit {
   public:
    explicit Unit(ListingInventory& to) : m_to(to) {}
    // One page: its objects and common prefixes (ending in '/'), each in key order; keys
    // relative to docker/registry/v2.
    void page(std::vector<StoreObject>& objects, const std::vector<std::string>& prefixes);
    void object(StoreObject o);
    // Gives what is left to the inventory; the unit's last call.
    void close();

   private:
    struct Entry {
      StoreObject object;
      bool is_object = true;  // false: a common prefix
      bool shadowed = false;  // other keys are below it (`K` and `K/x`)
    };
    void push(Entry e);
    void pop();
    ListingInventory& m_to;
    std::vector<Entry> m_stack;  // a chain of keys, each a prefix of the next
    std::vector<std::pair<StoreObject, bool>> m_ready;
  };

  // Every unit below `blobs/` is closed: from now on links are resolved to blobs.
  void blobs_listed();

  // The inventory, once every unit is closed. `scan_started_ns`: when the listing began.
  // Reads run in parallel inside `arena`.
  Inventory finish(tbb::task_arena& arena, std::int64_t scan_started_ns);

 private:
  void take(std::vector<std::pair<StoreObject, bool>>& objects);
  std::mutex m_mutex;
  std::unique_ptr<listing_detail::ListingScan> m_scan;
};

// The same for a whole listing at once: `objects` sorted by key.
Inventory inventory_from_listing(const std::vector<StoreObject>& objects, const ObjectReader& read,
                                 tbb::task_arena& arena, const ScanOptions& options,
                                 std::int64_t scan_started_ns);

}  // namespace regsweep
