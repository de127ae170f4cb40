#include "regsweep/layout.hpp"

#include <algorithm>
#include <span>
#include <vector>

#include <cctype>

namespace regsweep::layout {

std::string parent(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string_view base_name(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_at_or_below(std::string_view path, std::string_view dir) {
  return path.starts_with(dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string repository_of(std::string_view path) {
  std::string prefix = std::string(k_repositories_dir) + "/";
  if (path.substr(0, prefix.size()) != prefix) {
    return {};
  }
  std::string_view rest = path.substr(prefix.size());
  std::size_t reserved = rest.find("/_");
  return std::string(reserved == std::string_view::npos ? rest : rest.substr(0, reserved));
}

std::string join(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + 1 + b.size());
  out.append(a);
  out.push_back('/');
  out.append(b);
  return out;
}

std::string blob_prefix_dir(std::string_view prefix) {
  return join(k_blobs_dir, prefix);
}

std::string blob_dir(const Digest& d) {
  std::string hex = d.hex();
  return join(blob_prefix_dir(std::string_view(hex).substr(0, 2)), hex);
}

std::string blob_data(const Digest& d) {
  return join(blob_dir(d), k_data);
}

std::string repo_dir(std::string_view repo) {
  return join(k_repositories_dir, repo);
}

std::string layers_dir(std::string_view repo) {
  return join(join(repo_dir(repo), k_layers), k_algorithm);
}

std::string layer_link_dir(std::string_view repo, const Digest& d) {
  return join(layers_dir(repo), d.hex());
}

std::string layer_link(std::string_view repo, const Digest& d) {
  return join(layer_link_dir(repo, d), k_link);
}

std::string revisions_dir(std::string_view repo) {
  return join(join(join(repo_dir(repo), k_manifests), k_revisions), k_algorithm);
}

std::string revision_dir(std::string_view repo, const Digest& d) {
  return join(revisions_dir(repo), d.hex());
}

std::string revision_link(std::string_view repo, const Digest& d) {
  return join(revision_dir(repo, d), k_link);
}

std::string tags_dir(std::string_view repo) {
  return join(join(repo_dir(repo), k_manifests), k_tags);
}

std::string tag_dir(std::string_view repo, std::string_view tag) {
  return join(tags_dir(repo), tag);
}

std::string tag_current_link(std::string_view repo, std::string_view tag) {
  return join(join(tag_dir(repo, tag), k_current), k_link);
}

std::string tag_index_dir(std::string_view repo, std::string_view tag) {
  return join(join(tag_dir(repo, tag), k_index), k_algorithm);
}

std::string tag_index_entry_dir(std::string_view repo, std::string_view tag, const Digest& d) {
  return join(tag_index_dir(repo, tag), d.hex());
}

std::string tag_index_entry_link(std::string_view repo, std::string_view tag, const Digest& d) {
  return join(tag_index_entry_dir(repo, tag, d), k_link);
}

std::string uploads_dir(std::string_view repo) {
  return join(repo_dir(repo), k_uploads);
}

std::string upload_dir(std::string_view repo, std::string_view id) {
  return join(uploads_dir(repo), id);
}

std::string lost_found_entry(const Digest& d, std::int64_t stamp) {
  return std::string(k_lost_found) + "/sha256-" + d.hex() + "-" + std::to_string(stamp);
}

LinkContent parse_link(std::string_view content) {
  if (content.empty()) {
    return {std::nullopt, LinkProblem::empty};
  }
  if (auto d = parse_digest(content)) {
    return {d, LinkProblem::none};
  }
  LinkProblem problem = LinkProblem::none;
  std::string_view trimmed = content;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())) != 0) {
    trimmed.remove_suffix(1);
  }
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())) != 0) {
    trimmed.remove_prefix(1);
  }
  if (trimmed.size() != content.size()) {
    problem = LinkProblem::trailing_whitespace;
  }
  if (trimmed.empty()) {
    return {std::nullopt, LinkProblem::empty};
  }
  std::string lowered(trimmed);
  bool had_upper = false;
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
      had_upper = true;
    }
  }
  // Only the hex part may be folded: "SHA256:" is not a digest the registry wrote.
  if (had_upper && trimmed.substr(0, 7) != "sha256:") {
    had_upper = false;
    lowered = std::string(trimmed);
  }
  if (auto d = parse_digest(lowered)) {
    return {d, had_upper ? LinkProblem::upper_case : problem};
  }
  std::size_t colon = lowered.find(':');
  if (colon != std::string::npos && colon > 0 && lowered.substr(0, colon) != "sha256") {
    bool alg_ok = true;
    for (std::size_t i = 0; i < colon; ++i) {
      char c = lowered[i];
      alg_ok = alg_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                          c == '.' || c == '_' || c == '-');
    }
    if (alg_ok) {
      return {std::nullopt, LinkProblem::unknown_algorithm};
    }
  }
  return {std::nullopt, LinkProblem::malformed};
}

