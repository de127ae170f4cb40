#pragma once

// The options module: what every command shares. Exit codes, usage errors, parsing, the
// tree's options (CONFIG, --root, --jobs, globs) and opening it, progress on a terminal.

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <string_view>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <boost/program_options.hpp>

#include "regsweep/collect.hpp"
#include "regsweep/config.hpp"
#include "regsweep/finding.hpp"
#include "regsweep/fs.hpp"
#include "regsweep/open.hpp"
#include "regsweep/policy.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/run.hpp"
#include "regsweep/select.hpp"

#include "output.hpp"

namespace regsweep::cli {

namespace po = boost::program_options;

// The default --jobs. Reading the tree is mostly waiting on the disk: on 2 cores, 64 threads
// read a partly cached 1M-blob tree in 12 s against 81-92 s for 2 (docs/ARCHITECTURE.md).
inline int default_jobs() {
  return static_cast<int>(std::max(64U, std::thread::hardware_concurrency()));
}

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_cannot_run = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_findings = 3;

inline std::optional<std::string> getenv_opt(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) {
    return std::nullopt;
  }
  return std::string(v);
}

inline int usage_error(const std::string& message) {
  std::cerr << "regsweep: " << message << "\n"
            << "Try 'regsweep --help' for more information.\n";
  return k_exit_usage;
}

// "regsweep <command> <args…>", for a journal: each argument as given, quoted when it holds
// a space or a quote.
inline std::string command_line(std::string_view command, const std::vector<std::string>& args) {
  std::string out = "regsweep " + std::string(command);
  for (const std::string& arg : args) {
    bool plain = !arg.empty() && arg.find_first_of(" \t'\"\\$") == std::string::npos;
    out += plain ? " " + arg : " '" + arg + "'";
  }
  return out;
}

// The registry's environment, as the registry reads it.
inline RegistryEnv registry_env() {
  RegistryEnv env{
      .configuration_path = getenv_opt("REGISTRY_CONFIGURATION_PATH"),
      .storage = getenv_opt("REGISTRY_STORAGE"),
      .rootdirectory = getenv_opt("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"),
      .http_addr = getenv_opt("REGISTRY_HTTP_ADDR"),
      .http_tls_certificate = getenv_opt("REGISTRY_HTTP_TLS_CERTIFICATE"),
      .variables = {},
  };
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var(*e);
    auto eq = var.find('=');
    if (eq != std::string_view::npos) {
      env.variables.emplace(std::string(var.substr(0, eq)), std::string(var.substr(eq + 1)));
    }
  }
  return env;
}

// The open docker/registry/v2 directory and the root it is in, or an exit code (printed).
struct OpenTree {
  std::string root;
  fs::Fd v2;
  std::unique_ptr<Store> store;        // the tree below v2
  std::optional<ServeSettings> serve;  // from the configuration file, when one was read
  std::string config_path;
  BlobCacheSettings cache;  // the registry's blob descriptor cache, from the same file
  // The registry's log settings, from the same file and the environment (gc, rm and prune
  // write their log lines so); `log_problem` says why they are unusable, when they are.
  LogSettings log = {};
  std::string log_problem = {};
};

