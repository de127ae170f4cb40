// The registry's blob descriptor cache: its settings as the registry reads them, the entries
// a run's deletions leave stale, and their removal from a real redis-server (started here on
// 127.0.0.1 when it is installed) or from one that cannot be reached.

#include "regsweep/blob_cache.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "cache/redis_client.hpp"
#include "memory_bucket.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/run.hpp"
#include "store/object/store.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

RegistryEnv env_of(std::map<std::string, std::string> variables) {
  RegistryEnv env;
  env.variables = std::move(variables);
  return env;
}

TEST(BlobCache, ReadsTheSettingsOf28) {
  auto s = blob_cache_settings(
      "version: 0.1\nstorage:\n  cache:\n    blobdescriptor: redis\n  filesystem:\n"
      "    rootdirectory: /r\nredis:\n  addr: cache:6380\n  password: pw\n  db: 3\n"
      "  dialtimeout: 10ms\n  readtimeout: 2500ms\n  pool:\n    maxidle: 16\n",
      "/etc/config.yml", {});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kind, BlobCacheSettings::Kind::redis);
  EXPECT_EQ(s->redis.addrs, std::vector<std::string>{"cache:6380"});
  EXPECT_EQ(s->redis.password, "pw");
  EXPECT_EQ(s->redis.db, 3);
  EXPECT_EQ(s->redis.dial_timeout_ms, 1000);  // at least a second: pipelines, not lookups
  EXPECT_EQ(s->redis.read_timeout_ms, 2500);
  EXPECT_FALSE(s->redis.tls);
}

TEST(BlobCache, ReadsTheSettingsOf3) {
  auto s = blob_cache_settings(
      "storage:\n  cache:\n    blobdescriptor: redis\nredis:\n  addrs: [a:1, b:2]\n"
      "  username: reg\n  password: pw\n  tls:\n    rootcas: [/ca.pem]\n",
      "c.yml", {});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->redis.addrs, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(s->redis.username, "reg");
  EXPECT_TRUE(s->redis.tls);
  EXPECT_EQ(s->redis.tls_rootcas, std::vector<std::string>{"/ca.pem"});
}

TEST(BlobCache, TheEnvironmentOverridesTheFile) {
  auto s = blob_cache_settings(
      "storage:\n  cache:\n    blobdescriptor: inmemory\nredis:\n  addr: file:1\n", "c.yml",
      env_of({{"REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR", "redis"},
              {"REGISTRY_REDIS_ADDR", "env:2"},
              {"REGISTRY_REDIS_DB", "5"},
              {"REGISTRY_REDIS_TLS_ENABLED", "true"}}));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kind, BlobCacheSettings::Kind::redis);
  EXPECT_EQ(s->redis.addrs, std::vector<std::string>{"env:2"});
  EXPECT_EQ(s->redis.db, 5);
  EXPECT_TRUE(s->redis.tls);
  auto list = blob_cache_settings("storage:\n  cache:\n    blobdescriptor: redis\n", "c.yml",
                                  env_of({{"REGISTRY_REDIS_ADDRS", "[x:1, y:2]"}}));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->redis.addrs, (std::vector<std::string>{"x:1", "y:2"}));
}

TEST(BlobCache, KindsAndMalformedValues) {
  auto none = blob_cache_settings("storage:\n  filesystem: {}\n", "c.yml", {});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->kind, BlobCacheSettings::Kind::none);
  auto mem = blob_cache_settings("storage:\n  cache:\n    blobdescriptor: inmemory\n", "c.yml", {});
  ASSERT_TRUE(mem);
  EXPECT_EQ(mem->kind, BlobCacheSettings::Kind::inmemory);
  auto db = blob_cache_settings(
      "storage:\n  cache:\n    blobdescriptor: redis\nredis:\n  addr: a:1\n  db: three\n", "c.yml",
      {});
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message.find("redis.db 'three'"), std::string::npos) << db.error().message;
  auto timeout = blob_cache_settings(
      "storage:\n  cache:\n    blobdescriptor: redis\nredis:\n  readtimeout: soon\n", "c.yml", {});
  ASSERT_FALSE(timeout);
  EXPECT_NE(timeout.error().message.find("redis.readtimeout 'soon'"), std::string::npos);
}

