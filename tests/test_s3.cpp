// Object storage without a server: the bucket's configuration as the registry reads it, the
// pieces of the S3 client that need no network, and the scan from a listing, which must give
// the same collection as the filesystem scan for the same content.
#include <gtest/gtest.h>

#include <set>

#include <algorithm>
#include <ctime>
#include <map>
#include <random>
#include <sstream>

#include "regsweep/collect.hpp"
#include "regsweep/config.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/listing_scan.hpp"
#include "regsweep/store.hpp"
#include "regsweep/sweep.hpp"
#include "regsweep/timeutil.hpp"
#include "store/aws/credentials.hpp"
#include "store/s3/client.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

constexpr const char* k_s3_config = R"(version: 0.1
storage:
  s3:
    accesskey: AKIDEXAMPLE
    secretkey: very-secret-key
    region: eu-west-1
    regionendpoint: http://127.0.0.1:9000
    bucket: images
    rootdirectory: /team/reg/
    secure: false
    skipverify: "true"
    v4auth: true
    chunksize: 5242880
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
)";

// The bucket a configuration's text describes, as the store factory would open it.
Result<S3Settings> s3_from_config_text(const std::string& text, const std::string& path,
                                       const RegistryEnv& env) {
  auto driver = driver_parameters_from_text(text, path, "s3", env);
  if (!driver) {
    return driver.error();
  }
  return s3_settings(*driver);
}

TEST(S3Config, ReadsTheKeysTheRegistryReads) {
  auto s = s3_from_config_text(k_s3_config, "c.yml", {});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->bucket, "images");
  EXPECT_EQ(s->region, "eu-west-1");
  EXPECT_EQ(s->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(s->rootdirectory, "team/reg");  // no leading or trailing slash in keys
  EXPECT_EQ(s->access_key, "AKIDEXAMPLE");
  EXPECT_EQ(s->secret_key, "very-secret-key");
  EXPECT_FALSE(s->secure);
  EXPECT_TRUE(s->skip_verify);
  EXPECT_EQ(s->key("blobs/sha256/ab"), "team/reg/docker/registry/v2/blobs/sha256/ab");
  EXPECT_EQ(s->location(), "s3://images/team/reg");
}

TEST(S3Config, EnvironmentOverridesAndAwsFallbacks) {
  RegistryEnv env;
  env.variables["REGISTRY_STORAGE_S3_BUCKET"] = "other";
  env.variables["REGISTRY_STORAGE_S3_ROOTDIRECTORY"] = "";
  auto s = s3_from_config_text(k_s3_config, "c.yml", env);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->bucket, "other");
  EXPECT_EQ(s->rootdirectory, "");
  EXPECT_EQ(s->v2_prefix(), "docker/registry/v2/");

  // Empty keys: the AWS variables, as the SDK's credential chain would.
  const char* no_keys = "storage:\n  s3:\n    bucket: b\n    region: us-east-1\n";
  RegistryEnv nothing;
  nothing.variables = {{"AWS_EC2_METADATA_DISABLED", "true"}};
  EXPECT_FALSE(s3_from_config_text(no_keys, "c.yml", nothing));
  RegistryEnv aws;
  aws.variables = {{"AWS_ACCESS_KEY_ID", "AKID"},
                   {"AWS_SECRET_ACCESS_KEY", "secret"},
                   {"AWS_SESSION_TOKEN", "token"}};
  auto k = s3_from_config_text(no_keys, "c.yml", aws);
  ASSERT_TRUE(k) << k.error().message;
  ASSERT_TRUE(k->credentials);
  EXPECT_EQ(k->credentials->source(), "the environment");
  EXPECT_EQ(k->credentials->current().access_key, "AKID");
  EXPECT_EQ(k->credentials->current().session_token, "token");
}

