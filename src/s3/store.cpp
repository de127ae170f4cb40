// The object store: the registry's s3 driver's tree in a bucket (s3_store.hpp).
//
// Scan: one listing of the tree, split so that many requests are in flight: each of the 256
// `blobs/sha256/<xx>/` prefixes is listed on its own, and `repositories/` is walked with a
// delimiter, level by level, down to each repository's `_manifests/`, `_layers/` and
// `_uploads/`, which are listed whole. The inventory is built from the keys
// (listing_scan.hpp). The listing is kept: the remover takes from it the keys below each
// path it removes, and the guard compares a new listing of `repositories/` with it.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>

#include "regsweep/collect.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/listing_scan.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/s3_store.hpp"
#include "regsweep/sweep.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

namespace {

constexpr std::size_t k_delete_batch = 1000;  // DeleteObjects' limit
constexpr std::int64_t k_lock_stale_s = 300;  // a lock not renewed for this long is abandoned
constexpr int k_lock_renew_s = 30;

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

// The keys of a listing, sorted, and the objects they name.
class Snapshot {
 public:
  Snapshot() = default;
  explicit Snapshot(std::vector<StoreObject> objects) : m_objects(std::move(objects)) {
    std::sort(m_objects.begin(), m_objects.end(),
              [](const StoreObject& a, const StoreObject& b) { return a.key < b.key; });
  }
  // The keys at `path` or below `path/`.
  std::vector<std::string> below(std::string_view path) const {
    std::vector<std::string> out;
    std::string dir = std::string(path) + "/";
    auto it = std::lower_bound(m_objects.begin(), m_objects.end(), path,
                               [](const StoreObject& o, std::string_view k) { return o.key < k; });
    for (; it != m_objects.end(); ++it) {
      if (it->key == path || it->key.compare(0, dir.size(), dir) == 0) {
        out.push_back(it->key);
      } else if (it->key.compare(0, path.size(), path) != 0) {
        break;  // past every key that starts with `path`
      }
    }
    return out;
  }
  const StoreObject* find(std::string_view key) const {
    auto it = std::lower_bound(m_objects.begin(), m_objects.end(), key,
                               [](const StoreObject& o, std::string_view k) { return o.key < k; });
    return it != m_objects.end() && it->key == key ? &*it : nullptr;
  }
  const std::vector<StoreObject>& objects() const { return m_objects; }

 private:
  std::vector<StoreObject> m_objects;
};

class S3Remover final : public Remover {
 public:
  S3Remover(S3Client& client, const Snapshot& snapshot, const std::vector<S3Multipart>& multipart)
      : m_client(client), m_snapshot(snapshot), m_multipart(multipart) {}

  Status remove_tree(std::string_view path) override {
    return remove_batch({std::string(path)})[0];
  }

  std::vector<Status> remove_batch(const std::vector<std::string>& paths) override {
    // Each path's keys, from the scan's listing; deleted in requests of up to 1,000 keys.
    std::vector<std::string> keys;
    std::vector<std::size_t> owner;  // the path each key belongs to
    for (std::size_t i = 0; i < paths.size(); ++i) {
      for (std::string& k : m_snapshot.below(paths[i])) {
        keys.push_back(m_client.settings().key(k));
        owner.push_back(i);
      }
    }
    std::vector<Status> out(paths.size(), ok_status());
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
  const Snapshot& m_snapshot;
  const std::vector<S3Multipart>& m_multipart;
};

}  // namespace

class S3Store final : public Store {
 public:
  explicit S3Store(S3Settings settings, S3ClientOptions options)
      : m_client(std::move(settings), options), m_location(m_client.settings().location()) {}

  const std::string& location() const override { return m_location; }

  Result<Inventory> scan(tbb::task_arena& arena, const ScanOptions& options) override {
    std::int64_t started = now_ns();
    progress().begin("listing the bucket");
    auto objects = list_tree(arena, "");
    if (!objects) {
      return objects.error();
    }
    m_snapshot = Snapshot(std::move(*objects));
    auto multipart = m_client.list_multipart(m_client.settings().key(layout::k_repositories_dir));
    if (!multipart) {
      return multipart.error();
    }
    ObjectReader reader = [this](std::string_view key, std::uint64_t max) {
      return read(key, max);
    };
    Inventory inv = inventory_from_listing(m_snapshot.objects(), reader, arena, options, started);
    add_multipart(inv, std::move(*multipart));
    return inv;
  }

