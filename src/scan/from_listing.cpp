// The inventory of a tree from a listing of its keys (listing_scan.hpp).

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

using namespace scan_detail;  // NOLINT(google-build-using-namespace): the scan's own helpers

namespace {

std::vector<std::string_view> components(std::string_view key) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at <= key.size()) {
    std::size_t slash = key.find('/', at);
    if (slash == std::string_view::npos) {
      out.push_back(key.substr(at));
      break;
    }
    out.push_back(key.substr(at, slash - at));
    at = slash + 1;
  }
  return out;
}

std::string joined(const std::vector<std::string_view>& parts, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) {
    if (i > from) {
      out += '/';
    }
    out += parts[i];
  }
  return out;
}

struct timespec to_timespec(std::int64_t ns) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// A link as the listing gives it, and later what reading it found.
struct PendingLink {
  Digest named;
  const StoreObject* object = nullptr;
  bool upper_case = false;  // its directory's name is upper-case hex
  LinkRead read;
};

struct PendingTag {
  const StoreObject* current = nullptr;
  LinkRead current_read;
  std::vector<PendingLink> history;
};

struct PendingUpload {
  std::uint64_t bytes = 0;
  std::int64_t newest_ns = 0;
  std::string newest_key;
  const StoreObject* startedat = nullptr;
  std::optional<std::int64_t> started;
};

struct PendingRepo {
  Repository repo;
  std::vector<PendingLink> revisions;
  std::vector<PendingLink> layers;
  std::map<std::string, PendingTag> tags;
  std::map<std::string, PendingUpload> uploads;
};

class ListingScan {
 public:
  ListingScan(const std::vector<StoreObject>& objects, const ObjectReader& read,
              const ScanOptions& options)
      : m_objects(objects), m_read(read), m_full(options.read_layer_links) {
    find_shadowed();
  }

