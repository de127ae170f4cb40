// The store factory: the one place that knows every kind of store (open.hpp). A backend in
// object storage is one row of k_object_drivers.

#include "regsweep/open.hpp"

#include <array>

#include "store/azure/azure_store.hpp"
#include "store/s3/s3_store.hpp"

namespace regsweep {

namespace {

struct ObjectDriver {
  std::string_view name;  // the registry's driver name, and the scheme of a --root URL
  Result<std::unique_ptr<Store>> (*open)(const DriverParameters& driver);
};

constexpr std::array k_object_drivers{
    ObjectDriver{"s3", open_s3_store},
    ObjectDriver{"azure", open_azure_store},
};

}  // namespace

bool is_object_driver(std::string_view name) {
  for (const ObjectDriver& d : k_object_drivers) {
    if (d.name == name) {
      return true;
    }
  }
  return false;
}

std::string supported_drivers() {
  std::string out = "filesystem";
  for (std::size_t i = 0; i < k_object_drivers.size(); ++i) {
    out += (i + 1 == k_object_drivers.size() ? " and " : ", ");
    out += k_object_drivers[i].name;
  }
  return out;
}

Result<OpenedStore> open_store(const RootChoice& root) {
  if (root.object) {
    for (const ObjectDriver& d : k_object_drivers) {
      if (d.name == root.object->driver) {
        auto store = d.open(*root.object);
        if (!store) {
          return store.error();
        }
        return OpenedStore{fs::Fd(), std::move(*store)};
      }
    }
    return Error{root.object->origin + " uses the '" + root.object->driver +
                     "' storage driver; regsweep works on the " + supported_drivers() +
                     " drivers only",
                 0};
  }
  auto v2 = open_registry(root.root);
  if (!v2) {
    return v2.error();
  }
  auto store = make_fs_store(v2->get(), root.root);
  return OpenedStore{std::move(*v2), std::move(store)};
}

}  // namespace regsweep
