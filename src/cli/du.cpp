// `regsweep du`: disk usage per repository, as a table, CSV, JSON, a Prometheus textfile or
// an HTML page.
// Read-only; no lock.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <boost/program_options.hpp>

#include "options.hpp"
#include "output.hpp"
#include "regsweep/html_report.hpp"
#include "regsweep/json_writer.hpp"
#include "regsweep/timeutil.hpp"
#include "regsweep/usage.hpp"
#include "render.hpp"

namespace po = boost::program_options;

namespace regsweep::cli {

namespace {

constexpr const char* k_du_usage =
    R"(usage: regsweep du [CONFIG | --root DIR] [NAME-GLOB...] [options]

Disk usage per repository, from the same scan and marking as gc:
  TAGS, TAGGED/UNTAGGED manifests (reached by a tag or not),
  LOGICAL      every blob the repository's manifests reference, counted once,
  EXCLUSIVE    of those, blobs no other repository references: what removing it would free,
  SHARED       LOGICAL - EXCLUSIVE,
  RECLAIM      what `gc` would free of the blobs this repository links, RECLAIM-M for `gc -m`
               (a blob linked by several repositories counts in each),
  UPLOADS      bytes in its uploads.
Then the totals of the whole registry: blobs on disk, referenced, unreferenced (exactly what
`gc --dry-run` and `gc -m --dry-run` would free), kept for being young, uploads.

options)";

// One column of du's rows: its name (--sort, the table's header), its JSON key (also the CSV
// header), whether it counts bytes, and its value.
struct Column {
  std::string name;
  std::string key;
  bool bytes;
  std::uint64_t (*get)(const RepoUsage&);
};

const std::vector<Column>& columns() {
  static const std::vector<Column> cols = {
      {"tags", "tags", false, [](const RepoUsage& u) { return u.tags; }},
      {"tagged", "manifests_tagged", false, [](const RepoUsage& u) { return u.manifests_tagged; }},
      {"untagged", "manifests_untagged", false,
       [](const RepoUsage& u) { return u.manifests_untagged; }},
      {"logical", "logical_bytes", true, [](const RepoUsage& u) { return u.logical_bytes; }},
      {"exclusive", "exclusive_bytes", true, [](const RepoUsage& u) { return u.exclusive_bytes; }},
      {"shared", "shared_bytes", true, [](const RepoUsage& u) { return u.shared_bytes; }},
      {"reclaim", "reclaimable_bytes", true,
       [](const RepoUsage& u) { return u.reclaimable_bytes; }},
      {"reclaim-m", "reclaimable_m_bytes", true,
       [](const RepoUsage& u) { return u.reclaimable_m_bytes; }},
      {"uploads", "upload_bytes", true, [](const RepoUsage& u) { return u.upload_bytes; }},
  };
  return cols;
}

std::string prometheus_text(const Usage& usage, double seconds) {
  std::ostringstream o;
  auto family = [&](const char* name, const char* help) { prom_gauge_family(o, name, help); };
  struct Gauge {
    const char* name;
    const char* help;  // empty: another series of the family above
    const char* labels;
    std::uint64_t (*get)(const RepoUsage&);
  };
  static const Gauge k_gauges[] = {
      {"regsweep_repository_tags", "Tags of the repository.", "",
       [](const RepoUsage& u) { return u.tags; }},
      {"regsweep_repository_manifests", "Manifest revisions, by whether a tag reaches them.",
       ",state=\"tagged\"", [](const RepoUsage& u) { return u.manifests_tagged; }},
      {"regsweep_repository_manifests", "", ",state=\"untagged\"",
       [](const RepoUsage& u) { return u.manifests_untagged; }},
      {"regsweep_repository_logical_bytes",
       "Bytes of every blob the repository's manifests reference, counted once.", "",
       [](const RepoUsage& u) { return u.logical_bytes; }},
      {"regsweep_repository_exclusive_bytes", "Bytes of the blobs no other repository references.",
       "", [](const RepoUsage& u) { return u.exclusive_bytes; }},
      {"regsweep_repository_shared_bytes", "Logical bytes shared with other repositories.", "",
       [](const RepoUsage& u) { return u.shared_bytes; }},
      {"regsweep_repository_reclaimable_bytes",
       "Bytes a gc would free of the blobs the repository links.", ",mode=\"gc\"",
       [](const RepoUsage& u) { return u.reclaimable_bytes; }},
      {"regsweep_repository_reclaimable_bytes", "", ",mode=\"gc-m\"",
       [](const RepoUsage& u) { return u.reclaimable_m_bytes; }},
      {"regsweep_repository_upload_bytes", "Bytes in the repository's uploads.", "",
       [](const RepoUsage& u) { return u.upload_bytes; }},
  };
  for (const Gauge& g : k_gauges) {
    if (*g.help != '\0') {
      family(g.name, g.help);
    }
    for (const RepoUsage& u : usage.repositories) {
      o << g.name << "{repository=\"" << prom_escape(u.name) << '"' << g.labels << "} " << g.get(u)
        << '\n';
    }
  }
  const UsageTotals& t = usage.totals;
  auto total = [&](const char* name, const char* help, std::uint64_t v) {
    family(name, help);
    o << name << ' ' << v << '\n';
  };
  total("regsweep_repositories", "Repositories in the registry.", t.repositories);
  total("regsweep_blobs", "Blobs on disk.", t.blobs);
  total("regsweep_blob_bytes", "Bytes of every blob on disk.", t.blob_bytes);
  total("regsweep_referenced_bytes", "Bytes of the blobs some repository keeps.",
        t.referenced_bytes);
  family("regsweep_unreferenced_bytes", "Bytes a gc would free now.");
  o << "regsweep_unreferenced_bytes{mode=\"gc\"} " << t.unreferenced_bytes << '\n';
  o << "regsweep_unreferenced_bytes{mode=\"gc-m\"} " << t.unreferenced_m_bytes << '\n';
  total("regsweep_young_bytes", "Unreferenced bytes kept for being younger than the grace period.",
        t.young_bytes);
  total("regsweep_upload_bytes", "Bytes in uploads.", t.upload_bytes);
  total("regsweep_quarantine_runs", "Quarantine runs (--quarantine), not yet purged.",
        t.quarantine_runs);
  total("regsweep_quarantine_bytes", "Bytes in the quarantine runs: freed when they are purged.",
        t.quarantine_bytes);
  family("regsweep_du_last_run_timestamp_seconds", "When this file was written.");
  o << "regsweep_du_last_run_timestamp_seconds " << std::time(nullptr) << '\n';
  family("regsweep_du_duration_seconds", "How long the scan took.");
  o << "regsweep_du_duration_seconds " << std::fixed << std::setprecision(3) << seconds << '\n';
  return o.str();
}

// Prints the JSON report (docs/cli.md) on stdout.
void print_json(const std::vector<RepoUsage>& rows, const Usage& usage, const std::string& root) {
  const UsageTotals& t = usage.totals;
  JsonWriter w;
  w.begin_object().key("schema").value("regsweep-du/1").key("root").value(root);
  w.key("repositories").begin_array();
  for (const RepoUsage& u : rows) {
    w.begin_object().key("repository").value(u.name);
    for (const Column& c : columns()) {
      w.key(c.key).value(c.get(u));
    }
    w.end_object();
  }
  w.end_array();
  w.key("totals").begin_object();
  w.key("repositories").value(t.repositories).key("blobs").value(t.blobs);
  w.key("blob_bytes").value(t.blob_bytes).key("referenced_bytes").value(t.referenced_bytes);
  w.key("unreferenced_bytes").value(t.unreferenced_bytes);
  w.key("unreferenced_m_bytes").value(t.unreferenced_m_bytes);
  w.key("young_bytes").value(t.young_bytes).key("upload_bytes").value(t.upload_bytes);
  w.key("quarantine_runs").value(t.quarantine_runs);
  w.key("quarantine_bytes").value(t.quarantine_bytes);
  w.end_object();
  w.key("findings").begin_array();
  for (const Finding& f : usage.findings) {
    w.begin_object().key("kind").value(to_string(f.kind));
    w.key("severity").value(to_string(f.severity)).key("path").value(f.path);
    w.key("message").value(f.message).end_object();
  }
  w.end_array().end_object();
  std::cout << w.str() << '\n';
}

// CSV: a header, then one row per repository.
void print_csv(const std::vector<RepoUsage>& rows) {
  std::cout << "repository";
  for (const auto& c : columns()) {
    std::cout << ',' << c.key;
  }
  std::cout << '\n';
  for (const RepoUsage& u : rows) {
    std::string name = printable(u.name);  // names hold no commas or quotes; CSV stays plain
    std::cout << name;
    for (const auto& c : columns()) {
      std::cout << ',' << c.get(u);
    }
    std::cout << '\n';
  }
}

// The table people read, then the totals.
void print_table(const std::vector<RepoUsage>& rows, const UsageTotals& t, bool bytes) {
  auto fmt = [&](std::uint64_t v) { return bytes ? std::to_string(v) : human_bytes(v); };
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> head{"REPOSITORY"};
  for (const auto& c : columns()) {
    std::string h = c.name;
    std::transform(h.begin(), h.end(), h.begin(), [](char ch) {
      return static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    });
    head.push_back(h);
  }
  table.push_back(head);
  for (const RepoUsage& u : rows) {
    std::vector<std::string> row{printable(u.name)};
    for (const auto& c : columns()) {
      row.push_back(c.bytes ? fmt(c.get(u)) : std::to_string(c.get(u)));
    }
    table.push_back(row);
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : table) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : table) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i == 0) {
        std::cout << std::left << std::setw(static_cast<int>(width[i])) << row[i];
      } else {
        std::cout << "  " << std::right << std::setw(static_cast<int>(width[i])) << row[i];
      }
    }
    std::cout << '\n';
  }
  std::cout << "\nTOTAL " << t.repositories << " repositories, " << t.blobs
            << " blobs: " << fmt(t.blob_bytes) << " on disk, " << fmt(t.referenced_bytes)
            << " referenced, " << fmt(t.unreferenced_bytes) << " unreferenced (gc would free), "
            << fmt(t.unreferenced_m_bytes) << " with gc -m, " << fmt(t.young_bytes)
            << " kept for being young, " << fmt(t.upload_bytes) << " in uploads\n";
  if (t.quarantine_runs > 0) {
    std::cout << "QUARANTINE " << t.quarantine_runs << " runs: " << fmt(t.quarantine_bytes)
              << " (freed when 'regsweep quarantine --purge-older-than AGE' deletes them)\n";
  }
}

