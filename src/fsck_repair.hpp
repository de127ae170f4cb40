#pragma once

// fsck --repair's side of fsck (fsck_repair.cpp): what became of each repair.

#include <functional>
#include <string>
#include <vector>

#include "regsweep/fsck.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep {

// Each repair of the plan, with what became of it: planned (no `swept`), done, failed, or kept
// by a guard (`why`). Sorted by path.
std::vector<Repair> repairs_of(const Plan& repairs, const SweepResult* swept,
                               const std::function<std::string(std::size_t)>& why);

}  // namespace regsweep
