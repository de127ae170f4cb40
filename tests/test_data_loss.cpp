// The data-loss holes found under adversarial testing, one table a rule (docs/safety.md): each
// case damages a tree, runs the real command line (gc and gc -m, as cron would), and checks
// the exit code, that the finding names the full path, and that everything the image under
// test needs to be pulled still exists.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <oneapi/tbb/task_arena.h>
#include <boost/filesystem.hpp>

#include "regsweep/layout.hpp"
#include "regsweep/probe.hpp"
#include "store/fs/lock.hpp"
#include "store/fs/remover.hpp"
#include "store/fs/revalidate.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

using test::has_finding;

namespace bfs = boost::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A tree with the image under test, "app:v1" (a schema2 manifest, its config and a layer
// of its own), another image and an orphan blob.
struct Tree {
  test::TempRegistry reg;
  Digest layer, config, manifest;
  Digest other_layer, other;
  Digest orphan;
  Tree() {
    layer = reg.put_layer("app", "app layer");
    manifest = reg.put_image("app", {layer}, "app");
    config = reg.last_config();
    reg.tag("app", "v1", manifest);
    other_layer = reg.put_layer("other", "other layer");
    other = reg.put_image("other", {other_layer}, "other");
    reg.tag("other", "v1", other);
    orphan = reg.put_blob("an orphan");
  }
  std::string abs(const std::string& rel) const { return reg.v2() + "/" + rel; }
  // Moves `rel` out of the tree (to <root>/elsewhere/<name>) and leaves a symbolic link to
  // it in its place: the data is still there, behind a link regsweep must not follow.
  void move_behind_link(const std::string& rel, const std::string& name) {
    bfs::create_directories(reg.root() + "/elsewhere");
    std::string target = reg.root() + "/elsewhere/" + name;
    bfs::rename(abs(rel), target);
    bfs::create_symlink(target, abs(rel));
  }
  // What a pull of app:v1 reads (through links, where the damage put one).
  std::vector<std::string> needed() const {
    return {layout::blob_data(manifest),
            layout::blob_data(config),
            layout::blob_data(layer),
            layout::layer_link("app", config),
            layout::layer_link("app", layer),
            layout::revision_link("app", manifest),
            layout::tag_current_link("app", "v1")};
  }
};

struct CliRun {
  int exit_code = -1;
  std::string err;
  std::vector<std::pair<std::string, std::string>> findings;  // kind, message
};

// Runs `regsweep ARGS` with a time limit, with `env` ("NAME=value ...") added to its
// environment; stderr is kept, stdout dropped.
CliRun run_cli(const std::string& args, const std::string& work, bool as_nobody = false,
               const std::string& env = "") {
  std::string err_file = work + "/stderr.txt";
  std::string cmd = "env " + env + " timeout 60 ";
  if (as_nobody) {
    cmd += test::unprivileged(work);
  }
  cmd += std::string("'") + REGSWEEP_BIN + "' " + args + " >/dev/null 2>'" + err_file + "'";
  int status = std::system(cmd.c_str());
  CliRun out;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  out.err = read_text(err_file);
  return out;
}

CliRun run_gc(Tree& t, bool delete_untagged, bool as_nobody = false) {
  std::string report = t.reg.root() + "/report.json";
  std::remove(report.c_str());
  CliRun out = run_cli("gc --root '" + t.reg.root() + "' --min-age 0 -q --json '" + report + "'" +
                           (delete_untagged ? " -m" : ""),
                       t.reg.root(), as_nobody);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.load(report).get(doc) != simdjson::SUCCESS) {
    // A run that could not run (exit 1) writes no report; any other must have written one.
    if (out.exit_code != 1) {
      ADD_FAILURE() << "no JSON report from a run that exited " << out.exit_code;
    }
    return out;
  }
  for (simdjson::dom::element f : doc["findings"]) {
    std::string_view kind;
    std::string_view message;
    if (f["kind"].get(kind) != simdjson::SUCCESS ||
        f["message"].get(message) != simdjson::SUCCESS) {
      ADD_FAILURE() << "a finding without kind or message";
      continue;
    }
    out.findings.emplace_back(std::string(kind), std::string(message));
  }
  return out;
}

