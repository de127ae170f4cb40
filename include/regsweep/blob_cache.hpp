#pragma once

// The registry's blob descriptor cache (storage.cache.blobdescriptor) after a run deletes.
//
// The registry caches, for each blob, a global entry (redis hash `blobs::<digest>`) and, for
// each repository that links it, a set member and a hash (`repository::<name>::blobs` holds
// `<digest>`; `repository::<name>::blobs::<digest>`), as distribution's
// registry/storage/cache/redis/redis.go writes them (2.8 and 3.x alike). An entry left for a
// deleted blob or link makes the next push of it skip the upload ("already exists") and link
// a manifest to data that is gone. `inmemory` is cleared by restarting the registry; `redis`
// outlives every restart, so a run removes the entries of what it deleted, and only those,
// after the deletions they describe (an entry removed before could be re-added by a stat in
// between).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "regsweep/config.hpp"
#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/result.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep {

// The registry's `redis` section: 2.8's `addr`, 3.x's `addrs` (one server; several are a
// cluster, whose MOVED answers are followed; with `mastername`, sentinels that name the
// master), `username`, `password`, `db`, 3.x's `tls`, the dial and read timeouts.
struct RedisSettings {
  std::vector<std::string> addrs;
  std::string username;
  std::string password;
  int db = 0;
  std::string mastername;
  std::string sentinel_username;
  std::string sentinel_password;
  bool tls = false;  // 3.x: any of tls.certificate, tls.key, tls.rootcas set
  std::string tls_certificate;
  std::string tls_key;
  std::vector<std::string> tls_rootcas;
  std::int64_t dial_timeout_ms = 5000;
  std::int64_t read_timeout_ms = 5000;
  // For the messages: "configuration '<path>'", with the environment's overrides.
  std::string origin;
};

struct BlobCacheSettings {
  enum class Kind : std::uint8_t { none, inmemory, redis };
  Kind kind = Kind::none;
  RedisSettings redis;
  // Where the redis commands for entries that could not be removed are written (a file
  // there, named in the finding); the caller's temporary directory.
  std::string stale_dir = "/tmp";
};

// The cache a configuration's text configures, with the registry's environment overrides
// (REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR, REGISTRY_REDIS_ADDR, REGISTRY_REDIS_ADDRS,
// REGISTRY_REDIS_USERNAME, REGISTRY_REDIS_PASSWORD, REGISTRY_REDIS_DB, …). Error when the
// text cannot be parsed or a value is malformed (a db that is no number), naming it.
Result<BlobCacheSettings> blob_cache_settings(const std::string& yaml_text, const std::string& path,
                                              const RegistryEnv& env);

// What the cache may still describe after a run: the blobs it deleted (or moved out of the
// registry's sight), the revision and layer links, the repositories it removed.
struct CacheEntries {
  std::vector<Digest> blobs;
  std::vector<std::pair<std::string, Digest>> links;  // repository, digest
  std::vector<std::string> repositories;
  bool empty() const { return blobs.empty() && links.empty() && repositories.empty(); }
};

// The entries of the actions of `plan` that were done (`swept`), or of every action when
// `swept` is null (a dry run).
CacheEntries cache_entries(const Plan& plan, const SweepResult* swept);

// What became of the cache entries of a run.
struct CacheReport {
  std::string address;  // the server's, as configured ("host:port")
  int db = 0;
  std::uint64_t blobs = 0;         // deleted blobs whose global entry is removed
  std::uint64_t links = 0;         // deleted links whose repository entry is removed
  std::uint64_t repositories = 0;  // removed repositories, every entry of each
  bool attempted = false;          // false in a dry run, or with nothing to remove
  std::uint64_t removed = 0;       // keys and set members redis held and removed
  std::uint64_t failed = 0;        // removals not confirmed (each a key or a member)
  std::string stale_file;          // the redis commands of the failed ones, when written
  double seconds = 0;              // how long the removal took, connecting included
  std::optional<Finding> finding;  // an error when anything failed
};

// The report of a dry run: what a real run would remove; nothing is connected to.
CacheReport planned_cache_clear(const RedisSettings& settings, const CacheEntries& entries);

// Removes `entries` from the redis cache, pipelined, with connect and read deadlines. Never
// throws or blocks past its deadlines; what fails is in the report's finding, which names the
// server, says what may be stale and gives the command that removes it.
CacheReport clear_blob_cache(const BlobCacheSettings& settings, const CacheEntries& entries);

}  // namespace regsweep
