#pragma once

// Rendering a collection for people (upstream-compatible lines) and for programs (JSON).
// The same functions render a dry run ("eligible for deletion") and a real run ("deleted"):
// the only difference is whether a SweepResult is given.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "regsweep/blob_cache.hpp"
#include "regsweep/collect.hpp"
#include "regsweep/human.hpp"
#include "regsweep/json_writer.hpp"
#include "regsweep/retention.hpp"
#include "regsweep/sweep.hpp"

namespace regsweep::cli {

struct RenderOptions {
  bool quiet = false;  // a dry run is one rendered with no SweepResult
  bool delete_untagged = false;
  std::string root;
  const std::vector<TagVerdict>* retention = nullptr;  // prune: every tag's verdict
  // The store keeps what is deleted (a versioned bucket): bytes are hidden, not freed.
  bool bytes_hidden = false;
  // --quarantine: the run what was deleted went into (nothing freed until it is purged).
  std::string quarantine_run;
  // With a redis blob descriptor cache: what was (would be) removed from it; null otherwise.
  const CacheReport* cache = nullptr;
};

// The cache's line on stdout: what a real run removes (or would) from the registry's redis
// cache. Nothing without one, or with nothing to remove.
void render_cache(std::ostream& out, const CacheReport& cache, bool dry_run);

// The cache in a JSON report: {"kind", "address", "db", "blobs", "links", "repositories",
// "entries_removed", "entries_failed", "milliseconds", "stale_file"}; null without a redis cache.
void json_cache(JsonWriter& w, const CacheReport* cache);

// The start of the log line of a deletion of `kind`, followed by its path: the registry's
// wording where it deletes the same thing ("Deleting blob: ").
std::string_view deletion_log_prefix(ActionKind kind);

using regsweep::human_bytes;  // "1.5 MiB" (human.hpp)

// prune: per repository, each tag kept or deleted with the rule and reason that decided it;
// nothing when quiet or not a prune.
void render_retention(std::ostream& out, const RenderOptions& options, bool dry_run);

// Marking lines and the summary in upstream's format, then regsweep's own summary line;
// nothing when quiet.
void render_text(std::ostream& out, const Collection& c, const SweepResult* sweep,
                 const RenderOptions& options);

// One line per finding on `err` ("error: …" or "warning: …"), and, on a real run unless
// quiet, one line per deletion ("Deleting blob: /docker/registry/v2/blobs/…") and the note to
// restart the registry.
void render_log(std::ostream& err, const Collection& c, const SweepResult* sweep,
                const RenderOptions& options);

// The JSON report documented in docs/cli.md.
std::string render_json(const Collection& c, const SweepResult* sweep, const RenderOptions& options,
                        int exit_code);

}  // namespace regsweep::cli