// The entries of a snapshot in the registry's tree and behind its links, without the
// reports and logs a run writes beside them.
std::map<std::string, test::FileState> tree_only(std::map<std::string, test::FileState> all) {
  std::erase_if(all, [](const auto& kv) {
    return kv.first.rfind("/docker", 0) != 0 && kv.first.rfind("/elsewhere", 0) != 0;
  });
  return all;
}

// --- Rule 1: what cannot be read is unknown, not absent ----------------------------------

struct UnknownCase {
  std::string name;
  std::function<void(Tree&)> damage;
  std::function<std::string(const Tree&)> named;  // the path the finding must name
  bool as_nobody = false;
  bool destroys_manifest = false;  // the damage itself removed the manifest's data
};

std::vector<UnknownCase> unknown_cases() {
  auto prefix = [](const Tree& t) {
    return layout::blob_prefix_dir(t.manifest.hex().substr(0, 2));
  };
  auto data = [](const Tree& t) { return layout::blob_data(t.manifest); };
  auto blob_dir = [](const Tree& t) { return layout::blob_dir(t.manifest); };
  return {
      {"a blob prefix directory is a symbolic link",
       [prefix](Tree& t) { t.move_behind_link(prefix(t), "prefix"); }, prefix},
      {"a manifest's data is a symbolic link to the real file",
       [data](Tree& t) { t.move_behind_link(data(t), "data"); }, data},
      {"a manifest's blob directory is a symbolic link",
       [blob_dir](Tree& t) { t.move_behind_link(blob_dir(t), "blobdir"); }, blob_dir},
      {"a manifest's data is a directory",
       [data](Tree& t) {
         t.reg.remove(data(t));
         t.reg.mkdir(data(t));
       },
       data},
      {"a manifest's data is a FIFO",
       [data](Tree& t) {
         t.reg.remove(data(t));
         ASSERT_EQ(::mkfifo(t.abs(data(t)).c_str(), 0644), 0);
       },
       data},
      {"a manifest's blob directory is a file",
       [blob_dir](Tree& t) {
         t.reg.remove(blob_dir(t));
         t.reg.write(blob_dir(t), "x");
       },
       blob_dir, false, true},
      {"a blob prefix directory is a file",
       [prefix](Tree& t) {
         t.reg.remove(prefix(t));
         t.reg.write(prefix(t), "x");
       },
       prefix, false, true},
      {"a blob prefix directory cannot be read",
       [prefix](Tree& t) { ASSERT_EQ(::chmod(t.abs(prefix(t)).c_str(), 0), 0); }, prefix, true},
      {"a manifest's data cannot be stat'ed",
       [blob_dir](Tree& t) { ASSERT_EQ(::chmod(t.abs(blob_dir(t)).c_str(), 0), 0); }, data, true},
  };
}

void run_unknown_case(const UnknownCase& c) {
  for (bool m : {false, true}) {
    SCOPED_TRACE(c.name + (m ? ", with -m" : ""));
    Tree t;
    c.damage(t);
    CliRun r = run_gc(t, m, c.as_nobody);
    if (c.as_nobody) {  // readable again to the test, which may be unprivileged too
      std::string back = "chmod -R u+rwx '" + t.reg.v2() + "'";
      ASSERT_EQ(std::system(back.c_str()), 0);
    }
    EXPECT_EQ(r.exit_code, 3) << r.err;
    // The finding names the path from the root of the tree, not a bare component.
    std::string full = "'" + c.named(t) + "'";
    EXPECT_NE(r.err.find(full), std::string::npos) << "stderr does not name " << full << ":\n"
                                                   << r.err;
    for (const std::string& p : t.needed()) {
      if (!(c.destroys_manifest && p == layout::blob_data(t.manifest))) {
        EXPECT_TRUE(t.reg.exists(p)) << p << " was deleted";
      }
    }
    EXPECT_TRUE(t.reg.has_blob(t.other_layer));
  }
}

TEST(DataLoss, WhatCannotBeExaminedIsKeptWithAllItMightProtect) {
  for (const UnknownCase& c : unknown_cases()) {
    if (!c.as_nobody) {
      run_unknown_case(c);
    }
  }
}

