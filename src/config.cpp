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
                     "' storage driver; regsweep works on the filesystem and s3 drivers only",
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

namespace {

// A parameter as the registry's drivers read it: a scalar, "" when absent or null.
std::string param(const YAML::Node& section, const char* key) {
  if (!section || !section.IsMap()) {
    return {};
  }
  YAML::Node v = section[key];
  if (!v || v.IsNull() || !v.IsScalar()) {
    return {};
  }
  return v.as<std::string>();
}

// A boolean parameter: Go's strconv.ParseBool forms, as the s3 driver parses a string.
Result<bool> bool_param(const std::string& text, bool fallback, const char* key,
                        const std::string& path) {
  if (text.empty()) {
    return fallback;
  }
  if (auto b = parse_go_bool(text)) {
    return *b;
  }
  return Error{
      "configuration '" + path + "': storage.s3." + key + " is '" + text + "', not a boolean", 0};
}

Status finish_s3(S3Settings& s, const RegistryEnv& env, const std::string& origin) {
  if (s.access_key.empty() && s.secret_key.empty()) {
    s.access_key = env.aws_access_key_id.value_or("");
    s.secret_key = env.aws_secret_access_key.value_or("");
    if (s.session_token.empty()) {
      s.session_token = env.aws_session_token.value_or("");
    }
  }
  if (s.region.empty()) {
    s.region = env.aws_region.value_or("");
  }
  if (s.region.empty() && !s.endpoint.empty()) {
    s.region = "us-east-1";  // any region signs for an endpoint of one's own
  }
  if (s.bucket.empty()) {
    return Error{origin + " names no bucket (storage.s3.bucket)", 0};
  }
  if (s.region.empty()) {
    return Error{origin + " names no region (storage.s3.region, or AWS_REGION)", 0};
  }
  if (s.access_key.empty() || s.secret_key.empty()) {
    return Error{origin +
                     " gives no S3 credentials: set storage.s3.accesskey and secretkey, "
                     "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                 0};
  }
  return ok_status();
}

}  // namespace

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

Result<S3Settings> s3_from_config_text(const std::string& yaml_text, const std::string& path,
                                       const RegistryEnv& env) {
  YAML::Node section;
  try {
    section = YAML::Load(yaml_text)["storage"]["s3"];
  } catch (const YAML::Exception& e) {
    return Error{"cannot parse configuration '" + path + "': " + e.what(), 0};
  }
  auto get = [&](const char* key) {
    auto it = env.s3.find(key);
    return it != env.s3.end() ? it->second : param(section, key);
  };
  S3Settings s;
  s.bucket = get("bucket");
  s.region = get("region");
  s.endpoint = get("regionendpoint");
  s.access_key = get("accesskey");
  s.secret_key = get("secretkey");
  s.session_token = get("sessiontoken");
  std::string root = get("rootdirectory");
  while (!root.empty() && root.front() == '/') {
    root.erase(0, 1);
  }
  while (!root.empty() && root.back() == '/') {
    root.pop_back();
  }
  s.rootdirectory = root;
  auto secure = bool_param(get("secure"), true, "secure", path);
  auto skip = bool_param(get("skipverify"), false, "skipverify", path);
  auto v4 = bool_param(get("v4auth"), true, "v4auth", path);
  auto path_style = bool_param(get("forcepathstyle"), false, "forcepathstyle", path);
  for (const auto* r : {&secure, &skip, &v4, &path_style}) {
    if (!*r) {
      return r->error();
    }
  }
  if (!*v4) {
    return Error{"configuration '" + path +
                     "' sets storage.s3.v4auth to false; regsweep signs with AWS Signature "
                     "Version 4 only",
                 0};
  }
  s.secure = *secure;
  s.skip_verify = *skip;
  s.force_path_style = *path_style;
  if (Status ok = finish_s3(s, env, "configuration '" + path + "'"); !ok) {
    return ok.error();
  }
  return s;
}

Result<S3Settings> s3_from_url(const std::string& url, const std::string& endpoint,
                               const RegistryEnv& env) {
  auto s = parse_s3_url(url);
  if (!s) {
    return Error{"'" + url + "' is not an s3://BUCKET[/PREFIX] location", 0};
  }
  s->region.clear();
  s->endpoint = endpoint;
  s->force_path_style = !endpoint.empty();
  if (endpoint.rfind("http://", 0) == 0) {
    s->secure = false;
  }
  if (Status ok = finish_s3(*s, env, "--root " + url); !ok) {
    return ok.error();
  }
  return *s;
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
                               const std::string& s3_endpoint) {
  if (root_arg && root_arg->rfind("s3://", 0) == 0) {
    auto s3 = s3_from_url(*root_arg, s3_endpoint, env);
    if (!s3) {
      return s3.error();
    }
    return RootChoice{
        .root = s3->location(), .s3 = *s3, .origin = "--root", .serve = {}, .config_path = {}};
  }
  if (root_arg) {
    return RootChoice{
        .root = *root_arg, .s3 = {}, .origin = "--root", .serve = {}, .config_path = {}};
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
  auto driver = driver_of(text, *config);
  if (!driver) {
    return driver.error();
  }
  std::string chosen = env.storage && !env.storage->empty() ? *env.storage : *driver;
  if (chosen == "s3") {
    auto s3 = s3_from_config_text(text, *config, env);
    if (!s3) {
      return s3.error();
    }
    ServeSettings serve = serve_of(text, env);
    return RootChoice{.root = s3->location(),
                      .s3 = *s3,
                      .origin = "configuration '" + *config + "'",
                      .serve = serve,
                      .config_path = *config};
  }
  if (env.storage && !env.storage->empty() && *env.storage != "filesystem") {
    return Error{"REGISTRY_STORAGE selects the '" + *env.storage +
                     "' storage driver; regsweep works on the filesystem and s3 drivers only",
                 0};
  }
  bool env_root = env.rootdirectory && !env.rootdirectory->empty();
  ServeSettings serve = serve_of(text, env);
  auto root = root_from_config_text(text, *config);
  if (!root) {
    // The environment can supply the driver the file lacks, as the registry allows.
    if (env_root && text.find("storage") == std::string::npos) {
      return RootChoice{.root = *env.rootdirectory,
                        .s3 = {},
                        .origin = "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
                        .serve = serve,
                        .config_path = *config};
    }
    return root.error();
  }
  if (env_root) {
    return RootChoice{.root = *env.rootdirectory,
                      .s3 = {},
                      .origin = "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
                      .serve = serve,
                      .config_path = *config};
  }
  return RootChoice{.root = *root,
                    .s3 = {},
                    .origin = "configuration '" + *config + "'",
                    .serve = serve,
                    .config_path = *config};
}

std::string S3Settings::location() const {
  return "s3://" + bucket + (rootdirectory.empty() ? "" : "/" + rootdirectory);
}

std::string S3Settings::v2_prefix() const {
  return (rootdirectory.empty() ? "" : rootdirectory + "/") + "docker/registry/v2/";
}

std::string S3Settings::key(std::string_view v2_relative) const {
  return v2_prefix() + std::string(v2_relative);
}

std::optional<S3Settings> parse_s3_url(std::string_view text) {
  constexpr std::string_view k_scheme = "s3://";
  if (text.substr(0, k_scheme.size()) != k_scheme) {
    return std::nullopt;
  }
  text.remove_prefix(k_scheme.size());
  S3Settings s;
  auto slash = text.find('/');
  s.bucket = std::string(text.substr(0, slash));
  if (s.bucket.empty()) {
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    std::string_view rest = text.substr(slash + 1);
    while (!rest.empty() && rest.back() == '/') {
      rest.remove_suffix(1);
    }
    while (!rest.empty() && rest.front() == '/') {
      rest.remove_prefix(1);
    }
    s.rootdirectory = std::string(rest);
  }
  return s;
}

}  // namespace regsweep
