#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace regsweep {

// A sha256 content digest held as its 32 raw bytes. Ordered and hashable.
struct Digest {
  std::array<std::uint8_t, 32> bytes{};

  auto operator<=>(const Digest&) const = default;
  bool operator==(const Digest&) const = default;

  // 64 lower-case hex digits.
  std::string hex() const;
  // "sha256:" followed by hex().
  std::string str() const;
};

// Parses exactly 64 lower-case hex digits; anything else (upper case, other length) is nullopt.
std::optional<Digest> parse_hex(std::string_view hex);

// Parses exactly "sha256:" + 64 lower-case hex digits, the form the registry writes in links
// and manifests. Returns nullopt for any other text, including other algorithms.
std::optional<Digest> parse_digest(std::string_view text);

// The digest of some bytes.
Digest sha256_of(std::string_view bytes);

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
