#pragma once

// The listing scan's state (from_listing.cpp): the keys of a listing, taken in any order, and
// the inventory they make. Private to src/store/object/.

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "links.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/listing_scan.hpp"
#include "regsweep/progress.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

namespace listing_detail {

using namespace scan_detail;  // NOLINT(google-build-using-namespace): the scan's own helpers

using layout::join_parts;
using layout::split_key;

inline struct timespec to_timespec(std::int64_t ns) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// A link whose key does not tell enough: its size is not a link's, its directory is not the
// layout's, or every link is to be read (fsck). What reading it finds is recorded on its Link
// once every read is done.
struct PendingRead {
  LinkDir where = LinkDir::layers;
  std::uint32_t index = 0;  // of its Link, in the order listed
  Digest named;
  std::int64_t mtime_ns = 0;
  std::string tag;                   // for a tag history link
  std::unique_ptr<std::string> key;  // set only when the layout's key is not this link's
  LinkRead read;
};

struct PendingTag {
  bool has_current = false;
  std::int64_t current_mtime_ns = 0;
  LinkRead current_read;
  std::vector<Link> history;
};

struct PendingUpload {
  std::uint64_t bytes = 0;
  std::int64_t newest_ns = 0;
  std::string newest_key;
  bool has_startedat = false;
  std::optional<std::int64_t> started;
};

// A repository as listed: its revision and layer links go straight to `repo`.
struct PendingRepo {
  Repository repo;
  std::vector<PendingRead> reads;
  std::map<std::string, PendingTag> tags;
  std::map<std::string, PendingUpload> uploads;
};

// A listed object, and whether other keys are below it (`K` and `K/x`).
struct Listed : StoreObject {
  bool shadowed = false;
};

class ListingScan {
 public:
  ListingScan(ObjectReader read, const ScanOptions& options)
      : m_read(std::move(read)), m_full(options.read_layer_links) {}

  // One object of the listing, in any order across listings, except that every key below
  // `blobs/` comes before any key below `repositories/`: a link is resolved to its blob as
  // it is listed.
  void take(const Listed& o) {
    if (o.key.rfind("blobs/", 0) == 0) {
      if (m_blobs_done) {
        m_keep_all = true;  // the caller broke the order: nothing is known to be unreferenced
        report(FindingKind::unknown_entry, o.key, "",
               "'" + o.key + "' was listed after the repositories; every blob is kept");
        return;
      }
      blob_key(o);
    } else if (o.key.rfind("repositories/", 0) == 0) {
      blobs_done();
      m_inv.has_repositories_dir = true;
      repository_key(o);
    } else if (o.key != k_lock_key && o.key.rfind("lost+found/", 0) != 0) {
      report(FindingKind::unknown_entry, o.key, "",
             "'" + o.key + "' is not part of the registry layout; ignored");
    }
  }

  // Every key below `blobs/` has been taken.
  void blobs_done() {
    if (!m_blobs_done) {
      m_blobs_done = true;
      finish_blobs(m_inv);
    }
  }

  Inventory finish(tbb::task_arena& arena, std::int64_t started_ns) {
    blobs_done();
    Inventory inv = std::move(m_inv);
    inv.scan_started_ns = started_ns;
    arena.execute([&] { read_all(); });
    for (auto& [name, p] : m_repos) {
      inv.repositories.push_back(assemble(p));
    }
    m_repos.clear();
    confirm_absent(inv);
    inv.findings = std::move(m_findings);
    sort_findings(inv.findings);
    inv.keep_all_blobs = m_keep_all;
    inv.newest_mtime_ns = m_newest;
    inv.newest_path = m_newest_path;
    keep_blobs_without_repositories(inv);
    return inv;
  }

  static constexpr std::string_view k_lock_key = "regsweep.lock";

