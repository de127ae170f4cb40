#include "regsweep/config.hpp"

#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace regsweep {

namespace {

// Keys of `storage` that configure the registry rather than name a driver.
bool is_storage_option(const std::string& key) {
  return key == "delete" || key == "cache" || key == "maintenance" || key == "redirect" ||
         key == "tag";
}

}  // namespace

Result<std::string> root_from_config_text(const std::string& yaml_text, const std::string& path) {
  try {
    YAML::Node doc = YAML::Load(yaml_text);
    YAML::Node storage = doc["storage"];
    if (!storage || !storage.IsMap()) {
      return Error{"configuration '" + path + "' has no storage section", 0};
    }
    std::string driver;
    for (const auto& kv : storage) {
      std::string key = kv.first.as<std::string>();
      if (is_storage_option(key)) {
        continue;
      }
      if (!driver.empty()) {
        return Error{"configuration '" + path + "' names more than one storage driver ('" + driver +
                         "' and '" + key + "')",
                     0};
      }
      driver = key;
    }
    if (driver.empty()) {
      return Error{"configuration '" + path + "' names no storage driver", 0};
    }
    if (driver != "filesystem") {
      return Error{"configuration '" + path + "' uses the '" + driver +
                       "' storage driver; regsweep works on the filesystem driver only",
                   0};
    }
    YAML::Node fsnode = storage["filesystem"];
    if (fsnode && fsnode.IsMap() && fsnode["rootdirectory"]) {
      auto root = fsnode["rootdirectory"].as<std::string>();
      if (!root.empty()) {
        return root;
      }
    }
    return std::string(k_default_rootdirectory);
  } catch (const YAML::Exception& e) {
    return Error{"cannot parse configuration '" + path + "': " + e.what(), 0};
  }
}

Result<RootChoice> locate_root(const std::optional<std::string>& config_arg,
                               const std::optional<std::string>& root_arg, const RegistryEnv& env) {
  if (root_arg) {
    return RootChoice{*root_arg, "--root"};
  }
  std::optional<std::string> config = config_arg ? config_arg : env.configuration_path;
  if (!config || config->empty()) {
    return Error{
        "no configuration: give the registry's config.yml, set "
        "REGISTRY_CONFIGURATION_PATH, or name the storage root with --root",
        0};
  }
  std::ifstream in(*config, std::ios::binary);
  if (!in) {
    return Error{"cannot read configuration '" + *config + "'", errno};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (env.storage && !env.storage->empty() && *env.storage != "filesystem") {
    return Error{"REGISTRY_STORAGE selects the '" + *env.storage +
                     "' storage driver; regsweep works on the filesystem driver only",
                 0};
  }
  bool env_root = env.rootdirectory && !env.rootdirectory->empty();
  auto root = root_from_config_text(text, *config);
  if (!root) {
    // The environment can supply the driver the file lacks, as the registry allows.
    if (env_root && text.find("storage") == std::string::npos) {
      return RootChoice{*env.rootdirectory, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"};
    }
    return root.error();
  }
  if (env_root) {
    return RootChoice{*env.rootdirectory, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"};
  }
  return RootChoice{*root, "configuration '" + *config + "'"};
}

}  // namespace regsweep
