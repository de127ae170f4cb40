#include <gtest/gtest.h>

#include "regsweep/timeutil.hpp"

namespace regsweep {
namespace {

TEST(Time, Rfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2026-11-22T13:00:00Z"), 1795352400);
  EXPECT_EQ(parse_rfc3339("2026-11-22T13:00:00.123456789Z"), 1795352400);
  EXPECT_EQ(parse_rfc3339("2026-11-22T14:00:00+01:00"), 1795352400);
  EXPECT_EQ(parse_rfc3339("2026-11-22T12:30:00-00:30"), 1795352400);
  for (const char* bad : {"", "2026-11-22", "2026-11-22T13:00:00", "2026-13-22T13:00:00Z",
                          "2026-11-22T13:00:00Zjunk", "garbage", "2026-11-22T13:00:00.Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(Time, Durations) {
  EXPECT_EQ(parse_duration("0"), 0);
  EXPECT_EQ(parse_duration("0s"), 0);
  EXPECT_EQ(parse_duration("168h"), 168 * 3600);
  EXPECT_EQ(parse_duration("1h30m"), 5400);
  EXPECT_EQ(parse_duration("7d"), 7 * 86400);
  EXPECT_EQ(parse_duration("90s"), 90);
  for (const char* bad : {"", "h", "10", "10x", "-1h", "1.5h", "1h 2m"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
  // Issue 31, cause 9: a duration too long to mean anything is refused, never wrapped round
  // to a negative number (which turned the grace period off).
  EXPECT_EQ(parse_duration("36500d"), k_max_duration);
  EXPECT_FALSE(parse_duration("36501d"));
  EXPECT_FALSE(parse_duration("36500d1s"));
  EXPECT_FALSE(parse_duration("99999999999999999999s"));
  std::string many;
  for (int i = 0; i < 11000; ++i) {
    many += "9999999999d";  // each fits; their sum does not fit in 64 bits
  }
  EXPECT_FALSE(parse_duration(many));
}

}  // namespace
}  // namespace regsweep
