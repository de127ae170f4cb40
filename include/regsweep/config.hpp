#pragma once

// Finding the storage root the way the registry does: from its config.yml, with the
// registry's environment overrides. The library never reads the environment itself: the
// caller passes the variables in.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "regsweep/result.hpp"

namespace regsweep {

inline constexpr const char* k_default_rootdirectory = "/var/lib/registry";

// The environment variables the registry honours for the storage root.
struct RegistryEnv {
  std::optional<std::string> configuration_path;    // REGISTRY_CONFIGURATION_PATH
  std::optional<std::string> storage;               // REGISTRY_STORAGE (the driver name)
  std::optional<std::string> rootdirectory;         // REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY
  std::optional<std::string> http_addr;             // REGISTRY_HTTP_ADDR
  std::optional<std::string> http_tls_certificate;  // REGISTRY_HTTP_TLS_CERTIFICATE
  // The whole environment, by name: a driver's REGISTRY_STORAGE_<DRIVER>_<KEY> overrides,
  // and the variables a store backend reads itself (the AWS SDK's, for S3).
  std::map<std::string, std::string> variables;
};

// Where the configured registry serves, and whether it only reads.
struct ServeSettings {
  std::string addr;       // http.addr ("127.0.0.1:5000", ":5000"); empty when not set
  std::string net;        // http.net: "tcp" (the default) or "unix"
  bool tls = false;       // http.tls.certificate or http.tls.letsencrypt: it serves https
  bool readonly = false;  // storage.maintenance.readonly.enabled
};

// How the registry formats its log (its `log` section), which a drop-in's log lines follow.
struct LogSettings {
  // log.formatter, or REGISTRY_LOG_FORMATTER: "text" (logfmt), "json", "logstash"; empty
  // when neither sets it.
  std::string formatter;
  // log.level, or REGISTRY_LOG_LEVEL ("error", "warn", "info", "debug"…); "info" when unset.
  std::string level = "info";
  // log.fields: the static fields each line carries, by name.
  std::map<std::string, std::string> fields;
};

// The log settings from a config file's text, with the environment's overrides; an error
// when the formatter is not one the registry knows (it refuses to start then).
Result<LogSettings> log_settings_from_text(const std::string& yaml_text,
                                           const std::map<std::string, std::string>& env);

// The parameters of an object-storage driver (any but `filesystem`), as the registry reads
// them: its `storage.<driver>` section with the REGISTRY_STORAGE_<DRIVER>_<KEY> overrides, or
// a `--root <driver>://…` URL with its endpoint. Each store backend reads its own
// (src/store/<driver>/): this reader knows none of them.
struct DriverParameters {
  std::string driver;  // "s3", …: the section's name, or the URL's scheme
  // storage.<driver>.<key> → value, for each scalar (a nested map's keys joined with '.'),
  // with the environment's overrides (keys in lower case); nothing for a null value.
  std::map<std::string, std::string> values;
  std::string url;       // with --root: the URL given; empty from a configuration
  std::string endpoint;  // with --root: the endpoint flag's value
  std::string origin;    // for messages: "configuration '<path>'", or "--root <url>"
  std::map<std::string, std::string> environment;  // RegistryEnv::variables

  // The parameter `key`: "" when absent.
  std::string value(std::string_view key) const;
  // A boolean parameter as the registry's drivers parse a string (Go's strconv.ParseBool):
  // `fallback` when absent or empty; an error naming it when it is no boolean.
  Result<bool> flag(std::string_view key, bool fallback) const;
  // The environment variable `name`: "" when unset.
  std::string variable(std::string_view name) const;
};

// `text` without leading and trailing slashes: a root directory as keys are built from it.
std::string trim_slashes(std::string_view text);

struct RootChoice {
  std::string root;  // the directory; empty for object storage (the store names its location)
  // Set when the tree is in object storage (an object driver, or --root <driver>://…).
  std::optional<DriverParameters> object;
  std::string origin;  // where it came from, for messages: "--root", "config '…'", …
  // Read from the configuration file, with REGISTRY_HTTP_ADDR applied; nullopt with --root.
  std::optional<ServeSettings> serve;
  std::string config_path;  // the configuration file read, if any
  // Its text, read once: the run's cache and log settings come from this same text, so a
  // file rewritten during the start cannot give them a different configuration.
  std::string config_text;
};

// A boolean as Go's strconv.ParseBool reads it (the registry's flags and its drivers'
// string parameters are parsed so): true, false, or nothing when it is neither.
std::optional<bool> parse_go_bool(std::string_view text);

// The serving settings from a config file's text; defaults where absent or unreadable.
ServeSettings serve_settings_from_text(const std::string& yaml_text);

// The root from a config file's text. A storage driver other than `filesystem` is an error
// that names it; a missing rootdirectory is the registry's default.
Result<std::string> root_from_config_text(const std::string& yaml_text, const std::string& path);

// The root, in the registry's order: `root_arg` if given; else the config file (`config_arg`,
// else REGISTRY_CONFIGURATION_PATH) with REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY
// overriding its rootdirectory. Error when neither a root nor a config can be found.
// A driver that stores in object storage (is_object_driver, open.hpp) is chosen by its
// section, REGISTRY_STORAGE, or a --root URL of its scheme; `endpoint`: with such a URL, where
// the service is (the backend's default when empty).
Result<RootChoice> locate_root(const std::optional<std::string>& config_arg,
                               const std::optional<std::string>& root_arg, const RegistryEnv& env,
                               const std::string& endpoint = {});

// A driver's parameters from a config file's text (DriverParameters), with the environment's
// overrides. Error when the text cannot be parsed.
Result<DriverParameters> driver_parameters_from_text(const std::string& yaml_text,
                                                     const std::string& path,
                                                     const std::string& driver,
                                                     const RegistryEnv& env);

}  // namespace regsweep
