// `regsweep fsck`: what is broken and which tags it breaks; --repair (under the lock).

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <thread>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <boost/program_options.hpp>

#include "options.hpp"
#include "regsweep/fsck.hpp"
#include "regsweep/json_writer.hpp"
#include "regsweep/run.hpp"
#include "regsweep/timeutil.hpp"
#include "render.hpp"

namespace po = boost::program_options;

namespace regsweep::cli {

namespace {

constexpr const char* k_fsck_usage = R"(usage: regsweep fsck [CONFIG | --root DIR] [options]

Finds what is broken before users do: malformed or empty links, tags and revisions whose
manifest is missing, manifests that reference a missing config, layer or child, blobs a
repository does not link (the registry then refuses to serve them), unreadable or
unparseable manifests, blob directories without data, stray files, invalid names, uploads
without startedat, leftover temp files, unreadable files. With --verify-data, also every blob
whose bytes do not hash to its name. Each problem names the repository:tag pulls it breaks
and one action to take.

Without --repair nothing is changed. --repair applies only repairs that cannot lose data:
links to blobs that do not exist are removed, and blobs whose bytes do not match their digest
are moved to docker/registry/v2/lost+found/ (never deleted).

exit codes: 0 clean; 1 the check could not run; 3 problems found

options)";

// The JSON report (docs/cli.md). `applied`: --repair was given.
void print_json(const FsckReport& report, const FsckCounts& c, const std::string& root,
                bool applied) {
  const std::uint64_t errors = c.errors;
  const std::uint64_t warnings = c.warnings;
  const std::set<std::string>& broken = c.broken;
  const double mbps = c.mbps;
  JsonWriter w;
  w.begin_object().key("schema").value("regsweep-fsck/1").key("root").value(root);
  w.key("summary").begin_object();
  w.key("errors").value(errors).key("warnings").value(warnings);
  w.key("broken_tags").value(static_cast<std::uint64_t>(broken.size()));
  w.key("tags").value(report.tags).key("blobs").value(report.blobs);
  w.key("blobs_verified").value(report.blobs_verified);
  w.key("bytes_verified").value(report.bytes_verified);
  w.key("verify_milliseconds").value(static_cast<std::uint64_t>(report.verify_seconds * 1000));
  w.key("verify_mb_per_s").value(static_cast<std::uint64_t>(mbps));
  w.end_object();
  w.key("problems").begin_array();
  for (const Problem& p : report.problems) {
    w.begin_object()
        .key("kind")
        .value(to_string(p.kind))
        .key("severity")
        .value(to_string(p.severity));
    w.key("path").value(p.path).key("repository");
    if (p.repository.empty()) {
      w.null();
    } else {
      w.value(p.repository);
    }
    w.key("message").value(p.message).key("action").value(suggested_action(p.kind));
    w.key("broken_tags").begin_array();
    for (const std::string& t : p.broken_tags) {
      w.value(t);
    }
    w.end_array().end_object();
  }
  w.end_array().key("repairs").begin_array();
  for (const Repair& r : report.repairs) {
    w.begin_object().key("action").value(to_string(r.action)).key("path").value(r.path);
    if (!r.target.empty()) {
      w.key("target").value(r.target);
    }
    w.key("status").value(!applied ? "planned" : r.error.empty() ? "done" : "failed");
    if (!r.error.empty()) {
      w.key("error").value(r.error);
    }
    w.end_object();
  }
  w.end_array().end_object();
  std::cout << w.str() << '\n';
}

// Problems by kind with their advice, the repairs, and (unless quiet) a summary line.
void print_text(const FsckReport& report, const FsckCounts& c, bool applied, bool quiet) {
  const std::uint64_t errors = c.errors;
  const std::uint64_t warnings = c.warnings;
  const std::set<std::string>& broken = c.broken;
  const double mbps = c.mbps;
  std::optional<ProblemKind> kind;
  for (const Problem& p : report.problems) {
    if (p.kind != kind) {
      kind = p.kind;
      std::cout << to_string(p.severity) << ": " << to_string(p.kind)
                << "\n  action: " << suggested_action(p.kind) << '\n';
    }
    std::cout << "  " << printable(p.message) << '\n';
    if (!p.broken_tags.empty()) {
      std::cout << "    breaks:";
      for (const std::string& t : p.broken_tags) {
        std::cout << ' ' << printable(t);
      }
      std::cout << '\n';
    }
  }
  for (const Repair& r : report.repairs) {
    std::cout << (applied ? (r.error.empty() ? "repaired: " : "repair failed: ")
                          : "repair (with --repair): ")
              << (r.action == RepairAction::remove_dangling_link
                      ? "remove dangling link '" + printable(r.path) + "'"
                      : "move '" + printable(r.path) + "' to '" + printable(r.target) + "'")
              << (r.error.empty() ? "" : ": " + printable(r.error)) << '\n';
  }
  if (quiet) {
    return;
  }
  std::cout << "fsck: " << errors << " errors, " << warnings << " warnings; " << broken.size()
            << " of " << report.tags << " tags broken; " << report.blobs << " blobs";
  if (report.blobs_verified > 0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.1f", mbps);
    std::cout << ", " << report.blobs_verified << " verified ("
              << human_bytes(report.bytes_verified) << " at " << buf << " MB/s)";
  }
  std::cout << '\n';
}

}  // namespace