inline std::optional<OpenTree> open_tree(const std::optional<std::string>& config,
                                         const std::optional<std::string>& root_arg, int& exit_code,
                                         const std::string& endpoint = {}) {
  RegistryEnv env = registry_env();
  if (!config && !root_arg && !env.configuration_path) {
    exit_code = usage_error(
        "no configuration: give the registry's config.yml, set REGISTRY_CONFIGURATION_PATH, "
        "or name the storage root with --root");
    return std::nullopt;
  }
  auto root = locate_root(config, root_arg, env, endpoint);
  if (!root) {
    std::cerr << "regsweep: " << root.error().message << "\n";
    exit_code = k_exit_cannot_run;
    return std::nullopt;
  }
#ifdef __GLIBC__
  if (root->object) {
    // A bucket's threads wait on the network, not on malloc: one arena for all of them, not
    // one each, which would keep each thread's freed pages (about 20 MB at 64 threads).
    ::mallopt(M_ARENA_MAX, 1);
  }
#endif
  auto opened = open_store(*root);
  if (!opened) {
    std::cerr << "regsweep: " << opened.error().message << "\n";
    exit_code = k_exit_cannot_run;
    return std::nullopt;
  }
  auto cache = root->config_path.empty()
                   ? Result<BlobCacheSettings>(BlobCacheSettings{})
                   : blob_cache_settings(root->config_text, root->config_path, env);
  if (!cache) {
    std::cerr << "regsweep: " << cache.error().message << "\n";
    exit_code = k_exit_cannot_run;
    return std::nullopt;
  }
  const char* tmp = std::getenv("TMPDIR");
  cache->stale_dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::string where = root->object ? opened->store->location() : root->root;
  OpenTree tree{where,       std::move(opened->v2), std::move(opened->store),
                root->serve, root->config_path,     std::move(*cache)};
  if (!root->config_path.empty()) {
    auto log = log_settings_from_text(root->config_text, env.variables);
    if (log) {
      tree.log = std::move(*log);
    } else {
      tree.log_problem = "configuration '" + root->config_path + "': " + log.error().message;
    }
  }
  return tree;
}

inline bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A positional argument of du and ls that names the registry's config rather than a glob.
inline bool looks_like_config(const std::string& arg) {
  auto ends = [&](const char* suffix) {
    std::string s(suffix);
    return arg.size() > s.size() && arg.compare(arg.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".yml") || ends(".yaml");
}

// The long name of the boolean switch `name` (a long name, or with `shorthand` a one-letter
// one) among `desc`'s options; nullopt when it is no switch (it takes a value, or is unknown).
inline std::optional<std::string> switch_name(
    const boost::program_options::options_description& desc, const std::string& name,
    bool shorthand) {
  for (const auto& o : desc.options()) {
    bool match =
        shorthand
            ? o->canonical_display_name(
                  boost::program_options::command_line_style::allow_dash_for_short) == "-" + name
            : o->long_name() == name;
    if (match) {
      return o->semantic()->max_tokens() == 0 ? std::optional<std::string>(o->long_name())
                                              : std::nullopt;
    }
  }
  return std::nullopt;
}

// Rewrites boolean switches as the registry's command line (Go's flag parsing) reads them:
// `--dry-run`, `-d`, `--dry-run=true`, `-d=1`, `-dm` and `-dm=false` each set a switch, a
// later setting of the same switch (by either name) overrides an earlier one, and a repeated
// switch is no error: `-m --delete-untagged=false` is false. Each switch left true is passed
// once, by its long name, before any `--`; everything else is left as it is. A value Go
// would not read is a usage error.
inline std::optional<std::vector<std::string>> go_bool_flags(
    const std::vector<std::string>& args, const boost::program_options::options_description& desc,
    std::string& error) {
  std::vector<std::string> out;
  std::map<std::string, bool> value;  // by long name
  std::vector<std::string> order;     // long names, first setting first
  auto set = [&](const std::string& name, bool b) {
    if (value.emplace(name, b).second) {
      order.push_back(name);
    } else {
      value[name] = b;
    }
  };
  std::size_t rest = args.size();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      rest = i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.push_back(a);
      continue;
    }
    bool is_long = a.compare(0, 2, "--") == 0;
    auto eq = a.find('=');
    std::string flag =
        a.substr(is_long ? 2 : 1, (eq == std::string::npos ? a.size() : eq) - (is_long ? 2 : 1));
    // The switches the token names: one long name, or each letter of a cluster.
    std::vector<std::string> names;
    bool all_switches = !flag.empty();
    for (std::size_t k = 0; all_switches && k < (is_long ? 1 : flag.size()); ++k) {
      auto n = switch_name(desc, is_long ? flag : flag.substr(k, 1), !is_long);
      all_switches = n.has_value();
      if (n) {
        names.push_back(*n);
      }
    }
    if (!all_switches) {
      out.push_back(a);  // an option that takes a value, or unknown: the parser decides
      continue;
    }
    bool last_value = true;
    if (eq != std::string::npos) {
      std::string text = a.substr(eq + 1);
      auto b = parse_go_bool(text);
      if (!b) {
        error = "invalid argument \"" + text + "\" for \"" + a.substr(0, eq) +
                "\": a boolean is one of 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False";
        return std::nullopt;
      }
      last_value = *b;
    }
    for (std::size_t k = 0; k < names.size(); ++k) {
      set(names[k], k + 1 == names.size() ? last_value : true);
    }
  }
  for (const std::string& name : order) {
    if (value[name]) {
      out.push_back("--" + name);
    }
  }
  out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(rest), args.end());
  return out;
}