TEST(BlobCache, SplitsAddresses) {
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(cache::split_address("h:1"), (P{"h", "1"}));
  EXPECT_EQ(cache::split_address("h"), (P{"h", "6379"}));
  EXPECT_EQ(cache::split_address("[::1]:7"), (P{"::1", "7"}));
  EXPECT_EQ(cache::split_address("[::1]"), (P{"::1", "6379"}));
}

// A tree with a deleted image (its own layer and config go, the shared layer stays) and a
// repository emptied through the API.
struct Tree {
  test::TempRegistry reg;
  Digest shared, own, kept, gone;
  Tree() {
    shared = reg.put_layer("app", "shared");
    own = reg.put_layer("app", "own");
    kept = reg.put_image("app", {shared}, "kept");
    reg.tag("app", "v1", kept);
    gone = reg.put_image("app", {shared, own}, "gone");
    reg.api_delete("app", gone);
    Digest lone = reg.put_image("empty", {reg.put_layer("empty", "lone")}, "lone");
    reg.api_delete("empty", lone);
    reg.backdate("", 7200);
  }
};

TEST(BlobCache, TheEntriesAreThoseOfWhatWasDone) {
  Tree t;
  auto opened = test::open_store(t.reg);
  tbb::task_arena arena(2);
  RunContext dry = test::run_context(*opened.store, arena, DryRun::yes);
  CollectRequest r;
  r.command = "gc";
  r.options = test::options();
  CollectRun planned = collect(dry, r);
  ASSERT_TRUE(planned.collection);
  const Plan& plan = planned.collection->plan;
  CacheEntries all = cache_entries(plan, nullptr);
  EXPECT_EQ(all.blobs.size(), plan.blobs);
  EXPECT_NE(std::find(all.blobs.begin(), all.blobs.end(), t.own), all.blobs.end());
  EXPECT_EQ(std::find(all.blobs.begin(), all.blobs.end(), t.shared), all.blobs.end());
  EXPECT_EQ(all.repositories, std::vector<std::string>{"empty"});
  EXPECT_NE(std::find(all.links.begin(), all.links.end(), std::pair{std::string("app"), t.own}),
            all.links.end());
  // A failed action and a skipped one leave their entries alone: the cache is still true.
  SweepResult swept;
  swept.skip.assign(plan.actions.size(), 0);
  std::size_t i = 0;
  for (const Action a : plan.actions) {
    if (a.kind == ActionKind::blob && a.digest == t.own) {
      swept.errors.emplace_back(i, "failed");
    }
    if (a.kind == ActionKind::repository) {
      swept.skip[i] = 1;
    }
    ++i;
  }
  CacheEntries done = cache_entries(plan, &swept);
  EXPECT_EQ(done.blobs.size(), all.blobs.size() - 1);
  EXPECT_EQ(std::find(done.blobs.begin(), done.blobs.end(), t.own), done.blobs.end());
  EXPECT_TRUE(done.repositories.empty());
}

CacheEntries some_entries(std::size_t blobs) {
  CacheEntries e;
  for (std::size_t i = 0; i < blobs; ++i) {
    e.blobs.push_back(sha256_of("blob " + std::to_string(i)));
  }
  e.links.emplace_back("lib/app", sha256_of("blob 0"));
  e.repositories.emplace_back("gone/repo");
  return e;
}

TEST(BlobCache, AServerThatCannotBeReachedLeavesAFindingAndTheCommands) {
  test::TempRegistry dir;  // a directory for the commands' file
  BlobCacheSettings s;
  s.kind = BlobCacheSettings::Kind::redis;
  s.redis.addrs = {"127.0.0.1:1"};
  s.redis.db = 2;
  s.redis.origin = "configuration 'c.yml'";
  s.stale_dir = dir.root();
  auto started = std::chrono::steady_clock::now();
  CacheReport r = clear_blob_cache(s, some_entries(3));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_TRUE(r.attempted);
  EXPECT_EQ(r.removed, 0U);
  EXPECT_EQ(r.failed, 3U + 2U + 1U);  // each blob; the link's member and hash; the set
  ASSERT_TRUE(r.finding);
  EXPECT_EQ(r.finding->kind, FindingKind::cache_stale);
  EXPECT_EQ(r.finding->severity, Severity::error);
  const std::string& m = r.finding->message;
  EXPECT_NE(m.find("'127.0.0.1:1' (db 2)"), std::string::npos) << m;
  EXPECT_NE(m.find("run: redis-cli -h 127.0.0.1 -p 1 -n 2 < " + r.stale_file), std::string::npos)
      << m;
  std::ifstream in(r.stale_file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("DEL blobs::" + sha256_of("blob 2").str() + "\n"), std::string::npos);
  EXPECT_NE(text.str().find("SREM repository::lib/app::blobs " + sha256_of("blob 0").str()),
            std::string::npos);
  EXPECT_NE(text.str().find("DEL repository::gone/repo::blobs\n"), std::string::npos);
}

