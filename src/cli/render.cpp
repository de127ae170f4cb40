#include "render.hpp"

#include "output.hpp"

#include <cstdio>

#include "regsweep/json_writer.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep::cli {

namespace {

std::uint64_t count_severity(const Collection& c, const SweepResult* sweep, Severity s) {
  return count_severity(c.findings, s) +
         (sweep != nullptr ? count_severity(sweep->findings, s) : 0);
}

void render_manifest_lines(std::ostream& out, const Collection& c, std::size_t repo_index) {
  const Repository& repo = c.inventory.repositories[repo_index];
  const RepoMark& rm = c.marks.repositories[repo_index];
  const std::string name = printable(repo.name);
  out << name << '\n';
  // Live and dead manifests in digest order, as upstream walks the revisions directory.
  std::size_t li = 0;
  std::size_t di = 0;
  while (li < rm.live.size() || di < rm.dead.size()) {
    if (di < rm.dead.size() && (li == rm.live.size() || rm.dead[di] < rm.live[li])) {
      out << "manifest eligible for deletion: " << rm.dead[di].str() << '\n';
      ++di;
      continue;
    }
    const Digest& d = rm.live[li++];
    const ManifestRecord* m = c.manifests.find(c.inventory, d);
    if (m == nullptr) {
      continue;  // upstream skips revisions whose blob is gone
    }
    out << name << ": marking manifest " << d.str() << " \n";
    if (!m->parsed()) {
      continue;
    }
    for (std::span<const ManifestRef> refs : {m->blobs(), m->children()}) {
      for (ManifestRef r : refs) {
        out << name << ": marking blob " << c.manifests.digest(c.inventory, r).str() << '\n';
      }
    }
  }
}

void render_action_line(std::ostream& out, const Action& a) {
  const std::string repository = printable(a.repository);
  const std::string name = printable(a.name);
  switch (a.kind) {
    case ActionKind::blob:
      out << "blob eligible for deletion: " << a.digest.str() << '\n';
      break;
    case ActionKind::quarantine:
      out << "blob to move to lost+found: " << a.digest.str() << '\n';
      break;
    case ActionKind::layer_link:
      out << repository << ": layer link eligible for deletion: " << a.digest.str();
      if (a.reason != Reason::unreferenced_layer_link) {
        out << " (" << to_string(a.reason) << ")";
      }
      out << '\n';
      break;
    case ActionKind::revision:
      if (a.reason != Reason::untagged_manifest) {  // those are listed while marking
        out << repository << ": manifest revision eligible for deletion: " << a.digest.str() << " ("
            << to_string(a.reason) << ")\n";
      }
      break;
    case ActionKind::tag_history:
      break;  // goes with its manifest
    case ActionKind::tag:
      out << "tag eligible for deletion: " << repository << ":" << name << " ("
          << to_string(a.reason) << ")\n";
      break;
    case ActionKind::repository:
      out << "repository eligible for deletion: " << repository << " (" << to_string(a.reason)
          << ")\n";
      break;
    case ActionKind::upload:
      out << "upload eligible for deletion: " << repository << " " << name << " ("
          << human_bytes(a.bytes) << ", " << to_string(a.reason) << ")\n";
      break;
    case ActionKind::tidy:
      out << "leftover eligible for deletion: " << printable(a.path()) << " ("
          << to_string(a.reason) << ")\n";
      break;
  }
}

}  // namespace

std::string_view deletion_log_prefix(ActionKind kind) {
  // The registry's own words where it deletes the same thing (its storage/vacuum.go), so that
  // log searches written for it keep working.
  switch (kind) {
    case ActionKind::blob:
      return "Deleting blob: ";
    case ActionKind::revision:
      return "deleting manifest: ";
    case ActionKind::tag_history:
      return "deleting manifest tag reference: ";
    case ActionKind::layer_link:
      return "Deleting layer link path : ";
    case ActionKind::repository:
      return "Deleting repo: ";
    case ActionKind::tag:
      return "Deleting tag: ";
    case ActionKind::upload:
      return "Deleting upload: ";
    case ActionKind::tidy:
      return "Deleting leftover: ";
    case ActionKind::quarantine:
      return "Moving blob to lost+found: ";
  }
  return "Deleting: ";
}

void render_retention(std::ostream& out, const RenderOptions& options, bool dry_run) {
  if (options.quiet || options.retention == nullptr) {
    return;
  }
  std::size_t removed = 0;
  for (const TagVerdict& v : *options.retention) {
    removed += v.remove ? 1 : 0;
    out << printable(v.repository) << ": "
        << (v.remove ? (dry_run ? "would delete " : "delete ") : "keep ") << printable(v.tag)
        << " (" << (v.rule.empty() ? "" : printable(v.rule) + ": ") << printable(v.reason) << ")\n";
  }
  out << "regsweep: prune " << (dry_run ? "would delete " : "deletes ") << removed << " of "
      << options.retention->size() << " tags\n\n";
}

