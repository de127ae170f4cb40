#include "regsweep/digest.hpp"

#include <openssl/evp.h>

namespace regsweep {

namespace {

constexpr char k_hex_digits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

}  // namespace

std::string Digest::hex() const {
  std::string out(64, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = k_hex_digits[bytes[i] >> 4U];
    out[2 * i + 1] = k_hex_digits[bytes[i] & 0xFU];
  }
  return out;
}

std::string Digest::str() const {
  return "sha256:" + hex();
}

std::optional<Digest> parse_hex(std::string_view hex) {
  if (hex.size() != 64) {
    return std::nullopt;
  }
  Digest d;
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    d.bytes[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return d;
}

std::optional<Digest> parse_digest(std::string_view text) {
  constexpr std::string_view prefix = "sha256:";
  if (text.size() != prefix.size() + 64 || text.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  return parse_hex(text.substr(prefix.size()));
}

Digest sha256_of(std::string_view bytes) {
  Digest d;
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), d.bytes.data(), &len, EVP_sha256(), nullptr);
  return d;
}

}  // namespace regsweep
