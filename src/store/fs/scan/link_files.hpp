#pragma once

// The filesystem scan's reading of link files and small directories (scan.cpp, verify.cpp):
// what a link file names, read or only stat'ed, without following a symbolic link.

#include <sys/stat.h>

#include <array>
#include <cassert>
#include <cstring>

#include "links.hpp"

namespace regsweep::scan_detail {

// "cannot <what> '<path>': <why>", naming `path` from the top of the tree whatever path the
// failed call was given (a component below an open directory, or '.').
std::string cannot(std::string_view what, const std::string& path, const Error& error);

// Why a directory could not be opened, to follow its path: "is a symbolic link; not
// followed", "is a mount point; not followed", or "cannot be opened (<reason>)".
std::string unopened(const Error& error);

// Opens `<dirfd>/<rel>` as a link file without following a final symbolic link; -1 with
// `out` saying why when it cannot (nothing there: out.exists stays false).
int open_link(int dirfd, const char* rel, LinkRead& out);

// Reads `<dirfd>/<rel>` as a link file without following a final symbolic link.
LinkRead read_link(int dirfd, const char* rel);

// `<hex>/<leaf>` for a 64-digit directory name and a 4-letter leaf (`link`, `data`), built on
// the stack: the scan builds one for each of a registry's millions of blobs and links. Only
// for a name parse_hex accepted.
class HexLeaf {
 public:
  HexLeaf(std::string_view hex, std::string_view leaf) {
    assert(hex.size() == 64 && leaf.size() == 4);
    std::memcpy(m_buf.data(), hex.data(), 64);
    m_buf[64] = '/';
    std::memcpy(m_buf.data() + 65, leaf.data(), 4);
    m_buf[69] = '\0';
  }
  const char* c_str() const { return m_buf.data(); }

 private:
  std::array<char, 70> m_buf{};
};

struct TreeStats {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::int64_t newest = 0;
  struct timespec newest_ts {};
  bool error = false;
};

// Counts the regular files below a directory (never following links), with their total size
// and newest modification time. Used for uploads and tag directories, which are small.
TreeStats tree_stats(int dirfd, int depth = 0);

}  // namespace regsweep::scan_detail