// A real-permissions test (chmod): the blob prefix listing and the stat of a blob's data are
// the filesystem scan's own, below the Store seam tests/fault_store.hpp reaches.
TEST(DataLoss, WhatTheRunMayNotReadIsKeptWithAllItMightProtect) {
  ASSERT_TRUE(test::can_run_unprivileged()) << "as root, this needs setpriv (util-linux)";
  for (const UnknownCase& c : unknown_cases()) {
    if (c.as_nobody) {
      run_unknown_case(c);
    }
  }
}

// The directories regsweep walks from the top: a symbolic link there is refused before
// anything is read (exit 1), and the message says how to run instead.
TEST(DataLoss, ASymlinkedTopDirectoryIsRefusedBeforeAnythingIsRead) {
  for (const char* top : {"blobs", "blobs/sha256", "repositories"}) {
    SCOPED_TRACE(top);
    Tree t;
    t.move_behind_link(top, "top");
    auto before = tree_only(t.reg.snapshot());
    CliRun r = run_gc(t, true);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(t.reg.v2() + "/" + top + "' is a symbolic link"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("bind mount"), std::string::npos) << r.err;
    EXPECT_TRUE(before == tree_only(t.reg.snapshot())) << "the tree changed";
  }
  Tree t;
  bfs::rename(t.reg.root() + "/docker/registry/v2", t.reg.root() + "/real-v2");
  bfs::create_symlink(t.reg.root() + "/real-v2", t.reg.root() + "/docker/registry/v2");
  CliRun r = run_gc(t, false);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("docker/registry/v2' is a symbolic link"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--root"), std::string::npos) << r.err;
}

// --- Rule 2: read manifests exactly as the registry and its clients do --------------------

std::string descriptor(const Digest& d, const std::string& digest_key = "digest") {
  return R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":64,")" + digest_key +
         R"(":")" + d.str() + R"("})";
}

std::string config_descriptor(const Digest& d) {
  return R"({"mediaType":"application/vnd.oci.image.config.v1+json","size":64,"digest":")" +
         d.str() + R"("})";
}

// A layer descriptor naming `first` under "digest", then `second` under `key`.
std::string two_digests(const Digest& first, const std::string& key, const Digest& second) {
  return R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":64,"digest":")" +
         first.str() + R"(",")" + key + R"(":")" + second.str() + R"("})";
}

struct GoCase {
  std::string name;
  // The manifest's JSON, given the image's config and layer and an orphan blob Go ignores.
  std::function<std::string(const Digest& config, const Digest& layer, const Digest& orphan)> json;
};

std::vector<GoCase> go_cases() {
  const std::string oci =
      R"("schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json")";
  const std::string docker =
      R"("schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json")";
  return {
      {"layers given twice, the first empty",
       [=](const Digest& c, const Digest& l, const Digest&) {
         return "{" + docker + R"(,"config":)" + config_descriptor(c) +
                R"(,"layers":[],"layers":[)" + descriptor(l) + "]}";
       }},
      {"config given twice",
       [=](const Digest& c, const Digest& l, const Digest& o) {
         return "{" + docker + R"(,"config":)" + config_descriptor(o) + R"(,"config":)" +
                config_descriptor(c) + R"(,"layers":[)" + descriptor(l) + "]}";
       }},
      {"Layers in another case",
       [=](const Digest& c, const Digest& l, const Digest&) {
         return "{" + oci + R"(,"config":)" + config_descriptor(c) + R"(,"Layers":[)" +
                descriptor(l) + "]}";
       }},
      {"a descriptor's digest given twice",
       [=](const Digest& c, const Digest& l, const Digest& o) {
         return "{" + oci + R"(,"config":)" + config_descriptor(c) + R"(,"layers":[)" +
                two_digests(o, "digest", l) + "]}";
       }},
      {"a descriptor's digest beside a Digest",
       [=](const Digest& c, const Digest& l, const Digest& o) {
         return "{" + oci + R"(,"config":)" + config_descriptor(c) + R"(,"layers":[)" +
                two_digests(o, "Digest", l) + "]}";
       }},
      {"mediaType given twice",
       [=](const Digest& c, const Digest& l, const Digest&) {
         return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
                config_descriptor(c) + R"(,"layers":[)" + descriptor(l) + "]}";
       }},
      {"layers spelt with a long s, which Go folds to s",
       [=](const Digest& c, const Digest& l, const Digest&) {
         // "\u017f" is LATIN SMALL LETTER LONG S: Go's case folding matches it to 's'.
         return "{" + oci + R"(,"config":)" + config_descriptor(c) +
                R"(,"layers":[],"layer\u017f":[)" + descriptor(l) + "]}";
       }},
  };
}

