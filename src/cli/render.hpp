#pragma once

// Rendering a collection for people (upstream-compatible lines) and for programs (JSON).
// The same functions render a dry run ("eligible for deletion") and a real run ("deleted"):
// the only difference is whether a SweepResult is given.

#include <cstdint>
#include <ostream>
#include <string>

#include "regsweep/collect.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep::cli {

struct RenderOptions {
  bool quiet = false;  // a dry run is one rendered with no SweepResult
  bool delete_untagged = false;
  std::string root;
};

// "1.5 MiB".
std::string human_bytes(std::uint64_t bytes);

// Marking lines and the summary in upstream's format, then regsweep's own summary line.
void render_text(std::ostream& out, const Collection& c, const SweepResult* sweep,
                 const RenderOptions& options);

// One line per finding on `err` ("error: …" or "warning: …"), and, on a real run, one line
// per deletion unless quiet.
void render_log(std::ostream& err, const Collection& c, const SweepResult* sweep,
                const RenderOptions& options);

// The JSON report documented in docs/cli.md.
std::string render_json(const Collection& c, const SweepResult* sweep, const RenderOptions& options,
                        int exit_code);

}  // namespace regsweep::cli
