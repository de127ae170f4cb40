#pragma once

// The filesystem store's remover (remover.cpp).

#include <memory>

#include "regsweep/sweep.hpp"

namespace regsweep {

// Deletes below an open docker/registry/v2 directory, never following symbolic links.
std::unique_ptr<Remover> make_tree_remover(int v2_fd);

}  // namespace regsweep