TEST(DataLoss, ManifestsGoReadsDifferentlyAreUnreadableAndKeepTheirRepository) {
  for (const GoCase& c : go_cases()) {
    for (bool m : {false, true}) {
      SCOPED_TRACE(c.name + (m ? ", with -m" : ""));
      test::TempRegistry reg;
      Digest layer = reg.put_layer("app", "go layer");
      Digest config = reg.put_blob(R"({"architecture":"amd64","os":"linux"})");
      reg.link_layer("app", config);
      Digest orphan = reg.put_blob("what only the first key names");
      reg.link_layer("app", orphan);
      Digest manifest = reg.put_manifest("app", c.json(config, layer, orphan));
      reg.tag("app", "v1", manifest);
      std::string report = reg.root() + "/report.json";
      CliRun r = run_cli("gc --root '" + reg.root() + "' --min-age 0 -q --json '" + report + "'" +
                             (m ? " -m" : ""),
                         reg.root());
      EXPECT_EQ(r.exit_code, 3) << r.err;
      EXPECT_NE(r.err.find(layout::blob_data(manifest)), std::string::npos) << r.err;
      for (const Digest& d : {manifest, config, layer}) {
        EXPECT_TRUE(reg.has_blob(d)) << d.str() << " was deleted";
      }
      EXPECT_TRUE(reg.exists(layout::layer_link("app", layer)));
      EXPECT_TRUE(reg.exists(layout::layer_link("app", config)));
    }
  }
}

TEST(DataLoss, AnIndexWithDuplicateManifestsKeepsItsChildren) {
  for (const std::string second : {"manifests", "Manifests"}) {
    SCOPED_TRACE(second);
    test::TempRegistry reg;
    Digest layer = reg.put_layer("app", "child layer");
    Digest child = reg.put_image("app", {layer}, "child");
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],")" +
        second +
        R"(":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":100,"digest":")" +
        child.str() + R"(","platform":{"architecture":"amd64","os":"linux"}}]})";
    Digest index = reg.put_manifest("app", json);
    reg.tag("app", "v1", index);
    CliRun r = run_cli("gc --root '" + reg.root() + "' --min-age 0 -q -m", reg.root());
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_TRUE(reg.has_blob(child));
    EXPECT_TRUE(reg.has_blob(layer));
    EXPECT_TRUE(reg.exists(layout::revision_link("app", child)));
  }
}

// --- Rule 3: what was true at the scan must still be true at the delete --------------------

// Plans a gc of `reg` as the command line does, lets `meanwhile` change the tree, then sweeps
// with the revalidating guard.
struct RaceRun {
  Collection collection;
  SweepResult sweep;
};

RaceRun race(test::TempRegistry& reg, bool delete_untagged,
             const std::function<void()>& meanwhile) {
  // Everything old: a change after the scan then moves a time by more than a clock tick.
  reg.backdate("repositories", 7200);
  reg.backdate("blobs", 7200);
  auto v2 = open_registry(reg.root());
  if (!v2) {
    ADD_FAILURE() << v2.error().message;
    return {};
  }
  tbb::task_arena arena(2);
  auto store = make_fs_store(v2->get());
  auto c = plan_gc(*store, test::options(delete_untagged), arena);
  if (!c) {
    ADD_FAILURE() << c.error().message;
    return {};
  }
  meanwhile();
  auto remover = store->remover();
  auto guard = store->guard(c->inventory, tags_to_watch(*c, delete_untagged));
  SweepResult s = sweep(c->plan, *remover, arena, guard.get());
  return RaceRun{std::move(*c), std::move(s)};
}