 private:
  // Each digest a link names that the listing did not show as a blob: a direct read of its
  // `data` confirms it absent, or finds it there after all (a listing that left it out) or
  // cannot tell; then it is unknown, and everything that links it is kept.
  void confirm_absent(Inventory& inv) {
    std::vector<Digest> absent;
    for (const Repository& r : inv.repositories) {
      absent.insert(absent.end(), r.absent.begin(), r.absent.end());
    }
    std::sort(absent.begin(), absent.end());
    absent.erase(std::unique(absent.begin(), absent.end()), absent.end());
    bool added = false;
    for (const Digest& d : absent) {
      if (blob_unknown(inv, d)) {
        continue;
      }
      std::string data = layout::blob_data(d);
      auto got = m_read(data, 0);
      Presence found = presence_of(got);
      if (found == Presence::absent) {
        continue;  // confirmed: no such blob
      }
      inv.unknown_blobs.push_back(d);
      added = true;
      report(FindingKind::unreadable, data, "",
             found == Presence::present
                 ? "'" + data + "' is there, yet the listing left it out; kept" +
                       std::string(k_unknown_blob)
                 : got.error().message + "; kept" + std::string(k_unknown_blob));
    }
    if (added) {
      std::sort(inv.unknown_blobs.begin(), inv.unknown_blobs.end());
      inv.blobs_complete = false;
    }
  }

  void report(FindingKind kind, const std::string& path, const std::string& repo,
              std::string message) {
    if (!m_reported.insert(path).second) {
      return;
    }
    m_findings.push_back(Finding{kind, Severity::error, path, repo, std::move(message)});
  }

  // The newest object; of two as new, the first in key order (listings come in any order).
  void seen(const Listed& o) {
    if (o.mtime_ns > m_newest || (o.mtime_ns == m_newest && o.key < m_newest_path)) {
      m_newest = o.mtime_ns;
      m_newest_path = o.key;
    }
  }

  // ---- blobs ----

  void blob_key(const Listed& o) {
    auto c = split_key(o.key);
    // blobs / sha256 / xx / hex / data
    if (c.size() < 3 || c[1] != layout::k_algorithm) {
      std::string path = join_parts(c, 0, std::min<std::size_t>(c.size(), 2));
      report(FindingKind::unknown_entry, path, "",
             "'" + path + "' is not part of the registry layout; ignored");
      return;
    }
    auto prefix = layout::parse_blob_prefix(c[2]);
    if (!prefix || c.size() < 4) {
      std::string path = join_parts(c, 0, 3);
      report(FindingKind::unknown_entry, path, "",
             "'" + path + "' is not part of the registry layout; ignored");
      return;
    }
    auto digest = parse_hex(c[3]);
    std::string dir = join_parts(c, 0, 4);
    if (!digest || c[3].substr(0, 2) != c[2]) {
      report(FindingKind::unknown_entry, dir, "", "'" + dir + "' is not a blob directory; ignored");
      return;
    }
    if (c.size() == 5 && c[4] == layout::k_data && !o.shadowed) {
      m_blobs.push_back(Blob{*digest, o.size, o.mtime_ns / 1000000000});
      seen(o);
      return;
    }
    m_unknown_blobs.push_back(*digest);
    report(FindingKind::unknown_entry, o.key, "",
           "'" + o.key + "' is not part of a blob directory's layout" +
               (o.shadowed ? " (a key that other keys are below)" : "") + "; the blob is kept" +
               std::string(k_unknown_blob));
  }

  void finish_blobs(Inventory& inv) {
    std::sort(m_unknown_blobs.begin(), m_unknown_blobs.end());
    m_unknown_blobs.erase(std::unique(m_unknown_blobs.begin(), m_unknown_blobs.end()),
                          m_unknown_blobs.end());
    // A blob directory holding anything else is unknown, not a blob.
    std::erase_if(m_blobs, [&](const Blob& b) {
      return std::binary_search(m_unknown_blobs.begin(), m_unknown_blobs.end(), b.digest);
    });
    std::sort(m_blobs.begin(), m_blobs.end(),
              [](const Blob& a, const Blob& b) { return a.digest < b.digest; });
    // A blob listed twice is one blob: marked once, it must not be deleted as the other copy.
    m_blobs.erase(std::unique(m_blobs.begin(), m_blobs.end(),
                              [](const Blob& a, const Blob& b) { return a.digest == b.digest; }),
                  m_blobs.end());
    inv.blobs = std::move(m_blobs);
    inv.blob_lookup = BlobLookup(inv.blobs);
    inv.unknown_blobs = std::move(m_unknown_blobs);
    inv.blobs_complete = inv.unknown_blobs.empty();
  }

