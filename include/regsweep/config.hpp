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
  // REGISTRY_STORAGE_S3_<KEY>, by the key in lower case ("accesskey", "regionendpoint", …).
  std::map<std::string, std::string> s3;
  // The AWS SDK's variables, used when the configuration leaves the keys (or region) empty.
  std::optional<std::string> aws_access_key_id;      // AWS_ACCESS_KEY_ID
  std::optional<std::string> aws_secret_access_key;  // AWS_SECRET_ACCESS_KEY
  std::optional<std::string> aws_session_token;      // AWS_SESSION_TOKEN
  std::optional<std::string> aws_region;             // AWS_REGION, else AWS_DEFAULT_REGION
};

// Where the configured registry serves, and whether it only reads.
struct ServeSettings {
  std::string addr;       // http.addr ("127.0.0.1:5000", ":5000"); empty when not set
  std::string net;        // http.net: "tcp" (the default) or "unix"
  bool tls = false;       // http.tls.certificate or http.tls.letsencrypt: it serves https
  bool readonly = false;  // storage.maintenance.readonly.enabled
};

// The bucket and how to reach it, as the registry's s3 driver is configured.
struct S3Settings {
  std::string bucket;
  std::string region = "us-east-1";
  std::string endpoint;       // regionendpoint: scheme://host[:port]; empty for AWS itself
  std::string rootdirectory;  // without leading or trailing slash; "" for the bucket's top
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  bool secure = true;        // https when the endpoint names no scheme
  bool skip_verify = false;  // do not verify the server's certificate
  bool force_path_style = false;

  // "s3://bucket/rootdirectory", for messages: never a secret.
  std::string location() const;
  // The key of `v2_relative` (a path below docker/registry/v2).
  std::string key(std::string_view v2_relative) const;
  // The prefix every key of the tree starts with: "<rootdirectory>/docker/registry/v2/".
  std::string v2_prefix() const;
};

// Parses `s3://bucket[/prefix]` (for --root); nullopt when `text` is no such URL.
std::optional<S3Settings> parse_s3_url(std::string_view text);

struct RootChoice {
  std::string root;  // a directory, or the bucket's location ("s3://bucket/prefix")
  // Set when the tree is in object storage (the s3 driver, or --root s3://…).
  std::optional<S3Settings> s3;
  std::string origin;  // where it came from, for messages: "--root", "config '…'", …
  // Read from the configuration file, with REGISTRY_HTTP_ADDR applied; nullopt with --root.
  std::optional<ServeSettings> serve;
  std::string config_path;  // the configuration file read, if any
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
// `s3_endpoint`: with --root s3://bucket/prefix, the endpoint (--s3-endpoint); AWS's own
// when empty.
Result<RootChoice> locate_root(const std::optional<std::string>& config_arg,
                               const std::optional<std::string>& root_arg, const RegistryEnv& env,
                               const std::string& s3_endpoint = {});

// The bucket from a config file's `storage.s3` section as the registry's s3 driver reads it,
// with the REGISTRY_STORAGE_S3_* overrides and, for empty keys and region, the AWS_*
// variables. Error naming what is missing (a bucket, a region) or unreadable.
Result<S3Settings> s3_from_config_text(const std::string& yaml_text, const std::string& path,
                                       const RegistryEnv& env);

// The bucket `--root s3://bucket/prefix` names, reached at `endpoint`, with the AWS_*
// variables' keys and region.
Result<S3Settings> s3_from_url(const std::string& url, const std::string& endpoint,
                               const RegistryEnv& env);

}  // namespace regsweep