namespace {

// What only the grace period kept, in one line.
void render_kept_young(std::ostream& out, const Collection& c) {
  if (c.kept_young.empty()) {
    return;
  }
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t other = 0;
  for (const Action& a : c.kept_young) {
    if (a.kind == ActionKind::blob) {
      ++blobs;
      bytes += a.bytes;
    } else {
      ++other;
    }
  }
  out << "regsweep: kept for being younger than the grace period: " << blobs << " blobs ("
      << human_bytes(bytes) << ") and " << other << " other entries\n";
}

}  // namespace

void render_text(std::ostream& out, const Collection& c, const SweepResult* sweep,
                 const RenderOptions& options) {
  if (options.quiet) {
    return;  // as the registry's own -q: nothing on stdout
  }
  const Plan& plan = c.plan;
  if (!options.quiet) {
    for (std::size_t i = 0; i < c.inventory.repositories.size(); ++i) {
      render_manifest_lines(out, c, i);
    }
  }
  if (!options.quiet) {
    out << '\n';  // upstream separates the marking lines from the summary
  }
  out << c.marks.marked_count() << " blobs marked, " << plan.blobs << " blobs and "
      << plan.manifests << " manifests eligible for deletion\n";
  if (!options.quiet) {
    for (const Action& a : plan.actions) {
      render_action_line(out, a);
    }
  }
  if (!options.quiet && (plan.tidy > 0 || plan.dangling_links > 0)) {
    out << "regsweep: tidying " << plan.empty_dirs << " empty directories, " << plan.temp_files
        << " temp files of interrupted writes, " << plan.dangling_links << " dangling links and "
        << plan.empty_blob_prefixes << " empty blob prefix directories\n";
  }
  render_kept_young(out, c);
  if (sweep == nullptr) {
    out << "regsweep: dry run: would delete " << plan.blobs << " blobs ("
        << human_bytes(plan.blob_bytes) << ", " << plan.blob_bytes << " bytes), " << plan.manifests
        << " manifests, " << plan.layer_links << " layer links, " << plan.tag_history
        << " tag history entries, " << plan.tags << " tags, " << plan.repositories
        << " repositories, " << plan.uploads << " uploads (" << human_bytes(plan.upload_bytes)
        << ") and " << plan.tidy << " leftovers; nothing was changed\n";

  } else {
    auto done = [&](ActionKind k) { return sweep->done_by_kind[static_cast<std::size_t>(k)]; };
    std::uint64_t links = done(ActionKind::tag) + done(ActionKind::tag_history) +
                          done(ActionKind::revision) + done(ActionKind::layer_link);
    out << "regsweep: " << (options.quarantine_run.empty() ? "deleted " : "quarantined ")
        << sweep->blobs_deleted << " blobs (" << human_bytes(sweep->bytes_freed) << ", "
        << sweep->bytes_freed
        << (!options.quarantine_run.empty() ? " bytes, freed only when the run is purged), "
            : options.bytes_hidden ? " bytes hidden, not freed: the store keeps deleted objects), "
                                   : " bytes freed), ")
        << done(ActionKind::repository) << " repositories, " << done(ActionKind::upload)
        << " uploads (" << human_bytes(sweep->upload_bytes_freed) << "), " << links << " links and "
        << done(ActionKind::tidy) + sweep->removed_dirs.size()
        << " leftovers and empty directories; " << sweep->failed << " deletions failed";
    if (sweep->skipped_count > 0) {
      out << ", " << sweep->skipped_count
          << " skipped: the tree changed since the scan, or a failed deletion left them "
             "referenced";
    }
    out << '\n';
    if (!options.quarantine_run.empty()) {
      out << "regsweep: quarantine run " << options.quarantine_run
          << " holds it all: 'regsweep restore ... " << options.quarantine_run
          << "' puts it back, 'regsweep quarantine ... --purge-older-than AGE' frees it\n";
    }

    if (sweep->purged_noncurrent) {
      out << "regsweep: deleted " << sweep->noncurrent_versions_deleted
          << " noncurrent versions of the objects it deleted ("
          << human_bytes(sweep->noncurrent_bytes_freed) << ", " << sweep->noncurrent_bytes_freed
          << " bytes freed)\n";
    }
  }
  if (options.cache != nullptr) {
    render_cache(out, *options.cache, sweep == nullptr);
  }
}