// What du's command line asked for, parsed and checked.
struct DuArgs {
  TreeArgs tree;
  std::string sort_by = "logical";
  std::string prometheus;
  std::string html;
  std::int64_t min_age = 0;
  int top = 0;
  bool bytes = false;
  bool json = false;
  bool csv = false;
};

// Parses du's arguments into `out`; the exit code when the command stops here.
std::optional<int> parse_du(const std::vector<std::string>& args, DuArgs& out) {
  po::options_description desc(k_du_usage);
  std::string min_age_text = "1h";
  desc.add_options()                                                                      //
      ("bytes", po::bool_switch(&out.bytes), "exact byte counts instead of human units")  //
      ("sort", po::value(&out.sort_by)->value_name("COLUMN"),
       "name, tags, tagged, untagged, logical (default), exclusive, shared, reclaim, "
       "reclaim-m or uploads; numbers sort largest first")                    //
      ("top", po::value(&out.top)->value_name("N"), "only the first N rows")  //
      ("json", po::bool_switch(&out.json), "JSON on stdout")                  //
      ("csv", po::bool_switch(&out.csv), "CSV on stdout")                     //
      ("prometheus", po::value(&out.prometheus)->value_name("FILE"),
       "also write a node_exporter textfile-collector file (atomically)")  //
      ("html", po::value(&out.html)->value_name("FILE"),
       "also write the report as one self-contained HTML page (treemap, sortable table, "
       "totals, findings), atomically")  //
      ("min-age", po::value(&min_age_text)->value_name("DURATION"),
       "grace period, as gc's (default 1h), so the reclaimable numbers match gc's");
  po::variables_map vm;
  if (auto stop = out.tree.parse(args, desc, vm)) {
    return stop;
  }
  if (out.json && out.csv) {
    return usage_error("--json cannot be used with --csv");
  }
  if (out.sort_by != "name" && std::none_of(columns().begin(), columns().end(),
                                            [&](const auto& c) { return c.name == out.sort_by; })) {
    return usage_error("--sort: unknown column '" + out.sort_by + "'");
  }
  if (vm.count("top") != 0 && out.top < 1) {
    return usage_error("--top must be at least 1");
  }
  auto min_age = parse_duration(min_age_text);
  if (!min_age) {
    return usage_error("--min-age: '" + min_age_text +
                       "' is not a duration such as 1h or 0 (at most 36500d)");
  }
  out.min_age = *min_age;
  return std::nullopt;
}