// Parses `args` against `desc`, with every positional argument collected as "args". Returns
// the exit code when the command stops here (help printed: 0; usage error: 2). Boolean
// switches also take Go's forms (go_bool_flags).
inline std::optional<int> parse_args(const std::vector<std::string>& raw_args,
                                     const boost::program_options::options_description& desc,
                                     boost::program_options::variables_map& vm,
                                     const char* footer = "") {
  namespace po = boost::program_options;
  std::string bool_error;
  auto args = go_bool_flags(raw_args, desc, bool_error);
  if (!args) {
    return usage_error(bool_error);
  }
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  try {
    po::store(po::command_line_parser(*args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help") != 0) {
    std::cout << desc << footer;
    return k_exit_ok;
  }
  return std::nullopt;
}

// The options every command that reads a tree has: CONFIG or --root, --jobs, and globs.
// --root, --endpoint (--s3-endpoint) and --config: where the tree is, as every command that
// reads one takes them (`root_help` says what --root means for the command).
inline void add_where_options(po::options_description& desc, std::string& root_arg,
                              std::string& endpoint, std::string& config_arg,
                              const char* root_help) {
  desc.add_options()                                                //
      ("root", po::value(&root_arg)->value_name("DIR"), root_help)  //
      ("endpoint", po::value(&endpoint)->value_name("URL"),         //
       "with --root s3://BUCKET[/PREFIX]: the S3 endpoint (http://host:port); AWS when not "
       "given. Keys come from the AWS chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
       "~/.aws/credentials (AWS_PROFILE), web identity, ECS, the instance metadata service. With "
       "--root "
       "azure://CONTAINER[/PREFIX]: the Blob service URL (https://ACCOUNT.blob.core.windows.net "
       "when not given); the account and its key come from AZURE_STORAGE_ACCOUNT and "
       "AZURE_STORAGE_KEY")                                                               //
      ("s3-endpoint", po::value(&endpoint)->value_name("URL"), "the same as --endpoint")  //
      ("config", po::value(&config_arg)->value_name("CONFIG"), "the registry's config.yml");
}

// --jobs, as every command that reads a tree takes it.
inline void add_jobs_option(po::options_description& desc, int& jobs) {
  desc.add_options()("jobs,j", po::value(&jobs)->value_name("N"),
                     "threads that read and parse (default: 64, or the core count if higher: I/O "
                     "waits, so a cold or networked disk wants many requests in flight whatever "
                     "the core count)");
}

// After parsing: what --config, --root and --jobs said, checked; the exit code when the
// command stops here.
inline std::optional<int> take_where(const po::variables_map& vm, const std::string& config_arg,
                                     const std::string& root_arg,
                                     std::optional<std::string>& config,
                                     std::optional<std::string>& root, int& jobs) {
  if (vm.count("config") != 0) {
    config = config_arg;
  }
  if (vm.count("root") != 0) {
    root = root_arg;
  }
  if (vm.count("jobs") != 0 && jobs < 1) {
    return usage_error("--jobs must be at least 1");
  }
  if (jobs == 0) {
    jobs = default_jobs();
  }
  return std::nullopt;
}

// After a listing filtered by `globs` (du, ls): `matched`, the repositories it kept. A glob
// that matched none is said on stderr; one named like a file du or ls writes (.json, .csv,
// .prom, .html) is a usage error, as `du --json report.json` would otherwise take the file
// for a filter and print nothing: --json writes to standard output. The exit code when the
// command must stop before printing.
template <typename Rows>
std::optional<int> unmatched_filters(const std::vector<std::string>& globs, const Rows& matched,
                                     std::string_view command) {
  for (const std::string& g : globs) {
    bool any = std::any_of(matched.begin(), matched.end(),
                           [&](const auto& r) { return glob_match_any({g}, r.name); });
    if (any) {
      continue;
    }
    auto dot = g.rfind('.');
    std::string ext = dot == std::string::npos ? "" : g.substr(dot);
    if (ext == ".json" || ext == ".csv" || ext == ".prom" || ext == ".html") {
      return usage_error(
          "'" + g + "' matches no repository, and is named like a file: " + std::string(command) +
          " takes repository globs, and --json writes to standard output "
          "(regsweep " +
          std::string(command) + " --json > " + g + ")");
    }
    std::cerr << "warning: the filter '" << g << "' matches no repository\n";
  }
  return std::nullopt;
}

struct TreeArgs {
  std::optional<std::string> config;
  std::optional<std::string> root;
  std::vector<std::string> globs;
  int jobs = 0;
  bool quiet = false;
  std::string root_arg;
  std::string config_arg;
  std::string endpoint;

  void add_options(po::options_description& desc) {
    desc.add_options()                //
        ("help,h", "show this help")  //
        ("quiet,q", po::bool_switch(&quiet),
         "no progress and no summary: on a clean run nothing is printed but the output a flag "
         "asked for; findings and errors still go to stderr");
    add_where_options(desc, root_arg, endpoint, config_arg,
                      "the storage root: a directory, s3://BUCKET[/PREFIX] for a bucket, or "
                      "azure://CONTAINER[/PREFIX] for an Azure Blob container");
    add_jobs_option(desc, jobs);
  }

  // After parsing: the flags, then positionals (a first one ending in .yml/.yaml is the
  // configuration, the rest are globs). Returns an exit code, k_exit_ok to go on.
  int finish(const po::variables_map& vm) {
    if (auto stop = take_where(vm, config_arg, root_arg, config, root, jobs)) {
      return *stop;
    }
    if (vm.count("args") != 0) {
      for (const std::string& arg : vm["args"].as<std::vector<std::string>>()) {
        // With no configuration at all, a directory is a storage root given without --root.
        if (!config && !root && globs.empty() && !registry_env().configuration_path &&
            is_directory(arg)) {
          return usage_error("'" + arg +
                             "' is a directory: give the registry's config.yml, or --root " + arg +
                             " for a storage root");
        }
        if (!config && !root && globs.empty() && looks_like_config(arg)) {
          config = arg;
        } else {
          globs.push_back(arg);
        }
      }
    }
    return k_exit_ok;
  }

  // Parses `args` against `desc` with these options added; the exit code when the command
  // stops here (help printed, or a usage error).
  std::optional<int> parse(const std::vector<std::string>& args, po::options_description& desc,
                           po::variables_map& vm, const char* footer = "") {
    add_options(desc);
    if (auto stop = parse_args(args, desc, vm, footer)) {
      return stop;
    }
    if (int code = finish(vm); code != k_exit_ok) {
      return code;
    }
    return std::nullopt;
  }
};

// An open tree and the threads to read it with: what a command runs on.
struct Session {
  Session(OpenTree opened, int jobs)
      : tree(std::move(opened)),
        parallelism(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(jobs)),
        arena(jobs) {}
  OpenTree tree;
  // --jobs may exceed the core count (I/O waits); let TBB start that many workers.
  tbb::global_control parallelism;
  tbb::task_arena arena;
};

// Opens the tree CONFIG or --root names, with `jobs` threads; nullptr (the exit code in
// `exit_code`, the reason printed) when it cannot be opened.
inline std::unique_ptr<Session> open_session(const std::optional<std::string>& config,
                                             const std::optional<std::string>& root, int jobs,
                                             int& exit_code, const std::string& endpoint = {}) {
  auto tree = open_tree(config, root, exit_code, endpoint);
  if (!tree) {
    return nullptr;
  }
  return std::make_unique<Session>(std::move(*tree), jobs);
}

// Prints a notice of the safety sequence on stderr (an `info` one not when `quiet`), first
// clearing a progress line a terminal may show.
inline void print_notice(const Notice& n, bool quiet) {
  if (n.level == Notice::Level::info && quiet) {
    return;
  }
  if (!quiet && ::isatty(STDERR_FILENO) == 1) {
    std::cerr << "\r\033[K";
  }
  struct Shown {
    LogLevel level;
    const char* prefix;
  };
  Shown shown = n.level == Notice::Level::warning   ? Shown{LogLevel::warning, "warning: "}
                : n.level == Notice::Level::refusal ? Shown{LogLevel::error, "regsweep: "}
                                                    : Shown{LogLevel::info, "note: "};
  log_line(std::cerr, shown.level, shown.prefix, n.text);
}

// The context of a run on the session's tree (run.hpp), its notices printed on stderr.
inline RunContext run_context(Session& session, bool dry_run, const SweepPolicy& policy,
                              bool quiet) {
  return RunContext{.store = *session.tree.store,
                    .arena = session.arena,
                    .dry_run = dry_run ? DryRun::yes : DryRun::no,
                    .policy = policy,
                    .serve = session.tree.serve,
                    .config_path = session.tree.config_path,
                    .notify = [quiet](const Notice& n) { print_notice(n, quiet); },
                    .before_step = {},
                    .cache = session.tree.cache};
}

// Shows on stderr, while `work` runs, the stage it is in, how far it has come (a count, and a
// percentage where the total is known) and the time taken: five times a second at most, from
// half a second on, only on a terminal and not when `quiet`. The line is cleared at the end.
template <typename F>
auto with_progress(bool quiet, F&& work) {
  std::atomic<bool> done{false};
  std::thread ticker;
  if (!quiet && ::isatty(STDERR_FILENO) == 1) {
    ticker = std::thread([&] {
      auto start = std::chrono::steady_clock::now();
      bool shown = false;
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
        if (ms < 500 || done.load()) {
          continue;
        }
        Progress::Snapshot p = progress().snapshot();
        std::string line = std::string("regsweep: ") + (*p.stage != '\0' ? p.stage : "starting");
        if (p.done > 0 || p.total > 0) {
          line += ' ' + std::to_string(p.done);
          if (p.total > 0) {
            line += '/' + std::to_string(p.total) + " (" +
                    std::to_string(std::min<std::uint64_t>(100, p.done * 100 / p.total)) + "%)";
          }
        }
        line += ", " + std::to_string(ms / 1000) + "s";
        std::fprintf(stderr, "\r%s\033[K", line.c_str());
        shown = true;
      }
      if (shown) {
        std::fprintf(stderr, "\r\033[K");
      }
    });
  }
  auto result = work();
  done.store(true);
  if (ticker.joinable()) {
    ticker.join();
  }
  return result;
}

// Prints findings on stderr; true when one is an error.
inline bool print_findings(const std::vector<Finding>& findings) {
  for (const Finding& f : findings) {
    std::cerr << to_string(f.severity) << ": " << printable(f.message) << '\n';
  }
  return has_error(findings);
}

int run_gc(const std::vector<std::string>& args, bool is_rm);
int run_du(const std::vector<std::string>& args);
int run_ls(const std::vector<std::string>& args);
int run_fsck(const std::vector<std::string>& args);
int run_prune(const std::vector<std::string>& args);
int run_apply(const std::vector<std::string>& args);
int run_restore(const std::vector<std::string>& args);
int run_quarantine(const std::vector<std::string>& args);

}  // namespace regsweep::cli
