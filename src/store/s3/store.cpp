// The object store: the registry's s3 driver's tree in a bucket (s3_store.hpp).
//
// Scan: one listing of the tree, split so that many requests are in flight: each of the 256
// `blobs/sha256/<xx>/` prefixes is listed on its own, and `repositories/` is walked with a
// delimiter, level by level, down to each repository's `_manifests/`, `_layers/` and
// `_uploads/`, which are listed whole. The inventory is built from the keys
// (listing_scan.hpp) as the pages come, and no key is kept: the scan keeps a hash of each
// key below `repositories/` (with its size and time), which the guard compares a new
// listing with; the remover takes a blob's or a link's key from the layout, and lists what
// is below any other path it removes.

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <mutex>
#include <set>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>

#include "regsweep/layout.hpp"
#include "regsweep/listing_scan.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/sweep.hpp"
#include "regsweep/timeutil.hpp"
#include "store/object/listing.hpp"
#include "store/object/lock.hpp"
#include "store/s3/s3_store.hpp"
#include "store/s3/versions.hpp"

namespace regsweep {

using object::ListingSink;
using object::ScannedKeys;
using object::ScanSink;

namespace {

std::int64_t now_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Whether the directory `d` (relative, ending in '/') is listed whole, or a level at a time
// with a delimiter: blobs/, blobs/sha256/ and the namespaces of repositories/ are walked a
// level at a time, so that each blob prefix and each repository's own directories
// (`_manifests/`, …) are listings of their own, in parallel; everything else is listed whole.
bool listed_whole(std::string_view d) {
  if (d == "blobs/" || d == "blobs/sha256/" || d == "repositories/") {
    return false;
  }
  if (d.rfind("repositories/", 0) == 0) {
    std::string_view name = d.substr(0, d.size() - 1);
    name = name.substr(name.rfind('/') + 1);
    return layout::is_reserved(name);
  }
  return true;
}

class S3Remover final : public Remover {
 public:
  // `deleted`, when given, is told each key deleted.
  S3Remover(S3Client& client, const ScannedKeys& scanned, const std::vector<S3Multipart>& multipart,
            DeletedKeys* deleted)
      : m_client(client), m_scanned(scanned), m_multipart(multipart), m_deleted(deleted) {}

  Status remove_tree(std::string_view path) override {
    return remove_batch({std::string(path)})[0];
  }

  std::vector<Status> remove_batch(const std::vector<std::string>& paths) override {
    // Each path's keys, deleted in requests of up to 1,000 keys.
    std::vector<std::string> keys;
    std::vector<std::size_t> owner;  // the path each key belongs to
    std::vector<Status> out(paths.size(), ok_status());
    for (std::size_t i = 0; i < paths.size(); ++i) {
      if (Status s = keys_of(paths[i], i, keys, owner); !s) {
        out[i] = s.error();
      }
    }
    abort_multipart(paths, out);
    std::vector<std::string> chunk;
    for (std::size_t at = 0; at < keys.size(); at += k_delete_batch) {
      std::size_t end = std::min(keys.size(), at + k_delete_batch);
      chunk.assign(keys.begin() + static_cast<std::ptrdiff_t>(at),
                   keys.begin() + static_cast<std::ptrdiff_t>(end));
      auto failed = m_client.delete_objects(chunk);
      if (!failed) {
        for (std::size_t k = at; k < end; ++k) {
          if (out[owner[k]]) {
            out[owner[k]] = failed.error();
          }
        }
        continue;
      }
      if (m_deleted != nullptr) {
        m_deleted->add(chunk, *failed);
      }
      for (const S3DeleteFailure& f : *failed) {
        auto pos = std::find(chunk.begin(), chunk.end(), f.key);
        if (pos == chunk.end()) {
          continue;
        }
        std::size_t k = at + static_cast<std::size_t>(pos - chunk.begin());
        if (out[owner[k]]) {
          out[owner[k]] = Error{"cannot delete 's3://" + m_client.settings().bucket + "/" + f.key +
                                    "': " + f.code + (f.message.empty() ? "" : ": " + f.message),
                                EIO};
        }
      }
    }
    return out;
  }

  // A blob's or a link's directory holds one key, the layout's: the scan planned its removal
  // only if it held that key and no other. Anything else (a repository, an upload, a tag) is
  // listed now, and of its keys only those the scan listed, unchanged, are deleted: one
  // written since is left, and the path reported, as a file written into a directory being
  // removed makes the removal fail on disk.
  Status keys_of(const std::string& path, std::size_t owner_index, std::vector<std::string>& keys,
                 std::vector<std::size_t>& owner) {
    if (auto only = layout::single_key_of(path)) {
      keys.push_back(m_client.settings().key(*only));
      owner.push_back(owner_index);
      return ok_status();
    }
    std::size_t strip = m_client.settings().v2_prefix().size();
    std::string left;
    Status listed = m_client.list(m_client.settings().key(path) + "/", "", [&](S3Page& page) {
      for (S3Object& o : page.objects) {
        if (!m_scanned.listed(StoreObject{o.key.substr(strip), o.size, o.mtime_ns})) {
          left = o.key;
          continue;
        }
        keys.push_back(std::move(o.key));
        owner.push_back(owner_index);
      }
    });
    if (!listed || left.empty()) {
      return listed;
    }
    return Error{"'s3://" + m_client.settings().bucket + "/" + left +
                     "' was written after the scan; it is left, and '" + path + "' with it",
                 EEXIST};
  }

