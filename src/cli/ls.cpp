// `regsweep ls`: the offline catalog. Read-only; no lock.

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
#include "regsweep/json_writer.hpp"
#include "regsweep/listing.hpp"
#include "render.hpp"

namespace po = boost::program_options;

namespace regsweep::cli {

namespace {

constexpr const char* k_ls_usage =
    R"(usage: regsweep ls [CONFIG | --root DIR] [NAME-GLOB...] [options]

The offline catalog: repositories, and with -t each tag with its digest, media type,
platforms (for lists and indexes), total size and the image's creation time.

options)";

}  // namespace

int run_ls(const std::vector<std::string>& args) {
  po::options_description desc(k_ls_usage);
  TreeArgs a;
  bool tags = false;
  bool json = false;
  bool bytes = false;
  desc.add_options()                                                                  //
      ("tags,t", po::bool_switch(&tags), "list each repository's tags")               //
      ("bytes", po::bool_switch(&bytes), "exact byte counts instead of human units")  //
      ("json", po::bool_switch(&json), "JSON on stdout");
  po::variables_map vm;
  if (auto stop = a.parse(args, desc, vm)) {
    return *stop;
  }
  int code = k_exit_ok;
  auto session = open_session(a.config, a.root, a.jobs, code, a.endpoint);
  if (!session) {
    return code;
  }
  auto listing = with_progress(
      a.quiet, [&] { return list_registry(*session->tree.store, a.globs, tags, session->arena); });
  if (!listing) {
    std::cerr << "regsweep: " << listing.error().message << "\n";
    return k_exit_cannot_run;
  }
  if (auto stop = unmatched_filters(a.globs, listing->repositories, "ls")) {
    return *stop;
  }
  bool errors = print_findings(listing->findings);
  if (json) {
    JsonWriter w;
    w.begin_object().key("schema").value("regsweep-ls/1").key("repositories").begin_array();
    for (const RepoListing& r : listing->repositories) {
      w.begin_object().key("repository").value(r.name);
      if (tags) {
        w.key("tags").begin_array();
        for (const TagInfo& t : r.tags) {
          w.begin_object().key("tag").value(t.name).key("digest");
          if (t.digest) {
            w.value(t.digest->str());
          } else {
            w.null();
          }
          w.key("media_type").value(t.media_type).key("platforms").begin_array();
          for (const std::string& p : t.platforms) {
            w.value(p);
          }
          w.end_array().key("size").value(t.size).key("created").value(t.created);
          w.key("complete").value(t.complete).end_object();
        }
        w.end_array();
      }
      w.end_object();
    }
    w.end_array().end_object();
    std::cout << w.str() << '\n';
  } else {
    for (const RepoListing& r : listing->repositories) {
      if (!tags) {
        std::cout << printable(r.name) << '\n';
        continue;
      }
      for (const TagInfo& t : r.tags) {
        std::cout << printable(r.name) << ':' << printable(t.name) << "  "
                  << (t.digest ? t.digest->str() : std::string("(unreadable)")) << "  "
                  << (t.media_type.empty() ? "-" : t.media_type) << "  ";
        std::string plats;
        for (const std::string& p : t.platforms) {
          plats += (plats.empty() ? "" : ",") + p;
        }
        std::cout << (plats.empty() ? "-" : plats) << "  "
                  << (bytes ? std::to_string(t.size) : human_bytes(t.size)) << "  "
                  << (t.created.empty() ? "-" : t.created) << (t.complete ? "" : "  INCOMPLETE")
                  << '\n';
      }
    }
  }
  return errors ? k_exit_findings : k_exit_ok;
}

}  // namespace regsweep::cli
