#pragma once

// The bucket and how to reach it, read from the registry's s3 driver parameters
// (DriverParameters: `storage.s3` with REGISTRY_STORAGE_S3_* overrides) or from
// `--root s3://bucket/prefix` with --s3-endpoint, and, for empty keys and region, the AWS
// SDK's variables.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "regsweep/config.hpp"
#include "regsweep/result.hpp"
#include "store/aws/credentials.hpp"

namespace regsweep {

struct S3Settings {
  std::string bucket;
  std::string region = "us-east-1";
  std::string endpoint;       // regionendpoint: scheme://host[:port]; empty for AWS itself
  std::string rootdirectory;  // without leading or trailing slash; "" for the bucket's top
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  // The AWS chain's keys (credentials.hpp) when the configuration gives none; then set.
  std::shared_ptr<CredentialProvider> credentials;
  bool secure = true;        // https when the endpoint names no scheme
  bool skip_verify = false;  // do not verify the server's certificate
  bool force_path_style = false;

  // "s3://bucket/rootdirectory", for messages: never a secret.
  std::string location() const;
  // The key of `v2_relative` (a path below docker/registry/v2).
  std::string key(std::string_view v2_relative) const;
  // The prefix every key of the tree starts with: "<rootdirectory>/docker/registry/v2/".
  std::string v2_prefix() const;
};

// Parses `s3://bucket[/prefix]` (for --root); nullopt when `text` is no such URL.
std::optional<S3Settings> parse_s3_url(std::string_view text);

// The bucket `driver` describes: from a configuration as the registry's s3 driver reads it,
// or from a --root URL reached at its endpoint. Error naming what is missing (a bucket, a
// region, credentials) or unreadable; never a secret.
Result<S3Settings> s3_settings(const DriverParameters& driver);

}  // namespace regsweep