  Status move_aside(std::string_view path, std::string_view /*to*/) override {
    return Error{"cannot move '" + std::string(path) +
                     "' aside: moving blobs to lost+found is not done on object storage",
                 ENOTSUP};
  }

  // Multipart uploads below the paths (an upload's `data` being written) are aborted.
  void abort_multipart(const std::vector<std::string>& paths, std::vector<Status>& out) {
    for (std::size_t i = 0; i < paths.size(); ++i) {
      std::string dir = paths[i] + "/";
      for (const S3Multipart& m : m_multipart) {
        if (m.key.compare(0, dir.size(), dir) != 0) {
          continue;
        }
        S3Multipart full = m;
        full.key = m_client.settings().key(m.key);
        if (Status s = m_client.abort_multipart(full); !s && out[i]) {
          out[i] = s.error();
        }
      }
    }
  }

  // An object store has no directories: nothing is left to remove.
  Result<bool> remove_if_empty(std::string_view /*path*/) override { return false; }
  Status sync_dir(std::string_view /*path*/) override { return ok_status(); }

 private:
  S3Client& m_client;
  const ScannedKeys& m_scanned;
  const std::vector<S3Multipart>& m_multipart;
  DeletedKeys* m_deleted;
};

}  // namespace

class S3Store final : public Store {
 public:
  explicit S3Store(S3Settings settings, S3ClientOptions options)
      : m_client(std::move(settings), options), m_location(m_client.settings().location()) {}

  const std::string& location() const override { return m_location; }

  DeletionEffect deletion_effect() override {
    auto state = m_client.versioning();
    if (!state) {
      return {
          .unknown = true,
          .why = "whether the bucket of '" + m_location +
                 "' keeps deleted objects (versioning) cannot be told: " + state.error().message};
    }
    if (state->empty()) {
      return {};
    }
    return {.keeps = true,
            .why = "the bucket of '" + m_location + "' has versioning " + *state +
                   ": each deleted object leaves a delete marker, and its bytes stay stored "
                   "(and billed) as a noncurrent version until a lifecycle rule expires them"};
  }

  std::optional<std::int64_t> clock_offset() override {
    if (!m_client.clock_offset()) {
      // Any answer carries the server's Date: a read of the lock's key, there or not.
      (void)m_client.get(m_client.settings().key(k_lock_file), 1);
    }
    return m_client.clock_offset();
  }

  Result<Inventory> scan(tbb::task_arena& arena, const ScanOptions& options) override {
    // In the server's time, as the objects' LastModified: "changed during the scan" compares
    // the two.
    std::int64_t started = now_ns() + clock_offset().value_or(0) * 1000000000;
    progress().begin("listing the bucket");
    ObjectReader reader = [this](std::string_view key, std::uint64_t max) {
      return read(key, max);
    };
    ListingInventory building(reader, options);
    m_scanned = std::make_unique<ScannedKeys>();
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
    auto multipart = m_client.list_multipart(m_client.settings().key(layout::k_repositories_dir));
    if (!multipart) {
      return multipart.error();
    }
    Inventory inv = building.finish(arena, started);
    add_multipart(inv, std::move(*multipart));
    sort_findings(inv.findings);
    return inv;
  }

  Status list(std::string_view prefix,
              const std::function<void(const StoreObject&)>& visit) override {
    std::string full =
        prefix.empty() ? m_client.settings().v2_prefix() : m_client.settings().key(prefix) + "/";
    std::size_t strip = m_client.settings().v2_prefix().size();
    return m_client.list(full, "", [&](S3Page& page) {
      for (S3Object& o : page.objects) {
        visit(StoreObject{o.key.substr(strip), o.size, o.mtime_ns});
      }
    });
  }

  Result<std::string> read(std::string_view key, std::uint64_t max) override {
    auto got = m_client.get(m_client.settings().key(key), max);
    if (!got && got.error().sys_errno == ENOENT) {
      return Error{"cannot read '" + std::string(key) + "': no such object", ENOENT};
    }
    return got;
  }

  Status stream(std::string_view key,
                const std::function<void(std::string_view chunk)>& sink) override {
    return m_client.get_stream(m_client.settings().key(key), sink);
  }

  std::unique_ptr<Remover> remover() override {
    return std::make_unique<S3Remover>(m_client, *m_scanned, m_multipart, m_deleted.get());
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
    return purge_noncurrent_versions(m_client, std::move(m_deleted->keys), arena);
  }

  std::unique_ptr<SweepGuard> guard(const Inventory& scanned,
                                    std::vector<std::size_t> watch_tags_of) override;