std::string_view describe(LinkProblem problem) {
  switch (problem) {
    case LinkProblem::none:
      return "is valid";
    case LinkProblem::empty:
      return "is empty";
    case LinkProblem::trailing_whitespace:
      return "has surrounding white space";
    case LinkProblem::upper_case:
      return "has upper-case hex digits";
    case LinkProblem::unknown_algorithm:
      return "names a digest algorithm other than sha256";
    case LinkProblem::malformed:
      return "is not a sha256 digest";
  }
  return "is not a sha256 digest";
}

namespace {

bool is_alnum_lower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

bool is_valid_repo_component(std::string_view s) {
  // [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
  if (s.empty() || !is_alnum_lower(s.front()) || !is_alnum_lower(s.back())) {
    return false;
  }
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_alnum_lower(s[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < s.size() && !is_alnum_lower(s[i])) {
      ++i;
    }
    std::string_view sep = s.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) {
      return false;
    }
  }
  return true;
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) {
    return false;
  }
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag.front())) {
    return false;
  }
  for (char c : tag.substr(1)) {
    if (!word(c) && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

std::optional<std::uint8_t> parse_blob_prefix(std::string_view name) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  if (name.size() != 2 || nibble(name[0]) < 0 || nibble(name[1]) < 0) {
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(nibble(name[0]) * 16 + nibble(name[1]));
}

bool is_temp_leftover(std::string_view name) {
  constexpr std::string_view suffix = ".tmp";
  if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) {
    return false;
  }
  return name.substr(0, 5) == "link." || name.substr(0, 5) == "data.";
}

std::string path_of(const PathSpec& spec) {
  const std::string& repo = spec.repository;
  const Digest& d = spec.digest;
  switch (spec.kind) {
    case PathKind::blob_prefix: {
      std::string hex = d.hex();
      return blob_prefix_dir(std::string_view(hex).substr(0, 2));
    }
    case PathKind::blob_dir:
      return blob_dir(d);
    case PathKind::blob_data:
      return blob_data(d);
    case PathKind::repository:
      return repo_dir(repo);
    case PathKind::layer_link_dir:
      return layer_link_dir(repo, d);
    case PathKind::layer_link:
      return layer_link(repo, d);
    case PathKind::revision_dir:
      return revision_dir(repo, d);
    case PathKind::revision_link:
      return revision_link(repo, d);
    case PathKind::tag_dir:
      return tag_dir(repo, spec.name);
    case PathKind::tag_current_link:
      return tag_current_link(repo, spec.name);
    case PathKind::tag_index_dir:
      return tag_index_dir(repo, spec.name);
    case PathKind::tag_index_entry_dir:
      return tag_index_entry_dir(repo, spec.name, d);
    case PathKind::tag_index_entry_link:
      return tag_index_entry_link(repo, spec.name, d);
    case PathKind::upload_dir:
      return upload_dir(repo, spec.name);
  }
  return {};
}

namespace {

// The components of a relative path; nullopt when one is empty.
std::optional<std::vector<std::string_view>> components(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (true) {
    std::size_t slash = path.find('/', pos);
    std::string_view comp = path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    if (comp.empty()) {
      return std::nullopt;
    }
    out.push_back(comp);
    if (slash == std::string_view::npos) {
      return out;
    }
    pos = slash + 1;
  }
}

std::optional<PathSpec> classify_blob(const std::vector<std::string_view>& c) {
  if (c.size() < 3 || c[1] != k_algorithm) {
    return std::nullopt;
  }
  auto prefix = parse_blob_prefix(c[2]);
  if (!prefix) {
    return std::nullopt;
  }
  PathSpec spec;
  if (c.size() == 3) {
    spec.kind = PathKind::blob_prefix;
    spec.digest.bytes[0] = *prefix;
    return spec;
  }
  auto d = parse_hex(c[3]);
  if (!d || d->bytes[0] != *prefix || c.size() > 5 || (c.size() == 5 && c[4] != k_data)) {
    return std::nullopt;
  }
  spec.kind = c.size() == 4 ? PathKind::blob_dir : PathKind::blob_data;
  spec.digest = *d;
  return spec;
}

// `rest`: the components after the repository's name, from its first reserved one.
std::optional<PathSpec> classify_in_repository(std::string repo,
                                               std::span<const std::string_view> rest) {
  PathSpec spec;
  spec.repository = std::move(repo);
  auto digest_at = [&](std::size_t i) {
    auto d = i < rest.size() ? parse_hex(rest[i]) : std::nullopt;
    if (d) {
      spec.digest = *d;
    }
    return d.has_value();
  };
  auto ends = [&](std::size_t n, PathKind dir, PathKind link) -> std::optional<PathSpec> {
    if (rest.size() == n) {
      spec.kind = dir;
      return spec;
    }
    if (rest.size() == n + 1 && rest[n] == k_link) {
      spec.kind = link;
      return spec;
    }
    return std::nullopt;
  };
  if (rest[0] == k_layers && rest.size() >= 3 && rest[1] == k_algorithm && digest_at(2)) {
    return ends(3, PathKind::layer_link_dir, PathKind::layer_link);
  }
  if (rest[0] == k_uploads && rest.size() == 2) {
    spec.kind = PathKind::upload_dir;
    spec.name = std::string(rest[1]);
    return spec;
  }
  if (rest[0] != k_manifests || rest.size() < 3) {
    return std::nullopt;
  }
  if (rest[1] == k_revisions && rest[2] == k_algorithm && digest_at(3)) {
    return ends(4, PathKind::revision_dir, PathKind::revision_link);
  }
  if (rest[1] != k_tags) {
    return std::nullopt;
  }
  spec.name = std::string(rest[2]);
  if (rest.size() == 3) {
    spec.kind = PathKind::tag_dir;
    return spec;
  }
  if (rest.size() == 5 && rest[3] == k_current && rest[4] == k_link) {
    spec.kind = PathKind::tag_current_link;
    return spec;
  }
  if (rest.size() < 5 || rest[3] != k_index || rest[4] != k_algorithm) {
    return std::nullopt;
  }
  if (rest.size() == 5) {
    spec.kind = PathKind::tag_index_dir;
    return spec;
  }
  if (!digest_at(5)) {
    return std::nullopt;
  }
  return ends(6, PathKind::tag_index_entry_dir, PathKind::tag_index_entry_link);
}

}  // namespace

std::vector<std::string_view> split_key(std::string_view key) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at <= key.size()) {
    std::size_t slash = key.find('/', at);
    if (slash == std::string_view::npos) {
      out.push_back(key.substr(at));
      break;
    }
    out.push_back(key.substr(at, slash - at));
    at = slash + 1;
  }
  return out;
}

