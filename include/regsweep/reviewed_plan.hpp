#pragma once

// Plans reviewed before they run: `gc|rm|prune --dry-run --plan-out FILE` writes the plan with
// the evidence each action was decided on; `regsweep apply FILE` scans again and carries out
// only what the fresh plan still holds on the same evidence (docs/json.md, regsweep-plan/1).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/finding.hpp"
#include "regsweep/inventory.hpp"
#include "regsweep/plan.hpp"
#include "regsweep/result.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep {

// One action of a written plan, and what it was decided on.
struct PlannedAction {
  std::string kind;    // to_string(ActionKind): "blob", "manifest-revision", ...
  std::string reason;  // to_string(Reason)
  std::string path;    // relative to docker/registry/v2
  std::string repository;
  std::string digest;       // links and blobs; empty otherwise
  std::uint64_t bytes = 0;  // blobs and uploads
  // The evidence: what a link or a tag's current link names ("" when not read or none), and
  // a time: a blob's data (seconds), a tag's current link (nanoseconds); 0 when none.
  std::string link;
  std::int64_t mtime = 0;
  bool operator==(const PlannedAction&) const = default;
};

// A plan written for review.
struct PlanFile {
  std::string location;                // the tree's root or bucket, as the run opened it
  std::string config;                  // the configuration's path as given; empty with --root
  std::string config_sha256;           // of its bytes when the plan was made; empty with --root
  std::string directory;               // the working directory the command ran in
  std::string command;                 // gc, rm or prune
  std::vector<std::string> arguments;  // after the command, as given (what apply runs again)
  std::string command_line;
  std::int64_t created = 0;            // seconds since the epoch
  std::vector<PlannedAction> actions;  // in deletion order
};

inline constexpr std::string_view k_plan_schema = "regsweep-plan/1";

// The action as a written plan holds it, with its evidence from `inventory`.
PlannedAction planned_action(const Action& action, const Inventory& inventory);
std::string plan_file_json(const PlanFile& plan);
// EINVAL, with what is wrong, when `text` is not a plan of this version.
Result<PlanFile> parse_plan_file(std::string_view text);

// What apply does with a fresh plan: `skip[i]` is 1 for every action it must not carry out:
// those the reviewed plan does not hold on the same evidence (new since the review), and
// whatever such an action's not being done leaves referenced (as for a failed deletion: the
// rest of its repository, and every blob). `findings`: each reviewed action not carried out
// (changed since the plan), and the fresh actions left for not being reviewed.
struct ReviewedSkips {
  std::vector<std::uint8_t> skip;
  std::vector<Finding> findings;
  std::uint64_t carried = 0;       // actions of the reviewed plan carried out
  std::uint64_t changed = 0;       // of the reviewed plan, not in the fresh one
  std::uint64_t not_reviewed = 0;  // of the fresh plan, not in the reviewed one
  std::uint64_t dependent = 0;     // reviewed and fresh, left for what was not done
};
ReviewedSkips reviewed_skips(const Plan& fresh, const Inventory& inventory,
                             const PlanFile& reviewed);

// A guard that skips `skips.skip` before asking `inner` (the store's; may be null), and adds
// `skips.findings` to inner's.
std::unique_ptr<SweepGuard> reviewed_guard(ReviewedSkips skips, std::unique_ptr<SweepGuard> inner);

}  // namespace regsweep
