// An object store's quarantine (quarantine.hpp): server-side copies into
// docker/registry/quarantine/<run-id>/, checked by a direct look before anything is deleted.

#include "store/object/quarantine.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "regsweep/digest.hpp"
#include "regsweep/layout.hpp"

namespace regsweep::object {

namespace {

constexpr std::uint64_t k_max_part = 1ULL << 30U;  // a multipart copy's parts: at most 1 GiB
constexpr std::uint64_t k_max_parts = 10000;       // S3's limit, and Azure's (50,000) is more

Status copy_parts(Bucket& from, std::string_view source, Bucket& to, std::string_view key,
                  std::uint64_t size) {
  std::uint64_t part = std::min(to.max_copy(), k_max_part);
  part = std::max(part, (size + k_max_parts - 1) / k_max_parts);
  auto id = to.start_multipart(key);
  if (!id) {
    return id.error();
  }
  Multipart upload{std::string(key), *id, 0};
  std::vector<std::string> tags;
  const std::string full = from.full_key(source);
  for (std::uint64_t first = 0; first < size; first += part) {
    auto tag = to.copy_part(upload, static_cast<int>(tags.size() + 1), full, first,
                            std::min(size, first + part) - 1);
    if (!tag) {
      (void)to.abort_multipart(upload);
      return tag.error();
    }
    tags.push_back(std::move(*tag));
  }
  if (Status s = to.complete_multipart(upload, tags); !s) {
    (void)to.abort_multipart(upload);
    return s;
  }
  return ok_status();
}

// Whether the objects `a` of `in_a` and `b` of `in_b` hold the same bytes.
Result<bool> same_bytes(Bucket& in_a, std::string_view a, Bucket& in_b, std::string_view b) {
  auto da = sha256_of_stream([&](const ChunkSink& sink) { return in_a.get_stream(a, sink); });
  if (!da) {
    return da.error();
  }
  auto db = sha256_of_stream([&](const ChunkSink& sink) { return in_b.get_stream(b, sink); });
  if (!db) {
    return db.error();
  }
  return *da == *db;
}

class ObjectQuarantine final : public QuarantineArea {
 public:
  ObjectQuarantine(Bucket& tree, MakeMover make_mover)
      : m_tree(tree), m_area(tree.beside(k_quarantine_dir)), m_make_mover(std::move(make_mover)) {}

  std::string where() const override {
    std::string shown = m_area->shown("");
    return shown.empty() || shown.back() != '/' ? shown : shown.substr(0, shown.size() - 1);
  }

  // A bucket has nothing to make, and no filesystem to cross.
  Status create(std::string_view /*id*/) override { return ok_status(); }

  std::unique_ptr<Remover> mover(std::string_view id) override {
    std::string run = std::string(id) + "/";
    return m_make_mover([this, run](const std::vector<std::string>& keys) {
      std::vector<Status> out(keys.size(), ok_status());
      tbb::parallel_for(std::size_t{0}, keys.size(),
                        [&](std::size_t i) { out[i] = keep(keys[i], run + keys[i]); });
      return out;
    });
  }

  Status write_journal(std::string_view id, std::string_view text) override {
    if (!is_run_id(id)) {
      return not_a_run(id);
    }
    return m_area->put(std::string(id) + "/" + std::string(k_journal_file), text);
  }

  Result<std::string> read_journal(std::string_view id) override {
    if (!is_run_id(id)) {
      return not_a_run(id);
    }
    return m_area->get(std::string(id) + "/" + std::string(k_journal_file), 64U << 20U);
  }

