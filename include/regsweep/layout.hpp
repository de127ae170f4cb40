#pragma once

// The registry's storage tree, drawn once: every path regsweep reads or deletes is built here,
// and every name found on disk is classified here. Paths are relative to
// `<root>/docker/registry/v2/` unless a function says otherwise. See docs/layout.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/digest.hpp"

namespace regsweep::layout {

// The directory below a storage root that holds the tree.
inline constexpr std::string_view k_v2_dir = "docker/registry/v2";
inline constexpr std::string_view k_blobs_dir = "blobs/sha256";
inline constexpr std::string_view k_repositories_dir = "repositories";
inline constexpr std::string_view k_manifests = "_manifests";
inline constexpr std::string_view k_layers = "_layers";
inline constexpr std::string_view k_uploads = "_uploads";
inline constexpr std::string_view k_algorithm = "sha256";
inline constexpr std::string_view k_link = "link";
inline constexpr std::string_view k_data = "data";
inline constexpr std::string_view k_revisions = "revisions";
inline constexpr std::string_view k_tags = "tags";
inline constexpr std::string_view k_current = "current";
inline constexpr std::string_view k_index = "index";
inline constexpr std::string_view k_startedat = "startedat";
// Where `fsck --repair` moves corrupt blobs: beside blobs/ and repositories/, never read.
inline constexpr std::string_view k_lost_found = "lost+found";

// Spec -> path.
std::string blob_prefix_dir(std::string_view prefix);  // blobs/sha256/<xx>
std::string blob_dir(const Digest& d);                 // blobs/sha256/<xx>/<hex>
std::string blob_data(const Digest& d);                // blobs/sha256/<xx>/<hex>/data
std::string repo_dir(std::string_view repo);           // repositories/<repo>
std::string layers_dir(std::string_view repo);         // …/_layers/sha256
std::string layer_link_dir(std::string_view repo, const Digest& d);
std::string layer_link(std::string_view repo, const Digest& d);
std::string revisions_dir(std::string_view repo);  // …/_manifests/revisions/sha256
std::string revision_dir(std::string_view repo, const Digest& d);
std::string revision_link(std::string_view repo, const Digest& d);
std::string tags_dir(std::string_view repo);  // …/_manifests/tags
std::string tag_dir(std::string_view repo, std::string_view tag);
std::string tag_current_link(std::string_view repo, std::string_view tag);
std::string tag_index_dir(std::string_view repo, std::string_view tag);  // …/index/sha256
std::string tag_index_entry_dir(std::string_view repo, std::string_view tag, const Digest& d);
std::string tag_index_entry_link(std::string_view repo, std::string_view tag, const Digest& d);
std::string uploads_dir(std::string_view repo);
std::string upload_dir(std::string_view repo, std::string_view id);
// lost+found/sha256-<hex>-<stamp>: where a corrupt blob's directory goes.
std::string lost_found_entry(const Digest& d, std::int64_t stamp);

// Joins two relative paths with one '/'.
std::string join(std::string_view a, std::string_view b);

// Both ways at once: what a path of the tree is, and the names in it.
enum class PathKind : std::uint8_t {
  blob_prefix,           // blobs/sha256/<xx>
  blob_dir,              // blobs/sha256/<xx>/<hex>
  blob_data,             // blobs/sha256/<xx>/<hex>/data
  repository,            // repositories/<name>: a namespace or a repository
  layer_link_dir,        // repositories/<name>/_layers/sha256/<hex>
  layer_link,            // …/link
  revision_dir,          // repositories/<name>/_manifests/revisions/sha256/<hex>
  revision_link,         // …/link
  tag_dir,               // repositories/<name>/_manifests/tags/<tag>
  tag_current_link,      // …/current/link
  tag_index_dir,         // …/index/sha256
  tag_index_entry_dir,   // …/index/sha256/<hex>
  tag_index_entry_link,  // …/index/sha256/<hex>/link
  upload_dir,            // repositories/<name>/_uploads/<id>
};

struct PathSpec {
  PathKind kind = PathKind::blob_dir;
  std::string repository;  // paths below repositories/
  std::string name;        // the tag, or the upload id
  // Blob, link and index entry paths: the digest; blob_prefix: its first byte only.
  Digest digest;
  bool operator==(const PathSpec&) const = default;
};

// Spec -> path.
std::string path_of(const PathSpec& spec);
// Path -> spec: nullopt for anything the layout does not name (leftovers, unknown entries).
// Names are taken as they are; whether the registry accepts them is is_valid_* below.
std::optional<PathSpec> classify(std::string_view path);

// Keys taken apart and put together, here only (an object store's listing scanner reads
// each part with the names and predicates below): `key` split at every '/' (an empty
// component included), and the parts [from, to) joined again.
std::vector<std::string_view> split_key(std::string_view key);
std::string join_parts(const std::vector<std::string_view>& parts, std::size_t from,
                       std::size_t to);
// In the components of a path below repositories/ (parts[0] is `repositories`): where the
// repository's name ends, at the first reserved component, or parts.size().
std::size_t repository_end(const std::vector<std::string_view>& parts);

// The one key the layout puts in the directory `dir`, when it puts exactly one there: a
// blob's `data`, a revision's, layer link's or tag index entry's `link`; nullopt for any other
// directory (a repository, an upload, a tag), whose keys an object store must list.
std::optional<std::string> single_key_of(std::string_view dir);

// True for a path below blobs/ or repositories/ with no empty, '.' or '..' component: the
// only paths regsweep removes.
bool is_contained(std::string_view path);

// Path -> spec, for the questions other modules ask of any path:
// the directory holding `path` ("" for a single component);
std::string parent(std::string_view path);
// its last component;
std::string_view base_name(std::string_view path);
// whether it is `dir` or below it.
bool is_at_or_below(std::string_view path, std::string_view dir);
// the repository a path below repositories/ belongs to: the components before the first
// reserved one (`_manifests`, `_layers`, …), or, for a namespace or repository directory,
// its whole name (it may be a repository). Empty above any repository.
std::string repository_of(std::string_view path);

// What is wrong with a link file's content, if anything.
enum class LinkProblem {
  none,
  empty,
  trailing_whitespace,  // the digest is readable, but upstream rejects the file
  upper_case,           // the digest is readable, but upstream rejects the file
  unknown_algorithm,    // e.g. sha512: a digest regsweep does not hold
  malformed,
};

struct LinkContent {
  std::optional<Digest> digest;  // set whenever the digest can be recovered
  LinkProblem problem = LinkProblem::none;
};

// Parses the content of a link file. A strictly valid link is exactly "sha256:" + 64
// lower-case hex digits. Recoverable deviations return the digest with a problem set.
LinkContent parse_link(std::string_view content);

// A short lower-case phrase for a problem, e.g. "has a trailing newline".
std::string_view describe(LinkProblem problem);

// A path component of a repository name: [a-z0-9]+ separated by '.', '_', '__' or '-'s.
bool is_valid_repo_component(std::string_view component);

// A tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool is_valid_tag(std::string_view tag);

// A name the layout reserves for itself inside a repository (starts with '_').
inline bool is_reserved(std::string_view name) {
  return !name.empty() && name.front() == '_';
}

// True for the directories a repository keeps its data in.
inline bool is_repo_marker(std::string_view name) {
  return name == k_manifests || name == k_layers || name == k_uploads;
}

// The first byte of every digest a blob prefix directory `blobs/sha256/<xx>` holds, for a
// name of exactly two lower-case hex digits; nullopt for any other name.
std::optional<std::uint8_t> parse_blob_prefix(std::string_view name);

// True for a leftover of an interrupted write: `<name>.<uuid>.tmp`.
bool is_temp_leftover(std::string_view name);

}  // namespace regsweep::layout
