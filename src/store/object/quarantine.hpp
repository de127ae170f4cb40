#pragma once

// An object store's quarantine area (quarantine.cpp): docker/registry/quarantine/<run-id>/ in
// the same bucket, beside v2, at the same keys. A run copies each key there server-side,
// checks the copy's size, and only then lets the remover delete it; restore copies back and
// deletes the quarantined copy. A bucket has no rename: between the copy and the delete (a
// run killed there) an object stands in both places, with the same bytes.

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "regsweep/quarantine.hpp"
#include "store/object/bucket.hpp"
#include "store/object/remover.hpp"

namespace regsweep::object {

// Copies `source` of `from` to `key` of `to` (two views of one store) server-side: one copy
// up to to.max_copy() bytes, above that a multipart copy in parts of at most 1 GiB (aborted
// when a part fails). `size`: the source's. Then a direct look: the copy has `size` bytes.
Status copy_object(Bucket& from, std::string_view source, Bucket& to, std::string_view key,
                   std::uint64_t size);

// The remover a quarantine run sweeps with: the store's, keeping each key first.
using MakeMover = std::function<std::unique_ptr<Remover>(KeepFirst keep)>;

// The quarantine beside `tree`'s keys (Bucket::beside("quarantine")).
std::unique_ptr<QuarantineArea> make_object_quarantine(Bucket& tree, MakeMover make_mover);

}  // namespace regsweep::object
