#pragma once

// What a scan found on disk: repositories with their links, and every blob. Plain values, no
// I/O; produced by scan() and read by every later stage.

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "regsweep/digest.hpp"
#include "regsweep/finding.hpp"

namespace regsweep {

// A reference to a digest, four bytes where a digest takes 32: the index of its blob in
// Inventory::blobs or, when no blob has that digest, k_absent_bit | an index into a side list
// of absent digests (a repository's for links, the manifest table's for manifests).
constexpr std::uint32_t k_absent_bit = 0x80000000U;

// A link whose directory names a digest (revision, layer, tag history entry).
// Kept small (12 bytes): a large registry holds more links than blobs. The digest a link's
// directory names is held as an index into Inventory::blobs; a link to a digest with no blob
// (a dangling link) indexes Repository::absent instead. link_digest() gives the digest.
struct Link {
  static constexpr std::uint32_t k_no_other = 0x3FFFFFFFU;
  static constexpr std::uint32_t k_absent = k_absent_bit;
  std::uint32_t ref = 0;    // blob index, or k_absent | index into Repository::absent
  std::uint32_t mtime = 0;  // of the link file, seconds since the epoch (0 before 1970)

  bool dangling() const { return (ref & k_absent) != 0; }  // no blob of that digest
  // Unreadable, malformed, mismatched or not a plain file.
  bool problem() const { return (m_other & k_problem) != 0; }
  void set_problem() { m_other |= k_problem; }
  // A layer or tag history link the scan took from its directory's name and did not read
  // (see ScanOptions): taken to name that digest until verify_layer_links or
  // verify_tag_history reads it.
  bool unverified() const { return (m_other & k_unverified) != 0; }
  void set_unverified(bool unverified) {
    m_other = unverified ? (m_other | k_unverified) : (m_other & ~k_unverified);
  }
  // When the file's content names another digest than the directory: its index in
  // Repository::other_targets (both are kept); k_no_other otherwise.
  std::uint32_t other() const { return m_other & k_no_other; }
  void set_other(std::uint32_t index) { m_other = (m_other & ~k_no_other) | index; }

 private:
  // Flags above other()'s 30 bits (k_no_other).
  static constexpr std::uint32_t k_problem = 1U << 31U;
  static constexpr std::uint32_t k_unverified = 1U << 30U;
  std::uint32_t m_other = k_no_other;  // other() and the two flags, in one word
};

struct Tag {
  std::string name;
  std::optional<Digest> current;      // what `current/link` names, when readable
  bool current_problem = false;       // `current/link` exists but cannot be trusted
  bool has_current = false;           // a `current` entry exists at all
  std::int64_t current_mtime = 0;     // of `current/link`, seconds
  std::int64_t current_mtime_ns = 0;  // the same in nanoseconds, to see it move after the scan
  std::vector<Link> history;          // `index/sha256/<hex>/link`, sorted by ref
  // Set by a removal request (`regsweep rm NAME:TAG`) before marking.
  bool remove_requested = false;
};

struct Upload {
  std::string id;
  std::optional<std::int64_t> started;  // `startedat`, seconds since the epoch, when readable
  std::int64_t newest_mtime = 0;        // newest modification time inside, seconds
  std::uint64_t bytes = 0;              // sum of the sizes of the regular files inside
  bool problem = false;                 // something inside could not be read: never purged
};

// Something untidy that the scan saw and a gc may remove.
struct Leftover {
  enum class Kind {
    empty_dir,          // a link or blob directory with nothing in it (left by API deletes)
    empty_tag_dir,      // a tag directory with neither a current link nor history
    temp_file,          // `link.<id>.tmp` / `data.<id>.tmp` from an interrupted write
    empty_blob_prefix,  // an empty blobs/sha256/<xx> directory
  };
  Kind kind;
  std::string path;        // relative to docker/registry/v2
  std::string repository;  // empty for blob prefixes and blob temp files
  std::int64_t mtime = 0;  // seconds since the epoch
};

struct Repository {
  std::string name;  // e.g. "library/alpine"
  bool has_manifests = false;
  bool has_layers = false;
  bool has_uploads = false;
  std::vector<Tag> tags;        // sorted by name
  std::vector<Link> revisions;  // sorted by ref (digest order; dangling ones last)
  std::vector<Link> layers;     // sorted by ref
  std::vector<Upload> uploads;  // sorted by id
  // The digests that links' contents name when they differ from their directory's (rare).
  std::vector<Digest> other_targets;
  // The digests of dangling links, which no blob's index can name (rare).
  std::vector<Digest> absent;
  // Something in this repository could not be read (an unreadable directory, a symlink where
  // revisions or tags live): what it holds is unknown, so everything it links is kept.
  bool uncertain = false;
  // A tag could not be read: with delete_untagged, every revision is kept as if tagged.
  bool tags_uncertain = false;
  // Set by a removal request (`regsweep rm NAME`) before marking.
  bool remove_requested = false;
  // Set by rm and prune for every repository they do not name: nothing in it moves, not its
  // untagged manifests with -m, nor its orphan signature tags, nor the repository when it is
  // empty. (Blobs belong to no repository: one that no manifest needs still goes.)
  bool out_of_scope = false;
};

struct Blob {
  // `size` of a blob a scan took from its directory's name without looking at its `data`
  // (ScanOptions::stat_blobs false): its size and time are not known, and it is treated as
  // old until examined (Store::examine_blobs). Nothing decides to delete such a blob.
  static constexpr std::uint64_t k_unexamined = UINT64_MAX;
  // `size` of one an examination found to be no blob: its `data` is missing, a link or not a
  // regular file (reported, and in Inventory::unknown_blobs unless only leftovers of an
  // interrupted write were there). Never deleted as a blob; a full scan leaves it out.
  static constexpr std::uint64_t k_not_a_blob = UINT64_MAX - 1;

