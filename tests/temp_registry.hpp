#pragma once

// TempRegistry: writes real registry trees in a temporary directory, in the exact on-disk
// format, for tests. Removed on destruction.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "regsweep/digest.hpp"

namespace regsweep::test {

struct FileState {
  char type;  // 'f' file, 'd' directory, 'l' symlink
  std::uint64_t size;
  std::int64_t mtime_ns;
  std::string content_sha;  // files only
  bool operator==(const FileState&) const = default;
};

class TempRegistry {
 public:
  TempRegistry();
  ~TempRegistry();
  TempRegistry(const TempRegistry&) = delete;
  TempRegistry& operator=(const TempRegistry&) = delete;

  const std::string& root() const { return m_root; }
  std::string v2() const { return m_root + "/docker/registry/v2"; }

  // Stores bytes as a blob; returns its digest.
  Digest put_blob(const std::string& bytes);
  // Stores a layer blob of `size` pseudo-random bytes derived from `seed`, linked in `repo`.
  Digest put_layer(const std::string& repo, const std::string& seed, std::size_t size = 64);
  // Stores a manifest blob and its revision link in `repo`.
  Digest put_manifest(const std::string& repo, const std::string& json);
  // A Docker schema2 image: config + layers (all linked in `repo`); returns the manifest.
  Digest put_image(const std::string& repo, const std::vector<Digest>& layers,
                   const std::string& config_seed = "config");
  // The config blob of the last put_image.
  Digest last_config() const { return m_last_config; }
  // An OCI index over children; optional subject.
  Digest put_index(const std::string& repo, const std::vector<Digest>& children,
                   const std::string& media_type = "application/vnd.oci.image.index.v1+json");
  // An OCI artifact attached to `subject` (signature-like), with the empty config.
  Digest put_referrer(const std::string& repo, const Digest& subject, const std::string& seed);

  void link_layer(const std::string& repo, const Digest& d);
  void link_revision(const std::string& repo, const Digest& d);
  // Points tag's current link at d and adds d to its history.
  void tag(const std::string& repo, const std::string& tag, const Digest& d);
  // What the API's DELETE /v2/<repo>/manifests/<digest> does: the revision link and every tag
  // whose current link names it.
  void api_delete(const std::string& repo, const Digest& d);

  // An upload in progress: `_uploads/<id>/{data,startedat}`; no startedat when empty.
  void start_upload(const std::string& repo, const std::string& id, const std::string& startedat,
                    const std::string& data = "partial");
  // Sets the modification time of `rel` (and, for a directory, of everything below it) to
  // `seconds` ago.
  void backdate(const std::string& rel, std::int64_t seconds);

  // Raw access, paths relative to docker/registry/v2.
  void write(const std::string& rel, const std::string& content);
  void mkdir(const std::string& rel);
  void symlink(const std::string& target, const std::string& rel);
  void remove(const std::string& rel);
  bool exists(const std::string& rel) const;

  bool has_blob(const Digest& d) const;
  // Every file, directory and link below the root with size, mtime and content hash.
  std::map<std::string, FileState> snapshot() const;

 private:
  std::string m_root;
  Digest m_last_config;
};

std::string layer_bytes(const std::string& seed, std::size_t size);

// Real-permission tests: what a file made unreadable with chmod does to a run. As any user
// but root, the run is refused it already; as root (which reads everything), the run is
// started as uid 65534 with setpriv (util-linux), the tree chowned to it. True when one of
// the two can be done: a test that cannot fails rather than skips.
bool can_run_unprivileged();
// The prefix of a command line that runs it unprivileged ("" when the test is not root),
// after making `tree_root` the unprivileged user's when it is.
std::string unprivileged(const std::string& tree_root);

}  // namespace regsweep::test

#include "regsweep/collect.hpp"
#include "regsweep/open.hpp"
#include "regsweep/run.hpp"
#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep::test {

// Options as the CLI sets them by default (now = the current time).
GcOptions options(bool delete_untagged = false);

// Plans a gc of the registry (as `regsweep gc --dry-run`).
Collection plan(const TempRegistry& reg, bool delete_untagged = false, int jobs = 2);
Collection plan(const TempRegistry& reg, const GcOptions& options, int jobs = 2);

// Plans and sweeps (as `regsweep gc`); returns the plan with the sweep's outcome.
struct GcRun {
  Collection collection;
  SweepResult sweep;
};
GcRun collect(const TempRegistry& reg, bool delete_untagged = false, int jobs = 2);
GcRun collect(const TempRegistry& reg, const GcOptions& options, int jobs = 2);

// Digests the plan deletes, by kind.
std::vector<Digest> planned(const Collection& c, ActionKind kind);

// Whether the plan deletes the blob `d`.
bool deletes_blob(const Collection& c, const Digest& d);

// A run of the library (run.hpp) over `store`: no probe, no notices, no pauses.
RunContext run_context(Store& store, tbb::task_arena& arena, DryRun dry_run = DryRun::no);

// The filesystem store of the registry, with the v2 directory it holds open.
struct OpenedStore {
  fs::Fd v2;
  std::unique_ptr<Store> store;
};
OpenedStore open_store(const TempRegistry& reg);

// Whether `findings` has one of `kind` whose path contains `path_part`.
bool has_finding(const std::vector<Finding>& findings, FindingKind kind,
                 const std::string& path_part);

// A store that does what `inner` does: a test derives from it and overrides what goes
// wrong (a read that fails, a tree that changes when the remover is made).
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> inner)
      : Store(inner->location()), m_inner(std::move(inner)) {}
  Result<Inventory> scan(tbb::task_arena& arena, const ScanOptions& options) override {
    return m_inner->scan(arena, options);
  }
  LazyLooks* lazy_looks() override { return m_inner->lazy_looks(); }
  Status list(std::string_view p, ListDepth depth,
              const std::function<void(const ListPage&)>& page) override {
    return m_inner->list(p, depth, page);
  }
  Result<StoreObject> stat(std::string_view key) override { return m_inner->stat(key); }
  Result<std::string> read(std::string_view key, std::uint64_t max) override {
    return m_inner->read(key, max);
  }
  Status stream(std::string_view key, const std::function<void(std::string_view)>& s) override {
    return m_inner->stream(key, s);
  }
  std::unique_ptr<Remover> remover() override { return m_inner->remover(); }
  std::unique_ptr<SweepGuard> guard(const Inventory& scanned,
                                    std::vector<std::size_t> watch) override {
    return m_inner->guard(scanned, std::move(watch));
  }
  Result<std::unique_ptr<RegistryLock>> lock(std::string_view command) override {
    return m_inner->lock(command);
  }

 private:
  std::unique_ptr<Store> m_inner;
};

}  // namespace regsweep::test