std::string join_parts(const std::vector<std::string_view>& parts, std::size_t from,
                       std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) {
    if (i > from) {
      out += '/';
    }
    out += parts[i];
  }
  return out;
}

std::size_t repository_end(const std::vector<std::string_view>& parts) {
  std::size_t r = 1;
  while (r < parts.size() && !is_reserved(parts[r])) {
    ++r;
  }
  return r;
}

std::optional<PathSpec> classify(std::string_view path) {
  auto c = components(path);
  if (!c || c->size() < 2) {
    return std::nullopt;
  }
  if (c->front() == "blobs") {
    return classify_blob(*c);
  }
  if (c->front() != k_repositories_dir) {
    return std::nullopt;
  }
  std::size_t first_reserved = repository_end(*c);
  if (first_reserved == 1) {
    return std::nullopt;  // no name before `_manifests`, `_layers`, …
  }
  std::string repo(path.substr(k_repositories_dir.size() + 1));
  if (first_reserved == c->size()) {
    PathSpec spec;
    spec.kind = PathKind::repository;
    spec.repository = std::move(repo);
    return spec;
  }
  repo.resize(static_cast<std::size_t>((*c)[first_reserved].data() - path.data()) -
              k_repositories_dir.size() - 2);
  return classify_in_repository(std::move(repo),
                                std::span<const std::string_view>(*c).subspan(first_reserved));
}

bool is_contained(std::string_view path) {
  auto c = components(path);
  if (!c || c->size() < 2) {
    return false;
  }
  bool below = c->front() == k_repositories_dir ||
               (c->size() >= 3 && c->front() == "blobs" && (*c)[1] == k_algorithm);
  return below && std::none_of(c->begin(), c->end(),
                               [](std::string_view comp) { return comp == "." || comp == ".."; });
}

std::optional<std::string> single_key_of(std::string_view dir) {
  auto what = classify(dir);
  if (!what) {
    return std::nullopt;
  }
  switch (what->kind) {
    case PathKind::blob_dir:
      return join(dir, k_data);
    case PathKind::layer_link_dir:
    case PathKind::revision_dir:
    case PathKind::tag_index_entry_dir:
      return join(dir, k_link);
    default:
      return std::nullopt;
  }
}

}  // namespace regsweep::layout