  // ---- repositories ----

  PendingRepo& repo_named(const std::string& name) {
    auto [it, fresh] = m_repos.try_emplace(name);
    if (fresh) {
      it->second.repo.name = name;
    }
    return it->second;
  }

  // One key below `repositories/` (from_listing_repos.cpp).
  void repository_key(const Listed& o);

  // `rest`: the components below `dir` (`…/_layers` or `…/_manifests/revisions`).
  void layer_or_revision(const Listed& o, const std::vector<std::string_view>& rest,
                         const std::string& dir, PendingRepo& p, LinkDir where) {
    bool revisions = where == LinkDir::revisions;
    const std::string& name = p.repo.name;
    if (rest[0] != layout::k_algorithm) {
      std::string path = dir + "/" + std::string(rest[0]);
      p.repo.uncertain = true;
      report(FindingKind::unknown_entry, path, name,
             "'" + path + "' is not part of the registry layout; kept, with its repository");
      return;
    }
    std::optional<Digest> digest = rest.size() > 1 ? parse_hex(rest[1]) : std::nullopt;
    bool upper = false;
    if (!digest && rest.size() > 1 && parse_hex(lower(rest[1]))) {
      digest = parse_hex(lower(rest[1]));
      upper = true;
    }
    if (!digest || rest.size() != 3 || rest[2] != layout::k_link || o.shadowed) {
      p.repo.uncertain = true;
      if (revisions) {
        p.repo.tags_uncertain = true;
      }
      report(FindingKind::unknown_entry, o.key, name,
             "'" + o.key + "' is not a link of the registry layout" +
                 (o.shadowed ? " (a key that other keys are below)" : "") +
                 "; what the repository links is kept");
      return;
    }
    add_link(o, *digest, upper, p, where, revisions ? p.repo.revisions : p.repo.layers, "");
  }

  // The link `o`, whose directory names `named`, resolved to its blob; to be read when its key
  // does not tell enough.
  void add_link(const Listed& o, const Digest& named, bool upper_case, PendingRepo& p,
                LinkDir where, std::vector<Link>& links, std::string_view tag) {
    Link link;
    link.ref = ref_of(m_inv, p.repo, named);
    link.mtime = static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(o.mtime_ns / 1000000000, 0, UINT32_MAX));
    links.push_back(link);
    seen(o);
    if (!m_full && !upper_case && static_cast<std::int64_t>(o.size) == k_link_size) {
      return;  // taken from its key, as read (listing_scan.hpp)
    }
    PendingRead r;
    r.where = where;
    r.index = static_cast<std::uint32_t>(links.size() - 1);
    r.named = named;
    r.mtime_ns = o.mtime_ns;
    r.tag = tag;
    if (upper_case) {
      r.key = std::make_unique<std::string>(o.key);
    }
    p.reads.push_back(std::move(r));
  }

