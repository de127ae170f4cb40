// Manifest parsing with simdjson's DOM API, one reusable parser per ManifestParser.
//
// 1. The document must be valid UTF-8 JSON (simdjson validates) and an object.
// 2. The kind comes from `mediaType`; without it, from `schemaVersion` and the fields present
//    (OCI allows omitting `mediaType`).
// 3. References are read per kind; a descriptor with a malformed digest makes the manifest
//    unreadable (so the caller keeps what it might reference), one with another algorithm is
//    counted as foreign.
// On failure, every "sha256:<hex>" in the raw text is returned, for keeping.

#include "regsweep/manifest.hpp"

#include <simdjson.h>
#include <algorithm>
#include <array>
#include <iterator>
#include <mutex>
#include <string>
#include <unordered_set>

namespace regsweep {

namespace {

constexpr std::string_view k_docker_v1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view k_docker_v1_signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
constexpr std::string_view k_docker_v2 = "application/vnd.docker.distribution.manifest.v2+json";
constexpr std::string_view k_docker_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";

struct Failure {
  std::string message;
};

// Reads a descriptor's digest into `out`; false with a message when it is malformed.
bool read_digest(simdjson::dom::element desc, std::string_view field, std::string_view where,
                 std::vector<Digest>* out, std::optional<Digest>* single, std::string& error) {
  std::string_view text;
  if (desc[field].get(text) != simdjson::SUCCESS) {
    error = std::string(where) + " has no " + std::string(field) + " string";
    return false;
  }
  if (auto d = parse_digest(text)) {
    if (out != nullptr) {
      out->push_back(*d);
    }
    if (single != nullptr) {
      *single = *d;
    }
    return true;
  }
  std::size_t colon = text.find(':');
  if (colon != std::string_view::npos && colon > 0 && text.substr(0, colon) != "sha256" &&
      colon + 1 < text.size()) {
    return true;  // another algorithm: no blob under blobs/sha256 can be it
  }
  error = std::string(where) + " has an invalid digest '" + std::string(text.substr(0, 100)) + "'";
  return false;
}

bool read_descriptor_array(simdjson::dom::object obj, std::string_view field, bool required,
                           std::string_view digest_field, Manifest& m, std::vector<Digest>& out,
                           std::vector<std::string>* platforms, std::string& error) {
  simdjson::dom::element arr_el;
  if (obj[field].get(arr_el) != simdjson::SUCCESS || arr_el.is_null()) {
    if (required) {
      error = "no " + std::string(field) + " array";
      return false;
    }
    return true;
  }
  simdjson::dom::array arr;
  if (arr_el.get(arr) != simdjson::SUCCESS) {
    error = std::string(field) + " is not an array";
    return false;
  }
  std::size_t i = 0;
  for (simdjson::dom::element desc : arr) {
    std::string where = std::string(field) + "[" + std::to_string(i++) + "]";
    if (!desc.is_object()) {
      error = where + " is not an object";
      return false;
    }
    if (!read_digest(desc, digest_field, where, &out, nullptr, error)) {
      return false;
    }
    simdjson::dom::array urls;
    if (desc["urls"].get(urls) == simdjson::SUCCESS && urls.size() > 0 && !out.empty()) {
      m.foreign.push_back(out.back());
    }
    if (platforms != nullptr) {
      std::string_view os;
      std::string_view arch;
      std::string_view variant;
      std::string p;
      simdjson::dom::object plat;
      if (desc["platform"].get(plat) == simdjson::SUCCESS) {
        if (plat["os"].get(os) == simdjson::SUCCESS) {
          p.append(os);
        }
        if (plat["architecture"].get(arch) == simdjson::SUCCESS) {
          p.append("/").append(arch);
        }
        if (plat["variant"].get(variant) == simdjson::SUCCESS) {
          p.append("/").append(variant);
        }
      }
      platforms->push_back(std::move(p));
    }
  }
  return true;
}

bool read_subject(simdjson::dom::object obj, Manifest& m, std::string& error) {
  simdjson::dom::element subject;
  if (obj["subject"].get(subject) != simdjson::SUCCESS || subject.is_null()) {
    return true;
  }
  if (!subject.is_object()) {
    error = "subject is not an object";
    return false;
  }
  return read_digest(subject, "digest", "subject", nullptr, &m.subject, error);
}

bool read_config(simdjson::dom::object obj, Manifest& m, bool required, std::string& error) {
  simdjson::dom::element config;
  if (obj["config"].get(config) != simdjson::SUCCESS) {
    if (required) {
      error = "no config descriptor";
      return false;
    }
    return true;
  }
  if (!config.is_object()) {
    error = "config is not an object";
    return false;
  }
  return read_digest(config, "digest", "config", &m.blobs, nullptr, error);
}

bool parse_image(simdjson::dom::object obj, Manifest& m, bool oci, std::string& error) {
  if (!read_config(obj, m, true, error)) {
    return false;
  }
  if (!read_descriptor_array(obj, "layers", !oci, "digest", m, m.blobs, nullptr, error)) {
    return false;
  }
  return !oci || read_subject(obj, m, error);
}

bool parse_index(simdjson::dom::object obj, Manifest& m, bool oci, std::string& error) {
  if (!read_descriptor_array(obj, "manifests", true, "digest", m, m.children, &m.platforms,
                             error)) {
    return false;
  }
  return !oci || read_subject(obj, m, error);
}

// The keys regsweep reads, at any depth, spelt as the registry writes them.
constexpr std::string_view k_read_keys[] = {
    "mediaType", "schemaVersion", "artifactType", "config",       "layers",
    "manifests", "subject",       "digest",       "fsLayers",     "blobSum",
    "urls",      "platform",      "os",           "architecture", "variant"};

// True when `folded` (lower case) is `name` in any case.
bool folds_to(std::string_view folded, std::string_view name) {
  return folded.size() == name.size() &&
         std::equal(folded.begin(), folded.end(), name.begin(), [](char f, char n) {
           return f == (n >= 'A' && n <= 'Z' ? static_cast<char>(n - 'A' + 'a') : n);
         });
}

// `key` as Go's encoding/json matches it to a field: case folded. Besides ASCII letters,
// only two code points fold to ASCII letters: U+017F (long s) to 's', U+212A (Kelvin) to
// 'k'. Empty when the key cannot fold to a name of ASCII letters.
std::string go_fold(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (std::size_t i = 0; i < key.size(); ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    } else if (key.substr(i, 2) == "\xC5\xBF") {
      out.push_back('s');
      i += 1;
    } else if (key.substr(i, 3) == "\xE2\x84\xAA") {
      out.push_back('k');
      i += 2;
    } else {
      return {};
    }
  }
  return out;
}

// Finds a key that Go would read differently from simdjson, anywhere in the document: a key
// regsweep reads given twice in one object (Go takes the last, simdjson the first), or
// spelt another way that Go matches to it ("Layers", "layer\u017f"). Returns why, or empty.
std::string ambiguous_key(simdjson::dom::element root) {
  std::vector<simdjson::dom::element> todo{root};
  while (!todo.empty()) {
    simdjson::dom::element el = todo.back();
    todo.pop_back();
    simdjson::dom::array arr;
    if (el.get(arr) == simdjson::SUCCESS) {
      for (simdjson::dom::element child : arr) {
        todo.push_back(child);
      }
      continue;
    }
    simdjson::dom::object obj;
    if (el.get(obj) != simdjson::SUCCESS) {
      continue;
    }
    std::array<int, std::size(k_read_keys)> seen{};
    for (simdjson::dom::key_value_pair field : obj) {
      todo.push_back(field.value);
      std::string folded = go_fold(field.key);
      for (std::size_t k = 0; k < std::size(k_read_keys); ++k) {
        if (!folds_to(folded, k_read_keys[k])) {
          continue;
        }
        std::string shown(field.key.substr(0, 100));
        if (++seen[k] > 1) {
          return "key '" + shown +
                 "' is given twice in one object; the registry reads the last, so regsweep "
                 "cannot trust what it names";
        }
        if (field.key != k_read_keys[k]) {
          return "key '" + shown + "' is read by the registry as '" + std::string(k_read_keys[k]) +
                 "'; regsweep cannot trust what it names";
        }
      }
    }
  }
  return {};
}

void scan_mentioned(std::string_view text, std::vector<Digest>& out) {
  constexpr std::string_view prefix = "sha256:";
  std::size_t pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string_view::npos) {
    pos += prefix.size();
    if (pos + 64 <= text.size()) {
      if (auto d = parse_hex(text.substr(pos, 64))) {
        out.push_back(*d);
        pos += 64;
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace

std::string_view intern_text(std::string_view text) {
  for (std::string_view known :
       {k_docker_v1, k_docker_v1_signed, k_docker_v2, k_docker_list, k_oci_manifest, k_oci_index}) {
    if (text == known) {
      return known;  // the common case, without the lock
    }
  }
  // Node-based: the strings never move once inserted.
  static std::mutex mutex;
  static auto* texts = new std::unordered_set<std::string>();  // never destroyed
  std::lock_guard lock(mutex);
  return *texts->emplace(text).first;
}

std::string_view to_string(ManifestKind kind) {
  switch (kind) {
    case ManifestKind::docker_schema1:
      return "docker-schema1";
    case ManifestKind::docker_schema2:
      return "docker-schema2";
    case ManifestKind::docker_manifest_list:
      return "docker-manifest-list";
    case ManifestKind::oci_manifest:
      return "oci-manifest";
    case ManifestKind::oci_index:
      return "oci-index";
    case ManifestKind::unknown:
      break;
  }
  return "unknown";
}

struct ManifestParser::Impl {
  simdjson::dom::parser parser;
};

ManifestParser::ManifestParser() : m_impl(std::make_unique<Impl>()) {}
ManifestParser::~ManifestParser() = default;

ParseOutcome ManifestParser::parse(std::string_view bytes) {
  ParseOutcome out;
  auto fail = [&](std::string message) {
    out.manifest.reset();
    out.error = std::move(message);
    scan_mentioned(bytes, out.mentioned);
    return std::move(out);
  };
  simdjson::dom::element doc;
  auto err = m_impl->parser.parse(bytes.data(), bytes.size(), true).get(doc);
  if (err != simdjson::SUCCESS) {
    return fail(std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) {
    return fail("not a JSON object");
  }
  // The registry and its clients read JSON with Go's encoding/json: where that reads a key
  // differently, the manifest is not trusted (rule 2 in docs/safety.md).
  if (std::string why = ambiguous_key(doc); !why.empty()) {
    return fail(why);
  }
  Manifest m;
  std::string_view media_type;
  bool has_media_type = obj["mediaType"].get(media_type) == simdjson::SUCCESS;
  int64_t schema_version = 0;
  bool has_schema = obj["schemaVersion"].get(schema_version) == simdjson::SUCCESS;
  std::string error;
  bool ok = false;
  if (has_schema && schema_version == 1 &&
      (!has_media_type || media_type == k_docker_v1 || media_type == k_docker_v1_signed)) {
    m.kind = ManifestKind::docker_schema1;
    m.media_type = has_media_type ? intern_text(media_type) : k_docker_v1;
    ok = read_descriptor_array(obj, "fsLayers", true, "blobSum", m, m.blobs, nullptr, error);
  } else if (!has_schema || schema_version != 2) {
    return fail(has_schema ? "unsupported schemaVersion " + std::to_string(schema_version)
                           : "no schemaVersion");
  } else if (has_media_type) {
    m.media_type = intern_text(media_type);
    if (media_type == k_docker_v2) {
      m.kind = ManifestKind::docker_schema2;
      ok = parse_image(obj, m, false, error);
    } else if (media_type == k_docker_list) {
      m.kind = ManifestKind::docker_manifest_list;
      ok = parse_index(obj, m, false, error);
    } else if (media_type == k_oci_manifest) {
      m.kind = ManifestKind::oci_manifest;
      ok = parse_image(obj, m, true, error);
    } else if (media_type == k_oci_index) {
      m.kind = ManifestKind::oci_index;
      ok = parse_index(obj, m, true, error);
    } else {
      return fail("unknown media type '" + std::string(media_type.substr(0, 200)) + "'");
    }
  } else {
    simdjson::dom::element probe;
    bool has_config = obj["config"].get(probe) == simdjson::SUCCESS;
    bool has_manifests = obj["manifests"].get(probe) == simdjson::SUCCESS;
    if (has_config == has_manifests) {
      return fail("no mediaType, and neither an image manifest nor an index");
    }
    if (has_config) {
      m.kind = ManifestKind::oci_manifest;
      m.media_type = k_oci_manifest;
      ok = parse_image(obj, m, true, error);
    } else {
      m.kind = ManifestKind::oci_index;
      m.media_type = k_oci_index;
      ok = parse_index(obj, m, true, error);
    }
  }
  if (!ok) {
    return fail(std::string(to_string(m.kind)) + " manifest: " + error);
  }
  out.manifest = std::move(m);
  return out;
}

}  // namespace regsweep