  Inventory run(tbb::task_arena& arena, std::int64_t started_ns) {
    Inventory inv;
    inv.scan_started_ns = started_ns;
    for (const StoreObject& o : m_objects) {
      if (o.key.rfind("blobs/", 0) == 0) {
        blob_key(o);
      } else if (o.key.rfind("repositories/", 0) == 0) {
        inv.has_repositories_dir = true;
        repository_key(o);
      } else if (o.key != k_lock_key && o.key.rfind("lost+found/", 0) != 0) {
        report(FindingKind::unknown_entry, o.key, "",
               "'" + o.key + "' is not part of the registry layout; ignored");
      }
    }
    finish_blobs(inv);
    arena.execute([&] { read_all(); });
    for (auto& [name, p] : m_repos) {
      inv.repositories.push_back(assemble(inv, p));
    }
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
  // Keys that are also "directories" of other keys: neither is what the layout has there. In
  // key order, the keys below `K/` are found by one search from K on.
  void find_shadowed() {
    for (auto it = m_objects.begin(); it != m_objects.end(); ++it) {
      std::string dir = it->key + "/";
      auto below =
          std::lower_bound(it + 1, m_objects.end(), dir,
                           [](const StoreObject& o, const std::string& k) { return o.key < k; });
      if (below != m_objects.end() && below->key.compare(0, dir.size(), dir) == 0) {
        m_shadowed.insert(it->key);
      }
    }
  }

  bool shadowed(const StoreObject& o) const { return m_shadowed.count(o.key) != 0; }

  void report(FindingKind kind, const std::string& path, const std::string& repo,
              std::string message) {
    if (!m_reported.insert(path).second) {
      return;
    }
    m_findings.push_back(Finding{kind, Severity::error, path, repo, std::move(message)});
  }

  void seen(const StoreObject& o) {
    if (o.mtime_ns > m_newest) {
      m_newest = o.mtime_ns;
      m_newest_path = o.key;
    }
  }

  // ---- blobs ----

  void blob_key(const StoreObject& o) {
    auto c = components(o.key);
    // blobs / sha256 / xx / hex / data
    if (c.size() < 3 || c[1] != layout::k_algorithm) {
      std::string path = joined(c, 0, std::min<std::size_t>(c.size(), 2));
      report(FindingKind::unknown_entry, path, "",
             "'" + path + "' is not part of the registry layout; ignored");
      return;
    }
    auto prefix = layout::parse_blob_prefix(c[2]);
    if (!prefix || c.size() < 4) {
      std::string path = joined(c, 0, 3);
      report(FindingKind::unknown_entry, path, "",
             "'" + path + "' is not part of the registry layout; ignored");
      return;
    }
    auto digest = parse_hex(c[3]);
    std::string dir = joined(c, 0, 4);
    if (!digest || c[3].substr(0, 2) != c[2]) {
      report(FindingKind::unknown_entry, dir, "", "'" + dir + "' is not a blob directory; ignored");
      return;
    }
    if (c.size() == 5 && c[4] == layout::k_data && !shadowed(o)) {
      m_blobs.push_back(Blob{*digest, o.size, o.mtime_ns / 1000000000});
      seen(o);
      return;
    }
    m_unknown_blobs.push_back(*digest);
    report(FindingKind::unknown_entry, o.key, "",
           "'" + o.key + "' is not part of a blob directory's layout" +
               (shadowed(o) ? " (a key that other keys are below)" : "") + "; the blob is kept" +
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

  void repository_key(const StoreObject& o) {
    auto c = components(o.key);
    std::size_t r = 1;
    while (r < c.size() && !layout::is_reserved(c[r])) {
      ++r;
    }
    std::string name = joined(c, 1, r);
    if (r + 1 >= c.size()) {
      // An object where a namespace, repository or reserved directory would be.
      std::string owner = r == c.size() ? joined(c, 1, c.size() - 1) : name;
      report(FindingKind::unknown_entry, o.key, owner,
             "'" + o.key + "' is not part of the registry layout; ignored");
      return;
    }
    std::string rdir = joined(c, 0, r + 1);
    if (!layout::is_repo_marker(c[r])) {
      report(FindingKind::unknown_entry, rdir, name,
             "'" + rdir + "' is not part of the registry layout; ignored");
      return;
    }
    if (name.empty()) {
      report(FindingKind::unknown_entry, rdir, "",
             "'" + rdir + "' belongs to no repository; ignored");
      return;
    }
    for (std::size_t i = 1; i < r; ++i) {
      if (!layout::is_valid_repo_component(c[i])) {
        std::string path = joined(c, 0, i + 1);
        report(FindingKind::invalid_name, path, name,
               "'" + path + "' is not a valid repository name component; scanned anyway");
      }
    }
    PendingRepo& p = repo_named(name);
    std::vector<std::string_view> rest(c.begin() + static_cast<std::ptrdiff_t>(r) + 1, c.end());
    if (c[r] == layout::k_layers) {
      p.repo.has_layers = true;
      layer_or_revision(o, rest, rdir, p, p.layers, false);
    } else if (c[r] == layout::k_manifests) {
      p.repo.has_manifests = true;
      manifests_key(o, rest, rdir, p);
    } else {
      p.repo.has_uploads = true;
      upload_key(o, rest, rdir, p);
    }
  }

  // `rest`: the components below `dir` (`…/_layers` or `…/_manifests/revisions`).
  void layer_or_revision(const StoreObject& o, const std::vector<std::string_view>& rest,
                         const std::string& dir, PendingRepo& p, std::vector<PendingLink>& out,
                         bool revisions) {
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
    if (!digest || rest.size() != 3 || rest[2] != layout::k_link || shadowed(o)) {
      p.repo.uncertain = true;
      if (revisions) {
        p.repo.tags_uncertain = true;
      }
      report(FindingKind::unknown_entry, o.key, name,
             "'" + o.key + "' is not a link of the registry layout" +
                 (shadowed(o) ? " (a key that other keys are below)" : "") +
                 "; what the repository links is kept");
      return;
    }
    PendingLink l;
    l.named = *digest;
    l.object = &o;
    l.upper_case = upper;
    out.push_back(l);
  }

  void manifests_key(const StoreObject& o, const std::vector<std::string_view>& rest,
                     const std::string& mdir, PendingRepo& p) {
    const std::string& name = p.repo.name;
    std::string sub = mdir + "/" + std::string(rest[0]);
    if (rest[0] == layout::k_revisions && rest.size() > 1) {
      layer_or_revision(o, std::vector<std::string_view>(rest.begin() + 1, rest.end()), sub, p,
                        p.revisions, true);
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
    if (is_current && !shadowed(o)) {
      t.current = &o;
      return;
    }
    if (rest.size() == 6 && rest[2] == layout::k_index && rest[3] == layout::k_algorithm &&
        rest[5] == layout::k_link && parse_hex(rest[4]) && !shadowed(o)) {
      PendingLink l;
      l.named = *parse_hex(rest[4]);
      l.object = &o;
      t.history.push_back(l);
      return;
    }
    p.repo.tags_uncertain = true;
    report(FindingKind::unknown_entry, o.key, name,
           "'" + o.key + "' is not part of a tag's layout" +
               (shadowed(o) ? " (a key that other keys are below)" : "") +
               "; every revision is kept");
  }

  void upload_key(const StoreObject& o, const std::vector<std::string_view>& rest,
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
      u.startedat = &o;
    }
  }

  // ---- reads ----

  LinkRead read_link_object(const StoreObject& o) {
    LinkRead r;
    r.exists = true;
    r.mtime = o.mtime_ns / 1000000000;
    r.mtime_ts = to_timespec(o.mtime_ns);
    auto text = m_read(o.key, k_link_max);
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

  // Takes a link from its key when its size is a link's; reads it otherwise, or when
  // `always`.
  void take_link(PendingLink& l, bool unverified_ok, bool always) {
    const StoreObject& o = *l.object;
    if (!always && !l.upper_case && static_cast<std::int64_t>(o.size) == k_link_size) {
      l.read.exists = true;
      l.read.digest = l.named;
      l.read.unverified = unverified_ok;
      l.read.mtime = o.mtime_ns / 1000000000;
      l.read.mtime_ts = to_timespec(o.mtime_ns);
      return;
    }
    l.read = read_link_object(o);
  }

  void read_all() {
    std::vector<std::function<void()>> jobs;
    for (auto& [name, p] : m_repos) {
      for (PendingLink& l : p.revisions) {
        jobs.emplace_back([this, &l] { take_link(l, false, m_full); });
      }
      for (PendingLink& l : p.layers) {
        jobs.emplace_back([this, &l] { take_link(l, false, m_full); });
      }
      for (auto& [tag, t] : p.tags) {
        if (t.current != nullptr) {
          jobs.emplace_back([this, &t] { t.current_read = read_link_object(*t.current); });
        }
        for (PendingLink& l : t.history) {
          jobs.emplace_back([this, &l] { take_link(l, false, m_full); });
        }
      }
      for (auto& [id, u] : p.uploads) {
        if (u.startedat != nullptr) {
          jobs.emplace_back([this, &u] {
            auto text = m_read(u.startedat->key, 256);
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

  std::vector<Link> links_of(const Inventory& inv, Repository& repo,
                             std::vector<PendingLink>& pending, LinkDir where) {
    std::vector<Link> out;
    out.reserve(pending.size());
    std::mutex owner_mutex;
    for (PendingLink& l : pending) {
      Link link;
      link.mtime =
          static_cast<std::uint32_t>(std::clamp<std::int64_t>(l.read.mtime, 0, UINT32_MAX));
      seen(*l.object);
      const std::string& key = l.object->key;
      record_read(
          l.read, l.named, where, link, repo, owner_mutex, [&] { return key; },
          [&](FindingKind kind, std::string message) {
            m_findings.push_back(
                Finding{kind, Severity::error, key, repo.name, std::move(message)});
          });
      if (l.upper_case) {
        link.set_problem();
        m_findings.push_back(
            Finding{FindingKind::unknown_entry, Severity::error, layout::parent(key), repo.name,
                    "'" + layout::parent(key) + "' is not a link directory; kept"});
      }
      link.ref = ref_of(inv, repo, l.named);
      out.push_back(link);
    }
    std::sort(out.begin(), out.end(), [](const Link& a, const Link& b) { return a.ref < b.ref; });
    return out;
  }

  Tag tag_of(const Inventory& inv, Repository& repo, const std::string& name, PendingTag& t) {
    Tag tag;
    tag.name = name;
    tag.history = links_of(inv, repo, t.history, LinkDir::tag_history);
    std::string tdir = layout::tag_dir(repo.name, name);
    if (t.current == nullptr) {
      m_findings.push_back(
          Finding{FindingKind::malformed_link, Severity::warning, tdir, repo.name,
                  "tag directory '" + tdir + "' has no current link; the tag does not resolve"});
      return tag;
    }
    const LinkRead& r = t.current_read;
    tag.has_current = true;
    tag.current = r.digest;
    tag.current_mtime = r.mtime;
    tag.current_mtime_ns = t.current->mtime_ns;
    seen(*t.current);
    if (!r.problem.empty()) {
      tag.current_problem = true;
      repo.tags_uncertain = true;
      m_findings.push_back(
          Finding{r.kind, Severity::error, t.current->key, repo.name,
                  "link '" + t.current->key + "' " + r.problem + "; every revision is kept"});
    }
    return tag;
  }

  Repository assemble(const Inventory& inv, PendingRepo& p) {
    Repository repo = std::move(p.repo);
    repo.revisions = links_of(inv, repo, p.revisions, LinkDir::revisions);
    repo.layers = links_of(inv, repo, p.layers, LinkDir::layers);
    for (auto& [name, t] : p.tags) {
      repo.tags.push_back(tag_of(inv, repo, name, t));
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

  const std::vector<StoreObject>& m_objects;  // sorted by key
  const ObjectReader& m_read;
  bool m_full;
  std::set<std::string> m_shadowed;
  std::set<std::string> m_reported;
  std::vector<Finding> m_findings;
  std::vector<Blob> m_blobs;
  std::vector<Digest> m_unknown_blobs;
  std::map<std::string, PendingRepo> m_repos;
  bool m_keep_all = false;
  std::int64_t m_newest = 0;
  std::string m_newest_path;
};

}  // namespace

Inventory inventory_from_listing(const std::vector<StoreObject>& objects, const ObjectReader& read,
                                 tbb::task_arena& arena, const ScanOptions& options,
                                 std::int64_t scan_started_ns) {
  assert(std::is_sorted(objects.begin(), objects.end(),
                        [](const StoreObject& a, const StoreObject& b) { return a.key < b.key; }));
  ListingScan scan(objects, read, options);
  return scan.run(arena, scan_started_ns);
}

}  // namespace regsweep
