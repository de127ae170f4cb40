// The regsweep command line: chooses streams, formats and exit codes; all logic is in
// libregsweep.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <boost/program_options.hpp>

#include "common.hpp"
#include "regsweep/collect.hpp"
#include "regsweep/config.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/policy.hpp"
#include "regsweep/timeutil.hpp"
#include "render.hpp"

namespace po = boost::program_options;
using namespace regsweep::cli;  // NOLINT(google-build-using-namespace): exit codes, helpers

namespace {

constexpr const char* k_version = "regsweep 0.1.0";

constexpr const char* k_main_help = R"(usage: regsweep <command> [options]

Offline garbage collection for a container registry's filesystem storage
(CNCF Distribution: registry:2, registry:3, Debian's docker-registry).

commands:
  garbage-collect, gc   delete what no image needs: blobs, and with -m untagged manifests;
                        remove empty repositories and tidy the tree
  rm                    remove repositories or single tags, then collect what they held
  du                    disk usage per repository: logical, exclusive, shared, reclaimable
  ls                    the offline catalog: repositories and, with -t, their tags
  fsck                  find what is broken (links, manifests, blob contents) and which
                        tags it breaks; --repair fixes what cannot lose data

Run 'regsweep <command> --help' for a command's options.

exit codes:
  0  done, nothing to report
  1  could not run; nothing was deleted
  2  usage error
  3  done, but something was kept or not deleted because of a finding or a failed delete
)";

constexpr const char* k_gc_usage = R"(usage: regsweep garbage-collect [CONFIG] [options]
       regsweep gc [CONFIG] [options]

Deletes what no image in the registry needs: blobs no manifest references and, with -m,
manifests no tag reaches. Removes repositories left with no tag, no manifest and no upload,
and tidies what the registry's own deletes leave behind. A drop-in for
`registry garbage-collect CONFIG [-d] [-m]`: the same marking lines and summary on stdout.

The storage root comes from --root, else from CONFIG (or REGISTRY_CONFIGURATION_PATH):
storage.filesystem.rootdirectory, default /var/lib/registry, overridden by
REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, as the registry itself does.

Stop the registry (or put it in read-only mode) while this runs, and restart it afterwards:
its cache still lists deleted blobs.

options)";

constexpr const char* k_rm_usage =
    R"(usage: regsweep rm NAME[:TAG]... [--config CONFIG | --root DIR] [options]

Removes whole repositories (NAME) or single tags (NAME:TAG) offline, then collects what only
they held, as one plan. NAME and TAG may be globs: '*' within one path component, '**' across
components ('ci/**' is every repository below ci/), '?' one character. A nested repository
below a removed one is kept. A spec that matches nothing is an error: nothing is removed.

options)";

constexpr const char* k_footer = R"(
What is kept, always: everything a tag or revision reaches (lists and indexes are followed
to their children); with -m, also signatures, SBOMs and attestations whose subject is kept;
everything a manifest that cannot be read might reference (every blob its repository links),
including one behind a blob that cannot be examined or whose keys Go reads differently;
everything under a symbolic link, and every blob when a symlink or unreadable directory could
hide a repository; whatever changed since the scan. Each such case is reported on stderr and
makes the exit code 3. A symbolic link at docker/registry/v2, blobs, blobs/sha256 or
repositories is refused before anything is read (exit 1): use a bind mount instead.

exit codes: 0 done and clean; 1 could not run (nothing deleted); 2 usage error;
            3 done, but objects were kept or not deleted because of findings or failed deletes
)";

enum class Command { gc, rm };

