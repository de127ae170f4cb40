#pragma once

// The store of a tree in an S3 bucket, as the registry's s3 driver writes it: keys
// `<rootdirectory>/docker/registry/v2/...` (layout.md); its promises: docs/safety.md.

#include <memory>

#include "regsweep/store.hpp"
#include "store/s3/client.hpp"

namespace regsweep {

std::unique_ptr<Store> make_s3_store(S3Settings settings, S3ClientOptions options = {});

// The store the s3 driver's parameters describe (the store factory's entry, open.cpp); error
// when they are incomplete or unreadable (s3_settings).
Result<std::unique_ptr<Store>> open_s3_store(const DriverParameters& driver);

}  // namespace regsweep
