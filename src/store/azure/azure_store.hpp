#pragma once

// The store of a tree in an Azure Blob container, as the registry's azure driver writes it
// (settings.hpp: the blob names of 2.8 and of 3.x); its promises: docs/safety.md.

#include <memory>

#include "regsweep/store.hpp"
#include "store/azure/client.hpp"

namespace regsweep {

// The store over `settings`' container, its tree's blobs named below `registry_prefix`
// ("<rootdirectory>/docker/registry/", or the 2.8 driver's "/docker/registry/").
std::unique_ptr<Store> make_azure_store(AzureSettings settings, std::string registry_prefix,
                                        object::HttpOptions options = {});

// The store the azure driver's parameters describe (the store factory's entry, open.cpp):
// which names the container holds is found by a look at both; an error when the settings are
// incomplete, the container cannot be read, or it holds a tree under both names.
Result<std::unique_ptr<Store>> open_azure_store(const DriverParameters& driver);

}  // namespace regsweep
