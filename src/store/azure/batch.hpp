#pragma once

// The answer of a Blob Batch request (batch.cpp), read apart from the request for tests.

#include <string>
#include <vector>

#include "regsweep/result.hpp"
#include "store/object/bucket.hpp"

namespace regsweep {

// The deletions of `keys` (sub-requests with Content-ID 0, 1, … in that order) a Blob Batch
// answer says were not done: a sub-request answered other than 202 (deleted) or 404 (already
// absent), and any the answer does not account for. Parts without a Content-ID are taken in
// order when there are as many as keys. Error when `content_type` names no boundary.
Result<std::vector<object::DeleteFailure>> batch_failures(const std::vector<std::string>& keys,
                                                          const std::string& content_type,
                                                          const std::string& body);

}  // namespace regsweep