// For tests of rule 3 only: with REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=FILE set, a real run says
// so on stderr after planning and waits until FILE exists (at most 120 s) before sweeping,
// so that a test can change the tree between the scan and the deletes deterministically.
void pause_before_sweep() {
  auto file = getenv_opt("REGSWEEP_TEST_PAUSE_BEFORE_SWEEP");
  if (!file || file->empty()) {
    return;
  }
  std::cerr << "regsweep: paused before the sweep until '" << *file << "' exists" << std::endl;
  for (int i = 0; i < 1200 && ::access(file->c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int run(Command command, const std::vector<std::string>& args) {
  bool is_rm = command == Command::rm;
  po::options_description desc(is_rm ? k_rm_usage : k_gc_usage);
  int jobs = 0;
  std::string json_path;
  std::string root_arg;
  std::string config_arg;
  std::string purge_age;
  std::string min_age_text = "1h";
  bool force = false;
  bool dry_run = false;
  bool delete_untagged = false;
  bool quiet = false;
  bool keep_empty = false;
  bool orphan_signatures = false;
  bool no_gc = false;
  desc.add_options()                //
      ("help,h", "show this help")  //
      ("root", po::value(&root_arg)->value_name("DIR"),
       "the storage root (holding docker/registry/v2); overrides the configuration")           //
      ("config", po::value(&config_arg)->value_name("CONFIG"), "the registry's config.yml")    //
      ("dry-run,d", po::bool_switch(&dry_run), "print what would be deleted, change nothing")  //
      ("delete-untagged,m", po::bool_switch(&delete_untagged),
       "also delete manifests no tag reaches, with their tag history")  //
      ("keep-empty-repos", po::bool_switch(&keep_empty),
       "keep repositories left with no tag, no manifest and no upload")  //
      ("purge-uploads", po::value(&purge_age)->value_name("AGE")->implicit_value("168h"),
       "delete uploads started more than AGE ago (default 168h, as the registry's purger; "
       "write --purge-uploads=AGE)")  //
      ("delete-orphan-signatures", po::bool_switch(&orphan_signatures),
       "remove sha256-<hex>.sig/.att/.sbom tags whose manifest <hex> is gone")  //
      ("min-age", po::value(&min_age_text)->value_name("DURATION"),
       "grace period (default 1h): anything younger is kept, with all it references; "
       "0 reproduces upstream")  //
      ("force", po::bool_switch(&force),
       "sweep even when a registry that is not read-only answers at the configuration's "
       "http.addr, uploads started within the grace period, or files changed during the scan "
       "(the registry looks active); what changed since the scan is still kept")  //
      ("quiet,q", po::bool_switch(&quiet), "print only the summary")              //
      ("json", po::value(&json_path)->value_name("FILE"),
       "write a JSON report to FILE ('-' for stdout; then the text output is not printed)")  //
      ("jobs,j", po::value(&jobs)->value_name("N"),
       "threads that read and parse (default: 64, or the core count if higher: I/O waits, so a "
       "cold or networked disk wants many requests in flight whatever the core count)");
  if (is_rm) {
    desc.add_options()(
        "no-gc", po::bool_switch(&no_gc),
        "only unlink: the repositories, the tags and the manifests only those tags reached; "
        "delete no blob (the next gc collects them)");
  }
  po::variables_map vm;
  if (auto stop = parse_args(args, desc, vm, k_footer)) {
    return *stop;
  }
  std::vector<std::string> positional;
  if (vm.count("args") != 0) {
    positional = vm["args"].as<std::vector<std::string>>();
  }
  std::optional<std::string> config;
  if (vm.count("config") != 0) {
    config = config_arg;
  }
  std::vector<std::string> specs;
  if (is_rm) {
    specs = positional;
    if (specs.empty()) {
      return usage_error("rm needs at least one NAME or NAME:TAG");
    }
  } else if (positional.size() > 1 || (positional.size() == 1 && config)) {
    return usage_error("too many arguments: expected at most one CONFIG");
  } else if (positional.size() == 1) {
    config = positional.front();
  }
  if (vm.count("jobs") != 0 && jobs < 1) {
    return usage_error("--jobs must be at least 1");
  }
  if (jobs == 0) {
    jobs = default_jobs();
  }
  std::optional<std::int64_t> purge;
  if (vm.count("purge-uploads") != 0) {
    purge = regsweep::parse_duration(purge_age);
    if (!purge) {
      return usage_error("--purge-uploads: '" + purge_age +
                         "' is not a duration such as 168h, 30m or 0s");
    }
  }
  auto min_age = regsweep::parse_duration(min_age_text);
  if (!min_age) {
    return usage_error("--min-age: '" + min_age_text + "' is not a duration such as 1h, 30m or 0");
  }
  if (no_gc && (delete_untagged || purge || orphan_signatures || keep_empty)) {
    return usage_error(
        "--no-gc cannot be used with -m, --purge-uploads, --delete-orphan-signatures or "
        "--keep-empty-repos: it collects nothing");
  }
  std::optional<std::string> root_opt;
  if (vm.count("root") != 0) {
    root_opt = root_arg;
  }
  int open_code = k_exit_ok;
  auto tree = open_tree(config, root_opt, open_code);
  if (!tree) {
    return open_code;
  }
  auto* root = &*tree;

  regsweep::SweepPolicy policy;
  policy.force = force;
  if (!dry_run && registry_serves(*tree, policy)) {
    return k_exit_cannot_run;
  }

  // A run that may delete holds the lock from before the scan until it exits.
  std::unique_ptr<regsweep::RegistryLock> lock;
  if (!dry_run) {
    auto taken = tree->store->lock(is_rm ? "rm" : "gc");
    if (!taken) {
      std::cerr << "regsweep: " << taken.error().message << "\n";
      return k_exit_cannot_run;
    }
    lock = std::move(*taken);
    if (!lock->previous_holder().empty() && !quiet) {
      std::cerr << "note: took over the lock last held by " << lock->previous_holder()
                << " (no longer running)\n";
    }
  }

  regsweep::GcOptions options;
  options.delete_untagged = delete_untagged;
  options.delete_orphan_signatures = orphan_signatures;
  options.remove = specs;
  options.plan.remove_empty_repositories = !keep_empty;
  options.plan.purge_uploads_older_than = purge;
  options.plan.collect = !no_gc;
  options.plan.now = static_cast<std::int64_t>(std::time(nullptr));
  options.grace = regsweep::Grace(options.plan.now, *min_age);

  // --jobs may exceed the core count (I/O waits); let TBB start that many workers.
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                  static_cast<std::size_t>(jobs));
  tbb::task_arena arena(jobs);
  auto collection = regsweep::plan_gc(*tree->store, options, arena);
  if (!collection) {
    std::cerr << "regsweep: " << collection.error().message << "\n";
    return k_exit_cannot_run;
  }
  if (!collection->activity.empty()) {
    for (const std::string& a : collection->activity) {
      std::cerr << (dry_run || force ? "warning: " : "regsweep: ") << a << "\n";
    }
  }
  std::optional<regsweep::SweepResult> swept;
  if (!dry_run) {
    if (regsweep::Status s = regsweep::may_sweep(*collection, policy); !s) {
      std::cerr << "regsweep: " << s.error().message << "\n";
      return k_exit_cannot_run;
    }
    pause_before_sweep();
    auto result =
        regsweep::sweep_collection(*tree->store, *collection, delete_untagged, policy, arena);
    if (!result) {
      std::cerr << "regsweep: " << result.error().message << "\n";
      return k_exit_cannot_run;
    }
    swept = std::move(*result);
  }
  const regsweep::SweepResult* sweep_ptr = swept ? &*swept : nullptr;

  bool errors = false;
  for (const auto& f : collection->findings) {
    errors = errors || f.severity == regsweep::Severity::error;
  }
  if (swept) {
    errors = errors || swept->failed > 0;
    for (const auto& f : swept->findings) {
      errors = errors || f.severity == regsweep::Severity::error;
    }
  }
  int code = errors ? k_exit_findings : k_exit_ok;

  regsweep::cli::RenderOptions ropts{
      .quiet = quiet, .delete_untagged = delete_untagged, .root = root->root};
  if (json_path != "-") {
    regsweep::cli::render_text(std::cout, *collection, sweep_ptr, ropts);
  }
  regsweep::cli::render_log(std::cerr, *collection, sweep_ptr, ropts);
  if (!json_path.empty()) {
    std::string json = regsweep::cli::render_json(*collection, sweep_ptr, ropts, code);
    if (json_path == "-") {
      std::cout << json;
    } else {
      std::ofstream out(json_path, std::ios::binary | std::ios::trunc);
      out << json;
      out.close();
      if (!out) {
        std::cerr << "regsweep: cannot write JSON report '" << json_path << "'\n";
        code = code == k_exit_ok ? k_exit_findings : code;
      }
    }
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "regsweep: cannot write to standard output\n";
    return code == k_exit_ok ? k_exit_findings : code;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
      std::cerr << k_main_help;
      return k_exit_usage;
    }
    const std::string cmd = args.front();
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      if (!rest.empty() && (rest.front() == "gc" || rest.front() == "garbage-collect")) {
        return run(Command::gc, {"--help"});
      }
      if (!rest.empty() && rest.front() == "rm") {
        return run(Command::rm, {"--help"});
      }
      if (!rest.empty() && rest.front() == "du") {
        return run_du({"--help"});
      }
      if (!rest.empty() && rest.front() == "ls") {
        return run_ls({"--help"});
      }
      if (!rest.empty() && rest.front() == "fsck") {
        return run_fsck({"--help"});
      }
      std::cout << k_main_help;
      return k_exit_ok;
    }
    if (cmd == "--version") {
      std::cout << k_version << "\n";
      return k_exit_ok;
    }
    if (cmd == "garbage-collect" || cmd == "gc") {
      return run(Command::gc, rest);
    }
    if (cmd == "rm") {
      return run(Command::rm, rest);
    }
    if (cmd == "du") {
      return run_du(rest);
    }
    if (cmd == "ls") {
      return run_ls(rest);
    }
    if (cmd == "fsck") {
      return run_fsck(rest);
    }
    return usage_error("unknown command '" + cmd + "'");
  } catch (const std::exception& e) {
    std::cerr << "regsweep: internal error: " << e.what() << "\n";
    return k_exit_cannot_run;
  }
}