  Result<std::vector<std::string>> runs() override {
    std::vector<std::string> out;
    Status listed = m_area->list("", ListDepth::one_level, [&](Page& page) {
      for (std::string& p : page.prefixes) {
        std::string id = p.substr(0, p.size() - (p.empty() || p.back() != '/' ? 0 : 1));
        if (is_run_id(id)) {
          out.push_back(std::move(id));
        }
      }
    });
    if (!listed) {
      return listed.error();
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  Status objects(std::string_view id,
                 const std::function<void(const StoreObject&)>& visit) override {
    if (!is_run_id(id)) {
      return not_a_run(id);
    }
    const std::string run = std::string(id) + "/";
    return m_area->list(run, ListDepth::tree, [&](Page& page) {
      for (StoreObject& o : page.objects) {
        std::string_view key = std::string_view(o.key).substr(run.size());
        if (key != k_journal_file) {
          visit(StoreObject{std::string(key), o.size, o.mtime_ns});
        }
      }
    });
  }

  Result<PutBack> put_back(std::string_view id, std::string_view path) override {
    if (!layout::is_contained(path) || !is_run_id(id)) {
      return Error{"refusing to restore '" + std::string(path) + "': not inside the registry tree",
                   EPERM};
    }
    const std::string from = std::string(id) + "/" + std::string(path);
    auto standing = m_tree.head(path);
    if (standing) {
      auto same = same_bytes(*m_area, from, m_tree, path);
      if (!same) {
        return same.error();
      }
      return *same ? PutBack::identical : PutBack::differs;
    }
    if (standing.error().sys_errno != ENOENT) {
      return standing.error();
    }
    auto kept = m_area->head(from);
    if (!kept) {
      return kept.error();
    }
    if (Status s = copy_object(*m_area, from, m_tree, path, kept->size); !s) {
      return s.error();
    }
    if (Status s = m_area->remove(from); !s) {
      return s.error();
    }
    return PutBack::restored;
  }

  Status purge(std::string_view id) override {
    if (!is_run_id(id)) {
      return not_a_run(id);
    }
    const std::string run = std::string(id) + "/";
    std::vector<std::string> keys;
    Status listed = m_area->list(run, ListDepth::tree, [&](Page& page) {
      for (StoreObject& o : page.objects) {
        keys.push_back(std::move(o.key));
      }
    });
    if (!listed) {
      return listed;
    }
    // A copy cut short leaves an incomplete multipart upload: it goes too.
    auto uploads = m_area->list_multipart(run);
    if (!uploads) {
      return uploads.error();
    }
    for (const Multipart& m : *uploads) {
      if (Status s = m_area->abort_multipart(m); !s) {
        return s;
      }
    }
    for (std::size_t at = 0; at < keys.size(); at += m_area->max_batch()) {
      std::vector<std::string> chunk(keys.begin() + static_cast<std::ptrdiff_t>(at),
                                     keys.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                        keys.size(), at + m_area->max_batch())));
      auto failed = m_area->remove_batch(chunk);
      if (!failed) {
        return failed.error();
      }
      if (!failed->empty()) {
        const DeleteFailure& f = failed->front();
        return Error{"cannot delete '" + m_area->shown(f.key) + "': " + f.code +
                         (f.message.empty() ? "" : ": " + f.message),
                     EIO};
      }
    }
    return ok_status();
  }

 private:
  // Copies the tree's `key` to the area's `to`; nothing to keep when it is gone already.
  Status keep(const std::string& key, const std::string& to) {
    auto there = m_tree.head(key);
    if (!there) {
      return there.error().sys_errno == ENOENT ? ok_status() : Status(there.error());
    }
    return copy_object(m_tree, key, *m_area, to, there->size);
  }
  Error not_a_run(std::string_view id) const {
    return Error{"'" + std::string(id) + "' is not a quarantine run", EINVAL};
  }

  Bucket& m_tree;
  std::unique_ptr<Bucket> m_area;
  MakeMover m_make_mover;
};

}  // namespace

Status copy_object(Bucket& from, std::string_view source, Bucket& to, std::string_view key,
                   std::uint64_t size) {
  Status copied = size <= to.max_copy() ? to.copy(from.full_key(source), key)
                                        : copy_parts(from, source, to, key, size);
  if (!copied) {
    return copied;
  }
  auto made = to.head(key);
  if (!made) {
    return Error{"cannot check the copy of '" + from.shown(source) + "': " + made.error().message,
                 made.error().sys_errno == ENOENT ? EIO : made.error().sys_errno};
  }
  if (made->size != size) {
    return Error{"the copy of '" + from.shown(source) + "' at '" + to.shown(key) + "' holds " +
                     std::to_string(made->size) + " bytes, not " + std::to_string(size),
                 EIO};
  }
  return ok_status();
}

std::unique_ptr<QuarantineArea> make_object_quarantine(Bucket& tree, MakeMover make_mover) {
  return std::make_unique<ObjectQuarantine>(tree, std::move(make_mover));
}

}  // namespace regsweep::object
