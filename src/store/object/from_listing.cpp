// The inventory of a tree from a listing of its keys (listing_scan.hpp).

#include "store/object/listing_state.hpp"

namespace regsweep {

ListingInventory::ListingInventory(ObjectReader read, const ScanOptions& options)
    : m_scan(std::make_unique<listing_detail::ListingScan>(std::move(read), options)) {}

ListingInventory::~ListingInventory() = default;

void ListingInventory::take(std::vector<std::pair<StoreObject, bool>>& objects) {
  std::lock_guard lock(m_mutex);
  for (auto& [o, shadowed] : objects) {
    listing_detail::Listed l;
    static_cast<StoreObject&>(l) = std::move(o);
    l.shadowed = shadowed;
    m_scan->take(l);
  }
  objects.clear();
}

void ListingInventory::blobs_listed() {
  std::lock_guard lock(m_mutex);
  m_scan->blobs_done();
}

Inventory ListingInventory::finish(tbb::task_arena& arena, std::int64_t scan_started_ns) {
  return m_scan->finish(arena, scan_started_ns);
}

// Keys come in order, so the keys below `K/` follow K, perhaps after others that start with K
// (`K-x` sorts before `K/`). The stack holds the chain of keys each a prefix of the next; a
// key leaves it, and is given to the inventory, once a later key shows nothing more can be
// below it.
void ListingInventory::Unit::push(Entry e) {
  const std::string& key = e.object.key;
  if (!m_stack.empty() && m_stack.back().object.key == key) {
    // The same key twice (a page the server or a proxy gave again): once is enough.
    m_stack.back().is_object = m_stack.back().is_object || e.is_object;
    return;
  }
  while (!m_stack.empty() &&
         key.compare(0, m_stack.back().object.key.size(), m_stack.back().object.key) != 0) {
    pop();
  }
  if (!m_stack.empty()) {
    const std::string& top = m_stack.back().object.key;
    if (key.size() > top.size() && key[top.size()] == '/') {
      m_stack.back().shadowed = true;
    }
  }
  m_stack.push_back(std::move(e));
}

void ListingInventory::Unit::pop() {
  Entry& e = m_stack.back();
  if (e.is_object) {
    m_ready.emplace_back(std::move(e.object), e.shadowed);
  }
  m_stack.pop_back();
  if (m_ready.size() >= 256) {
    m_to.take(m_ready);
  }
}

void ListingInventory::Unit::object(StoreObject o) {
  push(Entry{std::move(o), true, false});
}

void ListingInventory::Unit::page(std::vector<StoreObject>& objects,
                                  const std::vector<std::string>& prefixes) {
  auto p = prefixes.begin();
  for (StoreObject& o : objects) {
    for (; p != prefixes.end() && *p < o.key; ++p) {
      push(Entry{StoreObject{*p, 0, 0}, false, false});
    }
    object(std::move(o));
  }
  for (; p != prefixes.end(); ++p) {
    push(Entry{StoreObject{*p, 0, 0}, false, false});
  }
}

void ListingInventory::Unit::close() {
  while (!m_stack.empty()) {
    pop();
  }
  m_to.take(m_ready);
}

Inventory inventory_from_listing(const std::vector<StoreObject>& objects, const ObjectReader& read,
                                 tbb::task_arena& arena, const ScanOptions& options,
                                 std::int64_t scan_started_ns) {
  assert(std::is_sorted(objects.begin(), objects.end(),
                        [](const StoreObject& a, const StoreObject& b) { return a.key < b.key; }));
  ListingInventory inv(read, options);
  ListingInventory::Unit unit(inv);
  for (const StoreObject& o : objects) {
    unit.object(o);
  }
  unit.close();
  return inv.finish(arena, scan_started_ns);
}

}  // namespace regsweep