void render_cache(std::ostream& out, const CacheReport& cache, bool dry_run) {
  if (cache.blobs + cache.links + cache.repositories == 0) {
    return;
  }
  std::string what = std::to_string(cache.blobs) + " blobs, " + std::to_string(cache.links) +
                     " links and " + std::to_string(cache.repositories) + " repositories";
  std::string where =
      "the registry's redis cache at '" + cache.address + "' (db " + std::to_string(cache.db) + ")";
  if (dry_run) {
    out << "regsweep: dry run: would remove from " << where << " the entries of " << what << '\n';
    return;
  }
  out << "regsweep: removed " << cache.removed << " entries from " << where << " for " << what
      << "; " << cache.failed << " removals failed\n";
}

void json_cache(JsonWriter& w, const CacheReport* cache) {
  if (cache == nullptr) {
    w.null();
    return;
  }
  w.begin_object();
  w.key("kind").value("redis");
  w.key("address").value(cache->address);
  w.key("db").value(static_cast<std::uint64_t>(cache->db));
  w.key("blobs").value(cache->blobs);
  w.key("links").value(cache->links);
  w.key("repositories").value(cache->repositories);
  w.key("attempted").value(cache->attempted);
  w.key("entries_removed").value(cache->removed);
  w.key("entries_failed").value(cache->failed);
  w.key("milliseconds").value(static_cast<std::uint64_t>(cache->seconds * 1000));
  w.key("stale_file");
  if (cache->stale_file.empty()) {
    w.null();
  } else {
    w.value(cache->stale_file);
  }
  w.end_object();
}

void render_log(std::ostream& err, const Collection& c, const SweepResult* sweep,
                const RenderOptions& options) {
  auto finding = [&](const Finding& f) {
    log_line(err, f.severity == Severity::error ? LogLevel::error : LogLevel::warning,
             std::string(to_string(f.severity)) + ": ", printable(f.message));
  };
  for (const Finding& f : c.findings) {
    finding(f);
  }
  if (sweep == nullptr) {
    return;
  }
  for (const Finding& f : sweep->findings) {
    finding(f);
  }
  if (!options.quiet) {
    for (std::size_t i = 0; i < c.plan.actions.size(); ++i) {
      if (sweep->error(i).empty() && !sweep->skipped(i)) {
        const Action& a = c.plan.actions[i];
        log_line(err, LogLevel::info, "",
                 std::string(deletion_log_prefix(a.kind)) + '/' + std::string(layout::k_v2_dir) +
                     '/' + printable(a.path()));
      }
    }
  }
  if (sweep->blobs_deleted > 0 && !options.quiet && options.cache == nullptr) {
    log_line(err, LogLevel::info, "note: ",
             "restart the registry now: its blob descriptor cache still lists the deleted "
             "blobs, and pushes and pulls of them fail until it restarts");
  }
}

