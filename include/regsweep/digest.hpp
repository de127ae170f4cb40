#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "regsweep/result.hpp"

namespace regsweep {

// A sha256 content digest held as its 32 raw bytes. Ordered and hashable.
struct Digest {
  std::array<std::uint8_t, 32> bytes{};

  // Byte order (as the hex reads), compared as four big-endian 64-bit words: sorting and
  // binary search over a million blobs compare digests tens of millions of times, and a
  // memcmp call per compare showed as 9% of a run's samples.
  std::strong_ordering operator<=>(const Digest& other) const noexcept {
    for (std::size_t i = 0; i < 32; i += 8) {
      std::uint64_t a = word(i);
      std::uint64_t b = other.word(i);
      if (a != b) {
        return a < b ? std::strong_ordering::less : std::strong_ordering::greater;
      }
    }
    return std::strong_ordering::equal;
  }
  bool operator==(const Digest& other) const noexcept {
    return word(0) == other.word(0) && word(8) == other.word(8) && word(16) == other.word(16) &&
           word(24) == other.word(24);
  }

  // The first 8 bytes as a number: digests are uniform, so its top bits spread them evenly.
  std::uint64_t leading() const noexcept { return word(0); }

  // 64 lower-case hex digits.
  std::string hex() const;
  // "sha256:" followed by hex().
  std::string str() const;

 private:
  // Bytes [i, i+8) as a big-endian number, so that numeric order is byte order.
  std::uint64_t word(std::size_t i) const noexcept {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes.data() + i, sizeof(w));
    if constexpr (std::endian::native == std::endian::little) {
      w = __builtin_bswap64(w);
    }
    return w;
  }
};

// Parses exactly 64 lower-case hex digits; anything else (upper case, other length) is nullopt.
std::optional<Digest> parse_hex(std::string_view hex);

// Parses exactly "sha256:" + 64 lower-case hex digits, the form the registry writes in links
// and manifests. Returns nullopt for any other text, including other algorithms.
std::optional<Digest> parse_digest(std::string_view text);

// The digest of some bytes.
Digest sha256_of(std::string_view bytes);
// The digest of what `stream` gives its sink, chunk by chunk; its error when it fails.
using ChunkSink = std::function<void(std::string_view)>;
Result<Digest> sha256_of_stream(const std::function<Status(const ChunkSink&)>& stream);

struct DigestHash {
  std::size_t operator()(const Digest& d) const noexcept {
    // The bytes are already uniformly distributed.
    std::size_t h = 0;
    for (std::size_t i = 0; i < sizeof(h); ++i) {
      h = (h << 8U) | d.bytes[i];
    }
    return h;
  }
};

}  // namespace regsweep
