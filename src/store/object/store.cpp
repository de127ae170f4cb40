// The object store (store.hpp): a registry tree in a bucket, over any backend.
//
// Scan: one listing of the tree, split so that many requests are in flight: each of the 256
// `blobs/sha256/<xx>/` prefixes is listed on its own, and `repositories/` is walked a level
// at a time, down to each repository's `_manifests/`, `_layers/` and `_uploads/`, which are
// listed whole. The inventory is built from the keys (listing_scan.hpp) as the pages come,
// and no key is kept: the scan keeps a hash of each key below `repositories/` (with its size
// and time), which the guard compares a new listing with; the remover takes a blob's or a
// link's key from the layout, and lists what is below any other path it removes.

#include "store/object/store.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <mutex>
#include <optional>

#include <oneapi/tbb/task_group.h>

#include "regsweep/layout.hpp"
#include "regsweep/listing_scan.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/progress.hpp"
#include "store/object/listing.hpp"
#include "store/object/lock.hpp"
#include "store/object/quarantine.hpp"
#include "store/object/remover.hpp"

namespace regsweep::object {

namespace {

std::int64_t now_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Whether the directory `d` (relative, ending in '/') is listed whole, or a level at a time:
// blobs/, blobs/sha256/ and the namespaces of repositories/ are walked a level at a time, so
// that each blob prefix and each repository's own directories (`_manifests/`, …) are
// listings of their own, in parallel; everything else is listed whole.
bool listed_whole(std::string_view d) {
  if (d == "blobs/" || d == "blobs/sha256/" || d == "repositories/") {
    return false;
  }
  if (layout::is_at_or_below(d, layout::k_repositories_dir)) {
    return layout::is_reserved(layout::base_name(d.substr(0, d.size() - 1)));
  }
  return true;
}

// Incomplete multipart uploads (a blob upload's `data` being written) join their upload in
// the inventory, as its newest write; those kept in `kept`. One whose repository has no key
// (removed, or an upload that never wrote its `startedat`) makes that repository, holding
// only the upload: its parts are stored and billed, and --purge-uploads purges it like any
// other.
void add_multipart(Inventory& inv, std::vector<Multipart> uploads, std::vector<Multipart>& kept) {
  for (Multipart& m : uploads) {
    const std::string& rel = m.key;
    std::optional<layout::PathSpec> upload;  // the upload directory the key is below
    for (std::string p = layout::parent(rel); !p.empty() && !upload; p = layout::parent(p)) {
      auto spec = layout::classify(p);
      if (spec && spec->kind == layout::PathKind::upload_dir) {
        upload = std::move(spec);
      }
    }
    if (!upload) {
      continue;
    }
    const std::string& repo = upload->repository;
    const std::string& id = upload->name;
    std::string dir = layout::uploads_dir(repo) + "/";
    auto r = std::lower_bound(inv.repositories.begin(), inv.repositories.end(), repo,
                              [](const Repository& x, const std::string& n) { return x.name < n; });
    if (r == inv.repositories.end() || r->name != repo) {
      Repository only_uploads;
      only_uploads.name = repo;
      r = inv.repositories.insert(r, std::move(only_uploads));
      inv.findings.push_back(
          Finding{FindingKind::unknown_entry, Severity::warning, dir + id, repo,
                  "incomplete multipart upload '" + rel + "' in '" + repo +
                      "', which has no other key; --purge-uploads purges it like any upload"});
    }
    auto u = std::lower_bound(r->uploads.begin(), r->uploads.end(), id,
                              [](const Upload& x, const std::string& n) { return x.id < n; });
    if (u == r->uploads.end() || u->id != id) {
      Upload fresh;
      fresh.id = id;
      u = r->uploads.insert(u, std::move(fresh));
      r->has_uploads = true;
    }
    u->newest_mtime = std::max(u->newest_mtime, m.initiated_ns / 1000000000);
    kept.push_back(std::move(m));
  }
}

class ObjectStore final : public Store {
 public:
  ObjectStore(std::unique_ptr<Bucket> bucket, std::string writer)
      : Store(bucket->location()), m_bucket(std::move(bucket)), m_writer(std::move(writer)) {}

