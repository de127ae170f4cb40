#pragma once

// The S3 client's requests (client.cpp performs them); answers are object::HttpResponse.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/s3/client.hpp"

namespace regsweep {

struct S3Client::Request {
  const char* method = "GET";
  std::string key;                   // full key; empty for a bucket request
  std::string query;                 // already encoded, parameters in sorted order
  std::vector<std::string> headers;  // "Name: value", besides the signing's
  std::string body;
  std::string content_md5;
  std::uint64_t max = 1U << 20U;  // a larger body fails with EFBIG
  // Streaming: the body goes to `sink` instead, from byte `offset` on.
  const std::function<void(std::string_view)>* sink = nullptr;
  std::uint64_t offset = 0;
  bool too_large = false;
  bool sign_here = false;  // signed by sign_here(), not by libcurl (copy.cpp)
};

}  // namespace regsweep
