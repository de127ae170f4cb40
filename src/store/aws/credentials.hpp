#pragma once

// S3 credentials when the configuration gives no keys: the AWS SDK's default chain, in its
// order, as the registry's s3 driver gets them when accesskey and secretkey are empty:
//
//   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN);
//   2. the shared credentials file: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials,
//      the profile AWS_PROFILE (else "default");
//   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, exchanged at STS
//      (AssumeRoleWithWebIdentity; AWS_ENDPOINT_URL_STS, else sts.<region>.amazonaws.com);
//   4. the container credentials endpoint (ECS): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI at
//      169.254.170.2, or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE);
//   5. the instance metadata service, IMDSv2 (a session token first), unless
//      AWS_EC2_METADATA_DISABLED=true; AWS_EC2_METADATA_SERVICE_ENDPOINT moves it.
//
// The first source that is configured decides: one that is configured and fails is an error
// naming it (a wrong file or role is not silently replaced by the next source). Keys that
// expire are fetched again five minutes before they do, from the same source. Every request
// for keys has a deadline (rule 4); no secret is ever put in a message.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "regsweep/result.hpp"

namespace regsweep {

struct AwsCredentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;            // empty for long-term keys
  std::optional<std::int64_t> expires;  // seconds since the epoch; nothing for keys that last
};

// Keys for every request, fetched again before they expire. Safe to call from many threads.
class CredentialProvider {
 public:
  using Fetch = std::function<Result<AwsCredentials>()>;
  // `source` names where the keys come from, for messages ("the instance metadata service").
  CredentialProvider(std::string source, AwsCredentials first, Fetch again);
  // Keys that do not expire.
  static std::shared_ptr<CredentialProvider> fixed(std::string source, AwsCredentials keys);

  // The keys to sign with now: fetched again when they expire within five minutes, at most
  // every 30 s until they have expired (if that fails, the old ones while they last).
  AwsCredentials current();
  const std::string& source() const { return m_source; }

 private:
  std::string m_source;
  std::mutex m_mutex;
  AwsCredentials m_keys;
  Fetch m_again;
  std::int64_t m_last_try = 0;  // when keys were last fetched again (seconds since the epoch)
};

// The chain (above) over the environment `env` (names to values) and `region`. Error naming
// the source that is configured and failed, or, when none is, the sources looked at.
Result<std::shared_ptr<CredentialProvider>> aws_default_chain(
    const std::map<std::string, std::string>& env, const std::string& region);

}  // namespace regsweep