TEST(DataLoss, APushAfterTheScanKeepsTheRepositoryTheScanFoundEmpty) {
  test::TempRegistry reg;
  Digest layer = reg.put_layer("app", "shared layer");
  Digest old = reg.put_image("app", {layer}, "old");
  reg.tag("app", "v1", old);
  reg.api_delete("app", old);  // app is empty now: the plan removes it, and the layer goes
  reg.tag("other", "v1", reg.put_image("other", {reg.put_layer("other", "o")}, "other"));
  Digest pushed;
  RaceRun r = race(reg, false, [&] {
    // The registry serves: the same layer is pushed again, with a new image.
    pushed = reg.put_image("app", {layer}, "new");
    reg.tag("app", "v2", pushed);
  });
  EXPECT_EQ(std::count_if(r.collection.plan.actions.begin(), r.collection.plan.actions.end(),
                          [](const Action& a) { return a.kind == ActionKind::repository; }),
            1)
      << "the test needs a plan that removes the repository";
  EXPECT_TRUE(has_finding(r.sweep.findings, FindingKind::changed_since_scan, "repositories/app"));
  EXPECT_GT(r.sweep.skipped_count, 0U);
  for (const Digest& d : {layer, pushed}) {
    EXPECT_TRUE(reg.has_blob(d)) << d.str();
  }
  EXPECT_TRUE(reg.exists(layout::tag_current_link("app", "v2")));
  EXPECT_TRUE(reg.exists(layout::layer_link("app", layer)));
  EXPECT_TRUE(reg.exists(layout::revision_link("app", pushed)));
}

// A layer link directory left empty (the registry's blob DELETE removes the link file) is
// no link; a re-push writes a link into it. Written after the scan, that link is in no
// directory the scan listed anew: the directory itself must be watched.
TEST(DataLoss, ALinkWrittenIntoAnEmptyLinkDirectoryAfterTheScanKeepsItsBlob) {
  test::TempRegistry reg;
  reg.tag("app", "v1", reg.put_image("app", {reg.put_layer("app", "live")}, "live"));
  Digest layer = reg.put_layer("app", "re-pushed layer");
  reg.remove(layout::layer_link("app", layer));  // the empty directory stays
  RaceRun r = race(reg, false, [&] { reg.link_layer("app", layer); });
  ASSERT_FALSE(test::planned(r.collection, ActionKind::blob).empty());
  EXPECT_TRUE(reg.has_blob(layer));
  EXPECT_TRUE(reg.exists(layout::layer_link("app", layer)));
  EXPECT_TRUE(has_finding(r.sweep.findings, FindingKind::changed_since_scan,
                          layout::layer_link_dir("app", layer)));
}

TEST(DataLoss, ANewRepositoryAfterTheScanKeepsEveryBlob) {
  test::TempRegistry reg;
  reg.tag("app", "v1", reg.put_image("app", {reg.put_layer("app", "a")}, "app"));
  Digest orphan = reg.put_layer("gone", "orphaned layer");
  reg.remove("repositories/gone");
  RaceRun r = race(reg, false, [&] {
    // A mount of the orphan into a new repository, and a manifest using it.
    reg.link_layer("fresh/app", orphan);
    reg.tag("fresh/app", "v1", reg.put_image("fresh/app", {orphan}, "fresh"));
  });
  ASSERT_FALSE(test::planned(r.collection, ActionKind::blob).empty());
  EXPECT_TRUE(reg.has_blob(orphan));
  EXPECT_TRUE(has_finding(r.sweep.findings, FindingKind::changed_since_scan, "repositories"));
}

TEST(DataLoss, WithMATagMovedOntoAnUntaggedManifestAfterTheScanKeepsIt) {
  test::TempRegistry reg;
  Digest layer = reg.put_layer("app", "untagged layer");
  Digest untagged = reg.put_image("app", {layer}, "untagged");
  reg.tag("app", "v1", untagged);
  Digest tagged = reg.put_image("app", {reg.put_layer("app", "tagged layer")}, "tagged");
  reg.tag("app", "v1", tagged);  // v1's history holds both: moving back adds no directory
  RaceRun r = race(reg, true, [&] {
    reg.write(layout::tag_current_link("app", "v1"), untagged.str());  // in place, as 2.8 does
  });
  ASSERT_FALSE(test::planned(r.collection, ActionKind::revision).empty());
  EXPECT_TRUE(has_finding(r.sweep.findings, FindingKind::changed_since_scan,
                          layout::tag_current_link("app", "v1")));
  EXPECT_TRUE(reg.has_blob(untagged));
  EXPECT_TRUE(reg.has_blob(layer));
  EXPECT_TRUE(reg.exists(layout::revision_link("app", untagged)));
}

