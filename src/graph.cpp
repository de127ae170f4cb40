// The graph stage: the scan's inventory, every manifest a revision, tag or young blob names
// (read once each, in parallel), and what was found on the way.
//
// load_manifests:
// 1. Start from every digest a revision link or a tag's current link names.
// 2. Read and parse each once, in parallel, with one parser per thread.
// 3. Children of lists and indexes not yet loaded form the next wave; repeat until none.

#include "regsweep/graph.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include "regsweep/layout.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/scan.hpp"
#include "regsweep/select.hpp"

namespace regsweep {

const std::string& ManifestRecord::error() const {
  static const std::string none;
  return rare ? rare->error : none;
}

const std::vector<std::string>& ManifestRecord::platforms() const {
  static const std::vector<std::string> none;
  return rare ? rare->platforms : none;
}

bool ManifestRecord::is_foreign(const Digest& digest) const {
  return rare &&
         std::find(rare->foreign.begin(), rare->foreign.end(), digest) != rare->foreign.end();
}

const ManifestRecord* ManifestTable::find(ManifestRef ref) const {
  if ((ref & k_absent_ref) != 0) {
    return nullptr;
  }
  auto it = std::lower_bound(m_keys.begin(), m_keys.end(), ref);
  return it != m_keys.end() && *it == ref ? &m_records[it - m_keys.begin()] : nullptr;
}

const ManifestRecord* ManifestTable::find(const Inventory& inventory, const Digest& digest) const {
  std::uint32_t b = blob_index(inventory, digest);
  return b == k_no_blob ? nullptr : find(b);
}

std::vector<Digest> ManifestTable::digests(const Inventory& inventory,
                                           std::span<const ManifestRef> refs) const {
  std::vector<Digest> out;
  out.reserve(refs.size());
  for (ManifestRef r : refs) {
    out.push_back(digest(inventory, r));
  }
  return out;
}

namespace {

// The largest manifest regsweep reads. The registry itself refuses manifests over 4 MiB
// (3.x); anything this large is not a manifest.
constexpr std::uint64_t k_manifest_max = 64ULL << 20U;
// Young blobs are read as possible manifests only up to the registry's own manifest limit.
constexpr std::uint64_t k_speculative_max = 4ULL << 20U;

// Turns digests into references, adding those with no blob to `absent`.
class RefMaker {
 public:
  RefMaker(const Inventory& inventory, std::vector<Digest>& absent)
      : m_inv(inventory), m_absent(absent) {}

  ManifestRef operator()(const Digest& d) {
    std::uint32_t b = blob_index(m_inv, d);
    if (b != k_no_blob) {
      return b;
    }
    std::lock_guard lock(m_mutex);
    auto [it, added] = m_index.emplace(d, static_cast<std::uint32_t>(m_absent.size()));
    if (added) {
      m_absent.push_back(d);
    }
    return k_absent_ref | it->second;
  }

 private:
  const Inventory& m_inv;
  std::vector<Digest>& m_absent;
  std::mutex m_mutex;
  std::unordered_map<Digest, std::uint32_t, DigestHash> m_index;
};

// The record of a parsed manifest: its references as blob indices, the rest only when present.
ManifestRecord compact(Manifest&& m, RefMaker& ref) {
  ManifestRecord rec;
  rec.state = ManifestRecord::State::parsed;
  rec.kind = m.kind;
  rec.media_type = m.media_type;
  rec.blob_count = static_cast<std::uint32_t>(m.blobs.size());
  rec.child_count = static_cast<std::uint32_t>(m.children.size());
  if (rec.blob_count + rec.child_count > 0) {
    rec.refs = std::make_unique<ManifestRef[]>(rec.blob_count + rec.child_count);
    ManifestRef* out = rec.refs.get();
    for (const Digest& d : m.blobs) {
      *out++ = ref(d);
    }
    for (const Digest& d : m.children) {
      *out++ = ref(d);
    }
  }
  if (m.subject) {
    rec.subject = ref(*m.subject);
  }
  if (!m.platforms.empty() || !m.foreign.empty()) {
    rec.rare = std::make_unique<ManifestRecord::Rare>();
    rec.rare->platforms = std::move(m.platforms);
    rec.rare->foreign = std::move(m.foreign);
  }
  return rec;
}

ManifestRecord unreadable(std::string error, std::vector<Digest> mentioned = {}) {
  ManifestRecord rec;
  rec.state = ManifestRecord::State::unreadable;
  rec.rare = std::make_unique<ManifestRecord::Rare>();
  rec.rare->error = std::move(error);
  rec.rare->mentioned = std::move(mentioned);
  return rec;
}

// The digests still to read, a wave at a time; each blob is queued once. A speculative one
// (a young blob no link names) is read only up to the registry's limit and is no finding when
// it is not a manifest.
class Waves {
 public:
  explicit Waves(std::size_t blobs) : m_queued(blobs, false), m_speculative(blobs, false) {}

