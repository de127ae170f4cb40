#pragma once

// The store of a tree in an S3 bucket, as the registry's s3 driver writes it: keys
// `<rootdirectory>/docker/registry/v2/...`, the same paths as on a filesystem (layout.md).
// What it can and cannot promise is in docs/safety.md: there is no atomic rename and no
// directory to watch, so rule 3 is kept by listing `repositories/` again before each phase.

#include <memory>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/store.hpp"
#include "store/s3/client.hpp"

namespace regsweep {

std::unique_ptr<Store> make_s3_store(S3Settings settings, S3ClientOptions options = {});

// The store the s3 driver's parameters describe (the store factory's entry, open.cpp); error
// when they are incomplete or unreadable (s3_settings).
Result<std::unique_ptr<Store>> open_s3_store(const DriverParameters& driver);

}  // namespace regsweep
