// The filesystem store's remover: every deletion and move below an open
// docker/registry/v2, one path component at a time, never following a symbolic link nor
// crossing a mount point (fs.hpp).

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "store/fs/remover.hpp"

namespace regsweep {

namespace {

// Every path swept must lie inside blobs/ or repositories/ of the tree: relative, no empty,
// '.' or '..' component. (Symbolic links are refused component by component in fs.)
Status contained(std::string_view path) {
  if (!layout::is_contained(path)) {
    return Error{"refusing to delete '" + std::string(path) + "': not inside the registry tree",
                 EPERM};
  }
  return ok_status();
}

class TreeRemover final : public Remover {
 public:
  explicit TreeRemover(int v2_fd) : m_fd(v2_fd) {}
  Status remove_tree(std::string_view path) override {
    if (Status s = contained(path); !s) {
      return s;
    }
    return fs::remove_tree(m_fd, path);
  }
  Status remove_empty_tree(std::string_view path) override {
    if (Status s = contained(path); !s) {
      return s;
    }
    return fs::remove_tree(m_fd, path, fs::Contents::directories_only);
  }
  Result<bool> remove_if_empty(std::string_view path) override {
    if (Status s = contained(path); !s) {
      return s.error();
    }
    return fs::remove_if_empty(m_fd, path);
  }
  Status barrier() override { return fs::sync_filesystem(m_fd); }
  Status move_aside(std::string_view path, std::string_view to) override {
    std::string_view name = layout::base_name(to);
    auto what = layout::classify(path);
    if (Status s = contained(path); !s) {
      return s;
    }
    if (layout::parent(to) != layout::k_lost_found || name.empty() || name == "." || name == ".." ||
        !what || what->kind != layout::PathKind::blob_dir) {
      return Error{"refusing to move '" + std::string(path) + "' to '" + std::string(to) +
                       "': only a blob moves, and only into lost+found",
                   EPERM};
    }
    if (::mkdirat(m_fd, std::string(layout::k_lost_found).c_str(), 0700) != 0 && errno != EEXIST) {
      return fs::sys_error("create directory", layout::k_lost_found, errno);
    }
    auto from_dir = fs::open_dir(m_fd, layout::parent(path));
    if (!from_dir) {
      return from_dir.error();
    }
    auto to_dir = fs::open_dir(m_fd, layout::k_lost_found);
    if (!to_dir) {
      return to_dir.error();
    }
    std::string from(layout::base_name(path));
    if (::renameat2(from_dir->get(), from.c_str(), to_dir->get(), std::string(name).c_str(),
                    RENAME_NOREPLACE) != 0) {
      return fs::sys_error("move", path, errno);
    }
    return ok_status();
  }

 private:
  int m_fd;
};

}  // namespace

std::unique_ptr<Remover> make_tree_remover(int v2_fd) {
  return std::make_unique<TreeRemover>(v2_fd);
}

}  // namespace regsweep
