#pragma once

// The store of a registry tree in any object store, over the backend's Bucket (bucket.hpp):
// the parallel listing walk, the scan from the listing, the remover, the guard that lists
// again, the lock object and the multipart merge. A backend (S3, Azure Blob) adds its Bucket
// and one line in src/store/open.cpp.

#include <memory>
#include <string>

#include "regsweep/store.hpp"
#include "store/object/bucket.hpp"

namespace regsweep::object {

// `writer` names what may write to the tree, in findings ("the bucket").
std::unique_ptr<Store> make_object_store(std::unique_ptr<Bucket> bucket, std::string writer);

}  // namespace regsweep::object
