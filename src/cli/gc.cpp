// `regsweep gc` (garbage-collect) and `regsweep rm`: plan, then render (dry run) or sweep
// under the lock.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <boost/program_options.hpp>

#include "gc.hpp"
#include "options.hpp"
#include "output.hpp"
#include "regsweep/collect.hpp"
#include "regsweep/config.hpp"
#include "regsweep/digest.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/lock.hpp"
#include "regsweep/policy.hpp"
#include "regsweep/run.hpp"
#include "regsweep/timeutil.hpp"
#include "render.hpp"

namespace regsweep::cli {

namespace {

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

}  // namespace

const char* const k_gc_footer = R"(
What is kept, always: everything a tag or revision reaches (lists and indexes are followed
to their children); with -m, also signatures, SBOMs and attestations whose subject is kept;
everything a manifest that cannot be read might reference (every blob its repository links),
including one behind a blob that cannot be examined or whose keys Go reads differently;
everything under a symbolic link or a mount point, and every blob when one, or an unreadable
directory or listing, could hide a repository; whatever changed since the scan; whatever a
failed deletion leaves referenced. Each such case is reported on stderr and makes the exit
code 3. rm and prune move nothing in the repositories they do not name. A symbolic link at docker/registry/v2, blobs, blobs/sha256 or
repositories is refused before anything is read (exit 1): use a bind mount instead.

gc examines what its decisions depend on, not the whole tree: a damaged layer link whose
blob is kept anyway, or a missing data file of a blob in use, is not reported here. Run
'regsweep fsck' for a check of every link and blob.

exit codes: 0 done and clean; 1 could not run (nothing deleted); 2 usage error;
            3 done, but objects were kept or not deleted because of findings or failed deletes
)";

