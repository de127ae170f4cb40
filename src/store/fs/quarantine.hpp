#pragma once

// The filesystem store's quarantine area (quarantine.cpp).

#include <memory>
#include <string>

#include "regsweep/quarantine.hpp"

namespace regsweep {

// docker/registry/quarantine beside the open docker/registry/v2 `v2_fd` of the tree `root`.
std::unique_ptr<QuarantineArea> make_fs_quarantine(int v2_fd, std::string root);

}  // namespace regsweep
