// The blob descriptor cache's settings as the registry reads them, and the entries a run's
// deletions leave stale. The removal itself is src/cache/redis_clear.cpp.

#include "regsweep/blob_cache.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include <yaml-cpp/yaml.h>

#include "regsweep/fs.hpp"

namespace regsweep {

namespace {

// A Go duration ("10ms", "1.5s", "2m", "300us") in milliseconds, rounded up; nothing when
// malformed. yaml.v2 also takes a bare integer as nanoseconds.
std::optional<std::int64_t> go_duration_ms(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) != 0; })) {
    std::int64_t ns = 0;
    std::from_chars(text.data(), text.data() + text.size(), ns);
    return (ns + 999'999) / 1'000'000;
  }
  double total_ns = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) {
      ++i;
    }
    if (i == start) {
      return std::nullopt;
    }
    double number = 0;
    try {
      number = std::stod(std::string(text.substr(start, i - start)));
    } catch (...) {
      return std::nullopt;
    }
    std::size_t unit_start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) == 0 &&
           text[i] != '.') {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    static const std::map<std::string_view, double> k_units{
        {"ns", 1},  {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6},
        {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    auto u = k_units.find(unit);
    if (u == k_units.end()) {
      return std::nullopt;
    }
    total_ns += number * u->second;
  }
  return static_cast<std::int64_t>((total_ns + 999'999) / 1'000'000);
}

// The `redis` section flattened: "addr", "tls.certificate", … → the scalar, or the list's
// items; the environment's REGISTRY_REDIS_<KEY> (KEY's '_' a nesting) override, each read as
// YAML as the registry does ("[a, b]" is a list).
using Values = std::map<std::string, std::vector<std::string>>;

void flatten(const YAML::Node& node, const std::string& prefix, Values& out) {
  if (node.IsScalar()) {
    out[prefix] = {node.as<std::string>()};
  } else if (node.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : node) {
      if (item.IsScalar()) {
        items.push_back(item.as<std::string>());
      }
    }
    out[prefix] = std::move(items);
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      flatten(kv.second, prefix.empty() ? key : prefix + "." + key, out);
    }
  }
}

Values redis_values(const YAML::Node& doc, const RegistryEnv& env) {
  Values values;
  if (doc.IsMap() && doc["redis"]) {
    flatten(doc["redis"], "", values);
  }
  const std::string prefix = "REGISTRY_REDIS_";
  for (const auto& [name, value] : env.variables) {
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    std::string key = name.substr(prefix.size());
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) {
      return c == '_' ? '.' : static_cast<char>(std::tolower(c));
    });
    try {
      YAML::Node parsed = YAML::Load(value);
      values.erase(key);
      flatten(parsed, key, values);
    } catch (const YAML::Exception&) {
      values[key] = {value};
    }
  }
  return values;
}

std::string first(const Values& v, const std::string& key) {
  auto it = v.find(key);
  return it == v.end() || it->second.empty() ? std::string() : it->second.front();
}

Result<RedisSettings> redis_settings(const Values& v, const std::string& origin) {
  RedisSettings r;
  r.origin = origin;
  if (auto it = v.find("addrs"); it != v.end() && !it->second.empty()) {
    r.addrs = it->second;
  } else if (std::string addr = first(v, "addr"); !addr.empty()) {
    r.addrs = {addr};
  }
  r.username = first(v, "username");
  r.password = first(v, "password");
  r.mastername = first(v, "mastername");
  r.sentinel_username = first(v, "sentinelusername");
  r.sentinel_password = first(v, "sentinelpassword");
  if (std::string db = first(v, "db"); !db.empty()) {
    auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), r.db);
    if (ec != std::errc{} || end != db.data() + db.size() || r.db < 0) {
      return Error{origin + ": redis.db '" + db + "' is not a database number", EINVAL};
    }
  }
  for (auto [key, field] : {std::pair{"dialtimeout", &r.dial_timeout_ms},
                            std::pair{"readtimeout", &r.read_timeout_ms}}) {
    if (std::string text = first(v, key); !text.empty()) {
      auto ms = go_duration_ms(text);
      if (!ms) {
        return Error{origin + ": redis." + key + " '" + text + "' is not a duration", EINVAL};
      }
      // Zero is the client's default; a pipeline of a thousand commands needs more than the
      // few milliseconds some configurations give a single lookup.
      *field = std::max<std::int64_t>(*ms == 0 ? 5000 : *ms, 1000);
    }
  }
  r.tls_certificate = first(v, "tls.certificate");
  r.tls_key = first(v, "tls.key");
  if (auto it = v.find("tls.rootcas"); it != v.end()) {
    r.tls_rootcas = it->second;
  }
  r.tls = !r.tls_certificate.empty() || !r.tls_key.empty() || !r.tls_rootcas.empty() ||
          parse_go_bool(first(v, "tls.enabled")).value_or(false);
  return r;
}

}  // namespace

