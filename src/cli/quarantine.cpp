// `regsweep restore` and `regsweep quarantine`: put a quarantine run back; list the runs and
// purge old ones (run.hpp, quarantine.hpp).

#include <iostream>

#include <boost/program_options.hpp>

#include "options.hpp"
#include "regsweep/human.hpp"
#include "regsweep/json_writer.hpp"
#include "regsweep/quarantine.hpp"
#include "regsweep/run.hpp"
#include "regsweep/timeutil.hpp"

namespace po = boost::program_options;

namespace regsweep::cli {

namespace {

constexpr const char* k_restore_usage =
    R"(usage: regsweep restore [CONFIG | --root DIR] [RUN-ID...] [options]

Puts quarantine runs back (gc, rm and prune --quarantine make them): the latest when no
RUN-ID is given. What is referenced goes back before what references it (blobs, then links
and revisions, then tags), under the run lock and only while no writable registry serves the
tree. Nothing is replaced: an object whose path holds the same bytes again (the same image
pushed again) is left, and one whose path holds something else is kept in the run and
reported (exit 3). A run put back whole is then deleted.

options)";

constexpr const char* k_quarantine_usage =
    R"(usage: regsweep quarantine [CONFIG | --root DIR] [options]

Lists the quarantine runs of the tree (docker/registry/quarantine/): id, start, objects,
bytes and the command that made each. With --purge-older-than AGE, deletes the runs that
started more than AGE ago: only then does their space come back, and they can no longer be
restored.

options)";

constexpr const char* k_footer = R"(
exit codes: 0 done; 1 could not run (nothing changed); 2 usage error;
            3 done, but something was kept (it is reported)
)";

}  // namespace

int run_restore(const std::vector<std::string>& args) {
  po::options_description desc(k_restore_usage);
  TreeArgs a;
  bool dry_run = false;
  SweepPolicy policy;
  desc.add_options()                                                                          //
      ("dry-run,d", po::bool_switch(&dry_run), "say what would be put back, change nothing")  //
      ("force", po::bool_switch(&policy.force), "restore even when a registry may serve the tree");
  po::variables_map vm;
  if (auto stop = a.parse(args, desc, vm, k_footer)) {
    return *stop;
  }
  for (const std::string& id : a.globs) {
    if (!is_run_id(id)) {
      return usage_error("'" + id +
                         "' is not a quarantine run id (such as 20261206T181811.042Z-3fa2c1)");
    }
  }
  int code = k_exit_ok;
  auto session = open_session(a.config, a.root, a.jobs, code, a.endpoint);
  if (!session) {
    return code;
  }
  RunContext context = run_context(*session, dry_run, policy, a.quiet);
  RestoreRun done = restore(context, a.globs);
  bool errors = false;
  if (done.restored) {
    errors = print_findings(done.restored->findings);
    const Restored& r = *done.restored;
    if (!a.quiet) {
      for (const std::string& id : r.runs) {
        std::cout << (dry_run ? "would restore run " : "restored run ") << id << "\n";
      }
      std::cout << "regsweep: " << (dry_run ? "would put back " : "put back ") << r.restored
                << " objects (" << human_bytes(r.bytes) << ", " << r.bytes << " bytes); "
                << r.identical << " already stood with the same bytes; " << r.findings.size()
                << " kept" << (dry_run ? "; nothing was changed" : "") << "\n";
    }
  }
  if (done.stopped) {
    std::cerr << "regsweep: " << done.stopped->message << "\n";
    return k_exit_cannot_run;
  }
  return errors ? k_exit_findings : k_exit_ok;
}

int run_quarantine(const std::vector<std::string>& args) {
  po::options_description desc(k_quarantine_usage);
  TreeArgs a;
  bool json = false;
  bool dry_run = false;
  std::string purge_age;
  desc.add_options()                                                  //
      ("json", po::bool_switch(&json), "the runs as JSON on stdout")  //
      ("purge-older-than", po::value(&purge_age)->value_name("AGE"),
       "delete the runs that started more than AGE ago (7d, 168h)")  //
      ("dry-run,d", po::bool_switch(&dry_run), "with --purge-older-than: say which, delete none");
  po::variables_map vm;
  if (auto stop = a.parse(args, desc, vm, k_footer)) {
    return *stop;
  }
  if (!a.globs.empty()) {
    return usage_error("quarantine takes no argument but CONFIG: '" + a.globs.front() + "'");
  }
  std::optional<std::int64_t> max_age;
  if (vm.count("purge-older-than") != 0) {
    max_age = parse_duration(purge_age);
    if (!max_age) {
      return usage_error("--purge-older-than: '" + purge_age + "' is not a duration (7d, 168h)");
    }
  }
  int code = k_exit_ok;
  auto session = open_session(a.config, a.root, a.jobs, code, a.endpoint);
  if (!session) {
    return code;
  }
  QuarantineArea* area = session->tree.store->quarantine();
  if (max_age) {
    RunContext context = run_context(*session, dry_run, SweepPolicy{}, a.quiet);
    PurgeRun done = purge_quarantine(context, *max_age);
    for (const QuarantineRunInfo& r : done.purged) {
      std::cout << (dry_run ? "would purge " : "purged ") << r.id << " (" << r.objects
                << " objects, " << human_bytes(r.bytes) << ")\n";
    }
    if (done.stopped) {
      std::cerr << "regsweep: " << done.stopped->message << "\n";
      return k_exit_cannot_run;
    }
    return k_exit_ok;
  }
  std::vector<QuarantineRunInfo> runs;
  if (area != nullptr) {
    auto listed = list_quarantine(*area);
    if (!listed) {
      std::cerr << "regsweep: " << listed.error().message << "\n";
      return k_exit_cannot_run;
    }
    runs = std::move(*listed);
  }
  bool problems = false;
  if (json) {
    JsonWriter w;
    w.begin_object().key("schema").value("regsweep-quarantine/1").key("runs").begin_array();
    for (const QuarantineRunInfo& r : runs) {
      w.begin_object().key("id").value(r.id).key("started").value(format_rfc3339(r.started));
      w.key("command").value(r.command).key("complete").value(r.complete);
      w.key("objects").value(r.objects).key("bytes").value(r.bytes).end_object();
    }
    w.end_array().end_object();
    std::cout << w.str() << "\n";
  } else {
    for (const QuarantineRunInfo& r : runs) {
      std::cout << r.id << "  " << format_rfc3339(r.started) << "  " << r.objects << " objects  "
                << human_bytes(r.bytes) << (r.complete ? "" : "  (incomplete)") << "  "
                << printable(r.command) << "\n";
    }
  }
  for (const QuarantineRunInfo& r : runs) {
    if (!r.problem.empty()) {
      problems = true;
      std::cerr << "warning: quarantine run " << r.id << ": " << r.problem << "\n";
    }
  }
  return problems ? k_exit_findings : k_exit_ok;
}

}  // namespace regsweep::cli
