#pragma once

// An object::Bucket over a backend's client that speaks in the store's full keys: the tree's
// keys (relative to docker/registry/v2) get the prefix on the way in and lose it on the way
// out. Any HTTP backend (S3, Azure Blob) gives a client with these calls, each on full keys:
//   list(prefix, delimiter, page), head, get, get_stream, put, delete_object,
//   delete_objects(keys) (and delete_objects(keys, unmodified_since) where the service can make
//   a deletion conditional), list_multipart(prefix), abort_multipart(upload), copy(source, key),
//   start_multipart(key), copy_part(upload, part, source, first, last),
//   complete_multipart(upload, tags), clock_offset(), versioning(), list_versions(key),
//   delete_versions(versions).
// A view beside the tree (beside()) shares the client.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/object/bucket.hpp"
#include "store/object/http.hpp"

namespace regsweep::object {

// What a backend says of itself to the bucket over it.
struct BackendTraits {
  std::string location;    // "s3://bucket/prefix", for messages
  std::string shown_base;  // what a full key is shown after: "s3://bucket/"
  std::string registry;    // the full prefix of docker/registry/: "<root>/docker/registry/"
  std::size_t max_batch;   // keys in one batch delete
  std::uint64_t max_copy;  // bytes in one server-side copy
};

template <typename Client>
class PrefixedBucket final : public Bucket {
 public:
  // The tree's bucket: keys below docker/registry/`dir` (below docker/registry/ itself
  // when `dir` is empty).
  PrefixedBucket(std::shared_ptr<Client> client, BackendTraits traits, std::string_view dir = "v2")
      : m_client(std::move(client)),
        m_traits(std::move(traits)),
        m_keys(dir.empty() ? m_traits.registry : m_traits.registry + std::string(dir) + "/") {}

  const std::string& location() const override { return m_traits.location; }
  std::string full_key(std::string_view key) const override { return m_keys.full(key); }
  std::string shown(std::string_view key) const override {
    return m_traits.shown_base + full_key(key);
  }
  Status list(std::string_view prefix, ListDepth depth,
              const std::function<void(Page&)>& page) override {
    return m_client->list(full_key(prefix), depth == ListDepth::one_level ? "/" : "", [&](Page& p) {
      for (StoreObject& o : p.objects) {
        o.key = m_keys.tree(o.key);
      }
      for (std::string& d : p.prefixes) {
        d = m_keys.tree(d);
      }
      page(p);
    });
  }
  Result<StoreObject> head(std::string_view key) override {
    auto got = m_client->head(full_key(key));
    if (got) {
      got->key = std::string(key);
    }
    return got;
  }
  Result<std::string> get(std::string_view key, std::uint64_t max) override {
    return m_client->get(full_key(key), max);
  }
  Status get_stream(std::string_view key,
                    const std::function<void(std::string_view)>& sink) override {
    return m_client->get_stream(full_key(key), sink);
  }
  Status put(std::string_view key, std::string_view body) override {
    return m_client->put(full_key(key), body);
  }
  Status remove(std::string_view key) override { return m_client->delete_object(full_key(key)); }
  std::size_t max_batch() const override { return m_traits.max_batch; }
  Result<std::vector<DeleteFailure>> remove_batch(const std::vector<std::string>& keys) override {
    return m_keys.tree(m_client->delete_objects(full_keys(keys)));
  }
  Result<std::vector<DeleteFailure>> remove_batch_unmodified(const std::vector<std::string>& keys,
                                                             std::int64_t since) override {
    if constexpr (requires(Client & c) { c.delete_objects(keys, std::optional<std::int64_t>()); }) {
      return m_keys.tree(m_client->delete_objects(full_keys(keys), since));
    } else {
      return remove_batch(keys);
    }
  }
  Result<std::vector<Multipart>> list_multipart(std::string_view prefix) override {
    return m_keys.tree(m_client->list_multipart(full_key(prefix)));
  }
  Status abort_multipart(const Multipart& upload) override {
    return m_client->abort_multipart(m_keys.with_full_key(upload));
  }
  std::unique_ptr<Bucket> beside(std::string_view dir) override {
    return std::make_unique<PrefixedBucket>(m_client, m_traits, dir);
  }
  std::uint64_t max_copy() const override { return m_traits.max_copy; }
  Status copy(std::string_view source, std::string_view key) override {
    return m_client->copy(source, full_key(key));
  }
  Result<std::string> start_multipart(std::string_view key) override {
    return m_client->start_multipart(full_key(key));
  }
  Result<std::string> copy_part(const Multipart& upload, int part, std::string_view source,
                                std::uint64_t first, std::uint64_t last) override {
    return m_client->copy_part(m_keys.with_full_key(upload), part, source, first, last);
  }
  Status complete_multipart(const Multipart& upload,
                            const std::vector<std::string>& tags) override {
    return m_client->complete_multipart(m_keys.with_full_key(upload), tags);
  }
  std::optional<std::int64_t> clock_offset() const override { return m_client->clock_offset(); }
  Result<std::string> versioning() override { return m_client->versioning(); }
  Result<std::vector<Version>> list_versions(std::string_view key) override {
    return m_keys.tree(m_client->list_versions(full_key(key)));
  }
  Result<std::vector<DeleteFailure>> remove_versions(
      const std::vector<Version>& versions) override {
    std::vector<Version> full;
    full.reserve(versions.size());
    for (const Version& v : versions) {
      full.push_back(m_keys.with_full_key(v));
    }
    return m_keys.tree(m_client->delete_versions(full));
  }

 private:
  std::vector<std::string> full_keys(const std::vector<std::string>& keys) const {
    std::vector<std::string> full;
    full.reserve(keys.size());
    for (const std::string& k : keys) {
      full.push_back(full_key(k));
    }
    return full;
  }

  std::shared_ptr<Client> m_client;  // shared with the views beside
  BackendTraits m_traits;
  KeyPrefix m_keys;
};

}  // namespace regsweep::object
