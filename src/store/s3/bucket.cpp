// The S3 backend of the object store: S3Client's requests, as object::Bucket asks them, with
// the keys of the tree (relative to docker/registry/v2) mapped to the bucket's and back.

#include <utility>

#include "store/object/store.hpp"
#include "store/s3/s3_store.hpp"

namespace regsweep {

namespace {

constexpr std::size_t k_delete_batch = 1000;  // DeleteObjects' limit

class S3Bucket final : public object::Bucket {
 public:
  S3Bucket(S3Settings settings, S3ClientOptions options)
      : m_client(std::move(settings), options),
        m_location(m_client.settings().location()),
        m_prefix(m_client.settings().v2_prefix()) {}

  const std::string& location() const override { return m_location; }
  std::string full_key(std::string_view key) const override { return m_prefix + std::string(key); }
  std::string shown(std::string_view key) const override {
    return "s3://" + m_client.settings().bucket + "/" + full_key(key);
  }

  Status list(std::string_view prefix, ListDepth depth,
              const std::function<void(object::Page&)>& page) override {
    return m_client.list(full_key(prefix), depth == ListDepth::one_level ? "/" : "",
                         [&](S3Page& p) {
                           for (S3Object& o : p.objects) {
                             o.key = tree_key(o.key);
                           }
                           for (std::string& d : p.prefixes) {
                             d = tree_key(d);
                           }
                           page(p);
                         });
  }
  Result<StoreObject> head(std::string_view key) override {
    auto got = m_client.head(full_key(key));
    if (got) {
      got->key = std::string(key);
    }
    return got;
  }
  Result<std::string> get(std::string_view key, std::uint64_t max) override {
    return m_client.get(full_key(key), max);
  }
  Status get_stream(std::string_view key,
                    const std::function<void(std::string_view)>& sink) override {
    return m_client.get_stream(full_key(key), sink);
  }
  Status put(std::string_view key, std::string_view body) override {
    return m_client.put(full_key(key), body);
  }
  Status remove(std::string_view key) override { return m_client.delete_object(full_key(key)); }

  std::size_t max_batch() const override { return k_delete_batch; }
  Result<std::vector<object::DeleteFailure>> remove_batch(
      const std::vector<std::string>& keys) override {
    std::vector<std::string> full;
    full.reserve(keys.size());
    for (const std::string& k : keys) {
      full.push_back(full_key(k));
    }
    return tree_keys(m_client.delete_objects(full));
  }

  Result<std::vector<object::Multipart>> list_multipart(std::string_view prefix) override {
    return tree_keys(m_client.list_multipart(full_key(prefix)));
  }
  Status abort_multipart(const object::Multipart& upload) override {
    S3Multipart full = upload;
    full.key = full_key(upload.key);
    return m_client.abort_multipart(full);
  }

  std::optional<std::int64_t> clock_offset() const override { return m_client.clock_offset(); }

  Result<std::string> versioning() override { return m_client.versioning(); }
  Result<std::vector<object::Version>> list_versions(std::string_view key) override {
    return tree_keys(m_client.list_versions(full_key(key)));
  }
  Result<std::vector<object::DeleteFailure>> remove_versions(
      const std::vector<object::Version>& versions) override {
    std::vector<S3Version> full = versions;
    for (S3Version& v : full) {
      v.key = full_key(v.key);
    }
    return tree_keys(m_client.delete_versions(full));
  }

 private:
  // A bucket's key as the tree's: without the prefix (which every key listed below it has).
  std::string tree_key(const std::string& key) const {
    return key.compare(0, m_prefix.size(), m_prefix) == 0 ? key.substr(m_prefix.size()) : key;
  }
  // The same for each of what a request answered (failures, uploads, versions).
  template <typename Keyed>
  Result<std::vector<Keyed>> tree_keys(Result<std::vector<Keyed>> answered) const {
    if (answered) {
      for (Keyed& k : *answered) {
        k.key = tree_key(k.key);
      }
    }
    return answered;
  }

  S3Client m_client;
  std::string m_location;
  std::string m_prefix;  // the tree's: <rootdirectory>/docker/registry/v2/
};

}  // namespace

std::unique_ptr<Store> make_s3_store(S3Settings settings, S3ClientOptions options) {
  return object::make_object_store(std::make_unique<S3Bucket>(std::move(settings), options),
                                   "the bucket");
}

Result<std::unique_ptr<Store>> open_s3_store(const DriverParameters& driver) {
  auto settings = s3_settings(driver);
  if (!settings) {
    return settings.error();
  }
  return make_s3_store(std::move(*settings));
}

}  // namespace regsweep
