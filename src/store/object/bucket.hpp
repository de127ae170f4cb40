#pragma once

// What an object store's backend gives the machinery every object store shares (store.hpp
// in this folder): a flat namespace of keys with listings by prefix, reads, writes, deletes
// in batches, server-side copies, incomplete multipart uploads and, where the store keeps
// them, versions. Keys are relative to docker/registry/v2, as everywhere above the backend;
// the backend adds its own prefix (a bucket and a root directory) and takes it off what it
// lists.
//
// Calls may come from many threads at once. Each returns in bounded time (the backend's
// deadlines and retries) and names the key it could not do in its error.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep::object {

// One page of a listing, in key order (store.hpp).
using Page = ListPage;

// An incomplete multipart upload (a blob upload's `data` being written).
struct Multipart {
  std::string key;
  std::string upload_id;
  std::int64_t initiated_ns = 0;
};

// A key (or a version of it) a batch delete did not delete, with the server's code and
// message.
struct DeleteFailure {
  std::string key;
  std::string code;
  std::string message;
  std::string version_id;  // the version asked for, when one was
};

// The code of a conditional deletion the store refused: the key was written since.
inline constexpr std::string_view k_changed_since = "ConditionNotMet";

// One version of a key in a store that keeps them: stored bytes or a delete marker.
struct Version {
  std::string key;
  std::string version_id;
  bool delete_marker = false;
  bool latest = false;  // the key's current version: what a read of the key answers with
  std::uint64_t size = 0;
};

class Bucket {
 public:
  virtual ~Bucket() = default;

  // Where the tree is, for messages ("s3://bucket/prefix").
  virtual const std::string& location() const = 0;
  // A key as the backend names it (with its prefix), and as an operator would write it
  // ("s3://bucket/<full key>"), for messages.
  virtual std::string full_key(std::string_view key) const = 0;
  virtual std::string shown(std::string_view key) const = 0;

  // Every page of the listing below `prefix` ("" for the tree; else ending in '/'), one
  // level only (with the next level's prefixes) with ListDepth::one_level. Complete, or an
  // error.
  virtual Status list(std::string_view prefix, ListDepth depth,
                      const std::function<void(Page&)>& page) = 0;
  // One object's size and time, by a direct look (not a listing); ENOENT when there is none.
  virtual Result<StoreObject> head(std::string_view key) = 0;
  // A small object whole; ENOENT when there is none; EFBIG when larger than `max`.
  virtual Result<std::string> get(std::string_view key, std::uint64_t max) = 0;
  virtual Status get_stream(std::string_view key,
                            const std::function<void(std::string_view)>& sink) = 0;
  virtual Status put(std::string_view key, std::string_view body) = 0;
  virtual Status remove(std::string_view key) = 0;
  // Deletes up to max_batch() keys in one request: those not deleted, with the reasons. A
  // key that does not exist counts as deleted.
  virtual std::size_t max_batch() const = 0;
  virtual Result<std::vector<DeleteFailure>> remove_batch(const std::vector<std::string>& keys) = 0;
  // The same, where the backend can make a deletion conditional, only for keys not written
  // after the second `unmodified_since` (seconds since the epoch, the store's clock): a key
  // written since is left, a DeleteFailure with the code k_changed_since. A backend that
  // cannot deletes as remove_batch does.
  virtual Result<std::vector<DeleteFailure>> remove_batch_unmodified(
      const std::vector<std::string>& keys, std::int64_t /*unmodified_since*/) {
    return remove_batch(keys);
  }

  virtual Result<std::vector<Multipart>> list_multipart(std::string_view prefix) = 0;
  virtual Status abort_multipart(const Multipart& upload) = 0;

  // The same store with keys relative to docker/registry/<dir>/ instead of v2 (the
  // quarantine's; docker/registry/ itself when `dir` is empty: the lock's), sharing this
  // one's connections; it lives no longer than this one.
  virtual std::unique_ptr<Bucket> beside(std::string_view dir) = 0;
  // Server-side copies, the bytes never passing through here. `source` is a full key
  // (full_key() of this store or of a view beside it). copy() takes at most max_copy() bytes;
  // larger objects go in a multipart copy: start_multipart, then copy_part for each range
  // [first, last] of the source (parts numbered from 1), answering the part's tag, then
  // complete_multipart with the tags in order (abort_multipart gives up).
  virtual std::uint64_t max_copy() const = 0;
  virtual Status copy(std::string_view source, std::string_view key) = 0;
  virtual Result<std::string> start_multipart(std::string_view key) = 0;
  virtual Result<std::string> copy_part(const Multipart& upload, int part, std::string_view source,
                                        std::uint64_t first, std::uint64_t last) = 0;
  virtual Status complete_multipart(const Multipart& upload,
                                    const std::vector<std::string>& tags) = 0;

  // The store's clock minus this machine's, in seconds, once any answer carried it.
  virtual std::optional<std::int64_t> clock_offset() const = 0;

  // Whether deleted objects are kept as versions: empty when not, else the state
  // ("Enabled", "Suspended").
  virtual Result<std::string> versioning() = 0;
  // Every version of exactly `key`, delete markers included.
  virtual Result<std::vector<Version>> list_versions(std::string_view key) = 0;
  // Deletes up to max_batch() versions in one request: those not deleted.
  virtual Result<std::vector<DeleteFailure>> remove_versions(
      const std::vector<Version>& versions) = 0;
};

}  // namespace regsweep::object