namespace {

// For tests of rule 3 only: with REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=FILE set, a real run says
// so on stderr after planning and waits until FILE exists (at most 120 s) before sweeping,
// so that a test can change the tree between the scan and the deletes deterministically;
// REGSWEEP_TEST_PAUSE_BEFORE_PURGE=FILE does the same between the sweep and
// --delete-noncurrent-versions' purge.
void pause_before(const char* variable, std::string_view what) {
  auto file = getenv_opt(variable);
  if (!file || file->empty()) {
    return;
  }
  std::cerr << "regsweep: paused before " << what << " until '" << *file << "' exists" << std::endl;
  for (int i = 0; i < 1200 && ::access(file->c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

po::options_description gc_options(const char* usage, Collect command, GcRawArgs& raw,
                                   GcArgs& out) {
  po::options_description desc(usage);
  GcOptions& o = out.options;
  desc.add_options()("help,h", "show this help");
  add_where_options(desc, raw.root, out.endpoint, raw.config,
                    "the storage root (holding docker/registry/v2), s3://BUCKET[/PREFIX] for a "
                    "bucket, or azure://CONTAINER[/PREFIX] for an Azure Blob container; overrides "
                    "the configuration");
  desc.add_options()  //
      ("dry-run,d", po::bool_switch(&out.dry_run),
       "print what would be deleted, change nothing")  //
      ("delete-untagged,m", po::bool_switch(&o.delete_untagged),
       "also delete manifests no tag reaches, with their tag history")  //
      ("keep-empty-repos", po::bool_switch(&raw.keep_empty),
       "keep repositories left with no tag, no manifest and no upload")  //
      ("purge-uploads", po::value(&raw.purge_age)->value_name("AGE")->implicit_value("168h"),
       "delete uploads started more than AGE ago (default 168h, as the registry's purger; "
       "write --purge-uploads=AGE)")  //
      ("delete-orphan-signatures", po::bool_switch(&o.delete_orphan_signatures),
       "remove sha256-<hex>.sig/.att/.sbom tags whose manifest <hex> is gone")  //
      ("delete-noncurrent-versions", po::bool_switch(&out.delete_noncurrent_versions),
       "in a versioned bucket, where a deletion only hides an object: after the sweep, delete "
       "for good the noncurrent versions of exactly the objects this run deleted (not of one "
       "written again since; delete markers stay). They can no longer be restored")  //
      ("min-age", po::value(&raw.min_age)->value_name("DURATION"),
       "grace period (default 1h): anything younger is kept, with all it references; "
       "0 reproduces upstream; at most 36500d")  //
      ("force", po::bool_switch(&out.policy.force),
       "sweep even when a registry that is not read-only answers at the configuration's "
       "http.addr (or whether one does cannot be told), uploads started within the grace "
       "period, files changed during the scan (the registry looks active), or a file is dated "
       "in the future; what changed since the scan is still kept")  //
      ("quarantine", po::bool_switch(&out.quarantine),
       "move what would be deleted into a new quarantine run (docker/registry/quarantine/"
       "<run-id>/, beside v2 on the same filesystem, or in the same bucket by server-side "
       "copy) instead of deleting it: 'regsweep restore' puts it back; space comes back when "
       "'regsweep quarantine' purges the run")  //
      ("max-delete", po::value(&raw.max_delete)->value_name("N|P%"),
       "delete nothing (exit 1) when the plan would delete more than N blobs, or more than P "
       "percent of the blobs' bytes (every blob is then stat'ed); --force does not override "
       "it. A dry run says whether a real run would stop")  //
      ("quiet,q", po::bool_switch(&out.quiet),
       "print nothing on stdout, no deletion lines and no progress; findings and errors still "
       "go to stderr (for cron: a clean run prints nothing)")  //
      ("json", po::value(&out.json_path)->value_name("FILE"),
       "write a JSON report to FILE ('-' for stdout; then the text output is not printed)")  //
      ("plan-out", po::value(&out.plan_out)->value_name("FILE"),
       "with --dry-run: write the plan to FILE for review, with the evidence of each deletion "
       "(docs/json.md); 'regsweep apply FILE' carries out what still holds")  //
      ("prometheus", po::value(&out.prometheus)->value_name("FILE"),
       "write metrics for node_exporter's textfile collector to FILE (atomically): last run, "
       "last success, exit code, duration, what was deleted and kept, findings by kind (the "
       "tree's blob bytes among them: every blob is stat'ed, where a run without it stats only "
       "those it might delete)");
  add_jobs_option(desc, out.jobs);
  if (command == Collect::rm) {
    desc.add_options()(
        "no-gc", po::bool_switch(&raw.no_gc),
        "only unlink: the repositories, the tags and the manifests only those tags reached; "
        "delete no blob (the next gc collects them)");
  }
  return desc;
}

namespace {

// Where the tree is and what to remove, from gc's and rm's positional arguments.
std::optional<int> take_positional(const po::variables_map& vm, GcArgs& out) {
  std::vector<std::string> positional;
  if (vm.count("args") != 0) {
    positional = vm["args"].as<std::vector<std::string>>();
  }
  if (out.command == Collect::rm) {
    out.options.remove = positional;
    if (out.options.remove.empty()) {
      return usage_error("rm needs at least one NAME or NAME:TAG");
    }
  } else if (positional.size() > 1 || (positional.size() == 1 && out.config)) {
    return usage_error("too many arguments: expected at most one CONFIG");
  } else if (positional.size() == 1) {
    out.config = positional.front();
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> parse_gc(const std::vector<std::string>& args, bool is_rm, GcArgs& out) {
  GcRawArgs raw;
  out.command = is_rm ? Collect::rm : Collect::gc;
  po::options_description desc = gc_options(is_rm ? k_rm_usage : k_gc_usage, out.command, raw, out);
  po::variables_map vm;
  if (auto stop = parse_args(args, desc, vm, k_gc_footer)) {
    return stop;
  }
  if (auto stop = check_gc_args(vm, raw, out)) {
    return stop;
  }
  return take_positional(vm, out);
}

std::optional<int> check_gc_args(const po::variables_map& vm, const GcRawArgs& raw, GcArgs& out) {
  if (auto stop = take_where(vm, raw.config, raw.root, out.config, out.root, out.jobs)) {
    return stop;
  }
  GcOptions& o = out.options;
  // The metrics give the tree's total blob bytes: every blob is stat'ed for them.
  o.every_blob_size = !out.prometheus.empty();
  if (vm.count("purge-uploads") != 0) {
    o.plan.purge_uploads_older_than = parse_duration(raw.purge_age);
    if (!o.plan.purge_uploads_older_than) {
      return usage_error("--purge-uploads: '" + raw.purge_age +
                         "' is not a duration such as 168h, 30m or 0s (at most 36500d)");
    }
  }
  auto min_age = parse_duration(raw.min_age);
  if (!min_age) {
    return usage_error("--min-age: '" + raw.min_age +
                       "' is not a duration such as 1h, 30m or 0 (at most 36500d)");
  }
  out.min_age = *min_age;
  if (raw.no_gc && (o.delete_untagged || o.plan.purge_uploads_older_than ||
                    o.delete_orphan_signatures || raw.keep_empty)) {
    return usage_error(
        "--no-gc cannot be used with -m, --purge-uploads, --delete-orphan-signatures or "
        "--keep-empty-repos: it collects nothing");
  }
  if (!out.plan_out.empty() && !out.dry_run) {
    return usage_error(
        "--plan-out writes a plan for review: use it with --dry-run (-d), then 'regsweep "
        "apply FILE'");
  }
  o.plan.remove_empty_repositories = !raw.keep_empty;
  o.plan.collect = !raw.no_gc;
  if (vm.count("max-delete") != 0) {
    out.max_delete = parse_delete_cap(raw.max_delete);
    if (!out.max_delete) {
      return usage_error("--max-delete: '" + raw.max_delete +
                         "' is neither a number of blobs (such as 1000) nor a share of the "
                         "blobs' bytes above 0 and at most 100 (such as 10%)");
    }
    // A share of the tree's bytes needs every blob's size.
    o.every_blob_size = o.every_blob_size || out.max_delete->percent.has_value();
  }
  return std::nullopt;
}

namespace {

// What a run found and did, for its metrics; filled as far as the run got.
struct GcOutcome {
  std::uint64_t blobs = 0;
  std::uint64_t blob_bytes = 0;
  std::uint64_t blobs_eligible = 0;
  std::uint64_t bytes_eligible = 0;
  std::optional<SweepResult> swept;
  std::map<std::pair<std::string, std::string>, std::uint64_t> findings;  // (kind, severity)
  std::optional<Retention> retention;  // prune: every tag's verdict
  bool quarantined = false;            // --quarantine: swept blobs were moved, not freed
  std::optional<CacheReport> cache;    // with a redis blob descriptor cache

  void count(const std::vector<Finding>& found) {
    for (const Finding& f : found) {
      ++findings[{std::string(to_string(f.kind)), std::string(to_string(f.severity))}];
    }
  }
};

void record(GcOutcome& out, const Collection& c) {
  out.blobs = c.inventory.blobs.size();
  // Every blob's with --prometheus, which stats them all.
  out.blob_bytes = stored_blob_bytes(c.inventory).bytes;
  out.blobs_eligible = c.plan.blobs;
  out.bytes_eligible = c.plan.blob_bytes;
  out.count(c.findings);
}

// The last success recorded in an earlier metrics file at `path`, if any.
std::optional<std::string> previous_success(const std::string& path) {
  std::ifstream in(path);
  const std::string name = "regsweep_gc_last_success_timestamp_seconds ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) == 0) {
      return line.substr(name.size());
    }
  }
  return std::nullopt;
}

// node_exporter textfile-collector metrics of a gc run (docs/cli.md).
std::string gc_metrics(const GcArgs& a, const GcOutcome& o, int exit_code, double seconds) {
  std::ostringstream m;
  auto family = [&](const char* name, const char* help) { prom_gauge_family(m, name, help); };
  auto gauge = [&](const char* name, const char* help, auto value) {
    family(name, help);
    m << name << ' ' << value << '\n';
  };
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  bool success = exit_code == k_exit_ok && !a.dry_run;
  gauge("regsweep_gc_last_run_timestamp_seconds", "When the last gc run ended.", now);
  // Written from the first run, 0 until one succeeds: an alert on its age then fires for a
  // gc that never succeeded too (docs/regsweep-alerts.yml).
  auto before = previous_success(a.prometheus);
  gauge("regsweep_gc_last_success_timestamp_seconds",
        "When a gc run that deletes last ended with exit code 0; 0 before the first.",
        success ? std::to_string(now) : before.value_or("0"));
  gauge("regsweep_gc_exit_code",
        "Exit code of the last run: 0 clean, 1 could not run, 3 findings or failed deletions.",
        exit_code);
  gauge("regsweep_gc_dry_run", "1 when the last run was a dry run.", a.dry_run ? 1 : 0);
  gauge("regsweep_gc_duration_seconds", "How long the last run took.", seconds);
  const SweepResult* sw = o.swept ? &*o.swept : nullptr;
  std::uint64_t deleted = sw != nullptr ? sw->blobs_deleted : 0;
  std::uint64_t moved = sw != nullptr ? sw->bytes_freed : 0;
  std::uint64_t freed = o.quarantined ? 0 : moved;
  gauge("regsweep_gc_blobs", "Blobs in the tree when the last run scanned it.", o.blobs);
  gauge("regsweep_gc_blob_bytes", "Bytes of those blobs.", o.blob_bytes);
  gauge("regsweep_gc_eligible_blobs", "Blobs the last run planned to delete.", o.blobs_eligible);
  gauge("regsweep_gc_eligible_bytes", "Bytes of the blobs the last run planned to delete.",
        o.bytes_eligible);
  gauge("regsweep_gc_deleted_blobs", "Blobs the last run deleted.", deleted);
  gauge("regsweep_gc_deleted_bytes", "Bytes the last run freed by deleting blobs.", freed);
  gauge("regsweep_gc_quarantined_bytes",
        "Bytes of the blobs the last run moved into a quarantine run (--quarantine): freed "
        "only when the run is purged.",
        o.quarantined ? moved : 0);
  gauge("regsweep_gc_noncurrent_bytes",
        "Bytes of noncurrent versions the last run deleted (--delete-noncurrent-versions).",
        sw != nullptr ? sw->noncurrent_bytes_freed : 0);
  gauge("regsweep_gc_kept_blobs", "Blobs left in the tree after the last run.", o.blobs - deleted);
  gauge("regsweep_gc_kept_bytes", "Bytes of the blobs left after the last run.",
        o.blob_bytes - moved);
  family("regsweep_gc_deletions", "Deletions the last run made, by kind.");
  for (std::size_t k = 0; k < std::tuple_size_v<decltype(SweepResult::done_by_kind)>; ++k) {
    m << "regsweep_gc_deletions{kind=\"" << to_string(static_cast<ActionKind>(k)) << "\"} "
      << (sw != nullptr ? sw->done_by_kind[k] : 0) << '\n';
  }
  gauge("regsweep_gc_failed_deletions", "Deletions of the last run that failed.",
        sw != nullptr ? sw->failed : 0);
  const CacheReport* cache = o.cache && o.cache->attempted ? &*o.cache : nullptr;
  gauge("regsweep_gc_cache_entries_removed",
        "Entries the last run removed from the registry's redis blob descriptor cache.",
        cache != nullptr ? cache->removed : 0);
  gauge("regsweep_gc_cache_entries_failed",
        "Removals from the registry's redis blob descriptor cache that failed: those entries "
        "may be stale.",
        cache != nullptr ? cache->failed : 0);
  gauge("regsweep_gc_skipped_deletions",
        "Deletions the last run skipped because the tree changed after the scan.",
        sw != nullptr ? sw->skipped_count : 0);
  family("regsweep_gc_findings", "Findings of the last run, by kind and severity.");
  for (const auto& [key, n] : o.findings) {
    m << "regsweep_gc_findings{kind=\"" << prom_escape(key.first) << "\",severity=\"" << key.second
      << "\"} " << n << '\n';
  }
  return m.str();
}

// Renders the run (text, log, JSON) and returns its exit code.
int report(const GcArgs& a, const OpenTree& tree, const Collection& collection,
           const SweepResult* swept, const std::vector<TagVerdict>* verdicts, bool bytes_hidden,
           const std::string& quarantine_run, const CacheReport* cache) {
  bool errors = has_error(collection.findings) ||
                (swept != nullptr && (swept->failed > 0 || has_error(swept->findings)));
  int code = errors ? k_exit_findings : k_exit_ok;
  RenderOptions ropts{.quiet = a.quiet,
                      .delete_untagged = a.options.delete_untagged,
                      .root = tree.root,
                      .retention = verdicts,
                      .bytes_hidden = bytes_hidden,
                      .quarantine_run = quarantine_run,
                      .cache = cache};
  if (a.json_path != "-") {
    render_retention(std::cout, ropts, swept == nullptr);
    render_text(std::cout, collection, swept, ropts);
  }
  render_log(std::cerr, collection, swept, ropts);
  if (!a.json_path.empty()) {
    std::string json = render_json(collection, swept, ropts, code);
    if (a.json_path == "-") {
      std::cout << json;
    } else if (!write_atomically(a.json_path, json)) {
      std::cerr << "regsweep: cannot write JSON report '" << a.json_path << "'\n";
      code = code == k_exit_ok ? k_exit_findings : code;
    }
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "regsweep: cannot write to standard output\n";
    return code == k_exit_ok ? k_exit_findings : code;
  }
  return code;
}

// The request gc, rm or prune makes of the library (run.hpp).
CollectRequest request_of(const GcArgs& a) {
  CollectRequest r{.command = a.command == Collect::rm      ? "rm"
                              : a.command == Collect::prune ? "prune"
                                                            : "gc",
                   .options = a.options,
                   .min_age = a.min_age,
                   .prune = std::nullopt,
                   .delete_noncurrent_versions = a.delete_noncurrent_versions,
                   .max_delete = a.max_delete,
                   .quarantine = a.quarantine,
                   .command_line = a.command_line,
                   .reviewed = a.reviewed};
  if (a.command == Collect::prune) {
    r.prune = CollectRequest::Prune{a.rules, a.scope};
  }
  return r;
}

// --plan-out: the dry run's plan, with the evidence of each action, for `regsweep apply`.
bool write_plan(const GcArgs& a, const OpenTree& tree, const Collection& c) {
  PlanFile p;
  p.location = tree.store->location();
  p.config = tree.config_path;
  if (!p.config.empty()) {
    auto text = fs::read_named_file(p.config, 16U << 20U);
    if (!text) {
      std::cerr << "regsweep: cannot read '" << p.config << "' again: " << text.error().message
                << "\n";
      return false;
    }
    p.config_sha256 = sha256_of(*text).hex();
  }
  std::vector<char> cwd(4096);
  p.directory = ::getcwd(cwd.data(), cwd.size()) != nullptr ? cwd.data() : "";
  p.command = a.command == Collect::rm ? "rm" : a.command == Collect::prune ? "prune" : "gc";
  p.arguments = a.arguments;
  p.command_line = a.command_line;
  p.created = static_cast<std::int64_t>(std::time(nullptr));
  p.actions.reserve(c.plan.actions.size());
  for (const Action& x : c.plan.actions) {
    p.actions.push_back(planned_action(x, c.inventory));
  }
  if (!write_atomically(a.plan_out, plan_file_json(p))) {
    std::cerr << "regsweep: cannot write the plan '" << a.plan_out << "'\n";
    return false;
  }
  return true;
}

// apply: how the fresh plan compared with the reviewed one, on stdout.
void say_reviewed(const GcArgs& a, const CollectRun::Reviewed& r) {
  if (a.quiet || a.json_path == "-") {
    return;
  }
  std::cout << "apply: " << r.carried << " deletions of the plan carried out; " << r.changed
            << " changed since the plan and kept; " << r.not_reviewed
            << " new since the plan not done, and " << r.dependent << " waiting on them\n";
}

// Runs gc or rm as `a` asks, recording in `outcome` how far it got; the exit code.
int run(GcArgs& a, GcOutcome& outcome) {
  for (const std::string* path : {&a.json_path, &a.prometheus, &a.plan_out}) {
    if (!path->empty()) {
      if (auto problem = output_problem(*path)) {
        std::cerr << "regsweep: " << *problem << "; nothing was read or deleted\n";
        return k_exit_cannot_run;
      }
    }
  }
  int open_code = k_exit_ok;
  auto session = open_session(a.config, a.root, a.jobs, open_code, a.endpoint);
  if (!session) {
    return open_code;
  }
  if (!session->tree.log_problem.empty()) {
    // The registry refuses to start with it too (configureLogging).
    std::cerr << "regsweep: " << session->tree.log_problem << "; nothing was read or deleted\n";
    return k_exit_cannot_run;
  }
  // Log lines as the registry's own, when its configuration names a formatter.
  set_log_style(session->tree.log);
  RunContext context = run_context(*session, a.dry_run, a.policy, a.quiet);
  context.before_step = [](std::string_view step) {
    pause_before(step == "the sweep"            ? "REGSWEEP_TEST_PAUSE_BEFORE_SWEEP"
                 : step == "the cache clearing" ? "REGSWEEP_TEST_PAUSE_BEFORE_CACHE"
                                                : "REGSWEEP_TEST_PAUSE_BEFORE_PURGE",
                 step);
  };
  CollectRun done = with_progress(a.quiet, [&] { return collect(context, request_of(a)); });
  outcome.retention = std::move(done.retention);
  outcome.quarantined = done.quarantine_run.has_value();
  outcome.cache = done.cache;
  if (done.collection) {
    record(outcome, *done.collection);
  }
  if (done.swept) {
    outcome.swept = std::move(done.swept);
    outcome.count(outcome.swept->findings);
  }
  if (done.stopped) {
    log_line(std::cerr, LogLevel::error, "regsweep: ", done.stopped->message);
    return k_exit_cannot_run;
  }
  if (!a.plan_out.empty() && !write_plan(a, session->tree, *done.collection)) {
    return k_exit_cannot_run;
  }
  int code = report(a, session->tree, *done.collection, outcome.swept ? &*outcome.swept : nullptr,
                    outcome.retention ? &outcome.retention->verdicts : nullptr, done.bytes_hidden,
                    done.quarantine_run.value_or(""), done.cache ? &*done.cache : nullptr);
  if (done.reviewed) {
    say_reviewed(a, *done.reviewed);
  }
  return code;
}

}  // namespace

int run_collection(GcArgs& a) {
  auto started = std::chrono::steady_clock::now();
  GcOutcome outcome;
  int code = run(a, outcome);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // Written whatever happened, so that an alert sees a failed run too; not when the file
  // itself cannot be written (said above).
  if (!a.prometheus.empty() && !output_problem(a.prometheus) &&
      !write_atomically(a.prometheus, gc_metrics(a, outcome, code, seconds))) {
    std::cerr << "regsweep: cannot write '" << a.prometheus << "'\n";
    code = code == k_exit_ok ? k_exit_findings : code;
  }
  return code;
}

int run_gc(const std::vector<std::string>& args, bool is_rm) {
  GcArgs a;
  if (auto stop = parse_gc(args, is_rm, a)) {
    return *stop;
  }
  a.command_line = command_line(is_rm ? "rm" : "gc", args);
  a.arguments = args;
  return run_collection(a);
}

}  // namespace regsweep::cli
