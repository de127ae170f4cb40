#pragma once

// The container and how to reach it, read from the registry's azure driver parameters
// (DriverParameters: `storage.azure` with REGISTRY_STORAGE_AZURE_* overrides) or from
// `--root azure://container/prefix` with --endpoint, and, for an empty account or key,
// AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY.
//
// Blob names, as the driver makes them (registry/storage/driver/azure/azure.go):
//   3.x: strings.TrimLeft(strings.TrimRight(rootdirectory, "/") + path, "/"), path being
//        "/docker/registry/v2/…": "<rootdirectory>/docker/registry/v2/…", or
//        "docker/registry/v2/…" without one;
//   2.8: the path itself, leading slash kept ("/docker/registry/v2/…"): that driver has no
//        rootdirectory.
// Which of the two a container holds is found by a look at both (bucket.cpp).

#include <optional>
#include <string>
#include <string_view>

#include "regsweep/config.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

struct AzureSettings {
  std::string account;
  std::string key;  // the account key, base64 as the portal shows it
  std::string container;
  std::string service_url;    // "https://<account>.blob.<realm>", or serviceurl / --endpoint
  std::string rootdirectory;  // without leading or trailing slash; "" for the container's top
  bool skip_verify = false;

  // "azure://container/rootdirectory", for messages: never a secret.
  std::string location() const;
  // The 3.x driver's prefix of docker/registry/: "<rootdirectory>/docker/registry/".
  std::string registry_prefix() const;
};

// The 2.8 driver's prefix of docker/registry/ (its blob names keep the path's leading slash).
inline constexpr std::string_view k_azure_legacy_registry_prefix = "/docker/registry/";

// Parses `azure://container[/prefix]` (for --root); nullopt when `text` is no such URL.
std::optional<AzureSettings> parse_azure_url(std::string_view text);

// The container `driver` describes. Error naming what is missing (an account, a container, a
// key) or what regsweep cannot use (a credentials type other than shared_key); never a secret.
Result<AzureSettings> azure_settings(const DriverParameters& driver);

}  // namespace regsweep