  void queue(std::uint32_t b) {
    if (b != k_no_blob && !m_queued[b]) {
      m_queued[b] = true;
      m_wave.push_back(b);
    }
  }
  void queue_speculative(std::uint32_t b) {
    if (b != k_no_blob && !m_queued[b]) {
      m_speculative[b] = true;
      queue(b);
    }
  }
  bool speculative(std::uint32_t b) const { return m_speculative[b]; }
  // `b` is in the table already: never read again.
  void loaded(std::uint32_t b) { m_queued[b] = true; }
  void settled(std::uint32_t b) { m_speculative[b] = false; }
  // The next wave, sorted; empty when all is read.
  std::vector<std::uint32_t> take() {
    std::vector<std::uint32_t> out = std::move(m_wave);
    m_wave.clear();
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::vector<bool> m_queued;
  std::vector<bool> m_speculative;
  std::vector<std::uint32_t> m_wave;
};

// The first wave: every digest a revision link (or the other target of a mismatched one) or a
// tag's current link names, then the speculative ones.
void queue_first_wave(const Inventory& inventory, bool from_links,
                      const std::vector<Digest>& speculative, Waves& waves) {
  for (const Repository& repo : inventory.repositories) {
    if (!from_links) {
      break;
    }
    for (const Link& rev : repo.revisions) {
      if (!rev.dangling()) {
        waves.queue(rev.ref);
      }
      if (const Digest* other = other_target(repo, rev)) {
        waves.queue(blob_index(inventory, *other));
      }
    }
    for (const Tag& tag : repo.tags) {
      if (tag.current) {
        waves.queue(blob_index(inventory, *tag.current));
      }
    }
  }
  // Young blobs no link names yet may be manifests of a push in progress.
  for (const Digest& d : speculative) {
    waves.queue_speculative(blob_index(inventory, d));
  }
}

// Reads and parses the manifest at `digest`'s data. `read_failed`: the bytes could not be
// had, as opposed to bytes that are no manifest (or, speculative, larger than any manifest).
ManifestRecord read_record(Store& store, const Digest& digest, bool speculative,
                           ManifestParser& parser, RefMaker& ref, bool& read_failed) {
  std::string path = layout::blob_data(digest);
  auto bytes = store.read(path, speculative ? k_speculative_max : k_manifest_max);
  read_failed = false;
  if (!bytes) {
    read_failed = !speculative || bytes.error().sys_errno != EFBIG;
    return unreadable(bytes.error().message);
  }
  ParseOutcome parsed = parser.parse(*bytes);
  if (parsed.manifest) {
    return compact(std::move(*parsed.manifest), ref);
  }
  return unreadable("manifest '" + path + "' cannot be read: " + parsed.error,
                    std::move(parsed.mentioned));
}

}  // namespace

struct ManifestLoader {
  static void into(ManifestTable& table, Store& store, const Inventory& inventory,
                   tbb::task_arena& arena, std::vector<Finding>& findings,
                   const std::vector<Digest>& speculative, const BlobExaminer& examine,
                   bool from_links);
};

void ManifestLoader::into(ManifestTable& table, Store& store, const Inventory& inventory,
                          tbb::task_arena& arena, std::vector<Finding>& findings,
                          const std::vector<Digest>& speculative, const BlobExaminer& examine,
                          bool from_links) {
  RefMaker ref(inventory, table.m_absent);
  // Only a digest with a blob can be read; the rest stay out of the table (missing).
  Waves waves(inventory.blobs.size());
  for (std::uint32_t b : table.m_keys) {
    waves.loaded(b);
  }
  queue_first_wave(inventory, from_links, speculative, waves);
  tbb::enumerable_thread_specific<ManifestParser> parsers;
  std::vector<std::pair<std::uint32_t, ManifestRecord>> loaded;
  progress().begin("reading manifests");
  for (std::vector<std::uint32_t> wave = waves.take(); !wave.empty(); wave = waves.take()) {
    progress().add_total(wave.size());
    std::vector<ManifestRecord> records(wave.size());
    std::vector<std::uint8_t> read_failed(wave.size(), 0);
    arena.execute([&] {
      tbb::parallel_for(std::size_t{0}, wave.size(), [&](std::size_t i) {
        const Digest& d = inventory.blobs[wave[i]].digest;
        bool failed = false;
        records[i] =
            read_record(store, d, waves.speculative(wave[i]), parsers.local(), ref, failed);
        read_failed[i] = failed ? 1 : 0;
        progress().advance();
      });
    });
    // A blob the scan took from its name and that could not be read may be no blob at all
    // (no data file, a link): examined now, it is what a full scan would have made of it,
    // reported as such, and no manifest.
    std::vector<std::uint32_t> unexamined;
    for (std::size_t i = 0; i < wave.size(); ++i) {
      if (!records[i].parsed() && !waves.speculative(wave[i]) &&
          inventory.blobs[wave[i]].unexamined()) {
        unexamined.push_back(wave[i]);
      }
    }
    if (!unexamined.empty() && examine) {
      examine(unexamined);
    }
    for (std::size_t i = 0; i < wave.size(); ++i) {
      ManifestRecord& rec = records[i];
      const Blob& blob = inventory.blobs[wave[i]];
      if (rec.parsed()) {
        for (ManifestRef c : rec.children()) {
          waves.queue(ManifestTable::blob(c));
        }
        loaded.emplace_back(wave[i], std::move(rec));
      } else if (!waves.speculative(wave[i]) && (blob.has_data() || blob.unexamined())) {
        findings.push_back(Finding{FindingKind::manifest_unparseable, Severity::error,
                                   layout::blob_data(blob.digest), "",
                                   rec.error() + "; no blob is deleted"});
        loaded.emplace_back(wave[i], std::move(rec));
      } else if (waves.speculative(wave[i]) && read_failed[i] != 0) {
        // A young blob that may be the manifest of a push in progress, and whose bytes
        // cannot be had: what it references is unknown (mark keeps every blob for it).
        findings.push_back(Finding{FindingKind::unreadable, Severity::error,
                                   layout::blob_data(blob.digest), "",
                                   "young blob '" + layout::blob_data(blob.digest) +
                                       "' may be the manifest of a push in progress and cannot "
                                       "be read (" +
                                       rec.error() + "); no blob is deleted"});
        loaded.emplace_back(wave[i], std::move(rec));
      }
      // Else a young blob that is not a manifest (no finding, no record), or a blob that is
      // none (the examination reported it; as after a full scan, it has no record).
      waves.settled(wave[i]);
    }
  }
  for (std::size_t k = 0; k < table.m_keys.size(); ++k) {
    loaded.emplace_back(table.m_keys[k], std::move(table.m_records[k]));
  }
  std::sort(loaded.begin(), loaded.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  table.m_keys.clear();
  table.m_records.clear();
  table.m_keys.reserve(loaded.size());
  table.m_records.reserve(loaded.size());
  for (auto& [key, rec] : loaded) {
    table.m_keys.push_back(key);
    table.m_records.push_back(std::move(rec));
  }
}

BlobExaminer blob_examiner(Store& store, Inventory& inventory, tbb::task_arena& arena,
                           std::vector<Finding>& findings) {
  return [&store, &inventory, &arena, &findings](const std::vector<std::uint32_t>& blobs) {
    Examined ex = examine_blobs(store, inventory, arena, [&](std::size_t i) {
      return std::binary_search(blobs.begin(), blobs.end(), static_cast<std::uint32_t>(i));
    });
    findings.insert(findings.end(), ex.findings.begin(), ex.findings.end());
  };
}

ManifestTable load_manifests(Store& store, const Inventory& inventory, tbb::task_arena& arena,
                             std::vector<Finding>& findings, const std::vector<Digest>& speculative,
                             const BlobExaminer& examine) {
  ManifestTable table;
  ManifestLoader::into(table, store, inventory, arena, findings, speculative, examine, true);
  return table;
}

void load_speculative(ManifestTable& table, Store& store, const Inventory& inventory,
                      tbb::task_arena& arena, std::vector<Finding>& findings,
                      const std::vector<Digest>& speculative, const BlobExaminer& examine) {
  // Only the speculative ones and what they name: every link's digest was read already.
  ManifestLoader::into(table, store, inventory, arena, findings, speculative, examine, false);
}

std::vector<Digest> young_blobs(const Inventory& inventory, const Grace& grace) {
  std::vector<Digest> out;
  if (grace.enabled()) {
    for (const Blob& b : inventory.blobs) {
      if (grace.young(b.mtime)) {
        out.push_back(b.digest);
      }
    }
  }
  return out;
}

bool anything_young(const Inventory& inventory, const Grace& grace) {
  // The scan knows the newest blob, link and upload; leftovers carry their own times.
  return grace.enabled() && (grace.young_ns(inventory.newest_mtime_ns) ||
                             std::any_of(inventory.leftovers.begin(), inventory.leftovers.end(),
                                         [&](const Leftover& l) { return grace.young(l.mtime); }));
}

Result<Graph> build_graph(Store& store, const GraphOptions& options, tbb::task_arena& arena) {
  auto inventory = store.scan(arena, options.scan);
  if (!inventory) {
    return inventory.error();
  }
  Graph g;
  g.inventory = std::move(*inventory);
  if (!options.remove.empty()) {
    if (Status s = select_removals(g.inventory, options.remove); !s) {
      return s.error();
    }
  }
  if (options.select_tags) {
    if (Status s = options.select_tags(g.inventory); !s) {
      return s.error();
    }
  }
  g.findings = g.inventory.findings;
  if (options.read_manifests) {
    g.manifests = load_manifests(store, g.inventory, arena, g.findings,
                                 young_blobs(g.inventory, options.grace),
                                 blob_examiner(store, g.inventory, arena, g.findings));
  }
  sort_findings(g.findings);
  return g;
}

}  // namespace regsweep
