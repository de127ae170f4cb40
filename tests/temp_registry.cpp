#include "temp_registry.hpp"

#include "store/fs/lock.hpp"
#include "store/fs/remover.hpp"
#include "store/fs/revalidate.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include <oneapi/tbb/global_control.h>

#include "regsweep/layout.hpp"

namespace bfs = boost::filesystem;

namespace regsweep::test {

std::string layer_bytes(const std::string& seed, std::size_t size) {
  std::string out;
  Digest d = sha256_of(seed);
  while (out.size() < size) {
    out.append(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size());
    d = sha256_of(std::string(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size()));
  }
  out.resize(size);
  return out;
}

TempRegistry::TempRegistry() {
  std::string tmpl = (bfs::temp_directory_path() / "regsweep-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_root = tmpl;
  bfs::create_directories(v2());
}

TempRegistry::~TempRegistry() {
  boost::system::error_code ec;
  // Make everything writable again (tests remove permissions), then remove.
  for (bfs::recursive_directory_iterator it(m_root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!bfs::is_symlink(it->symlink_status())) {
      ::chmod(it->path().c_str(), 0755);
    }
  }
  bfs::remove_all(m_root, ec);
}

void TempRegistry::write(const std::string& rel, const std::string& content) {
  bfs::path p = bfs::path(v2()) / rel;
  bfs::create_directories(p.parent_path());
  std::ofstream out(p.string(), std::ios::binary | std::ios::trunc);
  out << content;
}

void TempRegistry::mkdir(const std::string& rel) {
  bfs::create_directories(bfs::path(v2()) / rel);
}

void TempRegistry::symlink(const std::string& target, const std::string& rel) {
  bfs::path p = bfs::path(v2()) / rel;
  bfs::create_directories(p.parent_path());
  bfs::create_symlink(target, p);
}

void TempRegistry::remove(const std::string& rel) {
  bfs::remove_all(bfs::path(v2()) / rel);
}

bool TempRegistry::exists(const std::string& rel) const {
  boost::system::error_code ec;
  return bfs::exists(bfs::symlink_status(bfs::path(v2()) / rel, ec));
}

Digest TempRegistry::put_blob(const std::string& bytes) {
  Digest d = sha256_of(bytes);
  write(layout::blob_data(d), bytes);
  return d;
}

Digest TempRegistry::put_layer(const std::string& repo, const std::string& seed, std::size_t size) {
  Digest d = put_blob(layer_bytes(seed, size));
  link_layer(repo, d);
  return d;
}

Digest TempRegistry::put_manifest(const std::string& repo, const std::string& json) {
  Digest d = put_blob(json);
  link_revision(repo, d);
  return d;
}

Digest TempRegistry::put_image(const std::string& repo, const std::vector<Digest>& layers,
                               const std::string& config_seed) {
  std::string config = R"({"architecture":"amd64","os":"linux","seed":")" + config_seed + "\"}";
  Digest c = put_blob(config);
  m_last_config = c;
  link_layer(repo, c);
  std::string json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
      R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":)" +
      std::to_string(config.size()) + R"(,"digest":")" + c.str() + R"("},"layers":[)";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    json += (i == 0 ? "" : ",");
    json +=
        R"({"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":64,"digest":")" +
        layers[i].str() + "\"}";
  }
  json += "]}";
  return put_manifest(repo, json);
}

Digest TempRegistry::put_index(const std::string& repo, const std::vector<Digest>& children,
                               const std::string& media_type) {
  std::string json = R"({"schemaVersion":2,"mediaType":")" + media_type + R"(","manifests":[)";
  for (std::size_t i = 0; i < children.size(); ++i) {
    json += (i == 0 ? "" : ",");
    json +=
        R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":100,"digest":")" +
        children[i].str() + R"(","platform":{"architecture":"arch)" + std::to_string(i) +
        R"(","os":"linux"}})";
  }
  json += "]}";
  return put_manifest(repo, json);
}

Digest TempRegistry::put_referrer(const std::string& repo, const Digest& subject,
                                  const std::string& seed) {
  Digest empty = put_blob("{}");
  link_layer(repo, empty);
  Digest payload = put_layer(repo, seed, 32);
  std::string json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("artifactType":"application/vnd.example.signature.v1",)"
      R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":")" +
      empty.str() + R"("},"layers":[{"mediaType":"application/octet-stream","size":32,"digest":")" +
      payload.str() +
      R"("}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("size":100,"digest":")" +
      subject.str() + "\"}}";
  return put_manifest(repo, json);
}

void TempRegistry::link_layer(const std::string& repo, const Digest& d) {
  write(layout::layer_link(repo, d), d.str());
}

void TempRegistry::link_revision(const std::string& repo, const Digest& d) {
  write(layout::revision_link(repo, d), d.str());
}

void TempRegistry::tag(const std::string& repo, const std::string& tag, const Digest& d) {
  write(layout::tag_current_link(repo, tag), d.str());
  write(layout::tag_index_entry_link(repo, tag, d), d.str());
}

void TempRegistry::api_delete(const std::string& repo, const Digest& d) {
  // As registry 2.8 does: the link file goes, its directory stays.
  remove(layout::revision_link(repo, d));
  bfs::path tags = bfs::path(v2()) / layout::tags_dir(repo);
  boost::system::error_code ec;
  std::vector<bfs::path> doomed;
  for (bfs::directory_iterator it(tags, ec), end; !ec && it != end; it.increment(ec)) {
    std::ifstream in((it->path() / "current" / "link").string());
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content == d.str()) {
      doomed.push_back(it->path());
    }
  }
  for (const auto& p : doomed) {
    bfs::remove_all(p);
  }
}

