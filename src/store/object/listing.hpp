#pragma once

// What any object store's scan and guard share: where a parallel listing's pages go, what
// the scan listed (as hashes), and the guard that lists `repositories/` again before each
// phase of a sweep and compares (rule 3 of docs/safety.md).

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "regsweep/listing_scan.hpp"
#include "regsweep/result.hpp"
#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep::object {

// Where a parallel listing's pages go: each listing (a prefix, whole or a level of it) is a
// unit, its pages given in order from one thread; units run in many threads at once.
class ListingSink {
 public:
  class Unit {
   public:
    virtual ~Unit() = default;
    // Keys relative to docker/registry/v2, each list in key order.
    virtual void page(std::vector<StoreObject>& objects,
                      const std::vector<std::string>& prefixes) = 0;
    virtual void close() = 0;  // after the unit's last page
  };
  virtual ~ListingSink() = default;
  virtual std::unique_ptr<Unit> open() = 0;
};

// What the scan listed below `repositories/`, as one 64-bit hash of each key with its size
// and time: 8 bytes a key, where the keys themselves take about 100. A key that is new or
// changed is missed only if its hash equals that of a listed one, about one chance in 2^64
// divided by the keys listed (docs/safety.md).
class ScannedKeys {
 public:
  void add(const StoreObject& o);
  void seal();
  bool listed(const StoreObject& o) const;
  // The second the scan began, in the store's clock; 0 before a scan. The remover deletes
  // only keys not written after it, where the store can make a deletion conditional.
  void set_began(std::int64_t seconds) { m_began = seconds; }
  std::int64_t began() const { return m_began; }

 private:
  std::int64_t m_began = 0;
  std::mutex m_mutex;
  std::deque<std::uint64_t> m_hashes;  // grows without copying, as the keys are listed
};

// The scan's: pages go to the inventory being built, and what is below `repositories/` to
// the keys the guard compares with.
class ScanSink final : public ListingSink {
 public:
  ScanSink(ListingInventory& building, ScannedKeys& scanned)
      : m_building(building), m_scanned(scanned) {}
  std::unique_ptr<ListingSink::Unit> open() override;

 private:
  ListingInventory& m_building;
  ScannedKeys& m_scanned;
};

// Lists `repositories/` again into the sink, in parallel.
using Relist = std::function<Status(ListingSink& sink)>;

// Rule 3 on object storage: before each phase, `repositories/` is listed again (`relist`)
// and compared with the scan's listing (`scanned`, which must outlive the guard). A key that
// appeared, or whose size or time changed, is a change in its repository: nothing more is
// deleted there, and no blob at all. A key that is gone (the sweep's own deletes, an API
// delete) only takes away references. `writer` names what may be writing ("the bucket").
std::unique_ptr<SweepGuard> make_relisting_guard(const ScannedKeys& scanned, Relist relist,
                                                 std::string writer);

}  // namespace regsweep::object
