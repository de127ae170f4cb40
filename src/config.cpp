#include "regsweep/config.hpp"

#include <cerrno>
#include <cstdint>

#include <yaml-cpp/yaml.h>

#include "regsweep/fs.hpp"

namespace regsweep {

namespace {

constexpr std::uint64_t k_config_max = 16U << 20U;

// Keys of `storage` that configure the registry rather than name a driver.
bool is_storage_option(const std::string& key) {
  return key == "delete" || key == "cache" || key == "maintenance" || key == "redirect" ||
         key == "tag";
}

// The configuration file's text. A FIFO or a directory given as CONFIG is an error that names
// it, never a wait (fs::read_named_file).
Result<std::string> read_config_file(const std::string& path) {
  auto text = fs::read_named_file(path, k_config_max);
  if (text) {
    return text;
  }
  if (text.error().sys_errno == EISDIR) {
    return Error{"configuration '" + path + "' is a directory; give the registry's config.yml",
                 EISDIR};
  }
  return Error{"cannot read configuration: " + text.error().message, text.error().sys_errno};
}

}  // namespace

Result<std::string> root_from_config_text(const std::string& yaml_text, const std::string& path) {
  try {
    YAML::Node doc = YAML::Load(yaml_text);
    YAML::Node storage = doc["storage"];
    if (storage && storage.IsScalar() && storage.as<std::string>() == "filesystem") {
      // `storage: filesystem`, which the registry accepts: the driver with no parameters.
      return std::string(k_default_rootdirectory);
    }
    if (storage && storage.IsScalar()) {
      return Error{"configuration '" + path + "' uses the '" + storage.as<std::string>() +
                       "' storage driver; regsweep works on the filesystem driver only",
                   0};
    }
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
    // An empty or null `rootdirectory:` is the registry's default, as the registry reads it
    // (yaml-cpp would give the text "null" for it).
    if (fsnode && fsnode.IsMap() && fsnode["rootdirectory"] && fsnode["rootdirectory"].IsScalar()) {
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

ServeSettings serve_settings_from_text(const std::string& yaml_text) {
  ServeSettings out;
  out.net = "tcp";
  try {
    YAML::Node doc = YAML::Load(yaml_text);
    YAML::Node http = doc["http"];
    if (http && http.IsMap()) {
      if (http["addr"] && http["addr"].IsScalar()) {
        out.addr = http["addr"].as<std::string>();
      }
      if (http["net"] && http["net"].IsScalar() && !http["net"].as<std::string>().empty()) {
        out.net = http["net"].as<std::string>();
      }
    }
    YAML::Node ro = doc["storage"]["maintenance"]["readonly"];
    if (ro && ro.IsMap() && ro["enabled"] && ro["enabled"].IsScalar()) {
      out.readonly = ro["enabled"].as<bool>(false);
    }
  } catch (const YAML::Exception&) {
    // The storage section decides whether the file is usable; the rest keeps its defaults.
  }
  return out;
}

Result<RootChoice> locate_root(const std::optional<std::string>& config_arg,
                               const std::optional<std::string>& root_arg, const RegistryEnv& env) {
  if (root_arg) {
    return RootChoice{.root = *root_arg, .origin = "--root", .serve = {}, .config_path = {}};
  }
  std::optional<std::string> config = config_arg ? config_arg : env.configuration_path;
  if (!config || config->empty()) {
    return Error{
        "no configuration: give the registry's config.yml, set "
        "REGISTRY_CONFIGURATION_PATH, or name the storage root with --root",
        0};
  }
  auto read = read_config_file(*config);
  if (!read) {
    return read.error();
  }
  std::string text = std::move(*read);
  if (env.storage && !env.storage->empty() && *env.storage != "filesystem") {
    return Error{"REGISTRY_STORAGE selects the '" + *env.storage +
                     "' storage driver; regsweep works on the filesystem driver only",
                 0};
  }
  bool env_root = env.rootdirectory && !env.rootdirectory->empty();
  ServeSettings serve = serve_settings_from_text(text);
  if (env.http_addr && !env.http_addr->empty()) {
    serve.addr = *env.http_addr;
  }
  auto root = root_from_config_text(text, *config);
  if (!root) {
    // The environment can supply the driver the file lacks, as the registry allows.
    if (env_root && text.find("storage") == std::string::npos) {
      return RootChoice{*env.rootdirectory, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", serve,
                        *config};
    }
    return root.error();
  }
  if (env_root) {
    return RootChoice{*env.rootdirectory, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", serve,
                      *config};
  }
  return RootChoice{*root, "configuration '" + *config + "'", serve, *config};
}

}  // namespace regsweep