void TempRegistry::start_upload(const std::string& repo, const std::string& id,
                                const std::string& startedat, const std::string& data) {
  write(layout::join(layout::upload_dir(repo, id), "data"), data);
  if (!startedat.empty()) {
    write(layout::join(layout::upload_dir(repo, id), "startedat"), startedat);
  }
}

void TempRegistry::backdate(const std::string& rel, std::int64_t seconds) {
  struct timespec times[2];
  times[0].tv_sec = std::time(nullptr) - seconds;
  times[0].tv_nsec = 0;
  times[1] = times[0];
  bfs::path p = bfs::path(v2()) / rel;
  boost::system::error_code ec;
  if (bfs::is_directory(bfs::symlink_status(p, ec))) {
    for (bfs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
      ::utimensat(AT_FDCWD, it->path().c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
  }
  ::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

bool TempRegistry::has_blob(const Digest& d) const {
  return exists(layout::blob_data(d));
}

std::map<std::string, FileState> TempRegistry::snapshot() const {
  std::map<std::string, FileState> out;
  boost::system::error_code ec;
  for (bfs::recursive_directory_iterator it(m_root, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    FileState s{};
    s.size = static_cast<std::uint64_t>(st.st_size);
    s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (S_ISLNK(st.st_mode)) {
      s.type = 'l';
    } else if (S_ISDIR(st.st_mode)) {
      s.type = 'd';
    } else {
      s.type = 'f';
      std::ifstream in(it->path().string(), std::ios::binary);
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      s.content_sha = sha256_of(content).hex();
    }
    out[it->path().string().substr(m_root.size())] = s;
  }
  return out;
}

}  // namespace regsweep::test

namespace regsweep::test {

namespace {

// Plans as `regsweep gc` would, and sweeps when `do_sweep`.
GcRun collect_impl(const TempRegistry& reg, const GcOptions& options, int jobs, bool do_sweep) {
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                  static_cast<std::size_t>(jobs));
  auto v2 = open_registry(reg.root());
  if (!v2) {
    throw std::runtime_error(v2.error().message);
  }
  tbb::task_arena arena(jobs);
  auto store = make_fs_store(v2->get());
  auto c = plan_gc(*store, options, arena);
  if (!c) {
    throw std::runtime_error(c.error().message);
  }
  SweepResult s;
  if (do_sweep) {
    auto remover = store->remover();
    auto guard =
        store->guard(c->inventory, tags_to_watch(*c, options.delete_untagged));  // as the CLI does
    s = sweep(c->plan, *remover, arena, guard.get());
  }
  return GcRun{std::move(*c), std::move(s)};
}

}  // namespace

bool can_run_unprivileged() {
  return ::geteuid() != 0 || std::system("command -v setpriv >/dev/null 2>&1") == 0;
}

std::string unprivileged(const std::string& tree_root) {
  if (::geteuid() != 0) {
    return "";
  }
  std::string chown = "chown -R 65534:65534 '" + tree_root + "'";
  if (std::system(chown.c_str()) != 0) {
    std::fprintf(stderr, "cannot chown '%s'\n", tree_root.c_str());
    std::abort();
  }
  return "setpriv --reuid=65534 --regid=65534 --clear-groups ";
}

GcOptions options(bool delete_untagged) {
  GcOptions o;
  // No grace period (the default): trees written by tests are all young; the grace period
  // has its own tests.
  o.delete_untagged = delete_untagged;
  o.plan.now = static_cast<std::int64_t>(std::time(nullptr));
  return o;
}

Collection plan(const TempRegistry& reg, bool delete_untagged, int jobs) {
  return plan(reg, options(delete_untagged), jobs);
}

Collection plan(const TempRegistry& reg, const GcOptions& options, int jobs) {
  return collect_impl(reg, options, jobs, false).collection;
}

GcRun collect(const TempRegistry& reg, bool delete_untagged, int jobs) {
  return collect(reg, options(delete_untagged), jobs);
}

GcRun collect(const TempRegistry& reg, const GcOptions& options, int jobs) {
  return collect_impl(reg, options, jobs, true);
}

std::vector<Digest> planned(const Collection& c, ActionKind kind) {
  std::vector<Digest> out;
  for (const Action& a : c.plan.actions) {
    if (a.kind == kind) {
      out.push_back(a.digest);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool deletes_blob(const Collection& c, const Digest& d) {
  auto v = planned(c, ActionKind::blob);
  return std::binary_search(v.begin(), v.end(), d);
}

bool has_finding(const std::vector<Finding>& findings, FindingKind kind,
                 const std::string& path_part) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
    return f.kind == kind && f.path.find(path_part) != std::string::npos;
  });
}

RunContext run_context(Store& store, tbb::task_arena& arena, DryRun dry_run) {
  return RunContext{.store = store,
                    .arena = arena,
                    .dry_run = dry_run,
                    .policy = {},
                    .serve = std::nullopt,
                    .config_path = {},
                    .notify = {},
                    .before_step = {},
                    .cache = {}};
}

OpenedStore open_store(const TempRegistry& reg) {
  auto v2 = open_registry(reg.root());
  if (!v2) {
    throw std::runtime_error("cannot open " + reg.root() + ": " + v2.error().message);
  }
  auto store = make_fs_store(v2->get(), reg.root());
  return OpenedStore{std::move(*v2), std::move(store)};
}

}  // namespace regsweep::test