  Result<std::unique_ptr<RegistryLock>> lock(std::string_view command) override;

  // Lists every object below `sub` ("" for the whole tree; else a directory such as
  // "repositories") in parallel inside `arena`, giving the pages to `sink`; not below
  // `skip` (a directory, ending in '/').
  Status list_tree(tbb::task_arena& arena, std::string_view sub, ListingSink& sink,
                   std::string_view skip = {});

  // What the last scan listed below `repositories/`.
  const ScannedKeys& scanned() const { return *m_scanned; }

 private:
  struct Walk {
    ListingSink& sink;
    std::string_view skip;
    tbb::task_group group;
    std::mutex error_mutex;
    std::optional<Error> error;
  };
  // Lists `prefix` (relative, ending in '/'): flat when `flat`, else one level, recursing.
  void walk(const std::string& prefix, bool flat, Walk& w);

  // Incomplete multipart uploads (a blob upload's `data` being written) join their upload in
  // the inventory, as its newest write. One whose repository has no key (removed, or an upload
  // that never wrote its `startedat`) makes that repository, holding only the upload: its
  // parts are stored and billed, and --purge-uploads purges it like any other.
  void add_multipart(Inventory& inv, std::vector<S3Multipart> uploads) {
    std::size_t strip = m_client.settings().v2_prefix().size();
    for (S3Multipart& m : uploads) {
      if (m.key.size() <= strip) {
        continue;
      }
      std::string rel = m.key.substr(strip);
      std::string repo = layout::repository_of(rel);
      std::string dir = layout::uploads_dir(repo) + "/";
      if (repo.empty() || rel.compare(0, dir.size(), dir) != 0) {
        continue;
      }
      std::string id = rel.substr(dir.size(), rel.find('/', dir.size()) - dir.size());
      auto r =
          std::lower_bound(inv.repositories.begin(), inv.repositories.end(), repo,
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
      m.key = rel;
      m_multipart.push_back(std::move(m));
    }
  }

  S3Client m_client;
  std::string m_location;
  std::unique_ptr<ScannedKeys> m_scanned = std::make_unique<ScannedKeys>();
  std::vector<S3Multipart> m_multipart;    // keys relative to docker/registry/v2
  std::unique_ptr<DeletedKeys> m_deleted;  // when note_deletions() was called
  // A guard lists with as many requests in flight as the scan did.
  tbb::task_arena m_guard_arena{64};
};

void S3Store::walk(const std::string& prefix, bool flat, Walk& w) {
  {
    std::lock_guard lock(w.error_mutex);
    if (w.error) {
      return;
    }
  }
  const std::string base = m_client.settings().v2_prefix();
  std::vector<std::string> deeper;
  std::unique_ptr<ListingSink::Unit> unit = w.sink.open();
  std::vector<StoreObject> objects;
  std::vector<std::string> prefixes;
  Status s = m_client.list(base + prefix, flat ? "" : "/", [&](S3Page& page) {
    objects.clear();
    prefixes.clear();
    for (S3Object& o : page.objects) {
      o.key.erase(0, base.size());
      objects.push_back(StoreObject{std::move(o.key), o.size, o.mtime_ns});
    }
    for (std::string& p : page.prefixes) {
      prefixes.push_back(p.substr(base.size()));
    }
    unit->page(objects, prefixes);
    deeper.insert(deeper.end(), prefixes.begin(), prefixes.end());
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
    bool whole = listed_whole(d);
    w.group.run([this, d, whole, &w] { walk(d, whole, w); });
  }
}

Status S3Store::list_tree(tbb::task_arena& arena, std::string_view sub, ListingSink& sink,
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

// The listing of `repositories/` covers the tags' current links: nothing more to watch.
std::unique_ptr<SweepGuard> S3Store::guard(const Inventory& /*scanned*/,
                                           std::vector<std::size_t> /*watch_tags_of*/) {
  return object::make_relisting_guard(
      *m_scanned,
      [this](ListingSink& sink) {
        return list_tree(m_guard_arena, layout::k_repositories_dir, sink);
      },
      "the bucket");
}

Result<std::unique_ptr<RegistryLock>> S3Store::lock(std::string_view command) {
  std::string key = m_client.settings().key(k_lock_file);
  object::LockObject lock;
  lock.shown = "s3://" + m_client.settings().bucket + "/" + key;
  lock.time = [this, key]() -> Result<std::optional<std::int64_t>> {
    std::optional<std::int64_t> held_since;
    Status listed = m_client.list(key, "", [&](S3Page& page) {
      for (const S3Object& o : page.objects) {
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
  lock.get = [this, key](std::uint64_t max) { return m_client.get(key, max); };
  lock.put = [this, key](std::string_view body) { return m_client.put(key, body); };
  lock.remove = [this, key] { return m_client.delete_object(key); };
  return object::take_lock(std::move(lock), command);
}

std::unique_ptr<Store> make_s3_store(S3Settings settings, S3ClientOptions options) {
  return std::make_unique<S3Store>(std::move(settings), options);
}

}  // namespace regsweep