// The rows to print: sorted by `sort_by` (numbers largest first), the first `top` when set.
std::vector<RepoUsage> sorted_rows(std::vector<RepoUsage> rows, const std::string& sort_by,
                                   int top) {
  auto col = std::find_if(columns().begin(), columns().end(),
                          [&](const auto& c) { return c.name == sort_by; });
  std::stable_sort(rows.begin(), rows.end(), [&](const RepoUsage& x, const RepoUsage& y) {
    if (col == columns().end()) {
      return x.name < y.name;
    }
    return col->get(x) > col->get(y);
  });
  if (top > 0 && rows.size() > static_cast<std::size_t>(top)) {
    rows.resize(static_cast<std::size_t>(top));
  }
  return rows;
}

}  // namespace

int run_du(const std::vector<std::string>& args) {
  DuArgs a;
  if (auto stop = parse_du(args, a)) {
    return *stop;
  }
  for (const auto& [flag, path] :
       {std::pair<const char*, const std::string&>{"--prometheus", a.prometheus},
        {"--html", a.html}}) {
    if (!path.empty()) {
      if (auto problem = output_problem(path)) {
        std::cerr << "regsweep: " << flag << ": " << *problem << "\n";
        return k_exit_cannot_run;
      }
    }
  }
  int code = k_exit_ok;
  auto session = open_session(a.tree.config, a.tree.root, a.tree.jobs, code, a.tree.endpoint);
  if (!session) {
    return code;
  }
  UsageOptions uo;
  uo.grace =
      Grace(storage_now(*session->tree.store, [](const Notice& n) { print_notice(n, false); }),
            a.min_age);
  uo.globs = a.tree.globs;
  auto started = std::chrono::steady_clock::now();
  auto usage = with_progress(
      a.tree.quiet, [&] { return compute_usage(*session->tree.store, uo, session->arena); });
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!usage) {
    std::cerr << "regsweep: " << usage.error().message << "\n";
    return k_exit_cannot_run;
  }
  if (auto stop = unmatched_filters(a.tree.globs, usage->repositories, "du")) {
    return *stop;
  }
  std::vector<RepoUsage> rows = sorted_rows(usage->repositories, a.sort_by, a.top);
  bool errors = print_findings(usage->findings);
  if (a.json) {
    print_json(rows, *usage, session->tree.root);
  } else if (a.csv) {
    print_csv(rows);
  } else if (!a.tree.quiet) {
    print_table(rows, usage->totals, a.bytes);
  }
  if (!a.prometheus.empty() && !write_atomically(a.prometheus, prometheus_text(*usage, seconds))) {
    std::cerr << "regsweep: cannot write '" << a.prometheus << "'\n";
    return k_exit_cannot_run;
  }
  if (!a.html.empty()) {
    HtmlFacts facts{session->tree.root,
                    format_rfc3339(static_cast<std::int64_t>(std::time(nullptr))), a.min_age,
                    REGSWEEP_VERSION};
    if (!write_atomically(a.html, render_usage_html(*usage, facts))) {
      std::cerr << "regsweep: cannot write '" << a.html << "'\n";
      return k_exit_cannot_run;
    }
  }
  return errors ? k_exit_findings : k_exit_ok;
}

}  // namespace regsweep::cli