// `blobdescriptor: redis` with no address (the registry would not start): nothing can be
// removed, and the finding says why.
TEST(BlobCache, ARedisCacheWithoutAnAddressIsAFinding) {
  test::TempRegistry dir;
  auto s = blob_cache_settings("storage:\n  cache:\n    blobdescriptor: redis\n", "c.yml", {});
  ASSERT_TRUE(s);
  s->stale_dir = dir.root();
  CacheReport r = clear_blob_cache(*s, some_entries(1));
  EXPECT_EQ(r.failed, 1U + 2U + 1U);
  ASSERT_TRUE(r.finding);
  EXPECT_NE(r.finding->message.find("no redis address (redis.addr or redis.addrs) in the "
                                    "configuration 'c.yml'"),
            std::string::npos)
      << r.finding->message;
  EXPECT_NE(r.finding->message.find("redis-cli -h HOST -p PORT"), std::string::npos);
}

// fsck --repair removes a dangling link; the cache entry of that link is removed after it,
// and a cache that cannot be reached is a problem of the report (exit 3).
TEST(BlobCache, RepairsClearTheirEntriesToo) {
  test::TempRegistry reg;
  Digest layer = reg.put_layer("app", "layer");
  reg.tag("app", "v1", reg.put_image("app", {layer}, "app"));
  reg.link_layer("app", sha256_of("ghost"));
  reg.backdate("", 7200);
  auto opened = test::open_store(reg);
  tbb::task_arena arena(2);
  RunContext real = test::run_context(*opened.store, arena, DryRun::no);
  real.cache.kind = BlobCacheSettings::Kind::redis;
  real.cache.redis.addrs = {"127.0.0.1:1"};
  real.cache.stale_dir = reg.root();
  FsckOptions o;
  o.now = static_cast<std::int64_t>(std::time(nullptr));
  CheckRun done = check(real, o);
  ASSERT_TRUE(done.report);
  ASSERT_TRUE(done.cache);
  EXPECT_EQ(done.cache->links, 1U);
  EXPECT_EQ(done.cache->failed, 2U);  // the link's member and hash
  EXPECT_EQ(done.report->problems.front().kind, ProblemKind::cache_stale);
  EXPECT_FALSE(reg.exists(layout::layer_link("app", sha256_of("ghost"))));
}

// The cache is the registry's whatever its storage: a run on a bucket clears the entries of
// what it deleted there, after the deletions, as on a disk.
TEST(BlobCache, ARunOnABucketClearsItsEntriesToo) {
  Tree t;
  auto bucket = std::make_unique<test::MemoryBucket>();
  bucket->load(t.reg.v2());
  auto store = object::make_object_store(std::move(bucket), "the bucket");
  tbb::task_arena arena(2);
  RunContext real = test::run_context(*store, arena, DryRun::no);
  real.cache.kind = BlobCacheSettings::Kind::redis;
  real.cache.redis.addrs = {"127.0.0.1:1"};
  real.cache.stale_dir = t.reg.root();
  CollectRequest r;
  r.command = "gc";
  r.options = test::options();
  CollectRun done = collect(real, r);
  ASSERT_TRUE(done.swept);
  ASSERT_TRUE(done.cache);
  EXPECT_EQ(done.cache->blobs, done.swept->blobs_deleted);
  EXPECT_GT(done.cache->blobs, 0U);
  EXPECT_EQ(done.cache->repositories, 1U);
  EXPECT_TRUE(std::any_of(done.swept->findings.begin(), done.swept->findings.end(),
                          [](const Finding& f) { return f.kind == FindingKind::cache_stale; }));
}

