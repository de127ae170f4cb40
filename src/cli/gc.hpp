#pragma once

// What gc, rm and prune share: their options, parsed and checked, and the run itself (plan,
// then render or sweep under the lock, then metrics).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "regsweep/collect.hpp"
#include "regsweep/policy.hpp"
#include "regsweep/retention.hpp"
#include "regsweep/reviewed_plan.hpp"

namespace regsweep::cli {

enum class Collect { gc, rm, prune };

// What the command line asked for, parsed and checked.
struct GcArgs {
  Collect command = Collect::gc;
  std::optional<std::string> config;
  std::optional<std::string> root;
  std::string endpoint;  // with --root s3://…
  int jobs = 0;
  std::string json_path;
  std::string prometheus;
  bool dry_run = false;
  bool quiet = false;
  // In a bucket that keeps deleted objects: delete the noncurrent versions of the objects
  // the run deleted, after the sweep (Store::purge_noncurrent).
  bool delete_noncurrent_versions = false;
  SweepPolicy policy;
  std::optional<DeleteCap> max_delete;  // --max-delete
  bool quarantine = false;              // --quarantine
  std::string command_line;             // as given, for the quarantine's journal
  std::vector<std::string> arguments;   // after the command, as given (for --plan-out)
  std::string plan_out;                 // --plan-out: where a dry run writes its plan
  const PlanFile* reviewed = nullptr;   // apply: the plan reviewed
  GcOptions options;                    // all but the time, taken when the run starts
  std::int64_t min_age = 0;
  // prune: the rules, and the repository globs that limit them (empty: all).
  std::vector<RetentionRule> rules;
  std::vector<std::string> scope;
};

// The option values check_gc_args checks before they become GcArgs.
struct GcRawArgs {
  std::string root;
  std::string config;
  std::string purge_age;
  std::string min_age = "1h";
  std::string max_delete;
  bool keep_empty = false;
  bool no_gc = false;
};

// The footer of gc's, rm's and prune's help: what is always kept, exit codes.
extern const char* const k_gc_footer;

// The options gc, rm (with --no-gc) and prune share, bound to `raw` and `out`.
boost::program_options::options_description gc_options(const char* usage, Collect command,
                                                       GcRawArgs& raw, GcArgs& out);

// Checks the shared options after parsing (--config, --root, --jobs, --purge-uploads,
// --min-age, --no-gc); the exit code when the command stops here.
std::optional<int> check_gc_args(const boost::program_options::variables_map& vm,
                                 const GcRawArgs& raw, GcArgs& out);

// Runs the collection `a` describes and writes its metrics; the exit code.
int run_collection(GcArgs& a);

// Parses gc's, rm's or prune's arguments into `out`; the exit code when the command stops.
std::optional<int> parse_gc(const std::vector<std::string>& args, bool is_rm, GcArgs& out);
std::optional<int> parse_prune(const std::vector<std::string>& args, GcArgs& out);

}  // namespace regsweep::cli
