// Finding a blob by digest in the inventory (inventory.hpp).

#include "regsweep/inventory.hpp"

#include "regsweep/layout.hpp"

#include <algorithm>
#include <bit>

namespace regsweep {

namespace {

std::uint32_t search(const std::vector<Blob>& blobs, std::size_t first, std::size_t last,
                     const Digest& digest) {
  auto end = blobs.begin() + static_cast<std::ptrdiff_t>(last);
  auto it = std::lower_bound(blobs.begin() + static_cast<std::ptrdiff_t>(first), end, digest,
                             [](const Blob& b, const Digest& d) { return b.digest < d; });
  if (it == end || it->digest != digest) {
    return k_no_blob;
  }
  return static_cast<std::uint32_t>(it - blobs.begin());
}

}  // namespace

BlobLookup::BlobLookup(const std::vector<Blob>& blobs) : m_for(blobs.data()), m_size(blobs.size()) {
  if (blobs.size() < 64) {
    return;  // a binary search is as quick, and the table would cost more than the list
  }
  // One or two blobs a bucket, for 2 to 4 bytes of table a blob.
  unsigned bits = static_cast<unsigned>(std::bit_width(blobs.size())) - 1;
  m_shift = 64 - bits;
  std::size_t buckets = std::size_t{1} << bits;
  m_start.resize(buckets + 1);
  std::size_t i = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    m_start[b] = static_cast<std::uint32_t>(i);
    while (i < blobs.size() && (blobs[i].digest.leading() >> m_shift) == b) {
      ++i;
    }
  }
  m_start[buckets] = static_cast<std::uint32_t>(i);
}

std::uint32_t BlobLookup::find(const std::vector<Blob>& blobs, const Digest& digest) const {
  if (m_start.empty() || blobs.data() != m_for || blobs.size() != m_size) {
    return search(blobs, 0, blobs.size(), digest);
  }
  std::uint64_t b = digest.leading() >> m_shift;
  std::uint32_t first = m_start[b];
  std::uint32_t last = m_start[b + 1];
  if (last - first > 8) {
    return search(blobs, first, last, digest);  // skewed digests
  }
  for (std::uint32_t i = first; i < last; ++i) {
    if (blobs[i].digest == digest) {
      return i;
    }
  }
  return k_no_blob;
}

StoredBytes stored_blob_bytes(const Inventory& inventory) {
  StoredBytes out;
  for (const Blob& b : inventory.blobs) {
    if (b.has_data()) {
      out.bytes += b.size;
    } else if (b.unexamined()) {
      out.every_blob = false;
    }
  }
  return out;
}

std::uint32_t blob_index(const std::vector<Blob>& blobs, const Digest& digest) {
  return search(blobs, 0, blobs.size(), digest);
}

std::uint32_t blob_index(const Inventory& inventory, const Digest& digest) {
  return inventory.blob_lookup.find(inventory.blobs, digest);
}

bool blob_unknown(const Inventory& inventory, const Digest& digest) {
  return inventory.unknown_prefixes.test(digest.bytes[0]) ||
         std::binary_search(inventory.unknown_blobs.begin(), inventory.unknown_blobs.end(), digest);
}

const Blob* find_blob(const Inventory& inventory, const Digest& digest) {
  std::uint32_t i = blob_index(inventory.blobs, digest);
  return i == k_no_blob ? nullptr : &inventory.blobs[i];
}

void keep_blobs_without_repositories(Inventory& inventory) {
  if (inventory.has_repositories_dir || inventory.blobs.empty()) {
    return;
  }
  inventory.keep_all_blobs = true;
  inventory.findings.push_back(
      Finding{FindingKind::unreadable, Severity::error, std::string(layout::k_repositories_dir), "",
              "'" + std::string(layout::k_repositories_dir) + "' does not exist but " +
                  std::to_string(inventory.blobs.size()) + " blobs do; no blob is deleted"});
  sort_findings(inventory.findings);
}

}  // namespace regsweep