// A redis-server of its own on 127.0.0.1, when installed.
class RedisServer {
 public:
  RedisServer() {
    if (::access("/usr/bin/redis-server", X_OK) != 0) {
      return;
    }
    for (int attempt = 0; attempt < 5 && m_pid <= 0; ++attempt) {
      m_port = 20000 + static_cast<int>(::getpid() % 10000) + attempt * 97;
      m_pid = ::fork();
      if (m_pid == 0) {
        std::string port = std::to_string(m_port);
        ::execl("/usr/bin/redis-server", "redis-server", "--bind", "127.0.0.1", "--port",
                port.c_str(), "--save", "", "--appendonly", "no", "--logfile", "/dev/null",
                static_cast<char*>(nullptr));
        ::_exit(127);
      }
      for (int i = 0; i < 50; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (connect()) {
          return;
        }
      }
      stop();
    }
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool running() const { return m_pid > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }
  std::unique_ptr<cache::RedisConnection> connect() const {
    auto c = cache::RedisConnection::connect({.address = address(),
                                              .username = {},
                                              .password = {},
                                              .db = 0,
                                              .tls = {},
                                              .dial_timeout = std::chrono::milliseconds(500),
                                              .io_timeout = std::chrono::milliseconds(2000)});
    return c ? std::move(*c) : nullptr;
  }

 private:
  void stop() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      ::waitpid(m_pid, nullptr, 0);
      m_pid = -1;
    }
  }
  pid_t m_pid = -1;
  int m_port = 0;
};

// Pipelined over several rounds (a thousand commands each), exactly the entries of the run
// go; the entries of what was kept and another application's keys stay.
TEST(BlobCache, RemovesExactlyTheEntriesFromARealServer) {
  RedisServer server;
  if (!server.running()) {
    GTEST_SKIP() << "redis-server is not installed";
  }
  auto c = server.connect();
  ASSERT_TRUE(c);
  CacheEntries e = some_entries(2500);
  std::vector<std::vector<std::string>> fill;
  for (const Digest& d : e.blobs) {
    fill.push_back({"HSET", "blobs::" + d.str(), "digest", d.str(), "size", "1"});
  }
  Digest kept = sha256_of("kept");
  fill.push_back({"HSET", "blobs::" + kept.str(), "digest", kept.str(), "size", "1"});
  fill.push_back({"SADD", "repository::lib/app::blobs", sha256_of("blob 0").str(), kept.str()});
  fill.push_back(
      {"HSET", "repository::lib/app::blobs::" + sha256_of("blob 0").str(), "mediatype", "x"});
  fill.push_back({"SADD", "repository::gone/repo::blobs", "sha256:1", "sha256:2"});
  fill.push_back({"HSET", "repository::gone/repo::blobs::sha256:1", "mediatype", "x"});
  fill.push_back({"SET", "otherapp:key", "v"});
  std::vector<cache::RedisReply> replies;
  ASSERT_TRUE(c->pipeline(fill, replies));

  BlobCacheSettings s;
  s.kind = BlobCacheSettings::Kind::redis;
  s.redis.addrs = {server.address()};
  CacheReport r = clear_blob_cache(s, e);
  EXPECT_EQ(r.failed, 0U);
  EXPECT_FALSE(r.finding);
  // 2500 global entries, the link's member and hash, the repository's hash and set.
  EXPECT_EQ(r.removed, 2500U + 2U + 2U);
  replies.clear();
  ASSERT_TRUE(c->pipeline({{"DBSIZE"},
                           {"EXISTS", "blobs::" + kept.str()},
                           {"SISMEMBER", "repository::lib/app::blobs", kept.str()},
                           {"EXISTS", "repository::gone/repo::blobs"},
                           {"GET", "otherapp:key"}},
                          replies));
  EXPECT_EQ(replies[0].integer, 3);  // the kept blob, lib/app's set, the other key
  EXPECT_EQ(replies[1].integer, 1);
  EXPECT_EQ(replies[2].integer, 1);
  EXPECT_EQ(replies[3].integer, 0);
  EXPECT_EQ(replies[4].text, "v");
}

}  // namespace
}  // namespace regsweep
