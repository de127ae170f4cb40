#include "regsweep/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>

#include <yaml-cpp/yaml.h>

#include "regsweep/fs.hpp"
#include "regsweep/open.hpp"

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

// The driver a config file's storage section names ("" when there is no storage section or it
// names none), or an error.
Result<std::string> driver_of(const std::string& yaml_text, const std::string& path) {
  try {
    YAML::Node storage = YAML::Load(yaml_text)["storage"];
    if (storage && storage.IsScalar()) {
      return storage.as<std::string>();
    }
    if (!storage || !storage.IsMap()) {
      return std::string();
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
    return driver;
  } catch (const YAML::Exception& e) {
    return Error{"cannot parse configuration '" + path + "': " + e.what(), 0};
  }
}

}  // namespace

Result<std::string> root_from_config_text(const std::string& yaml_text, const std::string& path) {
  auto driver = driver_of(yaml_text, path);
  if (!driver) {
    return driver.error();
  }
  if (driver->empty()) {
    return Error{"configuration '" + path + "' names no storage driver", 0};
  }
  if (*driver != "filesystem") {
    return Error{"configuration '" + path + "' uses the '" + *driver +
                     "' storage driver; regsweep works on the " + supported_drivers() +
                     " drivers only",
                 0};
  }
  try {
    // `storage: filesystem` as a scalar is the driver with no parameters. An empty or null
    // `rootdirectory:` is the registry's default, as the registry reads it (yaml-cpp would
    // give the text "null" for it).
    YAML::Node storage = YAML::Load(yaml_text)["storage"];
    YAML::Node fsnode = storage.IsMap() ? storage["filesystem"] : YAML::Node();
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
      // As the registry decides (registry.go): a certificate, or Let's Encrypt's cache file.
      YAML::Node tls = http["tls"];
      if (tls && tls.IsMap()) {
        auto set = [](const YAML::Node& n) {
          return n && n.IsScalar() && !n.as<std::string>().empty();
        };
        out.tls = set(tls["certificate"]) || (tls["letsencrypt"] && tls["letsencrypt"].IsMap() &&
                                              set(tls["letsencrypt"]["cachefile"]));
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

Result<LogSettings> log_settings_from_text(const std::string& yaml_text,
                                           const std::map<std::string, std::string>& env) {
  LogSettings out;
  try {
    YAML::Node log = YAML::Load(yaml_text)["log"];
    if (log && log.IsMap()) {
      if (log["formatter"] && log["formatter"].IsScalar()) {
        out.formatter = log["formatter"].as<std::string>();
      }
      if (log["level"] && log["level"].IsScalar() && !log["level"].as<std::string>().empty()) {
        out.level = log["level"].as<std::string>();
      }
      if (log["fields"] && log["fields"].IsMap()) {
        for (const auto& kv : log["fields"]) {
          if (kv.first.IsScalar() && kv.second.IsScalar()) {
            out.fields[kv.first.as<std::string>()] = kv.second.as<std::string>();
          }
        }
      }
    }
  } catch (const YAML::Exception&) {
    // The storage section decides whether the file is usable; the log keeps its defaults.
  }
  if (auto f = env.find("REGISTRY_LOG_FORMATTER"); f != env.end() && !f->second.empty()) {
    out.formatter = f->second;
  }
  if (auto l = env.find("REGISTRY_LOG_LEVEL"); l != env.end() && !l->second.empty()) {
    out.level = l->second;
  }
  if (!out.formatter.empty() && out.formatter != "text" && out.formatter != "json" &&
      out.formatter != "logstash") {
    // The registry's own words (registry.go, configureLogging).
    return Error{"unsupported logging formatter: \"" + out.formatter + "\"", 0};
  }
  return out;
}

std::optional<bool> parse_go_bool(std::string_view text) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == t) {
      return true;
    }
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == f) {
      return false;
    }
  }
  return std::nullopt;
}

namespace {

// Adds the scalars of `node` to `out` under `prefix` (nested maps' keys joined with '.').
void flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  if (!node || !node.IsMap()) {
    return;
  }
  for (const auto& kv : node) {
    std::string key = prefix + kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (v.IsMap()) {
      flatten(v, key + ".", out);
    } else if (v.IsScalar()) {
      out[key] = v.as<std::string>();
    }
  }
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}
std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The scheme of `text` when it is a URL of an object driver's ("s3://…"), else nothing.
std::optional<std::string> object_scheme(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return std::nullopt;
  }
  std::string scheme(text.substr(0, sep));
  return is_object_driver(scheme) ? std::optional<std::string>(scheme) : std::nullopt;
}

}  // namespace

std::string DriverParameters::value(std::string_view key) const {
  auto it = values.find(std::string(key));
  return it != values.end() ? it->second : std::string();
}