  void manifests_key(const Listed& o, const std::vector<std::string_view>& rest,
                     const std::string& mdir, PendingRepo& p) {
    const std::string& name = p.repo.name;
    std::string sub = mdir + "/" + std::string(rest[0]);
    if (rest[0] == layout::k_revisions && rest.size() > 1) {
      layer_or_revision(o, std::vector<std::string_view>(rest.begin() + 1, rest.end()), sub, p,
                        LinkDir::revisions);
      return;
    }
    if (rest[0] != layout::k_tags || rest.size() < 2) {
      if (rest[0] == layout::k_revisions || rest[0] == layout::k_tags) {
        p.repo.uncertain = true;
        p.repo.tags_uncertain = true;
        report(
            FindingKind::unknown_entry, o.key, name,
            "'" + o.key + "' is an object where a directory belongs; the repository is kept whole");
        return;
      }
      report(FindingKind::unknown_entry, sub, name,
             "'" + sub + "' is not part of the registry layout; ignored");
      return;
    }
    std::string tag(rest[1]);
    std::string tdir = sub + "/" + tag;
    if (!layout::is_valid_tag(tag)) {
      report(FindingKind::invalid_name, tdir, name,
             "'" + tdir + "' is not a valid tag name; read anyway");
    }
    PendingTag& t = p.tags[tag];
    bool is_current = rest.size() == 4 && rest[2] == layout::k_current && rest[3] == layout::k_link;
    if (is_current && !o.shadowed) {
      t.has_current = true;
      t.current_mtime_ns = o.mtime_ns;
      seen(o);
      return;
    }
    if (rest.size() == 6 && rest[2] == layout::k_index && rest[3] == layout::k_algorithm &&
        rest[5] == layout::k_link && parse_hex(rest[4]) && !o.shadowed) {
      add_link(o, *parse_hex(rest[4]), false, p, LinkDir::tag_history, t.history, tag);
      return;
    }
    p.repo.tags_uncertain = true;
    report(FindingKind::unknown_entry, o.key, name,
           "'" + o.key + "' is not part of a tag's layout" +
               (o.shadowed ? " (a key that other keys are below)" : "") +
               "; every revision is kept");
  }

  void upload_key(const Listed& o, const std::vector<std::string_view>& rest,
                  const std::string& udir, PendingRepo& p) {
    if (rest.size() < 2) {
      report(FindingKind::unknown_entry, o.key, p.repo.name,
             "'" + o.key + "' is not an upload directory; kept");
      return;
    }
    PendingUpload& u = p.uploads[std::string(rest[0])];
    u.bytes += o.size;
    if (o.mtime_ns > u.newest_ns) {
      u.newest_ns = o.mtime_ns;
      u.newest_key = udir + "/" + std::string(rest[0]);
    }
    seen(o);
    if (rest.size() == 2 && rest[1] == layout::k_startedat) {
      u.has_startedat = true;
    }
  }

  // ---- reads ----

  LinkRead read_link_object(const std::string& key, std::int64_t mtime_ns) {
    LinkRead r;
    r.exists = true;
    r.mtime = mtime_ns / 1000000000;
    r.mtime_ts = to_timespec(mtime_ns);
    auto text = m_read(key, k_link_max);
    if (!text) {
      r.kind = FindingKind::unreadable;
      r.problem =
          text.error().sys_errno == ENOENT
              ? "was listed and is gone now"
              : (text.error().sys_errno == EFBIG ? "is too large to be a link"
                                                 : "cannot be read: " + text.error().message);
      if (text.error().sys_errno == EFBIG) {
        r.kind = FindingKind::malformed_link;
      }
      return r;
    }
    parse_into(r, *text);
    return r;
  }

  // The key of a link of `repo` to read: its own when it has one, else the layout's.
  static std::string link_key(const PendingRead& r, const std::string& repo) {
    if (r.key) {
      return *r.key;
    }
    switch (r.where) {
      case LinkDir::revisions:
        return layout::revision_link(repo, r.named);
      case LinkDir::layers:
        return layout::layer_link(repo, r.named);
      default:
        return layout::tag_index_entry_link(repo, r.tag, r.named);
    }
  }

  void read_all() {
    std::vector<std::function<void()>> jobs;
    for (auto& [name, p] : m_repos) {
      for (PendingRead& r : p.reads) {
        jobs.emplace_back(
            [this, &r, &name] { r.read = read_link_object(link_key(r, name), r.mtime_ns); });
      }
      for (auto& [tag, t] : p.tags) {
        if (t.has_current) {
          jobs.emplace_back([this, &t, &name, &tag] {
            t.current_read =
                read_link_object(layout::tag_current_link(name, tag), t.current_mtime_ns);
          });
        }
      }
      for (auto& [id, u] : p.uploads) {
        if (u.has_startedat) {
          jobs.emplace_back([this, &u, &name, &id] {
            auto text =
                m_read(layout::join(layout::upload_dir(name, id), layout::k_startedat), 256);
            if (text) {
              u.started = parse_rfc3339(*text);
            }
          });
        }
      }
    }
    progress().begin("reading links", jobs.size());
    for_each_index(jobs.size(), 8, [&](std::size_t i) {
      jobs[i]();
      progress().advance();
    });
  }

