#pragma once

// Opening the store a run works on, wherever the configuration or --root put the tree: a
// directory (the filesystem store) or a bucket (an object store). The only place that knows
// every kind of store.

#include <memory>

#include "regsweep/config.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

struct OpenedStore {
  fs::Fd v2;  // the open docker/registry/v2 of a directory; none for a bucket
  std::unique_ptr<Store> store;
};

// Opens the tree `root` names. Error (naming the path) when a directory holds no registry
// tree or one of its top directories is a symbolic link.
Result<OpenedStore> open_store(const RootChoice& root);

}  // namespace regsweep
