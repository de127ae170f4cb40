#pragma once

// The quarantine: what a run with --quarantine would delete is moved instead into
// `docker/registry/quarantine/<run-id>/`, beside `docker/registry/v2` (which the registry never
// leaves), at the same paths, with a journal. `restore` puts a run back; `quarantine
// --purge-older-than` deletes old runs. Space comes back only at the purge.
//
// A run id sorts by time: "20261206T181811.123Z-3fa2c1" (UTC to the millisecond, then 6
// random hex digits; runs are one at a time, under the lock).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/finding.hpp"
#include "regsweep/result.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

class Remover;  // sweep.hpp

// The area's directory, beside v2 (docker/registry/quarantine), and each run's journal.
inline constexpr std::string_view k_quarantine_dir = "quarantine";
inline constexpr std::string_view k_journal_file = "journal.json";

// A store's quarantine area (Store::quarantine). Paths are relative to docker/registry/v2;
// each call names the path it could not do in its error, and returns in bounded time.
class QuarantineArea {
 public:
  virtual ~QuarantineArea() = default;

  // Where the area is, for messages.
  virtual std::string where() const = 0;
  // Makes the run `id`. Error, before anything moves, when what a sweep removes cannot be
  // moved there (on a disk: another filesystem, which a rename cannot cross).
  virtual Status create(std::string_view id) = 0;
  // A remover that moves each path it is asked to remove into the run `id`, at the same path,
  // replacing nothing; empty directories are removed as usual.
  virtual std::unique_ptr<Remover> mover(std::string_view id) = 0;
  // Writes the run's journal whole, durably, after everything moved before it is durable.
  virtual Status write_journal(std::string_view id, std::string_view text) = 0;
  // The journal; ENOENT when the run has none.
  virtual Result<std::string> read_journal(std::string_view id) = 0;
  // Every run's id, in order.
  virtual Result<std::vector<std::string>> runs() = 0;
  // Every object the run holds (its journal aside), with its size and time, in key order.
  virtual Status objects(std::string_view id,
                         const std::function<void(const StoreObject&)>& visit) = 0;

  // What putting one object back did.
  enum class PutBack {
    restored,   // moved back to its path
    identical,  // the same bytes stand there already: left in the run
    differs,    // something else stands there: both kept
  };
  // Puts `path` of the run back at `path`, never replacing anything.
  virtual Result<PutBack> put_back(std::string_view id, std::string_view path) = 0;
  // Deletes the run, journal and all.
  virtual Status purge(std::string_view id) = 0;
};

// A new run id for a run started at `now_ms` (milliseconds since the epoch).
std::string new_run_id(std::int64_t now_ms);
// Whether `text` has a run id's form.
bool is_run_id(std::string_view text);
// When the run `id` started (seconds since the epoch), from its id.
std::optional<std::int64_t> run_started(std::string_view id);

// A run's journal: written before the first move (complete = false, with what is planned)
// and again after the last (complete = true, with every path moved).
struct QuarantineJournal {
  std::string run_id;
  std::int64_t started = 0;  // seconds since the epoch
  std::int64_t ended = 0;    // when complete
  std::string command;       // the command line, as given
  std::string location;      // the tree's root or bucket
  bool complete = false;
  std::vector<std::string> planned;  // the paths the run was to move, in order
  // Every path the sweep moved, as the plan names it (a blob's directory, a link, an upload, a
  // repository's own directories), with its bytes (a blob's or an upload's; else 0).
  std::vector<StoreObject> moved;
};
std::string journal_json(const QuarantineJournal& journal);
Result<QuarantineJournal> parse_journal(std::string_view text);

// One run, as `quarantine` lists it.
struct QuarantineRunInfo {
  std::string id;
  std::int64_t started = 0;
  std::string command;  // empty when the journal cannot be read
  bool complete = false;
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
  std::string problem;  // why the journal could not be read; empty when it could
};
Result<std::vector<QuarantineRunInfo>> list_quarantine(QuarantineArea& area);

// The order a run is put back in: what is referenced before what references it (blobs, then
// layer links and revisions, then tag history, then current tag links, then uploads).
int restore_rank(std::string_view path);

// What a restore of some runs did.
struct Restored {
  std::vector<std::string> runs;    // the runs restored, in order
  std::uint64_t restored = 0;       // objects put back
  std::uint64_t identical = 0;      // left: the same bytes stood there
  std::uint64_t bytes = 0;          // bytes put back
  std::vector<Finding> findings;    // what stands differently, and what failed; kept
  std::vector<std::string> purged;  // runs emptied by the restore, then deleted
};

}  // namespace regsweep
