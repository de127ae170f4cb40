#pragma once

// Finding the storage root the way the registry does: from its config.yml, with the
// registry's environment overrides. The library never reads the environment itself: the
// caller passes the variables in.

#include <optional>
#include <string>

#include "regsweep/result.hpp"

namespace regsweep {

inline constexpr const char* k_default_rootdirectory = "/var/lib/registry";

// The environment variables the registry honours for the storage root.
struct RegistryEnv {
  std::optional<std::string> configuration_path;  // REGISTRY_CONFIGURATION_PATH
  std::optional<std::string> storage;             // REGISTRY_STORAGE (the driver name)
  std::optional<std::string> rootdirectory;       // REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY
};

struct RootChoice {
  std::string root;
  std::string origin;  // where it came from, for messages: "--root", "config '…'", …
};

// The root from a config file's text. A storage driver other than `filesystem` is an error
// that names it; a missing rootdirectory is the registry's default.
Result<std::string> root_from_config_text(const std::string& yaml_text, const std::string& path);

// The root, in the registry's order: `root_arg` if given; else the config file (`config_arg`,
// else REGISTRY_CONFIGURATION_PATH) with REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY
// overriding its rootdirectory. Error when neither a root nor a config can be found.
Result<RootChoice> locate_root(const std::optional<std::string>& config_arg,
                               const std::optional<std::string>& root_arg, const RegistryEnv& env);

}  // namespace regsweep