  Digest digest;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;  // of `data`, seconds since the epoch

  bool unexamined() const { return size == k_unexamined; }
  // True when its `data` was seen, a regular file: size and mtime are its own.
  bool has_data() const { return size < k_not_a_blob; }
};

// Finds a digest in a sorted list of blobs with one or two cache misses where a binary search
// over a million blobs takes twenty dependent loads: sha256 digests are uniform, so their
// leading bits spread the blobs evenly over buckets of one or two, and a table gives where
// each bucket starts. Skewed digests only make some buckets longer; a long one is binary
// searched.
// The table answers for the list it was built from (same address and length) and falls back
// to a binary search over the whole list for any other.
class BlobLookup {
 public:
  BlobLookup() = default;
  explicit BlobLookup(const std::vector<Blob>& blobs);
  // The index of `digest` in `blobs`, or k_no_blob.
  std::uint32_t find(const std::vector<Blob>& blobs, const Digest& digest) const;

 private:
  std::vector<std::uint32_t> m_start;  // bucket b holds [m_start[b], m_start[b + 1])
  unsigned m_shift = 64;               // bucket = leading() >> m_shift
  const Blob* m_for = nullptr;         // the list the table was built from
  std::size_t m_size = 0;
};

struct Inventory {
  bool has_repositories_dir = false;
  std::vector<Repository> repositories;  // sorted by name
  std::vector<Blob> blobs;               // sorted by digest; only directories holding `data`
  BlobLookup blob_lookup;                // over `blobs`, built by the scan
  // Something that could hold references could not be read: no blob may be deleted.
  bool keep_all_blobs = false;
  // Every blob directory was read: a digest missing from `blobs` is really absent. False
  // when unknown_prefixes or unknown_blobs holds anything.
  bool blobs_complete = true;
  // Blob prefix directories (`blobs/sha256/<xx>`, by the value of <xx>) that exist but could
  // not be listed (a symbolic link, not a directory, unreadable): whether a digest with that
  // prefix has a blob is unknown. All 256 when `blobs/sha256` itself could not be listed.
  std::bitset<256> unknown_prefixes;
  // Digests whose blob directory exists but could not be examined (its `data` is a symbolic
  // link, a directory or a FIFO, or cannot be stat'ed; the directory is a file or a link):
  // present, contents unknown. Sorted, unique.
  std::vector<Digest> unknown_blobs;
  std::vector<Leftover> leftovers;   // sorted by path
  std::int64_t scan_started_ns = 0;  // nanoseconds since the epoch
  // The newest modification time (nanoseconds) seen on any blob, link or upload, and where.
  std::int64_t newest_mtime_ns = 0;
  std::string newest_path;
  std::vector<Finding> findings;  // sorted
};

// The digest a link reference (Link::ref) of `repo` names: a blob's, from the inventory's
// blob list `blobs`, or one of the repository's absent digests.
inline const Digest& ref_digest(const Blob* blobs, const Repository& repo, std::uint32_t ref) {
  return (ref & Link::k_absent) != 0 ? repo.absent[ref & ~Link::k_absent] : blobs[ref].digest;
}

// The digest a link's directory names.
inline const Digest& link_digest(const Inventory& inventory, const Repository& repo,
                                 const Link& link) {
  return ref_digest(inventory.blobs.data(), repo, link.ref);
}

// The digest a link's content names when it differs from its directory's; nullptr otherwise.
inline const Digest* other_target(const Repository& repo, const Link& link) {
  return link.other() == Link::k_no_other ? nullptr : &repo.other_targets[link.other()];
}

// True when whether `digest` has a blob, and what it holds, could not be found out: its
// prefix directory or its blob directory could not be examined. Such a digest is never
// absent: a manifest behind it is unreadable, a link to it is not dangling.
bool blob_unknown(const Inventory& inventory, const Digest& digest);

// Blobs but no repositories/: a wrong root, a failed mount or a hand-made mess, not an empty
// registry. Upstream aborts there; every scan keeps every blob and says so.
void keep_blobs_without_repositories(Inventory& inventory);

// Finds a blob by digest in a sorted inventory; nullptr when absent.
const Blob* find_blob(const Inventory& inventory, const Digest& digest);

constexpr std::uint32_t k_no_blob = 0xFFFFFFFFU;
// The index of a blob in Inventory::blobs; k_no_blob when absent. Uses blob_lookup when it
// was built over these blobs.
std::uint32_t blob_index(const Inventory& inventory, const Digest& digest);
// The same over any list of blobs sorted by digest.
std::uint32_t blob_index(const std::vector<Blob>& blobs, const Digest& digest);

// The bytes of the blobs whose `data` the scan (or a second look) stat'ed, and whether that
// is every blob: a scan that took blobs from their names leaves some unexamined.
struct StoredBytes {
  std::uint64_t bytes = 0;
  bool every_blob = true;
};
StoredBytes stored_blob_bytes(const Inventory& inventory);

}  // namespace regsweep