// Issue 37: the AWS chain's order, with no network: the environment, then the shared
// credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, AWS_PROFILE's profile).
TEST(S3Credentials, TheChainsOrderWithoutTheNetwork) {
  test::TempRegistry dir;  // a directory for the files
  dir.write(
      "credentials",
      "# comment\n[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n"
      "\n[ci]\n aws_access_key_id=CIKEY \naws_secret_access_key=cisecret\naws_session_token=t\n");
  const std::string file = dir.v2() + "/credentials";
  std::map<std::string, std::string> env{{"AWS_SHARED_CREDENTIALS_FILE", file},
                                         {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto from_file = aws_default_chain(env, "us-east-1");
  ASSERT_TRUE(from_file) << from_file.error().message;
  EXPECT_EQ((*from_file)->current().access_key, "FILEKEY");
  EXPECT_NE((*from_file)->source().find("profile 'default'"), std::string::npos);
  env["AWS_PROFILE"] = "ci";
  auto ci = aws_default_chain(env, "us-east-1");
  ASSERT_TRUE(ci) << ci.error().message;
  EXPECT_EQ((*ci)->current().access_key, "CIKEY");
  EXPECT_EQ((*ci)->current().session_token, "t");
  env["AWS_PROFILE"] = "nosuch";
  auto missing = aws_default_chain(env, "us-east-1");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("'nosuch'"), std::string::npos);
  // The environment first.
  env["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  auto first = aws_default_chain(env, "us-east-1");
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)->current().access_key, "ENVKEY");
  // Half of the environment's pair is an error, not a fall through to the file.
  env.erase("AWS_SECRET_ACCESS_KEY");
  EXPECT_FALSE(aws_default_chain(env, "us-east-1"));
  // Nothing anywhere, the metadata service disabled: an error saying where it looked.
  auto none = aws_default_chain({{"AWS_EC2_METADATA_DISABLED", "true"}}, "us-east-1");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no S3 credentials"), std::string::npos);
}

// Keys that expire are fetched again within five minutes of their end, not on every request.
TEST(S3Credentials, ExpiringKeysAreFetchedAgainInTime) {
  int fetches = 0;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  auto fetch = [&]() -> Result<AwsCredentials> {
    ++fetches;
    return AwsCredentials{.access_key = "K" + std::to_string(fetches),
                          .secret_key = "s",
                          .session_token = "",
                          .expires = now + 3600};
  };
  CredentialProvider lasting(
      "test", {.access_key = "K0", .secret_key = "s", .session_token = "", .expires = now + 3600},
      fetch);
  EXPECT_EQ(lasting.current().access_key, "K0");
  EXPECT_EQ(fetches, 0);
  CredentialProvider ending(
      "test", {.access_key = "K0", .secret_key = "s", .session_token = "", .expires = now + 100},
      fetch);
  EXPECT_EQ(ending.current().access_key, "K1");
  EXPECT_EQ(ending.current().access_key, "K1");  // the new ones last an hour
  EXPECT_EQ(fetches, 1);
  int failures = 0;
  CredentialProvider failing(
      "test", {.access_key = "K0", .secret_key = "s", .session_token = "", .expires = now + 100},
      [&]() -> Result<AwsCredentials> {
        ++failures;
        return Error{"down", EIO};
      });
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(failing.current().access_key, "K0");  // the old keys while they last
  }
  EXPECT_EQ(failures, 1);  // asked once, not on every request
}

TEST(S3Config, MissingOrBadSettingsAreNamed) {
  auto no_bucket = s3_from_config_text(
      "storage:\n  s3:\n    region: r\n    accesskey: a\n"
      "    secretkey: s\n",
      "c.yml", {});
  ASSERT_FALSE(no_bucket);
  EXPECT_NE(no_bucket.error().message.find("bucket"), std::string::npos);
  auto no_region = s3_from_config_text(
      "storage:\n  s3:\n    bucket: b\n    accesskey: a\n"
      "    secretkey: s\n",
      "c.yml", {});
  ASSERT_FALSE(no_region);
  EXPECT_NE(no_region.error().message.find("region"), std::string::npos);
  auto bad_bool = s3_from_config_text(
      "storage:\n  s3:\n    bucket: b\n    region: r\n"
      "    accesskey: a\n    secretkey: s\n    secure: maybe\n",
      "c.yml", {});
  ASSERT_FALSE(bad_bool);
  EXPECT_NE(bad_bool.error().message.find("secure"), std::string::npos);
  auto v2 = s3_from_config_text(
      "storage:\n  s3:\n    bucket: b\n    region: r\n"
      "    accesskey: a\n    secretkey: s\n    v4auth: false\n",
      "c.yml", {});
  ASSERT_FALSE(v2);
  EXPECT_NE(v2.error().message.find("v4auth"), std::string::npos);
  // No message ever holds a secret.
  for (const auto* r : {&no_bucket, &no_region, &bad_bool, &v2}) {
    EXPECT_EQ(r->error().message.find("s\n"), std::string::npos);
  }
}