  DeletionEffect deletion_effect() override {
    auto state = m_bucket->versioning();
    if (!state) {
      return {
          .unknown = true,
          .why = "whether the bucket of '" + location() +
                 "' keeps deleted objects (versioning) cannot be told: " + state.error().message};
    }
    if (state->empty()) {
      return {};
    }
    return {.keeps = true,
            .why = "the bucket of '" + location() + "' has versioning " + *state +
                   ": each deleted object leaves a delete marker, and its bytes stay stored "
                   "(and billed) as a noncurrent version until a lifecycle rule expires them"};
  }

  std::optional<std::int64_t> clock_offset() override {
    if (!m_bucket->clock_offset()) {
      // Any answer carries the server's time: a read of the lock's key, there or not.
      (void)m_bucket->get(k_lock_file, 1);
    }
    return m_bucket->clock_offset();
  }

  Result<Inventory> scan(tbb::task_arena& arena, const ScanOptions& options) override {
    // In the server's time, as the objects' times: "changed during the scan" compares the two.
    std::int64_t started = now_ns() + clock_offset().value_or(0) * 1000000000;
    progress().begin("listing the bucket");
    ObjectReader reader = [this](std::string_view key, std::uint64_t max) {
      return read(key, max);
    };
    ListingInventory building(reader, options);
    m_scanned = std::make_unique<ScannedKeys>();
    // Rounded up to the second, as the store keeps times: a key written before the scan
    // began is not later than it, though this machine's estimate of the store's clock can be
    // a second behind (a Date header is to the second).
    m_scanned->set_began((started + 999999999) / 1000000000);
    ScanSink sink(building, *m_scanned);
    // Blobs first, so that links are resolved to them as they are listed.
    if (Status s = list_tree(arena, "blobs", sink); !s) {
      return s.error();
    }
    building.blobs_listed();
    if (Status s = list_tree(arena, "", sink, "blobs/"); !s) {
      return s.error();
    }
    m_scanned->seal();
    auto multipart = m_bucket->list_multipart(layout::k_repositories_dir);
    if (!multipart) {
      return multipart.error();
    }
    Inventory inv = building.finish(arena, started);
    m_multipart.clear();
    add_multipart(inv, std::move(*multipart), m_multipart);
    sort_findings(inv.findings);
    return inv;
  }

  Status list(std::string_view prefix, ListDepth depth,
              const std::function<void(const ListPage&)>& page) override {
    std::string below = prefix.empty() ? std::string() : std::string(prefix) + "/";
    return m_bucket->list(below, depth, [&](Page& p) { page(p); });
  }

  Result<StoreObject> stat(std::string_view key) override { return m_bucket->head(key); }

  Result<std::string> read(std::string_view key, std::uint64_t max) override {
    auto got = m_bucket->get(key, max);
    if (!got && got.error().sys_errno == ENOENT) {
      return Error{"cannot read '" + std::string(key) + "': no such object", ENOENT};
    }
    return got;
  }

  Status stream(std::string_view key,
                const std::function<void(std::string_view chunk)>& sink) override {
    return m_bucket->get_stream(key, sink);
  }

  std::unique_ptr<Remover> remover() override {
    return make_remover(*m_bucket, *m_scanned, m_multipart, m_deleted.get());
  }

  QuarantineArea* quarantine() override {
    if (!m_quarantine) {
      m_quarantine = make_object_quarantine(*m_bucket, [this](KeepFirst keep) {
        return make_remover(*m_bucket, *m_scanned, m_multipart, m_deleted.get(), std::move(keep));
      });
    }
    return m_quarantine.get();
  }

  void note_deletions() override {
    if (!m_deleted) {
      m_deleted = std::make_unique<DeletedKeys>();
    }
  }

  Purged purge_noncurrent(tbb::task_arena& arena) override {
    if (!m_deleted) {
      return {};
    }
    return purge_noncurrent_versions(*m_bucket, std::move(m_deleted->keys), arena);
  }

  // The listing of `repositories/` covers the tags' current links: nothing more to watch.
  std::unique_ptr<SweepGuard> guard(const Inventory& /*scanned*/,
                                    std::vector<std::size_t> /*watch_tags_of*/) override {
    return make_relisting_guard(
        *m_scanned,
        [this](ListingSink& sink) {
          return list_tree(m_guard_arena, layout::k_repositories_dir, sink);
        },
        m_writer);
  }

  Result<std::unique_ptr<RegistryLock>> lock(std::string_view command) override;

