#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>

#include "regsweep/inventory.hpp"
#include "regsweep/result.hpp"

namespace regsweep {

struct ScanOptions {
  // Read every `_layers` link. When false, a layer link is taken from its directory's name
  // and not looked at: its name is its digest, and neither its content nor its time (which
  // stays 0: not young) decides anything until the link or its blob might be deleted. Such
  // links are marked unverified; whoever decides on them must call verify_layer_links
  // first, and mark again if one turns out young. On a million-blob registry this saves four
  // system calls and a page of cache per layer link. `fsck` reads them all.
  bool read_layer_links = true;
  // Read every tag history link (`_manifests/tags/<tag>/index/sha256/<hex>/link`). When
  // false, as for layer links, each is taken from its directory's name, unverified: a plan
  // deletes one only with the revision it names, or tidies it when it names no revision,
  // and verify_tag_history reads those first. A tag without a current link is read whole.
  // `fsck` reads them all.
  bool read_tag_history = true;
  // Stat every blob's `data` for its size and time. When false, a blob is taken from its
  // directory's name (getdents gives it) and left unexamined (Blob::k_unexamined): whoever
  // decides on it must call examine_blobs first, for those it might delete. On a
  // million-blob registry this saves a path lookup and a stat per blob. gc does so unless
  // it reports every blob's bytes (--prometheus); du and fsck stat them all.
  bool stat_blobs = true;
};

struct Verified {
  std::vector<Finding> findings;
  bool other_targets = false;     // a link read names another digest than its directory
  std::int64_t newest_mtime = 0;  // of the links read, seconds: marking again if young
};

struct Examined {
  std::vector<Finding> findings;
  std::size_t examined = 0;       // blobs examined
  bool not_blobs = false;         // one was no blob after all (Blob::k_not_a_blob)
  std::int64_t newest_mtime = 0;  // of the blobs examined, seconds: marking again if young
};

// What a store whose scan leaves things unread (the ScanOptions above, false) reads when the
// pipeline needs it: its second looks, for what `wanted` selects, recorded in the inventory
// as a full scan would have. A store whose scan reads everything has none
// (Store::lazy_looks): an object store's listing gives every key's size and time, and its
// scan reads every link of another size than the registry writes.
class LazyLooks {
 public:
  virtual ~LazyLooks() = default;
  // Reads the unverified layer links of repository `r` for which `wanted(r, link)` is true:
  // their time, a problem (the link is then kept) or a second digest. A link directory with
  // no link file (what the registry's own delete leaves) is no link: it is dropped.
  virtual Verified verify_layer_links(
      Inventory& inventory, tbb::task_arena& arena,
      const std::function<bool(std::size_t, const Link&)>& wanted) = 0;
  // Reads the unverified tag history links of repository `r` for which `wanted(r, tag, link)`
  // is true, as verify_layer_links reads layer links.
  virtual Verified verify_tag_history(
      Inventory& inventory, tbb::task_arena& arena,
      const std::function<bool(std::size_t, const Tag&, const Link&)>& wanted) = 0;
  // Examines the unexamined blobs for which `wanted(i)` is true: a regular `data` gives the
  // blob its size and time; anything else is reported, and the blob becomes
  // Blob::k_not_a_blob. A blob left unexamined is never deleted.
  virtual Examined examine_blobs(Inventory& inventory, tbb::task_arena& arena,
                                 const std::function<bool(std::size_t)>& wanted) = 0;
};

}  // namespace regsweep
