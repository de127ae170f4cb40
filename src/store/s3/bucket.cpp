// The S3 backend of the object store: S3Client's requests, on the bucket's full keys, as the
// generic PrefixedBucket maps the tree's keys to them.

#include <cstdlib>
#include <utility>

#include "store/object/prefixed_bucket.hpp"
#include "store/object/store.hpp"
#include "store/s3/s3_store.hpp"

namespace regsweep {

std::unique_ptr<Store> make_s3_store(S3Settings settings, S3ClientOptions options) {
  auto client = std::make_shared<S3Client>(std::move(settings), options);
  const S3Settings& s = client->settings();
  std::string v2 = s.v2_prefix();  // "<rootdirectory>/docker/registry/v2/"
  // tests/e2e/s3_e2e.sh makes a 12 MB blob go in a multipart copy of 5 MiB parts.
  const char* test_max_copy = std::getenv("REGSWEEP_TEST_MAX_COPY");
  object::BackendTraits traits{.location = s.location(),
                               .shown_base = "s3://" + s.bucket + "/",
                               .registry = v2.substr(0, v2.size() - 3),
                               .max_batch = 1000,                    // DeleteObjects' limit
                               .max_copy = test_max_copy != nullptr  // else CopyObject's limit
                                               ? std::strtoull(test_max_copy, nullptr, 10)
                                               : 5ULL << 30U};
  return object::make_object_store(
      std::make_unique<object::PrefixedBucket<S3Client>>(std::move(client), std::move(traits)),
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
