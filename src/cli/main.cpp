// The regsweep command line: chooses streams, formats and exit codes; all logic is in
// libregsweep.

#include <iostream>
#include <string>
#include <vector>

#include "options.hpp"

using namespace regsweep::cli;  // NOLINT(google-build-using-namespace): exit codes, helpers

namespace {

constexpr const char* k_version = "regsweep " REGSWEEP_VERSION;

constexpr const char* k_main_help = R"(usage: regsweep <command> [options]

Offline garbage collection for a container registry's filesystem storage
(CNCF Distribution: registry:2, registry:3, Debian's docker-registry).

commands:
  garbage-collect, gc   delete what no image needs: blobs, and with -m untagged manifests;
                        remove empty repositories and tidy the tree
  rm                    remove repositories or single tags, then collect what they held
  prune                 delete tags by retention rules (keep the last N, drop the old),
                        then collect what they held
  du                    disk usage per repository: logical, exclusive, shared, reclaimable
  ls                    the offline catalog: repositories and, with -t, their tags
  fsck                  find what is broken (links, manifests, blob contents) and which
                        tags it breaks; --repair fixes what cannot lose data
  restore               put back what a --quarantine run of gc, rm or prune moved aside
  quarantine            list the quarantine runs; --purge-older-than AGE deletes old ones
  apply                 carry out a plan written by --dry-run --plan-out FILE, after review,
                        as far as a fresh scan still plans it on the same evidence

Run 'regsweep <command> --help' for a command's options.

exit codes:
  0  done, nothing to report
  1  could not run; nothing was deleted
  2  usage error
  3  done, but something was kept or not deleted because of a finding or a failed delete
)";

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
        return run_gc({"--help"}, false);
      }
      if (!rest.empty() && rest.front() == "rm") {
        return run_gc({"--help"}, true);
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
      if (!rest.empty() && rest.front() == "prune") {
        return run_prune({"--help"});
      }
      if (!rest.empty() && rest.front() == "restore") {
        return run_restore({"--help"});
      }
      if (!rest.empty() && rest.front() == "quarantine") {
        return run_quarantine({"--help"});
      }
      if (!rest.empty() && rest.front() == "apply") {
        return run_apply({"--help"});
      }
      std::cout << k_main_help;
      return k_exit_ok;
    }
    if (cmd == "--version") {
      std::cout << k_version << "\n";
      return k_exit_ok;
    }
    if (cmd == "garbage-collect" || cmd == "gc") {
      return run_gc(rest, false);
    }
    if (cmd == "rm") {
      return run_gc(rest, true);
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
    if (cmd == "restore") {
      return run_restore(rest);
    }
    if (cmd == "quarantine") {
      return run_quarantine(rest);
    }
    if (cmd == "prune") {
      return run_prune(rest);
    }
    if (cmd == "apply") {
      return run_apply(rest);
    }
    return usage_error("unknown command '" + cmd + "'");
  } catch (const std::exception& e) {
    std::cerr << "regsweep: internal error: " << e.what() << "\n";
    return k_exit_cannot_run;
  }
}