int run_fsck(const std::vector<std::string>& args) {
  po::options_description desc(k_fsck_usage);
  TreeArgs a;
  std::string verify = "0";
  std::uint64_t seed = 0;
  bool repair = false;
  bool json = false;
  desc.add_options()  //
      ("verify-data", po::value(&verify)->value_name("PERCENT")->implicit_value("100"),
       "recompute the SHA-256 of every blob, or of a deterministic PERCENT of them "
       "(write --verify-data=5)")  //
      ("seed", po::value(&seed)->value_name("N"),
       "choose another sample for --verify-data=PERCENT (default 0)")  //
      ("repair", po::bool_switch(&repair),
       "remove dangling links and move corrupt blobs to lost+found (takes the lock)")  //
      ("json", po::bool_switch(&json), "JSON on stdout");
  po::variables_map vm;
  if (auto stop = a.parse(args, desc, vm)) {
    return *stop;
  }
  if (a.globs.size() > 1 || (a.globs.size() == 1 && (a.config || a.root))) {
    return usage_error("fsck takes at most one CONFIG");
  }
  if (a.globs.size() == 1) {
    a.config = a.globs.front();
  }
  FsckOptions fo;
  try {
    fo.verify_percent = std::stod(verify);
  } catch (const std::exception&) {
    fo.verify_percent = -1;
  }
  if (fo.verify_percent < 0 || fo.verify_percent > 100) {
    return usage_error("--verify-data: '" + verify + "' is not a percentage from 0 to 100");
  }
  fo.seed = seed;
  fo.repair = repair;
  fo.now = static_cast<std::int64_t>(std::time(nullptr));
  int code = k_exit_ok;
  auto session = open_session(a.config, a.root, a.jobs, code, a.endpoint);
  if (!session) {
    return code;
  }
  RunContext context = run_context(*session, !repair, SweepPolicy{}, a.quiet);
  CheckRun done = with_progress(a.quiet, [&] { return check(context, fo); });
  if (done.stopped) {
    std::cerr << "regsweep: " << done.stopped->message << "\n";
    return k_exit_cannot_run;
  }
  const FsckReport* report = &*done.report;
  FsckCounts counts = fsck_counts(*report);
  if (json) {
    print_json(*report, counts, session->tree.root, repair);
  } else {
    print_text(*report, counts, repair, a.quiet);
    if (done.cache && !a.quiet) {
      render_cache(std::cout, *done.cache, !repair);
    }
  }
  bool repair_failed = std::any_of(report->repairs.begin(), report->repairs.end(),
                                   [](const Repair& r) { return !r.error.empty(); });
  return counts.errors + counts.warnings > 0 || repair_failed ? k_exit_findings : k_exit_ok;
}

}  // namespace regsweep::cli