namespace {

// Writes `value` or null when it is empty (no repository).
void value_or_null(JsonWriter& w, std::string_view value) {
  if (value.empty()) {
    w.null();
  } else {
    w.value(value);
  }
}

void json_summary(JsonWriter& w, const Collection& c, const SweepResult* sweep,
                  const RenderOptions& opts) {
  const Plan& plan = c.plan;
  w.key("summary").begin_object();
  w.key("repositories").value(static_cast<std::uint64_t>(c.inventory.repositories.size()));
  w.key("blobs").value(static_cast<std::uint64_t>(c.inventory.blobs.size()));
  w.key("blobs_marked").value(static_cast<std::uint64_t>(c.marks.marked_count()));
  w.key("blobs_eligible").value(plan.blobs);
  w.key("bytes_eligible").value(plan.blob_bytes);
  w.key("manifests_eligible").value(plan.manifests);
  w.key("layer_links_eligible").value(plan.layer_links);
  w.key("tag_history_eligible").value(plan.tag_history);
  w.key("tags_eligible").value(plan.tags);
  w.key("repositories_eligible").value(plan.repositories);
  w.key("uploads_eligible").value(plan.uploads);
  w.key("upload_bytes_eligible").value(plan.upload_bytes);
  w.key("leftovers_eligible").value(plan.tidy);
  w.key("tidy").begin_object();
  w.key("empty_directories").value(plan.empty_dirs);
  w.key("temp_files").value(plan.temp_files);
  w.key("dangling_links").value(plan.dangling_links);
  w.key("empty_blob_prefixes").value(plan.empty_blob_prefixes);
  w.end_object();
  w.key("blobs_deleted").value(sweep != nullptr ? sweep->blobs_deleted : 0);
  bool quarantined = !opts.quarantine_run.empty();
  w.key("bytes_freed").value(sweep != nullptr && !quarantined ? sweep->bytes_freed : 0);
  w.key("bytes_hidden").value(opts.bytes_hidden);
  w.key("quarantine_run");
  if (quarantined) {
    w.value(opts.quarantine_run);
  } else {
    w.null();
  }
  w.key("bytes_quarantined").value(sweep != nullptr && quarantined ? sweep->bytes_freed : 0);
  w.key("noncurrent_versions_deleted")
      .value(sweep != nullptr ? sweep->noncurrent_versions_deleted : 0);
  w.key("noncurrent_bytes_freed").value(sweep != nullptr ? sweep->noncurrent_bytes_freed : 0);
  w.key("upload_bytes_freed").value(sweep != nullptr ? sweep->upload_bytes_freed : 0);
  w.key("deletions_failed").value(sweep != nullptr ? sweep->failed : 0);
  w.key("deletions_skipped").value(sweep != nullptr ? sweep->skipped_count : 0);
  w.key("directories_removed")
      .value(static_cast<std::uint64_t>(sweep != nullptr ? sweep->removed_dirs.size() : 0));
  w.key("kept_young").value(static_cast<std::uint64_t>(c.kept_young.size()));
  w.key("findings_error").value(count_severity(c, sweep, Severity::error));
  w.key("findings_warning").value(count_severity(c, sweep, Severity::warning));
  w.end_object();
}

void json_deletion(JsonWriter& w, const Action& a, const SweepResult* sweep, std::size_t i) {
  w.begin_object();
  w.key("kind").value(to_string(a.kind));
  w.key("repository");
  value_or_null(w, a.repository.view());
  if (a.kind == ActionKind::upload) {
    w.key("upload").value(a.name);
  } else if (a.kind == ActionKind::tag || a.kind == ActionKind::tag_history) {
    w.key("tag").value(a.name);
  }
  if (a.digest != Digest{}) {
    w.key("digest").value(a.digest.str());
  }
  w.key("bytes").value(a.bytes);
  w.key("reason").value(to_string(a.reason));
  w.key("path").value(a.path());
  if (sweep == nullptr) {
    w.key("status").value("planned");
  } else if (sweep->skipped(i)) {
    w.key("status").value("skipped");
  } else if (sweep->error(i).empty()) {
    w.key("status").value("deleted");
  } else {
    w.key("status").value("failed");
    w.key("error").value(sweep->error(i));
  }
  w.end_object();
}

void json_finding(JsonWriter& w, const Finding& f) {
  w.begin_object();
  w.key("kind").value(to_string(f.kind));
  w.key("severity").value(to_string(f.severity));
  w.key("repository");
  value_or_null(w, f.repository);
  w.key("path").value(f.path);
  w.key("message").value(f.message);
  w.end_object();
}

}  // namespace

std::string render_json(const Collection& c, const SweepResult* sweep, const RenderOptions& options,
                        int exit_code) {
  JsonWriter w;
  w.begin_object();
  w.key("schema").value(options.retention != nullptr ? "regsweep-prune/1" : "regsweep-gc/1");
  w.key("root").value(options.root);
  w.key("dry_run").value(sweep == nullptr);
  w.key("delete_untagged").value(options.delete_untagged);
  w.key("exit_code").value(exit_code);
  json_summary(w, c, sweep, options);
  w.key("blob_cache");
  json_cache(w, options.cache);
  w.key("deletions").begin_array();
  for (std::size_t i = 0; i < c.plan.actions.size(); ++i) {
    json_deletion(w, c.plan.actions[i], sweep, i);
  }
  w.end_array();
  w.key("findings").begin_array();
  for (const Finding& f : c.findings) {
    json_finding(w, f);
  }
  if (sweep != nullptr) {
    for (const Finding& f : sweep->findings) {
      json_finding(w, f);
    }
  }
  w.end_array();
  w.key("kept_young").begin_array();
  for (const Action& a : c.kept_young) {
    w.begin_object();
    w.key("kind").value(to_string(a.kind));
    w.key("path").value(a.path());
    w.key("bytes").value(a.bytes);
    w.end_object();
  }
  w.end_array();
  w.key("activity").begin_array();
  for (const std::string& a : c.activity) {
    w.value(a);
  }
  for (const std::string& a : c.young_uploads) {
    w.value(a);
  }
  w.end_array();
  if (options.retention != nullptr) {
    w.key("retention").begin_array();
    for (const TagVerdict& v : *options.retention) {
      w.begin_object().key("repository").value(v.repository).key("tag").value(v.tag);
      w.key("pushed")
          .value(format_rfc3339(v.pushed))
          .key("action")
          .value(v.remove ? "delete" : "keep");
      w.key("rule");
      value_or_null(w, v.rule);
      w.key("reason").value(v.reason).end_object();
    }
    w.end_array();
  }
  w.key("removed_directories").begin_array();
  if (sweep != nullptr) {
    for (const std::string& d : sweep->removed_dirs) {
      w.value(d);
    }
  }
  w.end_array();
  w.end_object();
  return w.str() + "\n";
}

}  // namespace regsweep::cli
