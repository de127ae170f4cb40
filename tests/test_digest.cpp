#include <gtest/gtest.h>

#include "regsweep/digest.hpp"

namespace regsweep {
namespace {

constexpr const char* k_hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Digest, Sha256OfEmptyIsTheKnownValue) {
  EXPECT_EQ(sha256_of("").hex(), k_hex);
  EXPECT_EQ(sha256_of("").str(), std::string("sha256:") + k_hex);
}

TEST(Digest, ParseRoundTrips) {
  auto d = parse_digest(std::string("sha256:") + k_hex);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hex(), k_hex);
  EXPECT_EQ(*d, sha256_of(""));
}

TEST(Digest, ParseRejects) {
  std::string hex = k_hex;
  std::string upper = hex;
  upper[0] = 'E';
  const std::vector<std::string> rejects = {
      "",
      hex,                                  // no algorithm
      "sha256:" + hex.substr(1),            // too short
      "sha256:" + hex + "0",                // too long
      "sha256:" + upper,                    // upper case
      "sha512:" + hex,                      // other algorithm
      "SHA256:" + hex,                      // upper-case algorithm
      "sha256:" + hex + "\n",               // trailing newline
      " sha256:" + hex,                     // leading space
      "sha256:" + hex.substr(0, 63) + "g",  // not hex
  };
  for (const auto& r : rejects) {
    EXPECT_FALSE(parse_digest(r)) << r;
  }
}

// Every byte value at the first, last and some middle positions: only 0-9 and a-f parse, and
// what parses reads back as the same text.
TEST(Digest, ParseHexAcceptsExactlyLowerCaseHexDigits) {
  for (std::size_t n = 0; n < 200; ++n) {
    std::string hex = sha256_of(std::to_string(n)).hex();
    auto d = parse_hex(hex);
    ASSERT_TRUE(d) << hex;
    EXPECT_EQ(d->hex(), hex);
  }
  for (std::size_t pos : {0, 1, 2, 31, 32, 62, 63}) {
    for (int c = 0; c < 256; ++c) {
      std::string hex = k_hex;
      hex[pos] = static_cast<char>(c);
      bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      auto d = parse_hex(hex);
      ASSERT_EQ(d.has_value(), digit) << "byte " << c << " at " << pos;
      if (d) {
        EXPECT_EQ(d->hex(), hex);
      }
    }
  }
  EXPECT_FALSE(parse_hex(std::string(k_hex).substr(1)));
  EXPECT_FALSE(parse_hex(std::string(k_hex) + "0"));
}

TEST(Digest, OrderingFollowsHex) {
  auto a = parse_hex(std::string(64, '0'));
  auto b = parse_hex(std::string(63, '0') + "1");
  auto c = parse_hex("f" + std::string(63, '0'));
  ASSERT_TRUE(a && b && c);
  EXPECT_LT(*a, *b);
  EXPECT_LT(*b, *c);
}

}  // namespace
}  // namespace regsweep
