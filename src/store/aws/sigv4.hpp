#pragma once

// AWS Signature Version 4 for a request signed by hand (libcurl signs the others with
// CURLOPT_AWS_SIGV4): every x-amz-* header and the host, sorted by name, as the
// specification says.

#include <string>

#include "store/aws/credentials.hpp"
#include "store/object/http_client.hpp"

namespace regsweep {

// Adds x-amz-date and Authorization to `h` (whose x-amz-content-sha256 header is set) for
// `service` in `region`, signed with `keys`; marks it signed_here.
void sign_sigv4(object::HttpRequest& h, const AwsCredentials& keys, const std::string& region,
                const std::string& service);

}  // namespace regsweep
