// `regsweep apply FILE`: carries out a plan written by `gc|rm|prune --dry-run --plan-out FILE`
// after review, as far as a fresh scan still plans it on the same evidence (reviewed_plan.hpp).

#include <unistd.h>

#include <ctime>
#include <iostream>

#include <boost/program_options.hpp>

#include "gc.hpp"
#include "options.hpp"
#include "regsweep/digest.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/reviewed_plan.hpp"
#include "regsweep/timeutil.hpp"

namespace po = boost::program_options;

namespace regsweep::cli {

namespace {

constexpr const char* k_apply_usage = R"(usage: regsweep apply FILE [options]

Carries out a plan that `regsweep gc|rm|prune ... --dry-run --plan-out FILE` wrote, after
review. It opens the same tree (the plan's configuration or root; a plan for another root, or
whose configuration changed, is refused), takes the run lock, checks that no writable
registry serves the tree, scans again and plans again with the plan's own options, and
deletes only what the fresh plan holds on the same evidence (the same link contents, sizes
and times). What changed since the plan is kept and reported (exit 3); what the fresh plan
has that the reviewed one did not is not done, and neither is anything of the plan that
depends on it (the rest of its repository, and every blob).

options)";

constexpr const char* k_footer = R"(
exit codes: 0 done; 1 could not run (nothing was deleted: a plan too old, for another root,
            unreadable, or a registry serving); 2 usage error;
            3 done, but something was kept (changed since the plan, or a failed delete)
)";

std::string absolute(const std::string& path, const std::string& cwd) {
  return path.empty() || path == "-" || path.front() == '/' ? path : cwd + "/" + path;
}

// The plan's own options, parsed as its command parses them, in the directory it ran in.
std::optional<int> plan_args(const PlanFile& plan, GcArgs& a) {
  if (::chdir(plan.directory.c_str()) != 0) {
    std::cerr << "regsweep: cannot enter the plan's directory '" << plan.directory
              << "'; nothing was deleted\n";
    return k_exit_cannot_run;
  }
  std::optional<int> stop = plan.command == "prune"
                                ? parse_prune(plan.arguments, a)
                                : parse_gc(plan.arguments, plan.command == "rm", a);
  if (stop) {
    std::cerr << "regsweep: the plan's arguments no longer parse; nothing was deleted\n";
    return k_exit_cannot_run;
  }
  if (!plan.config.empty()) {
    auto text = fs::read_named_file(plan.config, 16U << 20U);
    if (!text || sha256_of(*text).hex() != plan.config_sha256) {
      std::cerr << "regsweep: the configuration '" << plan.config
                << "' changed since the plan (or cannot be read); nothing was deleted. Make a "
                   "new plan\n";
      return k_exit_cannot_run;
    }
  }
  return std::nullopt;
}

}  // namespace

int run_apply(const std::vector<std::string>& args) {
  po::options_description desc(k_apply_usage);
  std::string max_age_text = "24h";
  bool quarantine = false;
  bool quiet = false;
  std::string json_path;
  std::string prometheus;
  desc.add_options()("help,h", "show this help")  //
      ("max-plan-age", po::value(&max_age_text)->value_name("AGE"),
       "refuse a plan made longer than AGE ago (default 24h)")  //
      ("quarantine", po::bool_switch(&quarantine),
       "move what is deleted into a new quarantine run instead ('regsweep restore' puts it "
       "back)")                                                                               //
      ("quiet,q", po::bool_switch(&quiet), "print nothing on stdout; findings go to stderr")  //
      ("json", po::value(&json_path)->value_name("FILE"),
       "write a JSON report of the run to FILE ('-' for stdout)")  //
      ("prometheus", po::value(&prometheus)->value_name("FILE"),
       "write the run's metrics for node_exporter's textfile collector to FILE");
  po::variables_map vm;
  if (auto stop = parse_args(args, desc, vm, k_footer)) {
    return *stop;
  }
  std::vector<std::string> files;
  if (vm.count("args") != 0) {
    files = vm["args"].as<std::vector<std::string>>();
  }
  if (files.size() != 1) {
    return usage_error("apply needs exactly one plan FILE (from --dry-run --plan-out FILE)");
  }
  auto max_age = parse_duration(max_age_text);
  if (!max_age) {
    return usage_error("--max-plan-age: '" + max_age_text + "' is not a duration such as 24h");
  }
  auto text = fs::read_named_file(files[0], 4ULL << 30U);
  auto plan = text ? parse_plan_file(*text) : Result<PlanFile>(text.error());
  if (!plan) {
    std::cerr << "regsweep: cannot use the plan '" << files[0] << "': " << plan.error().message
              << "; nothing was deleted\n";
    return k_exit_cannot_run;
  }
  std::int64_t age = static_cast<std::int64_t>(std::time(nullptr)) - plan->created;
  if (age > *max_age) {
    std::cerr << "regsweep: the plan '" << files[0] << "' was made "
              << format_rfc3339(plan->created) << ", more than --max-plan-age " << max_age_text
              << " ago; nothing was deleted. Make and review a new plan\n";
    return k_exit_cannot_run;
  }
  std::vector<char> cwd(4096);
  const std::string here = ::getcwd(cwd.data(), cwd.size()) != nullptr ? cwd.data() : ".";
  GcArgs a;
  if (auto stop = plan_args(*plan, a)) {
    return *stop;
  }
  // What the plan's command line said of output and of this run is apply's to say now.
  a.dry_run = false;
  a.plan_out.clear();
  a.policy.force = false;
  a.quarantine = quarantine;
  a.quiet = quiet;
  a.json_path = absolute(json_path, here);
  a.prometheus = absolute(prometheus, here);
  a.command_line = command_line("apply", args);
  a.reviewed = &*plan;
  return run_collection(a);
}

}  // namespace regsweep::cli
