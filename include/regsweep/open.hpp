#pragma once

// Opening the store a run works on, wherever the configuration or --root put the tree: a
// directory (the filesystem store) or a bucket (an object store). Its implementation
// (src/store/open.cpp) is the only place that knows every kind of store.

#include <memory>
#include <string>
#include <string_view>

#include "regsweep/config.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

struct OpenedStore {
  fs::Fd v2;  // the open docker/registry/v2 of a directory; none for a bucket
  std::unique_ptr<Store> store;
};

// Opens `<root>/docker/registry/v2`, one component at a time, refusing a symbolic link where
// the tree's top directories belong. Error (naming the path) when the root does not exist or
// does not hold a registry tree.
Result<fs::Fd> open_registry(const std::string& root);

// The store of a local filesystem tree: `v2_fd` is the open `<root>/docker/registry/v2`
// (open_registry), which must outlive the store; `location` names the root in messages.
// Every path is opened one component at a time without following a symbolic link.
std::unique_ptr<Store> make_fs_store(int v2_fd, std::string location = {});

// Whether `name` is a driver that stores in object storage and regsweep has a store for: it is
// chosen by its configuration section, REGISTRY_STORAGE or a `<name>://` --root.
bool is_object_driver(std::string_view name);
// The drivers regsweep works on, for messages: "filesystem and …", as the factory lists them.
std::string supported_drivers();

// Opens the tree `root` names. Error (naming the path) when a directory holds no registry
// tree or one of its top directories is a symbolic link.
Result<OpenedStore> open_store(const RootChoice& root);

}  // namespace regsweep