Result<bool> DriverParameters::flag(std::string_view key, bool fallback) const {
  std::string text = value(key);
  if (text.empty()) {
    return fallback;
  }
  if (auto b = parse_go_bool(text)) {
    return *b;
  }
  return Error{
      origin + ": storage." + driver + "." + std::string(key) + " is '" + text + "', not a boolean",
      0};
}

std::string DriverParameters::variable(std::string_view name) const {
  auto it = environment.find(std::string(name));
  return it != environment.end() ? it->second : std::string();
}

std::string trim_slashes(std::string_view text) {
  while (!text.empty() && text.front() == '/') {
    text.remove_prefix(1);
  }
  while (!text.empty() && text.back() == '/') {
    text.remove_suffix(1);
  }
  return std::string(text);
}

Result<DriverParameters> driver_parameters_from_text(const std::string& yaml_text,
                                                     const std::string& path,
                                                     const std::string& driver,
                                                     const RegistryEnv& env) {
  DriverParameters out;
  out.driver = driver;
  out.origin = "configuration '" + path + "'";
  out.environment = env.variables;
  try {
    YAML::Node storage = YAML::Load(yaml_text)["storage"];
    if (storage && storage.IsMap()) {
      flatten(storage[driver], "", out.values);
    }
  } catch (const YAML::Exception& e) {
    return Error{"cannot parse configuration '" + path + "': " + e.what(), 0};
  }
  // REGISTRY_STORAGE_<DRIVER>_<KEY> overrides storage.<driver>.<key>, as the registry reads it.
  const std::string prefix = "REGISTRY_STORAGE_" + upper(driver) + "_";
  for (const auto& [name, value] : env.variables) {
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
      out.values[lower(name.substr(prefix.size()))] = value;
    }
  }
  return out;
}

namespace {

// Where the registry serves: the configuration's http section, with the environment's
// overrides (REGISTRY_HTTP_ADDR, REGISTRY_HTTP_TLS_CERTIFICATE), as the registry reads them.
ServeSettings serve_of(const std::string& config_text, const RegistryEnv& env) {
  ServeSettings serve = serve_settings_from_text(config_text);
  if (env.http_addr && !env.http_addr->empty()) {
    serve.addr = *env.http_addr;
  }
  if (env.http_tls_certificate && !env.http_tls_certificate->empty()) {
    serve.tls = true;
  }
  return serve;
}

}  // namespace

Result<RootChoice> locate_root(const std::optional<std::string>& config_arg,
                               const std::optional<std::string>& root_arg, const RegistryEnv& env,
                               const std::string& endpoint) {
  if (auto scheme = root_arg ? object_scheme(*root_arg) : std::nullopt) {
    DriverParameters driver{.driver = *scheme,
                            .values = {},
                            .url = *root_arg,
                            .endpoint = endpoint,
                            .origin = "--root " + *root_arg,
                            .environment = env.variables};
    return RootChoice{.root = {},
                      .object = driver,
                      .origin = "--root",
                      .serve = {},
                      .config_path = {},
                      .config_text = {}};
  }
  if (root_arg) {
    return RootChoice{.root = *root_arg,
                      .object = {},
                      .origin = "--root",
                      .serve = {},
                      .config_path = {},
                      .config_text = {}};
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
  auto named = driver_of(text, *config);
  if (!named) {
    return named.error();
  }
  std::string chosen = env.storage && !env.storage->empty() ? *env.storage : *named;
  if (is_object_driver(chosen)) {
    auto driver = driver_parameters_from_text(text, *config, chosen, env);
    if (!driver) {
      return driver.error();
    }
    ServeSettings serve = serve_of(text, env);
    return RootChoice{.root = {},
                      .object = std::move(*driver),
                      .origin = "configuration '" + *config + "'",
                      .serve = serve,
                      .config_path = *config,
                      .config_text = text};
  }
  if (env.storage && !env.storage->empty() && *env.storage != "filesystem") {
    return Error{"REGISTRY_STORAGE selects the '" + *env.storage +
                     "' storage driver; regsweep works on the " + supported_drivers() +
                     " drivers only",
                 0};
  }
  bool env_root = env.rootdirectory && !env.rootdirectory->empty();
  auto root = root_from_config_text(text, *config);
  // The environment can supply the driver the file lacks, as the registry allows.
  if (!root && !(env_root && text.find("storage") == std::string::npos)) {
    return root.error();
  }
  ServeSettings serve = serve_of(text, env);
  return RootChoice{.root = env_root ? *env.rootdirectory : *root,
                    .object = {},
                    .origin = env_root ? std::string("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY")
                                       : "configuration '" + *config + "'",
                    .serve = serve,
                    .config_path = *config,
                    .config_text = std::move(text)};
}

}  // namespace regsweep