TEST(DataLoss, TheSweepsOwnDeletionsAreNotTakenForChanges) {
  test::TempRegistry reg;
  Digest live = reg.put_image("app", {reg.put_layer("app", "live")}, "live");
  reg.tag("app", "v1", live);
  Digest loose = reg.put_layer("app", "loose");  // linked, in no manifest
  Digest untagged = reg.put_image("app", {reg.put_layer("app", "u")}, "u");
  Digest gone = reg.put_image("empty", {reg.put_layer("empty", "e")}, "e");
  reg.api_delete("empty", gone);
  RaceRun r = race(reg, true, [] {});
  EXPECT_EQ(r.sweep.skipped_count, 0U);
  EXPECT_EQ(r.sweep.failed, 0U);
  EXPECT_FALSE(has_finding(r.sweep.findings, FindingKind::changed_since_scan, ""));
  EXPECT_FALSE(reg.has_blob(loose));
  EXPECT_FALSE(reg.has_blob(untagged));
  EXPECT_FALSE(reg.has_blob(gone));
  EXPECT_TRUE(reg.has_blob(live));
}

// A registry that answers GET /v2/ on 127.0.0.1, in a thread, for as long as it lives.
class FakeRegistry {
 public:
  FakeRegistry() {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(m_fd, 8), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    m_port = ntohs(addr.sin_port);
    m_thread = std::thread([this] {
      while (true) {
        int c = ::accept(m_fd, nullptr, nullptr);
        if (c < 0) {
          return;
        }
        char buf[256];
        (void)::recv(c, buf, sizeof(buf), 0);
        const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        (void)::send(c, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~FakeRegistry() {
    ::shutdown(m_fd, SHUT_RDWR);
    ::close(m_fd);
    m_thread.join();
  }
  int port() const { return m_port; }

 private:
  int m_fd = -1;
  int m_port = 0;
  std::thread m_thread;
};

TEST(DataLoss, ARealRunRefusesWhileAWritableRegistryServesTheTree) {
  Tree t;
  FakeRegistry serving;
  auto config = [&](bool readonly, bool addr = true) {
    std::string path = t.reg.root() + (readonly ? "/ro.yml" : addr ? "/rw.yml" : "/noaddr.yml");
    std::ofstream out(path);
    out << "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " << t.reg.root()
        << "\n  maintenance:\n    readonly:\n      enabled: " << (readonly ? "true" : "false")
        << "\n";
    if (addr) {
      out << "http:\n  addr: :" << serving.port() << "\n";
    }
    return path;
  };
  std::string rw = config(false);
  CliRun r = run_cli("gc --min-age 0 -q '" + rw + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("a registry answers at http://127.0.0.1:" + std::to_string(serving.port())),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_TRUE(t.reg.has_blob(t.orphan));
  // The environment's address counts as the registry's own, as the registry reads it.
  r = run_cli("gc --min-age 0 -q '" + config(false, false) + "'", t.reg.root(), false,
              "REGISTRY_HTTP_ADDR=127.0.0.1:" + std::to_string(serving.port()));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  // fsck --repair deletes too; fsck alone only reads.
  r = run_cli("fsck --repair '" + rw + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("a registry answers at"), std::string::npos) << r.err;
  r = run_cli("fsck '" + rw + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A dry run only reads.
  r = run_cli("gc --min-age 0 -q -d '" + rw + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Read-only mode, or --force, lets it sweep.
  r = run_cli("gc --min-age 0 -q '" + config(true) + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(t.reg.has_blob(t.orphan));
  Digest orphan2 = t.reg.put_blob("another orphan");
  r = run_cli("gc --min-age 0 -q --force '" + rw + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(t.reg.has_blob(orphan2));
}

TEST(DataLoss, TheProbeGivesUpOnAnAddressThatDoesNotAnswer) {
  int port = 0;
  {
    FakeRegistry gone;  // a port that was just free: nothing listens there now
    port = gone.port();
  }
  auto started = std::chrono::steady_clock::now();
  ProbeResult p = probe_registry("127.0.0.1:" + std::to_string(port), "tcp", false,
                                 std::chrono::milliseconds(2000));
  EXPECT_FALSE(p.answers);
  EXPECT_TRUE(p.refused);  // nothing listens: a registry does not serve there
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  ProbeResult bad = probe_registry("no port", "tcp", false, std::chrono::milliseconds(100));
  EXPECT_FALSE(bad.answers);
  EXPECT_FALSE(bad.refused);
  EXPECT_FALSE(bad.unknown.empty());
}

// A registry that serves TLS (http.tls.certificate) is asked over https, and named so: here a
// TLS server (openssl s_server) on a port of this machine, with a self-signed certificate.
TEST(DataLoss, ARegistryServingTlsIsProbedOverHttps) {
  Tree t;
  const std::string dir = t.reg.root();
  std::string make_cert =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
      "-keyout '" +
      dir + "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
  ASSERT_EQ(std::system(make_cert.c_str()), 0) << "openssl is needed for this test";
  int port = 0;
  {
    FakeRegistry gone;
    port = gone.port();
  }
  std::string serve = "openssl s_server -quiet -www -accept 127.0.0.1:" + std::to_string(port) +
                      " -cert '" + dir + "/cert.pem' -key '" + dir +
                      "/key.pem' >/dev/null 2>&1 & "
                      "echo $! >'" +
                      dir + "/server.pid'";
  ASSERT_EQ(std::system(serve.c_str()), 0);
  std::string addr = "127.0.0.1:" + std::to_string(port);
  ProbeResult over_tls;
  for (int i = 0; i < 50 && !over_tls.answers; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    over_tls = probe_registry(addr, "tcp", true, std::chrono::milliseconds(2000));
  }
  ProbeResult plain = probe_registry(addr, "tcp", false, std::chrono::milliseconds(2000));
  std::string path = dir + "/tls.yml";
  {
    std::ofstream out(path);
    out << "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " << dir
        << "\nhttp:\n  addr: " << addr << "\n  tls:\n    certificate: " << dir
        << "/cert.pem\n    key: " << dir << "/key.pem\n";
  }
  CliRun r = run_cli("gc --min-age 0 -q '" + path + "'", dir);
  std::string stop = "kill $(cat '" + dir + "/server.pid')";
  EXPECT_EQ(std::system(stop.c_str()), 0);
  EXPECT_TRUE(over_tls.answers) << over_tls.unknown;
  EXPECT_EQ(over_tls.url, "https://" + addr + "/v2/");
  // Plain HTTP to a TLS port gets no HTTP answer here: unknown, never "nobody serves".
  EXPECT_FALSE(plain.answers);
  EXPECT_FALSE(plain.refused);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("a registry answers at https://" + addr), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("and restart it, or pass --force; nothing was deleted"), std::string::npos)
      << r.err;
  for (const std::string& p : t.needed()) {
    EXPECT_TRUE(t.reg.exists(p)) << p << " was deleted";
  }
}

// Issue 31, cause 12: an http.addr that does not resolve here (a name only the registry's
// network knows, or localhost without /etc/hosts) cannot tell whether a registry serves: the
// sweep is refused, with the address and the way out, never taken as "not answering".
TEST(DataLoss, AProbeThatCannotTellCountsAsServing) {
  ProbeResult p =
      probe_registry("registry.invalid:5000", "tcp", false, std::chrono::milliseconds(2000));
  EXPECT_FALSE(p.answers);
  EXPECT_FALSE(p.refused);
  EXPECT_NE(p.unknown.find("does not resolve"), std::string::npos) << p.unknown;

  Tree t;
  std::string path = t.reg.root() + "/unresolved.yml";
  {
    std::ofstream out(path);
    out << "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " << t.reg.root()
        << "\nhttp:\n  addr: registry.invalid:5000\n";
  }
  CliRun r = run_cli("gc --min-age 0 -q '" + path + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot tell whether a registry serves"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("registry.invalid:5000"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_TRUE(t.reg.has_blob(t.orphan));
  r = run_cli("fsck --repair '" + path + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_cli("gc --min-age 0 -q --force '" + path + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(t.reg.has_blob(t.orphan));
}

// --- Rule 4: nothing blocks forever --------------------------------------------------------

TEST(DataLoss, AFifoWhereALockOrAConfigBelongsIsRefusedNotWaitedOn) {
  Tree t;
  // Where an earlier build kept its lock (in v2): left alone, not waited on.
  ASSERT_EQ(::mkfifo(t.abs("regsweep.lock").c_str(), 0644), 0);
  // Where the lock is (docker/registry): refused.
  ASSERT_EQ(::mkfifo(t.abs("../regsweep.lock").c_str(), 0644), 0);
  CliRun r = run_cli("gc --root '" + t.reg.root() + "' --min-age 0 -q", t.reg.root());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("'docker/registry/regsweep.lock' is not a regular file"), std::string::npos)
      << r.err;
  EXPECT_TRUE(t.reg.has_blob(t.orphan));
  ASSERT_EQ(::unlink(t.abs("../regsweep.lock").c_str()), 0);
  r = run_cli("gc --root '" + t.reg.root() + "' --min-age 0 -q", t.reg.root());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(t.reg.has_blob(t.orphan));
  t.reg.put_blob("an orphan");  // again, for what follows

  std::string fifo = t.reg.root() + "/config.yml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  r = run_cli("gc -d '" + fifo + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("'" + fifo + "' is not a regular file"), std::string::npos) << r.err;

  r = run_cli("gc -d '" + t.reg.root() + "'", t.reg.root());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("'" + t.reg.root() + "' is a directory"), std::string::npos) << r.err;
}

// --- Smaller ---------------------------------------------------------------------------------

TEST(DataLoss, ASocketInLayersIsAFinding) {
  Tree t;
  std::string path = t.abs("repositories/app/_layers/registry.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  CliRun r = run_gc(t, false);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("repositories/app/_layers/registry.sock"), std::string::npos) << r.err;
  EXPECT_TRUE(t.reg.exists("repositories/app/_layers/registry.sock"));
}

TEST(DataLoss, ControlCharactersInNamesArePrintedEscaped) {
  Tree t;
  // A tag directory whose name holds a newline, with no current link: a finding names it.
  t.reg.mkdir("repositories/app/_manifests/tags/bad\nname/index");
  t.reg.write("repositories/app/_manifests/tags/bad\nname/index/keep", "x");
  CliRun r = run_gc(t, false);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("bad\nname"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad\\nname"), std::string::npos) << r.err;
}

// Every message names the path from the top of the tree, never a bare component or '.'.
// A real-permissions test (chmod), for the same reason: the scan's directory reads are below
// the Store seam.
TEST(DataLoss, UnreadableDirectoriesAreNamedFromTheTopOfTheTree) {
  ASSERT_TRUE(test::can_run_unprivileged()) << "as root, this needs setpriv (util-linux)";
  for (const std::string rel :
       {"repositories/app/_manifests/tags", "repositories/app/_manifests/revisions/sha256",
        "repositories/app/_layers/sha256", "repositories/app/_manifests/tags/v1",
        "repositories/app"}) {
    SCOPED_TRACE(rel);
    Tree t;
    ASSERT_EQ(::chmod(t.abs(rel).c_str(), 0), 0);
    CliRun r = run_gc(t, false, true);
    std::string back = "chmod -R u+rwx '" + t.reg.v2() + "'";
    ASSERT_EQ(std::system(back.c_str()), 0);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("'" + rel + "'"), std::string::npos) << r.err;
    std::string last = rel.substr(rel.rfind('/') + 1);
    EXPECT_EQ(r.err.find("'" + last + "'"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("'.'"), std::string::npos) << r.err;
    for (const std::string& p : t.needed()) {
      EXPECT_TRUE(t.reg.exists(p)) << p << " was deleted";
    }
  }
}

TEST(DataLoss, PrintableEscapesControlCharactersOnly) {
  EXPECT_EQ(printable("repositories/app/_manifests/tags/v1"),
            "repositories/app/_manifests/tags/v1");
  EXPECT_EQ(printable("a\nb\tc\rd\x1b[31m\x7f"), "a\\nb\\tc\\rd\\x1b[31m\\x7f");
  EXPECT_EQ(printable("back\\slash\n"), "back\\\\slash\\n");
  EXPECT_EQ(printable("caf\xC3\xA9"), "caf\xC3\xA9");  // UTF-8 is text, not control
}

}  // namespace
}  // namespace regsweep
