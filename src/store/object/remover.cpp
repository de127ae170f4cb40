// An object store's remover (remover.hpp): a path's keys, deleted in batches.

#include "store/object/remover.hpp"

#include <algorithm>
#include <cerrno>

#include "regsweep/layout.hpp"

namespace regsweep::object {

namespace {

class ObjectRemover final : public Remover {
 public:
  ObjectRemover(Bucket& bucket, const ScannedKeys& scanned, const std::vector<Multipart>& multipart,
                DeletedKeys* deleted, KeepFirst keep)
      : m_bucket(bucket),
        m_scanned(scanned),
        m_multipart(multipart),
        m_deleted(deleted),
        m_keep(std::move(keep)) {}

  Status remove_tree(std::string_view path) override {
    return remove_batch({std::string(path)})[0];
  }

  std::size_t batch_size() const override { return m_bucket.max_batch(); }

  std::vector<Status> remove_batch(const std::vector<std::string>& paths) override {
    // Each path's keys, deleted in requests of up to max_batch() keys.
    std::vector<std::string> keys;
    std::vector<std::size_t> owner;  // the path each key belongs to
    std::vector<Status> out(paths.size(), ok_status());
    for (std::size_t i = 0; i < paths.size(); ++i) {
      if (Status s = keys_of(paths[i], i, keys, owner); !s) {
        out[i] = s.error();
      }
    }
    keep_first(keys, owner, out);
    abort_multipart(paths, out);
    const std::size_t batch = m_bucket.max_batch();
    std::vector<std::string> chunk;
    for (std::size_t at = 0; at < keys.size(); at += batch) {
      std::size_t end = std::min(keys.size(), at + batch);
      chunk.assign(keys.begin() + static_cast<std::ptrdiff_t>(at),
                   keys.begin() + static_cast<std::ptrdiff_t>(end));
      // Only what was not written since the scan began, where the store can tell.
      auto failed = m_scanned.began() > 0
                        ? m_bucket.remove_batch_unmodified(chunk, m_scanned.began())
                        : m_bucket.remove_batch(chunk);
      if (!failed) {
        for (std::size_t k = at; k < end; ++k) {
          if (out[owner[k]]) {
            out[owner[k]] = failed.error();
          }
        }
        continue;
      }
      if (m_deleted != nullptr) {
        m_deleted->add(chunk, *failed);
      }
      for (const DeleteFailure& f : *failed) {
        auto pos = std::find(chunk.begin(), chunk.end(), f.key);
        if (pos == chunk.end()) {
          continue;
        }
        std::size_t k = at + static_cast<std::size_t>(pos - chunk.begin());
        if (out[owner[k]]) {
          out[owner[k]] = Error{
              "cannot delete '" + m_bucket.shown(f.key) + "': " + f.code +
                  (f.message.empty() ? "" : ": " + f.message) +
                  (f.code == k_changed_since ? " (it was written after the scan began: it is left)"
                                             : ""),
              EIO};
        }
      }
    }
    return out;
  }

  // A blob's or a link's directory holds one key, the layout's: the scan planned its removal
  // only if it held that key and no other. Anything else (a repository, an upload, a tag) is
  // listed now, and of its keys only those the scan listed, unchanged, are deleted: one
  // written since is left, and the path reported, as a file written into a directory being
  // removed makes the removal fail on disk.
  Status keys_of(const std::string& path, std::size_t owner_index, std::vector<std::string>& keys,
                 std::vector<std::size_t>& owner) {
    if (auto only = layout::single_key_of(path)) {
      keys.push_back(std::move(*only));
      owner.push_back(owner_index);
      return ok_status();
    }
    std::string left;
    Status listed = m_bucket.list(path + "/", ListDepth::tree, [&](Page& page) {
      for (StoreObject& o : page.objects) {
        if (!m_scanned.listed(o)) {
          left = o.key;
          continue;
        }
        keys.push_back(std::move(o.key));
        owner.push_back(owner_index);
      }
    });
    if (!listed || left.empty()) {
      return listed;
    }
    return Error{"'" + m_bucket.shown(left) + "' was written after the scan; it is left, and '" +
                     path + "' with it",
                 EEXIST};
  }

  // Keeps each key first, when asked to. A path with a key not kept, or already failed,
  // loses none of its keys.
  void keep_first(std::vector<std::string>& keys, std::vector<std::size_t>& owner,
                  std::vector<Status>& out) {
    if (!m_keep) {
      return;
    }
    auto drop_failed = [&] {
      std::size_t to = 0;
      for (std::size_t k = 0; k < keys.size(); ++k) {
        if (out[owner[k]]) {
          if (to != k) {  // a string moved onto itself is left empty
            keys[to] = std::move(keys[k]);
            owner[to] = owner[k];
          }
          ++to;
        }
      }
      keys.resize(to);
      owner.resize(to);
    };
    drop_failed();
    std::vector<Status> kept = keys.empty() ? std::vector<Status>{} : m_keep(keys);
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if ((k >= kept.size() || !kept[k]) && out[owner[k]]) {
        out[owner[k]] =
            k < kept.size() ? kept[k].error() : Error{"'" + keys[k] + "' was not kept", EIO};
      }
    }
    drop_failed();
  }

  Status move_aside(std::string_view path, std::string_view /*to*/) override {
    return Error{"cannot move '" + std::string(path) +
                     "' aside: moving blobs to lost+found is not done on object storage",
                 ENOTSUP};
  }

  // Multipart uploads below the paths (an upload's `data` being written) are aborted, but
  // not below a path that failed, which is kept whole.
  void abort_multipart(const std::vector<std::string>& paths, std::vector<Status>& out) {
    for (std::size_t i = 0; i < paths.size(); ++i) {
      if (!out[i]) {
        continue;
      }
      std::string dir = paths[i] + "/";
      for (const Multipart& m : m_multipart) {
        if (m.key.compare(0, dir.size(), dir) != 0) {
          continue;
        }
        if (Status s = m_bucket.abort_multipart(m); !s && out[i]) {
          out[i] = s.error();
        }
      }
    }
  }

  // An object store has no directories: nothing is left to remove.
  Result<bool> remove_if_empty(std::string_view /*path*/) override { return false; }
  // A deletion the store acknowledged is durable: nothing to wait for.
  Status barrier() override { return ok_status(); }

 private:
  Bucket& m_bucket;
  const ScannedKeys& m_scanned;
  const std::vector<Multipart>& m_multipart;
  DeletedKeys* m_deleted;
  KeepFirst m_keep;
};

}  // namespace

std::unique_ptr<Remover> make_remover(Bucket& bucket, const ScannedKeys& scanned,
                                      const std::vector<Multipart>& multipart, DeletedKeys* deleted,
                                      KeepFirst keep) {
  return std::make_unique<ObjectRemover>(bucket, scanned, multipart, deleted, std::move(keep));
}

}  // namespace regsweep::object