 private:
  struct Walk {
    ListingSink& sink;
    std::string_view skip;
    tbb::task_group group;
    std::mutex error_mutex;
    std::optional<Error> error;
  };
  // Lists `prefix` (relative, ending in '/'): whole when `whole`, else one level, recursing.
  void walk(const std::string& prefix, bool whole, Walk& w);
  // Lists every object below `sub` ("" for the whole tree; else a directory such as
  // "repositories") in parallel inside `arena`, giving the pages to `sink`; not below
  // `skip` (a directory, ending in '/').
  Status list_tree(tbb::task_arena& arena, std::string_view sub, ListingSink& sink,
                   std::string_view skip = {});

  std::unique_ptr<Bucket> m_bucket;
  std::unique_ptr<Bucket> m_registry;  // docker/registry/, where the lock is (lock())
  std::string m_writer;
  std::unique_ptr<ScannedKeys> m_scanned = std::make_unique<ScannedKeys>();
  std::vector<Multipart> m_multipart;
  std::unique_ptr<DeletedKeys> m_deleted;  // when note_deletions() was called
  std::unique_ptr<QuarantineArea> m_quarantine;
  // A guard lists with as many requests in flight as the scan did.
  tbb::task_arena m_guard_arena{64};
};

void ObjectStore::walk(const std::string& prefix, bool whole, Walk& w) {
  {
    std::lock_guard lock(w.error_mutex);
    if (w.error) {
      return;
    }
  }
  std::vector<std::string> deeper;
  std::unique_ptr<ListingSink::Unit> unit = w.sink.open();
  Status s =
      m_bucket->list(prefix, whole ? ListDepth::tree : ListDepth::one_level, [&](Page& page) {
        unit->page(page.objects, page.prefixes);
        deeper.insert(deeper.end(), page.prefixes.begin(), page.prefixes.end());
        progress().advance(page.objects.size());
      });
  if (!s) {
    std::lock_guard lock(w.error_mutex);
    if (!w.error) {
      w.error = s.error();
    }
    return;
  }
  unit->close();
  for (std::string& d : deeper) {
    if (d == w.skip) {
      continue;
    }
    bool next_whole = listed_whole(d);
    w.group.run([this, d, next_whole, &w] { walk(d, next_whole, w); });
  }
}

Status ObjectStore::list_tree(tbb::task_arena& arena, std::string_view sub, ListingSink& sink,
                              std::string_view skip) {
  Walk w{sink, skip, {}, {}, {}};
  arena.execute([&] {
    std::string start = sub.empty() ? "" : std::string(sub) + "/";
    w.group.run([&] { walk(start, false, w); });
    w.group.wait();
  });
  if (w.error) {
    return *w.error;
  }
  return ok_status();
}

namespace {

// The lock object `key` of `bucket` (take_lock).
LockObject lock_object(Bucket& bucket, const std::string& key) {
  LockObject lock;
  lock.shown = bucket.shown(key);
  lock.time = [&bucket, key]() -> Result<std::optional<std::int64_t>> {
    std::optional<std::int64_t> held_since;
    Status listed = bucket.list(key, ListDepth::tree, [&](Page& page) {
      for (const StoreObject& o : page.objects) {
        if (o.key == key) {
          held_since = o.mtime_ns;
        }
      }
    });
    if (!listed) {
      return listed.error();
    }
    return held_since;
  };
  lock.get = [&bucket, key](std::uint64_t max) { return bucket.get(key, max); };
  lock.put = [&bucket, key](std::string_view body) { return bucket.put(key, body); };
  lock.remove = [&bucket, key] { return bucket.remove(key); };
  return lock;
}

}  // namespace

Result<std::unique_ptr<RegistryLock>> ObjectStore::lock(std::string_view command) {
  // Beside v2 (docker/registry/regsweep.lock); an earlier build's, in v2, refuses the run
  // while it is renewed and is removed once this run holds its own (lock.hpp).
  if (!m_registry) {
    m_registry = m_bucket->beside("");
  }
  LockObject legacy = lock_object(*m_bucket, std::string(k_legacy_lock));
  auto stale = legacy_lock_free(legacy);
  if (!stale) {
    return stale.error();
  }
  auto taken = take_lock(lock_object(*m_registry, std::string(k_lock_file)), command);
  if (taken && *stale) {
    (void)legacy.remove();
  }
  return taken;
}

}  // namespace

std::unique_ptr<Store> make_object_store(std::unique_ptr<Bucket> bucket, std::string writer) {
  return std::make_unique<ObjectStore>(std::move(bucket), std::move(writer));
}

}  // namespace regsweep::object