TEST(S3Config, LocateRootChoosesTheBucket) {
  test::TempRegistry reg;
  reg.write("../c.yml", k_s3_config);
  std::string cfg = reg.root() + "/docker/registry/c.yml";
  auto r = locate_root(cfg, std::nullopt, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->object);
  EXPECT_EQ(r->object->driver, "s3");
  auto rs = s3_settings(*r->object);
  ASSERT_TRUE(rs) << rs.error().message;
  EXPECT_EQ(rs->location(), "s3://images/team/reg");
  ASSERT_TRUE(r->serve);
  EXPECT_EQ(r->serve->addr, "127.0.0.1:5000");

  // REGISTRY_STORAGE=s3 with the parameters from the environment only.
  reg.write("../fs.yml", "storage:\n  filesystem:\n    rootdirectory: /x\n");
  RegistryEnv env;
  env.storage = "s3";
  env.variables = {{"REGISTRY_STORAGE_S3_BUCKET", "b"},
                   {"REGISTRY_STORAGE_S3_REGION", "r"},
                   {"REGISTRY_STORAGE_S3_ACCESSKEY", "a"},
                   {"REGISTRY_STORAGE_S3_SECRETKEY", "s"}};
  auto e = locate_root(reg.root() + "/docker/registry/fs.yml", std::nullopt, env);
  ASSERT_TRUE(e) << e.error().message;
  ASSERT_TRUE(e->object);
  auto es = s3_settings(*e->object);
  ASSERT_TRUE(es) << es.error().message;
  EXPECT_EQ(es->bucket, "b");

  // --root s3://bucket/prefix with --s3-endpoint and the AWS variables.
  RegistryEnv aws;
  aws.variables = {{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};
  auto u =
      locate_root(std::nullopt, std::string("s3://bkt/some/prefix/"), aws, "http://127.0.0.1:7480");
  ASSERT_TRUE(u) << u.error().message;
  ASSERT_TRUE(u->object);
  auto us = s3_settings(*u->object);
  ASSERT_TRUE(us) << us.error().message;
  EXPECT_EQ(us->bucket, "bkt");
  EXPECT_EQ(us->rootdirectory, "some/prefix");
  EXPECT_EQ(us->endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(us->region, "us-east-1");
  auto bare = locate_root(std::nullopt, std::string("s3://bkt"), {}, "http://h");
  ASSERT_TRUE(bare);
  EXPECT_FALSE(s3_settings(*bare->object)) << "no credentials at all is an error";
  // A URL of no object driver's is a directory's name, as before.
  auto other = locate_root(std::nullopt, std::string("gs://bkt"), {}, {});
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->object);
  EXPECT_EQ(other->root, "gs://bkt");
}

TEST(S3Client, EncodesTimesAndUrls) {
  EXPECT_EQ(uri_encode("a b/c+d=e~f", true), "a%20b/c%2Bd%3De~f");
  EXPECT_EQ(uri_encode("reg/docker/", false), "reg%2Fdocker%2F");
  auto t = parse_rfc3339_ns("2026-11-30T22:49:54.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1796078994123000000LL);
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:01Z"), 1000000000LL);
  EXPECT_FALSE(parse_rfc3339_ns("yesterday"));
  // The Date header, by which ages are judged on the server's clock (issue 31, cause 14).
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:01 GMT"), 1);
  EXPECT_EQ(parse_http_date("Mon, 30 Nov 2026 22:49:54 GMT"),
            *parse_rfc3339_ns("2026-11-30T22:49:54Z") / 1000000000);
  for (const char* bad : {"", "Mon, 30 Nov 2026 22:49:54", "Mon, 30 Foo 2026 22:49:54 GMT",
                          "Mon, 32 Nov 2026 22:49:54 GMT", "Monday, 30-Nov-26 22:49:54 GMT"}) {
    EXPECT_FALSE(parse_http_date(bad)) << bad;
  }
  EXPECT_FALSE(parse_rfc3339_ns("2026-13-30T22:49:54Z"));
  EXPECT_FALSE(parse_s3_url("/var/lib/registry"));
  EXPECT_FALSE(parse_s3_url("s3://"));
  auto u = parse_s3_url("s3://b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->rootdirectory, "");
}

// ---- the scan from a listing ----

// A filesystem tree read the way an object store is: listed, then built from its keys.
class ListedFsStore final : public Store {
 public:
  bool duplicate = false;  // list every key twice
  std::string drop;        // leave this key out of the listing
  explicit ListedFsStore(std::unique_ptr<Store> fs) : Store(fs->location()), m_fs(std::move(fs)) {}

  Result<Inventory> scan(tbb::task_arena& arena, const ScanOptions& options) override {
    std::vector<StoreObject> objects;
    Status s = list_objects(*m_fs, "", [&](const StoreObject& o) { objects.push_back(o); });
    if (!s) {
      return s.error();
    }
    ObjectReader read = [this](std::string_view k, std::uint64_t max) {
      ++reads;
      return m_fs->read(k, max);
    };
    std::sort(objects.begin(), objects.end(),
              [](const StoreObject& a, const StoreObject& b) { return a.key < b.key; });
    // A listing that misbehaves, as a server or a proxy may: every key twice, one left out.
    std::vector<StoreObject> shown;
    for (const StoreObject& o : objects) {
      if (o.key == drop) {
        continue;
      }
      shown.push_back(o);
      if (duplicate) {
        shown.push_back(o);
      }
    }
    return inventory_from_listing(shown, read, arena, options, 0x7fffffffffffffff);
  }
  Status list(std::string_view p, ListDepth depth,
              const std::function<void(const ListPage&)>& page) override {
    return m_fs->list(p, depth, page);
  }
  Result<StoreObject> stat(std::string_view key) override { return m_fs->stat(key); }
  Result<std::string> read(std::string_view key, std::uint64_t max) override {
    return m_fs->read(key, max);
  }
  Status stream(std::string_view key, const std::function<void(std::string_view)>& s) override {
    return m_fs->stream(key, s);
  }
  std::unique_ptr<Remover> remover() override { return m_fs->remover(); }
  std::unique_ptr<SweepGuard> guard(const Inventory& scanned,
                                    std::vector<std::size_t> watch) override {
    return m_fs->guard(scanned, std::move(watch));
  }
  Result<std::unique_ptr<RegistryLock>> lock(std::string_view command) override {
    return m_fs->lock(command);
  }
  std::atomic<int> reads{0};

 private:
  std::unique_ptr<Store> m_fs;
};

// What a plan deletes, one line per action, leftovers of the filesystem (empty directories,
// temp files) aside: an object store has none.
std::string plan_text(const Collection& c) {
  std::ostringstream out;
  for (const Action& a : c.plan.actions) {
    if (a.kind == ActionKind::tidy) {
      continue;
    }
    out << to_string(a.kind) << ' ' << to_string(a.reason) << ' ' << a.path() << ' ' << a.bytes
        << '\n';
  }
  out << "kept young " << c.kept_young.size() << '\n';
  return out.str();
}

// Findings by kind and path: the two scans word some messages differently.
std::string findings_text(const Collection& c) {
  std::ostringstream out;
  for (const Finding& f : c.findings) {
    out << to_string(f.kind) << ' ' << to_string(f.severity) << ' ' << f.path << '\n';
  }
  return out.str();
}

// A registry with most of what a real one holds: images sharing layers, an index and its
// children, a referrer, re-pushed tags, an API-deleted manifest, untagged manifests,
// uploads, a dangling layer link.
void populate(test::TempRegistry& reg) {
  Digest base = reg.put_layer("lib/app", "base", 5000);
  Digest l1 = reg.put_layer("lib/app", "one", 300);
  Digest l2 = reg.put_layer("lib/app", "two", 400);
  Digest v1 = reg.put_image("lib/app", {base, l1});
  Digest v2 = reg.put_image("lib/app", {base, l2});
  reg.tag("lib/app", "v1", v1);
  reg.tag("lib/app", "v2", v1);
  reg.tag("lib/app", "v2", v2);  // re-pushed: v1 stays in v2's history
  reg.put_referrer("lib/app", v2, "sig");
  Digest a = reg.put_image("multi/x", {reg.put_layer("multi/x", "amd", 200)});
  Digest b = reg.put_image("multi/x", {reg.put_layer("multi/x", "arm", 210)});
  reg.tag("multi/x", "latest", reg.put_index("multi/x", {a, b}));
  Digest gone = reg.put_image("deleted/y", {reg.put_layer("deleted/y", "old", 100)});
  reg.tag("deleted/y", "old", gone);
  reg.api_delete("deleted/y", gone);
  reg.put_image("untagged/z", {reg.put_layer("untagged/z", "u", 120)});
  reg.start_upload("lib/app", "0b5e6c8a-1111-2222-3333-444455556666", "2020-01-01T00:00:00Z",
                   std::string(77, 'u'));
  reg.put_blob("orphan bytes");
  Digest missing = sha256_of("never stored");
  reg.link_layer("lib/app", missing);
}

TEST(ListingScan, GivesTheFilesystemScansCollection) {
  test::TempRegistry reg;
  populate(reg);
  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(4);
  for (bool untagged : {false, true}) {
    SCOPED_TRACE(untagged ? "-m" : "gc");
    GcOptions o;
    o.delete_untagged = untagged;
    o.plan.now = 2000000000;
    o.plan.purge_uploads_older_than = 3600;
    auto fs = make_fs_store(v2->get(), reg.root());
    ListedFsStore listed(make_fs_store(v2->get(), reg.root()));
    auto a = plan_gc(*fs, o, arena);
    auto b = plan_gc(listed, o, arena);
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ(plan_text(*a), plan_text(*b));
    EXPECT_FALSE(plan_text(*a).empty());
    EXPECT_EQ(findings_text(*a), findings_text(*b));
    ASSERT_EQ(a->inventory.repositories.size(), b->inventory.repositories.size());
    for (std::size_t r = 0; r < a->inventory.repositories.size(); ++r) {
      const Repository& x = a->inventory.repositories[r];
      const Repository& y = b->inventory.repositories[r];
      EXPECT_EQ(x.name, y.name);
      EXPECT_EQ(x.tags.size(), y.tags.size()) << x.name;
      EXPECT_EQ(x.revisions.size(), y.revisions.size()) << x.name;
      EXPECT_EQ(x.layers.size(), y.layers.size()) << x.name;
      EXPECT_EQ(x.uploads.size(), y.uploads.size()) << x.name;
      for (std::size_t u = 0; u < std::min(x.uploads.size(), y.uploads.size()); ++u) {
        EXPECT_EQ(x.uploads[u].bytes, y.uploads[u].bytes);
        EXPECT_EQ(x.uploads[u].started, y.uploads[u].started);
      }
    }
    EXPECT_EQ(a->inventory.blobs.size(), b->inventory.blobs.size());
  }
}

// Issue 31, causes 2 and 3 on object storage: a key listed twice is one key, and a blob a
// listing leaves out is confirmed absent by a direct look before anything depends on it.
TEST(ListingScan, ADuplicatedOrIncompleteListingLosesNothing) {
  test::TempRegistry reg;
  Digest layer = reg.put_layer("r", "layer");
  Digest img = reg.put_image("r", {layer}, "img");
  reg.tag("r", "v1", img);
  Digest orphan = reg.put_blob("an orphan");
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  tbb::task_arena arena(2);
  GcOptions options;
  options.delete_untagged = true;

  ListedFsStore twice(make_fs_store(v2->get(), reg.root()));
  twice.duplicate = true;
  auto c = plan_gc(twice, options, arena);
  ASSERT_TRUE(c);
  for (std::size_t i = 1; i < c->inventory.blobs.size(); ++i) {
    EXPECT_NE(c->inventory.blobs[i - 1].digest, c->inventory.blobs[i].digest);
  }
  EXPECT_EQ(test::planned(*c, ActionKind::blob), std::vector<Digest>{orphan});

  ListedFsStore gap(make_fs_store(v2->get(), reg.root()));
  gap.drop = layout::blob_data(layer);
  c = plan_gc(gap, options, arena);
  ASSERT_TRUE(c);
  EXPECT_TRUE(test::planned(*c, ActionKind::layer_link).empty());
  EXPECT_TRUE(blob_unknown(c->inventory, layer));
  bool said = false;
  for (const Finding& f : c->findings) {
    said = said || f.message.find("the listing left it out") != std::string::npos;
  }
  EXPECT_TRUE(said);
}

TEST(ListingScan, ReadsTagsButTakesWellSizedLinksFromTheirKeys) {
  test::TempRegistry reg;
  populate(reg);
  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(2);
  ListedFsStore listed(make_fs_store(v2->get(), reg.root()));
  auto inv = listed.scan(arena, ScanOptions{.read_layer_links = false});
  ASSERT_TRUE(inv);
  int tags = 0;
  int uploads = 0;
  std::set<Digest> absent;
  for (const Repository& r : inv->repositories) {
    tags += static_cast<int>(r.tags.size());
    uploads += static_cast<int>(r.uploads.size());
    absent.insert(r.absent.begin(), r.absent.end());
  }
  // Current links and startedat only, and one direct look at each digest a link names that
  // the listing did not show (issue 31: absence is confirmed before it decides anything).
  EXPECT_EQ(listed.reads.load(), tags + uploads + static_cast<int>(absent.size()));
  listed.reads = 0;
  auto full = listed.scan(arena, ScanOptions{.read_layer_links = true});
  EXPECT_GT(listed.reads.load(), tags + uploads);  // every link, as fsck wants
}

// A link whose content names another digest than its key: read when its size says so, and
// both digests kept, as on the filesystem.
TEST(ListingScan, ALinkOfAnotherSizeIsReadAndItsProblemReported) {
  test::TempRegistry reg;
  Digest l = reg.put_layer("r", "l", 100);
  Digest img = reg.put_image("r", {l});
  reg.tag("r", "v", img);
  reg.write(layout::revision_link("r", img), img.str() + "\n");  // 72 bytes
  auto v2 = open_registry(reg.root());
  tbb::task_arena arena(2);
  ListedFsStore listed(make_fs_store(v2->get(), reg.root()));
  auto inv = listed.scan(arena, {});
  ASSERT_TRUE(inv);
  bool reported = false;
  for (const Finding& f : inv->findings) {
    reported = reported ||
               (f.path == layout::revision_link("r", img) && f.kind == FindingKind::malformed_link);
  }
  EXPECT_TRUE(reported);
  EXPECT_TRUE(inv->repositories[0].revisions[0].problem());
}

// ---- the listing in pieces ----

// Everything an inventory says, one line per fact, for comparing two.
std::string inventory_text(const Inventory& inv) {
  std::ostringstream out;
  auto links = [&](const char* what, const std::vector<Link>& ls) {
    for (const Link& l : ls) {
      out << "  " << what << ' ' << l.ref << ' ' << l.mtime << ' ' << l.problem() << ' '
          << l.other() << ' ' << l.unverified() << '\n';
    }
  };
  for (const Blob& b : inv.blobs) {
    out << "blob " << b.digest.str() << ' ' << b.size << '\n';
  }
  for (const Digest& d : inv.unknown_blobs) {
    out << "unknown " << d.str() << '\n';
  }
  out << "keep all " << inv.keep_all_blobs << " newest " << inv.newest_mtime_ns << ' '
      << inv.newest_path << '\n';
  for (const Repository& r : inv.repositories) {
    out << "repo " << r.name << ' ' << r.uncertain << ' ' << r.tags_uncertain << ' '
        << r.absent.size() << ' ' << r.other_targets.size() << '\n';
    links("revision", r.revisions);
    links("layer", r.layers);
    for (const Tag& t : r.tags) {
      out << "  tag " << t.name << ' ' << (t.current ? t.current->str() : "-") << ' '
          << t.current_problem << '\n';
      links("history", t.history);
    }
    for (const Upload& u : r.uploads) {
      out << "  upload " << u.id << ' ' << u.bytes << '\n';
    }
  }
  for (const Finding& f : inv.findings) {
    out << "finding " << to_string(f.kind) << ' ' << f.path << ' ' << f.repository << '\n';
  }
  return out.str();
}

// One listing as an object store gives it: the objects directly below `dir` and the common
// prefixes one level down when `delimited`, else every object below `dir`.
struct Piece {
  std::vector<StoreObject> objects;
  std::vector<std::string> prefixes;
};
Piece list_piece(const std::vector<StoreObject>& all, const std::string& dir, bool delimited) {
  Piece p;
  for (const StoreObject& o : all) {
    if (o.key.compare(0, dir.size(), dir) != 0) {
      continue;
    }
    std::size_t slash = o.key.find('/', dir.size());
    if (!delimited || slash == std::string::npos) {
      p.objects.push_back(o);
    } else if (std::string pre = o.key.substr(0, slash + 1);
               p.prefixes.empty() || p.prefixes.back() != pre) {
      p.prefixes.push_back(pre);
    }
  }
  return p;
}

// The tree listed as the object store lists it, a level at a time down to each blob prefix and each
// repository's own directories, then listed whole; the pieces of `blobs/` first, the others
// in any order, each given a key at a time.
Inventory listed_in_pieces(const std::vector<StoreObject>& all, const ObjectReader& read,
                           tbb::task_arena& arena, unsigned seed) {
  std::vector<std::pair<std::string, bool>> todo{{"blobs/", true}, {"", true}};
  std::vector<Piece> blobs;
  std::vector<Piece> rest;
  while (!todo.empty()) {
    auto [dir, delimited] = todo.back();
    todo.pop_back();
    Piece p = list_piece(all, dir, delimited);
    for (const std::string& pre : p.prefixes) {
      std::string_view leaf = std::string_view(pre).substr(0, pre.size() - 1);
      leaf = leaf.substr(leaf.rfind('/') + 1);
      bool deeper = pre == "blobs/sha256/" || pre == "repositories/" ||
                    (pre.rfind("repositories/", 0) == 0 && !layout::is_reserved(leaf));
      if (pre != "blobs/" || dir != "") {
        todo.emplace_back(pre, deeper);
      }
    }
    (dir.rfind("blobs/", 0) == 0 ? blobs : rest).push_back(std::move(p));
  }
  std::mt19937 shuffle(seed);
  std::shuffle(blobs.begin(), blobs.end(), shuffle);
  std::shuffle(rest.begin(), rest.end(), shuffle);
  ListingInventory building(read, {});
  auto give = [&](std::vector<Piece>& pieces) {
    for (Piece& p : pieces) {
      ListingInventory::Unit unit(building);
      // A page per key: objects and prefixes in key order across pages.
      std::size_t o = 0;
      std::size_t q = 0;
      while (o < p.objects.size() || q < p.prefixes.size()) {
        std::vector<StoreObject> objects;
        std::vector<std::string> prefixes;
        if (q == p.prefixes.size() || (o < p.objects.size() && p.objects[o].key < p.prefixes[q])) {
          objects.push_back(p.objects[o++]);
        } else {
          prefixes.push_back(p.prefixes[q++]);
        }
        unit.page(objects, prefixes);
      }
      unit.close();
    }
  };
  give(blobs);
  building.blobs_listed();
  give(rest);
  return building.finish(arena, 0);
}

TEST(ListingScan, InPiecesAndInAnyOrderGivesWhatTheWholeListingGives) {
  test::TempRegistry reg;
  populate(reg);
  Digest orphan = reg.put_blob("another orphan");
  auto v2 = open_registry(reg.root());
  auto fs = make_fs_store(v2->get(), reg.root());
  std::vector<StoreObject> all;
  ASSERT_TRUE(list_objects(*fs, "", [&](const StoreObject& o) { all.push_back(o); }));
  // Keys that are also "directories", at each kind of level: listed whole, and one level
  // at a time, where the other keys show only as a common prefix.
  for (std::string key : {layout::blob_data(orphan) + "/x", std::string("blobs/sha256/ab"),
                          std::string("blobs/sha256/ab/cd"), std::string("repositories/lib"),
                          std::string("repositories/lib/app/_layers"),
                          std::string("repositories/lib/app/_layers-x"), std::string("top")}) {
    all.push_back(StoreObject{key, 5, 1000000000});
  }
  std::sort(all.begin(), all.end(),
            [](const StoreObject& a, const StoreObject& b) { return a.key < b.key; });
  ObjectReader read = [&](std::string_view k, std::uint64_t max) { return fs->read(k, max); };
  tbb::task_arena arena(2);
  std::string whole = inventory_text(inventory_from_listing(all, read, arena, {}, 0));
  EXPECT_NE(whole.find("finding unknown-entry repositories/lib "), std::string::npos) << whole;
  EXPECT_NE(whole.find("finding unknown-entry repositories/lib/app/_layers "), std::string::npos);
  EXPECT_NE(whole.find("unknown " + orphan.str()), std::string::npos);
  for (unsigned seed : {1U, 2U, 3U}) {
    EXPECT_EQ(inventory_text(listed_in_pieces(all, read, arena, seed)), whole) << seed;
  }
}

// A blob listed after the repositories (a caller that broke the order) cannot be judged:
// every blob is kept.
TEST(ListingScan, ABlobListedAfterTheRepositoriesKeepsEveryBlob) {
  test::TempRegistry reg;
  populate(reg);
  auto v2 = open_registry(reg.root());
  auto fs = make_fs_store(v2->get(), reg.root());
  ObjectReader read = [&](std::string_view k, std::uint64_t max) { return fs->read(k, max); };
  ListingInventory building(read, {});
  building.blobs_listed();
  ListingInventory::Unit unit(building);
  ASSERT_TRUE(list_objects(*fs, "", [&](const StoreObject& o) { unit.object(o); }));
  unit.close();
  tbb::task_arena arena(2);
  Inventory inv = building.finish(arena, 0);
  EXPECT_TRUE(inv.keep_all_blobs);
}

TEST(ListingScan, TheOneKeyOfABlobOrLinkDirectory) {
  Digest d = sha256_of("x");
  EXPECT_EQ(layout::single_key_of(layout::blob_dir(d)), layout::blob_data(d));
  EXPECT_EQ(layout::single_key_of(layout::layer_link_dir("a/b", d)), layout::layer_link("a/b", d));
  EXPECT_EQ(layout::single_key_of(layout::revision_dir("a", d)), layout::revision_link("a", d));
  EXPECT_EQ(layout::single_key_of(layout::tag_index_entry_dir("a", "index", d)),
            layout::tag_index_entry_link("a", "index", d));
  // Listed, not derived: directories that hold more than one key.
  EXPECT_EQ(layout::single_key_of(layout::repo_dir("a")), std::nullopt);
  EXPECT_EQ(layout::single_key_of(layout::tag_dir("a", "v1")), std::nullopt);
  EXPECT_EQ(layout::single_key_of(layout::upload_dir("a", "0b5e6c8a")), std::nullopt);
  EXPECT_EQ(layout::single_key_of("blobs/sha256/zz/" + d.hex()), std::nullopt);  // not its prefix
  EXPECT_EQ(layout::single_key_of("repositories/a/_manifests/tags/sha256/" + d.hex()),
            std::nullopt);
}

// Keys a filesystem cannot hold, and keys the layout does not know.
TEST(ListingScan, OddKeysAreFindingsAndKeepWhatTheyMayHide) {
  test::TempRegistry reg;
  Digest l = reg.put_layer("r", "l", 100);
  Digest img = reg.put_image("r", {l});
  reg.tag("r", "v", img);
  Digest orphan = reg.put_blob("orphan");
  auto v2 = open_registry(reg.root());
  auto fs = make_fs_store(v2->get(), reg.root());
  std::vector<StoreObject> objects;
  ASSERT_TRUE(list_objects(*fs, "", [&](const StoreObject& o) { objects.push_back(o); }));
  auto add = [&](std::string key) {
    objects.push_back(StoreObject{std::move(key), 5, 1000000000});
  };
  add("blobs/sha256/zz/x");                                  // no such prefix
  add(layout::blob_data(orphan) + "/x");                     // `data` is also a "directory"
  add(layout::layer_link("r", l) + "/x");                    // so is a link
  add("repositories/r/_manifests/tags/v/current/link.bak");  // a stranger in a tag
  ObjectReader read = [&](std::string_view k, std::uint64_t max) { return fs->read(k, max); };
  tbb::task_arena arena(2);
  std::sort(objects.begin(), objects.end(),
            [](const StoreObject& a, const StoreObject& b) { return a.key < b.key; });
  Inventory inv = inventory_from_listing(objects, read, arena, {}, 0);
  std::map<std::string, FindingKind> found;
  for (const Finding& f : inv.findings) {
    found[f.path] = f.kind;
    EXPECT_EQ(f.severity, Severity::error) << f.message;
  }
  EXPECT_TRUE(found.count("blobs/sha256/zz"));
  EXPECT_TRUE(found.count(layout::blob_data(orphan)));
  EXPECT_TRUE(found.count(layout::layer_link("r", l)));
  EXPECT_TRUE(found.count("repositories/r/_manifests/tags/v/current/link.bak"));
  // The orphan's directory holds a stranger: present, unknown, never deleted.
  EXPECT_TRUE(blob_unknown(inv, orphan));
  EXPECT_EQ(find_blob(inv, orphan), nullptr);
  ASSERT_EQ(inv.repositories.size(), 1U);
  EXPECT_TRUE(inv.repositories[0].uncertain);
  EXPECT_TRUE(inv.repositories[0].tags_uncertain);
}

}  // namespace
}  // namespace regsweep