  // The listing scan leaves no layer link unverified (listing_scan.hpp): nothing to read.
  Verified verify_layer_links(
      Inventory& /*inventory*/, tbb::task_arena& /*arena*/,
      const std::function<bool(std::size_t, const Link&)>& /*wanted*/) override {
    return {};
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
    return std::make_unique<S3Remover>(m_client, m_snapshot, m_multipart);
  }

  std::unique_ptr<SweepGuard> guard(const Collection& collection, bool delete_untagged) override;

  Result<std::unique_ptr<RegistryLock>> lock(std::string_view command) override;

  // Every object below `sub` ("" for the whole tree; else a directory such as
  // "repositories"), keys relative to docker/registry/v2, listed in parallel inside `arena`.
  Result<std::vector<StoreObject>> list_tree(tbb::task_arena& arena, std::string_view sub);

  S3Client& client() { return m_client; }
  const Snapshot& snapshot() const { return m_snapshot; }

 private:
  // Lists `prefix` (relative, ending in '/'): flat when `flat`, else one level, recursing.
  void walk(const std::string& prefix, bool flat, tbb::task_group& group,
            tbb::enumerable_thread_specific<std::vector<StoreObject>>& out, std::mutex& error_mutex,
            std::optional<Error>& error);

  // Incomplete multipart uploads (a blob upload's `data` being written) join their upload in
  // the inventory, as its newest write; one whose repository has no keys is left alone.
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
        continue;
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
  Snapshot m_snapshot;
  std::vector<S3Multipart> m_multipart;  // keys relative to docker/registry/v2
};

void S3Store::walk(const std::string& prefix, bool flat, tbb::task_group& group,
                   tbb::enumerable_thread_specific<std::vector<StoreObject>>& out,
                   std::mutex& error_mutex, std::optional<Error>& error) {
  {
    std::lock_guard lock(error_mutex);
    if (error) {
      return;
    }
  }
  const std::string base = m_client.settings().v2_prefix();
  std::vector<std::string> deeper;
  Status s = m_client.list(base + prefix, flat ? "" : "/", [&](S3Page& page) {
    auto& mine = out.local();
    for (S3Object& o : page.objects) {
      mine.push_back(StoreObject{o.key.substr(base.size()), o.size, o.mtime_ns});
    }
    for (std::string& p : page.prefixes) {
      deeper.push_back(p.substr(base.size()));
    }
    progress().advance(page.objects.size());
  });
  if (!s) {
    std::lock_guard lock(error_mutex);
    if (!error) {
      error = s.error();
    }
    return;
  }
  for (std::string& d : deeper) {
    bool whole = listed_whole(d);
    group.run([this, d, whole, &group, &out, &error_mutex, &error] {
      walk(d, whole, group, out, error_mutex, error);
    });
  }
}

Result<std::vector<StoreObject>> S3Store::list_tree(tbb::task_arena& arena, std::string_view sub) {
  tbb::enumerable_thread_specific<std::vector<StoreObject>> out;
  std::mutex error_mutex;
  std::optional<Error> error;
  arena.execute([&] {
    tbb::task_group group;
    std::string start = sub.empty() ? "" : std::string(sub) + "/";
    group.run([&] { walk(start, false, group, out, error_mutex, error); });
    group.wait();
  });
  if (error) {
    return *error;
  }
  std::vector<StoreObject> all;
  for (auto& v : out) {
    all.insert(all.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
  }
  return all;
}

namespace {

// Rule 3 on object storage: before each phase, `repositories/` is listed again and compared
// with the scan's listing. A key that appeared, or whose size or time changed, is a change in
// its repository: nothing more is deleted there, and no blob at all. A key that is gone
// (the sweep's own deletes, an API delete) only takes away references.
class S3Guard final : public SweepGuard {
 public:
  S3Guard(S3Store& store, tbb::task_arena& arena) : m_store(store), m_arena(arena) {}

  void before_phase(ActionKind /*next*/, const Plan& plan, const std::vector<std::uint8_t>& done,
                    std::vector<std::uint8_t>& skip) override {
    auto now = m_store.list_tree(m_arena, layout::k_repositories_dir);
    if (!now) {
      m_changes.record_unknown(std::string(layout::k_repositories_dir),
                               "cannot be listed again (" + now.error().message + ")");
    } else {
      for (const StoreObject& o : *now) {
        const StoreObject* was = m_store.snapshot().find(o.key);
        if (was == nullptr) {
          m_changes.record(o.key, layout::repository_of(o.key), "appeared");
        } else if (was->mtime_ns != o.mtime_ns || was->size != o.size) {
          m_changes.record(o.key, layout::repository_of(o.key), "was rewritten");
        }
      }
    }
    m_changes.skip_dependents(plan, done, skip);
  }

  std::vector<Finding> take_findings() override { return m_changes.take_findings(); }

 private:
  S3Store& m_store;
  tbb::task_arena& m_arena;
  ChangesSinceScan m_changes{"the bucket"};
};

// The run lock on object storage: the object `regsweep.lock`, renewed every 30 s while held and
// deleted on release. S3 has no atomic create-if-absent: a lock is taken by writing it and
// reading it back after a pause, so that of two runs starting together the later writer
// wins and the other sees it has lost. A lock not renewed for 5 minutes is a killed run's.
class ObjectLock final : public RegistryLock {
 public:
  ObjectLock(S3Client& client, std::string key, std::string body, std::string previous)
      : RegistryLock(std::move(previous)),
        m_client(client),
        m_key(std::move(key)),
        m_body(std::move(body)),
        m_renew([this] { renew(); }) {}
  ~ObjectLock() override {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_all();
    m_renew.join();
    (void)m_client.delete_object(m_key);
  }
  ObjectLock(const ObjectLock&) = delete;
  ObjectLock& operator=(const ObjectLock&) = delete;

 private:
  void renew() {
    std::unique_lock lock(m_mutex);
    while (
        !m_wake.wait_for(lock, std::chrono::seconds(k_lock_renew_s), [this] { return m_stop; })) {
      (void)m_client.put(m_key, m_body);
    }
  }

  S3Client& m_client;
  std::string m_key;
  std::string m_body;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_renew;
};

std::string lock_body(std::string_view command) {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return "pid " + std::to_string(::getpid()) + " on " + host + ", started " +
         format_rfc3339(now_ns() / 1000000000) + ": " + std::string(command) + "\n";
}

// True when the lock's holder ran on this host and its process is gone: killed, it could not
// delete the lock, and nobody renews it.
bool holder_gone(const std::string& holder) {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  unsigned long pid = 0;
  char on[256] = {0};
  if (std::sscanf(holder.c_str(), "pid %lu on %255[^,],", &pid, on) != 2 || pid == 0) {
    return false;
  }
  return std::string(on) == host && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

std::unique_ptr<SweepGuard> S3Store::guard(const Collection& /*collection*/,
                                           bool /*delete_untagged*/) {
  // A guard lists with as many requests in flight as the scan did.
  static tbb::task_arena arena(64);
  return std::make_unique<S3Guard>(*this, arena);
}

Result<std::unique_ptr<RegistryLock>> S3Store::lock(std::string_view command) {
  std::string key = m_client.settings().key(k_lock_file);
  std::string previous;
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
  if (held_since) {
    auto body = m_client.get(key, 4096);
    std::string holder = body ? *body : std::string("an unreadable lock");
    while (!holder.empty() && holder.back() == '\n') {
      holder.pop_back();
    }
    std::int64_t age = (now_ns() - *held_since) / 1000000000;
    if (age < k_lock_stale_s && !holder_gone(holder)) {
      return Error{"another run holds the lock 's3://" + m_client.settings().bucket + "/" + key +
                       "' (" + holder + ", renewed " +
                       std::to_string(std::max<std::int64_t>(age, 0)) +
                       " s ago); wait for it, or delete the lock if no run is going on",
                   EAGAIN};
    }
    previous = holder;
  }
  std::string body = lock_body(command);
  if (Status s = m_client.put(key, body); !s) {
    return s.error();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto back = m_client.get(key, 4096);
  if (!back || *back != body) {
    return Error{"another run took the lock 's3://" + m_client.settings().bucket + "/" + key +
                     "' at the same time" + (back ? " (" + *back + ")" : std::string()),
                 EAGAIN};
  }
  return std::unique_ptr<RegistryLock>(
      std::make_unique<ObjectLock>(m_client, key, std::move(body), std::move(previous)));
}

std::unique_ptr<Store> make_s3_store(S3Settings settings, S3ClientOptions options) {
  return std::make_unique<S3Store>(std::move(settings), options);
}

Result<std::vector<StoreObject>> list_s3_tree(Store& store, tbb::task_arena& arena) {
  auto* s3 = dynamic_cast<S3Store*>(&store);
  if (s3 == nullptr) {
    return Error{"not an object store", EINVAL};
  }
  return s3->list_tree(arena, "");
}

S3Counters s3_counters(Store& store) {
  auto* s3 = dynamic_cast<S3Store*>(&store);
  return s3 != nullptr ? s3->client().counters() : S3Counters{};
}

}  // namespace regsweep