  // ---- the repository, as the filesystem scan gives it ----

  std::uint32_t ref_of(const Inventory& inv, Repository& repo, const Digest& d) {
    if (std::uint32_t i = blob_index(inv, d); i != k_no_blob) {
      return i;
    }
    repo.absent.push_back(d);
    return Link::k_absent | static_cast<std::uint32_t>(repo.absent.size() - 1);
  }

  // What reading the links that were read found, recorded on their Links.
  void record_reads(Repository& repo, PendingRepo& p) {
    std::mutex owner_mutex;
    for (PendingRead& r : p.reads) {
      std::vector<Link>& links = r.where == LinkDir::revisions ? repo.revisions
                                 : r.where == LinkDir::layers  ? repo.layers
                                                               : p.tags[r.tag].history;
      Link& link = links[r.index];
      auto key = [&] { return link_key(r, repo.name); };
      record_read(r.read, r.named, r.where, link, repo, owner_mutex, key,
                  [&](FindingKind kind, std::string message) {
                    m_findings.push_back(
                        Finding{kind, Severity::error, key(), repo.name, std::move(message)});
                  });
      if (r.key) {
        link.set_problem();
        std::string dir = layout::parent(*r.key);
        m_findings.push_back(Finding{FindingKind::unknown_entry, Severity::error, dir, repo.name,
                                     "'" + dir + "' is not a link directory; kept"});
      }
    }
    std::vector<PendingRead>().swap(p.reads);
  }

  static void sort_links(std::vector<Link>& links) {
    std::sort(links.begin(), links.end(),
              [](const Link& a, const Link& b) { return a.ref < b.ref; });
  }

  Tag tag_of(Repository& repo, const std::string& name, PendingTag& t) {
    Tag tag;
    tag.name = name;
    tag.history = std::move(t.history);
    sort_links(tag.history);
    std::string tdir = layout::tag_dir(repo.name, name);
    if (!t.has_current) {
      m_findings.push_back(
          Finding{FindingKind::malformed_link, Severity::warning, tdir, repo.name,
                  "tag directory '" + tdir + "' has no current link; the tag does not resolve"});
      return tag;
    }
    const LinkRead& r = t.current_read;
    tag.has_current = true;
    tag.current = r.digest;
    tag.current_mtime = r.mtime;
    tag.current_mtime_ns = t.current_mtime_ns;
    if (!r.problem.empty()) {
      tag.current_problem = true;
      repo.tags_uncertain = true;
      std::string key = layout::tag_current_link(repo.name, name);
      m_findings.push_back(Finding{r.kind, Severity::error, key, repo.name,
                                   "link '" + key + "' " + r.problem + "; every revision is kept"});
    }
    return tag;
  }

  Repository assemble(PendingRepo& p) {
    Repository repo = std::move(p.repo);
    record_reads(repo, p);
    sort_links(repo.revisions);
    sort_links(repo.layers);
    for (auto& [name, t] : p.tags) {
      repo.tags.push_back(tag_of(repo, name, t));
    }
    for (auto& [id, u] : p.uploads) {
      Upload up;
      up.id = id;
      up.bytes = u.bytes;
      up.newest_mtime = u.newest_ns / 1000000000;
      up.started = u.started;
      repo.uploads.push_back(std::move(up));
    }
    progress().advance();
    return repo;
  }

  ObjectReader m_read;
  bool m_full;
  Inventory m_inv;  // its blobs, once blobs_done()
  bool m_blobs_done = false;
  std::set<std::string> m_reported;
  std::vector<Finding> m_findings;
  std::vector<Blob> m_blobs;
  std::vector<Digest> m_unknown_blobs;
  std::map<std::string, PendingRepo> m_repos;
  bool m_keep_all = false;
  std::int64_t m_newest = 0;
  std::string m_newest_path;
};

}  // namespace listing_detail

}  // namespace regsweep