Result<BlobCacheSettings> blob_cache_settings(const std::string& yaml_text, const std::string& path,
                                              const RegistryEnv& env) {
  std::string origin = "configuration '" + path + "'";
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Error{"cannot parse " + origin + ": " + e.what(), EINVAL};
  }
  BlobCacheSettings out;
  std::string kind;
  try {
    if (doc.IsMap() && doc["storage"] && doc["storage"].IsMap() && doc["storage"]["cache"] &&
        doc["storage"]["cache"].IsMap() && doc["storage"]["cache"]["blobdescriptor"] &&
        doc["storage"]["cache"]["blobdescriptor"].IsScalar()) {
      kind = doc["storage"]["cache"]["blobdescriptor"].as<std::string>();
    }
  } catch (const YAML::Exception& e) {
    return Error{"cannot parse " + origin + ": " + e.what(), EINVAL};
  }
  if (auto it = env.variables.find("REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR");
      it != env.variables.end()) {
    kind = it->second;
  }
  out.kind = kind == "redis"      ? BlobCacheSettings::Kind::redis
             : kind == "inmemory" ? BlobCacheSettings::Kind::inmemory
                                  : BlobCacheSettings::Kind::none;
  if (out.kind == BlobCacheSettings::Kind::redis) {
    auto redis = redis_settings(redis_values(doc, env), origin);
    if (!redis) {
      return redis.error();
    }
    out.redis = std::move(*redis);
  }
  return out;
}

CacheEntries cache_entries(const Plan& plan, const SweepResult* swept) {
  CacheEntries out;
  std::size_t i = 0;
  for (const Action a : plan.actions) {
    std::size_t at = i++;
    if (swept != nullptr && (swept->skipped(at) || !swept->error(at).empty())) {
      continue;
    }
    switch (a.kind) {
      case ActionKind::blob:
      case ActionKind::quarantine:
        out.blobs.push_back(a.digest);
        break;
      case ActionKind::revision:
      case ActionKind::layer_link:
        out.links.emplace_back(std::string(a.repository.view()), a.digest);
        break;
      case ActionKind::repository:
        out.repositories.emplace_back(a.repository.view());
        break;
      default:
        break;
    }
  }
  // A revision and a layer link of one digest in one repository are one cache entry.
  std::sort(out.links.begin(), out.links.end());
  out.links.erase(std::unique(out.links.begin(), out.links.end()), out.links.end());
  return out;
}

CacheReport planned_cache_clear(const RedisSettings& settings, const CacheEntries& entries) {
  return CacheReport{.address = settings.addrs.empty() ? std::string() : settings.addrs.front(),
                     .db = settings.db,
                     .blobs = entries.blobs.size(),
                     .links = entries.links.size(),
                     .repositories = entries.repositories.size(),
                     .attempted = false,
                     .removed = 0,
                     .failed = 0,
                     .stale_file = {},
                     .seconds = 0,
                     .finding = std::nullopt};
}

}  // namespace regsweep
