#include "regsweep/layout.hpp"

#include <cctype>

namespace regsweep::layout {

std::string parent(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
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

}  // namespace regsweep::layout
