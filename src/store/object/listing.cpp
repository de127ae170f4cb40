#include "store/object/listing.hpp"

#include <algorithm>
#include <string_view>

#include "regsweep/layout.hpp"

namespace regsweep::object {

namespace {

// One 64-bit hash of a key with its size and time.
std::uint64_t hash_of(const StoreObject& o) {
  std::uint64_t h = std::hash<std::string_view>{}(o.key);
  std::uint64_t v[3] = {h, o.size, static_cast<std::uint64_t>(o.mtime_ns)};
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(v), sizeof v));
}

class ScanUnit final : public ListingSink::Unit {
 public:
  ScanUnit(ListingInventory& building, ScannedKeys& scanned)
      : m_unit(building), m_scanned(scanned) {}
  void page(std::vector<StoreObject>& objects, const std::vector<std::string>& prefixes) override {
    for (const StoreObject& o : objects) {
      if (o.key.rfind(layout::k_repositories_dir, 0) == 0 &&
          o.key.size() > layout::k_repositories_dir.size() &&
          o.key[layout::k_repositories_dir.size()] == '/') {
        m_scanned.add(o);
      }
    }
    m_unit.page(objects, prefixes);
  }
  void close() override { m_unit.close(); }

 private:
  ListingInventory::Unit m_unit;
  ScannedKeys& m_scanned;
};

// Each key listed now against the scan's.
class Compare final : public ListingSink {
 public:
  Compare(const ScannedKeys& scanned, ChangesSinceScan& changes)
      : m_scanned(scanned), m_changes(changes) {}
  class Unit final : public ListingSink::Unit {
   public:
    explicit Unit(Compare& c) : m_c(c) {}
    void page(std::vector<StoreObject>& objects,
              const std::vector<std::string>& /*prefixes*/) override {
      for (const StoreObject& o : objects) {
        if (!m_c.m_scanned.listed(o)) {
          std::lock_guard lock(m_c.m_mutex);
          m_c.m_changes.record(o.key, layout::repository_of(o.key), "appeared or was rewritten");
        }
      }
    }
    void close() override {}

   private:
    Compare& m_c;
  };
  std::unique_ptr<ListingSink::Unit> open() override { return std::make_unique<Unit>(*this); }

 private:
  const ScannedKeys& m_scanned;
  ChangesSinceScan& m_changes;
  std::mutex m_mutex;
};

class RelistingGuard final : public SweepGuard {
 public:
  RelistingGuard(const ScannedKeys& scanned, Relist relist, std::string writer)
      : m_scanned(scanned), m_relist(std::move(relist)), m_changes(std::move(writer)) {}

  void before_phase(ActionKind /*next*/, const Plan& plan, const std::vector<std::uint8_t>& done,
                    std::vector<std::uint8_t>& skip) override {
    Compare compare(m_scanned, m_changes);
    if (Status s = m_relist(compare); !s) {
      m_changes.record_unknown(std::string(layout::k_repositories_dir),
                               "cannot be listed again (" + s.error().message + ")");
    }
    m_changes.skip_dependents(plan, done, skip);
  }

  std::vector<Finding> take_findings() override { return m_changes.take_findings(); }

 private:
  const ScannedKeys& m_scanned;
  Relist m_relist;
  ChangesSinceScan m_changes;
};

}  // namespace

void ScannedKeys::add(const StoreObject& o) {
  std::uint64_t h = hash_of(o);
  std::lock_guard lock(m_mutex);
  m_hashes.push_back(h);
}

void ScannedKeys::seal() {
  std::sort(m_hashes.begin(), m_hashes.end());
}

bool ScannedKeys::listed(const StoreObject& o) const {
  return std::binary_search(m_hashes.begin(), m_hashes.end(), hash_of(o));
}

std::unique_ptr<ListingSink::Unit> ScanSink::open() {
  return std::make_unique<ScanUnit>(m_building, m_scanned);
}

std::unique_ptr<SweepGuard> make_relisting_guard(const ScannedKeys& scanned, Relist relist,
                                                 std::string writer) {
  return std::make_unique<RelistingGuard>(scanned, std::move(relist), std::move(writer));
}

}  // namespace regsweep::object
