// The filesystem store's quarantine (quarantine.hpp): docker/registry/quarantine/<run-id>/,
// beside v2 on the same filesystem, filled and emptied by rename(2), which moves a file or a
// whole directory at once and never copies. Nothing is replaced: renameat2 RENAME_NOREPLACE.

#include "store/fs/quarantine.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <vector>

#include "regsweep/fs.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/sweep.hpp"
#include "store/fs/remover.hpp"

namespace regsweep {

namespace {

constexpr std::string_view k_area = k_quarantine_dir;
constexpr std::string_view k_journal = k_journal_file;
constexpr std::string_view k_journal_tmp = "journal.json.tmp";
constexpr int k_max_depth = 32;

// Opens `relpath` below `base` as a directory, creating each missing component; a component
// created takes the owner of the directory it is made in (a tree a registry user owns stays
// its own when root restores into it). One open when it is all there already.
Result<fs::Fd> make_dirs(int base, std::string_view relpath, std::string_view shown) {
  if (auto there = fs::open_dir(base, relpath); there || there.error().sys_errno != ENOENT) {
    return there;
  }
  auto at = fs::open_dir(base, "");
  if (!at) {
    return at.error();
  }
  fs::Fd current = std::move(*at);
  std::size_t pos = 0;
  while (pos < relpath.size()) {
    std::size_t slash = std::min(relpath.find('/', pos), relpath.size());
    std::string comp(relpath.substr(pos, slash - pos));
    pos = slash + 1;
    if (comp.empty()) {
      continue;
    }
    if (::mkdirat(current.get(), comp.c_str(), 0755) == 0) {
      struct stat parent {};
      if (::fstat(current.get(), &parent) == 0 &&
          ::fchownat(current.get(), comp.c_str(), parent.st_uid, parent.st_gid,
                     AT_SYMLINK_NOFOLLOW) != 0 &&
          errno != EPERM) {
        return fs::sys_error("set the owner of", std::string(shown) + "/" + comp, errno);
      }
    } else if (errno != EEXIST) {
      return fs::sys_error("create directory", std::string(shown) + "/" + comp, errno);
    }
    auto next = fs::open_dir(current.get(), comp);
    if (!next) {
      return next.error();
    }
    current = std::move(*next);
  }
  return current;
}

// Whether the regular files `a` (in `dir_a`) and `b` hold the same bytes.
Result<bool> same_bytes(int dir_a, const std::string& a, int dir_b, const std::string& b,
                        std::string_view shown) {
  int fa = ::openat(dir_a, a.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fa < 0) {
    return fs::sys_error("open", shown, errno);
  }
  fs::Fd file_a(fa);
  int fb = ::openat(dir_b, b.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fb < 0) {
    return false;  // a directory, a link or something unreadable stands there: not the same
  }
  fs::Fd file_b(fb);
  struct stat sa {};
  struct stat sb {};
  if (::fstat(fa, &sa) != 0 || ::fstat(fb, &sb) != 0 || !S_ISREG(sa.st_mode) ||
      !S_ISREG(sb.st_mode) || sa.st_size != sb.st_size) {
    return false;
  }
  std::vector<char> ba(1U << 20U);
  std::vector<char> bb(1U << 20U);
  while (true) {
    auto na = fs::read_fully(fa, ba.data(), ba.size(), shown);
    auto nb = fs::read_fully(fb, bb.data(), bb.size(), shown);
    if (!na || !nb) {
      return na ? nb.error() : na.error();
    }
    if (*na != *nb || !std::equal(ba.begin(), ba.begin() + static_cast<long>(*na), bb.begin())) {
      return false;
    }
    if (*na < ba.size()) {
      return true;
    }
  }
}

// Moves the entry `name` of `from` to `to`, replacing nothing; a directory that already
// stands at the destination receives what the moved one holds, entry by entry.
Status move_into(int from, const std::string& name, int to, std::string_view shown, int depth) {
  if (::renameat2(from, name.c_str(), to, name.c_str(), RENAME_NOREPLACE) == 0) {
    return ok_status();
  }
  int err = errno;
  if (err == ENOENT) {
    struct stat st {};
    if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
      return ok_status();  // already gone: nothing to keep
    }
  }
  if (err != EEXIST || depth > k_max_depth) {
    return fs::sys_error("move", shown, err);
  }
  auto src = fs::open_dir(from, name);
  auto dst = fs::open_dir(to, name);
  if (!src || !dst) {
    return fs::sys_error("move", shown, EEXIST);  // a file stands there: kept
  }
  auto entries = fs::list_dir(src->get(), shown);
  if (!entries) {
    return entries.error();
  }
  for (const fs::DirEntry& e : *entries) {
    if (Status s =
            move_into(src->get(), e.name, dst->get(), std::string(shown) + "/" + e.name, depth + 1);
        !s) {
      return s;
    }
  }
  if (::unlinkat(from, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return fs::sys_error("remove directory", shown, errno);
  }
  return ok_status();
}

// Moves what a sweep would delete into the run, at the same paths.
class Mover final : public Remover {
 public:
  Mover(int v2_fd, int run_fd, std::string shown_run)
      : m_v2(v2_fd),
        m_run(run_fd),
        m_shown(std::move(shown_run)),
        m_tree(make_tree_remover(v2_fd)) {}

  Status remove_tree(std::string_view path) override {
    if (!layout::is_contained(path)) {
      return Error{"refusing to move '" + std::string(path) + "': not inside the registry tree",
                   EPERM};
    }
    auto from = fs::open_dir(m_v2, layout::parent(path));
    if (!from) {
      if (from.error().sys_errno == ENOENT) {
        return ok_status();  // its directory is gone, and it with it
      }
      return from.error();
    }
    auto to = make_dirs(m_run, layout::parent(path), m_shown);
    if (!to) {
      return to.error();
    }
    return move_into(from->get(), std::string(layout::base_name(path)), to->get(), path, 0);
  }
  Status remove_empty_tree(std::string_view path) override {
    return m_tree->remove_empty_tree(path);
  }
  Status move_aside(std::string_view path, std::string_view to) override {
    return m_tree->move_aside(path, to);
  }
  Result<bool> remove_if_empty(std::string_view path) override {
    return m_tree->remove_if_empty(path);
  }
  Status barrier() override { return m_tree->barrier(); }

 private:
  int m_v2;
  int m_run;
  std::string m_shown;
  std::unique_ptr<Remover> m_tree;
};

class FsQuarantine final : public QuarantineArea {
 public:
  FsQuarantine(int v2_fd, std::string root) : m_v2(v2_fd), m_root(std::move(root)) {}

  std::string where() const override { return m_root + "/docker/registry/" + std::string(k_area); }

  Status create(std::string_view id) override {
    auto area = area_dir(true);
    if (!area) {
      return area.error();
    }
    if (::mkdirat(area->get(), std::string(id).c_str(), 0700) != 0) {
      return fs::sys_error("create directory", where() + "/" + std::string(id), errno);
    }
    auto run = fs::open_dir(area->get(), id);
    if (!run) {
      return run.error();
    }
    struct stat q {};
    if (::fstat(run->get(), &q) != 0) {
      return fs::sys_error("stat", where(), errno);
    }
    for (std::string_view dir :
         {std::string_view(), std::string_view("blobs"), std::string_view("blobs/sha256"),
          std::string_view("repositories")}) {
      auto d = fs::open_dir(m_v2, dir);
      struct stat st {};
      if (!d || ::fstat(d->get(), &st) != 0) {
        continue;  // not there: nothing below it to move
      }
      if (st.st_dev != q.st_dev) {
        (void)::unlinkat(area->get(), std::string(id).c_str(), AT_REMOVEDIR);
        return Error{"cannot quarantine into '" + where() + "': 'docker/registry/v2/" +
                         std::string(dir) +
                         "' is on another filesystem, and a rename cannot cross filesystems; "
                         "nothing was moved. Run without --quarantine, or keep the tree on one "
                         "filesystem",
                     EXDEV};
      }
    }
    m_runs[std::string(id)] = std::move(*run);
    return ok_status();
  }

  std::unique_ptr<Remover> mover(std::string_view id) override {
    auto it = m_runs.find(std::string(id));
    if (it == m_runs.end()) {
      return nullptr;
    }
    return std::make_unique<Mover>(m_v2, it->second.get(), where() + "/" + std::string(id));
  }

  Status write_journal(std::string_view id, std::string_view text) override {
    auto run = run_dir(id);
    if (!run) {
      return run.error();
    }
    // Every move made so far is durable before the journal says anything of it.
    if (::syncfs(run->get()) != 0) {
      return fs::sys_error("sync", where(), errno);
    }
    std::string shown = where() + "/" + std::string(id) + "/" + std::string(k_journal);
    int fd = ::openat(run->get(), std::string(k_journal_tmp).c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      return fs::sys_error("write", shown, errno);
    }
    fs::Fd file(fd);
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return fs::sys_error("write", shown, errno);
      }
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 ||
        ::renameat(run->get(), std::string(k_journal_tmp).c_str(), run->get(),
                   std::string(k_journal).c_str()) != 0 ||
        ::fsync(run->get()) != 0) {
      return fs::sys_error("write", shown, errno);
    }
    return ok_status();
  }

  Result<std::string> read_journal(std::string_view id) override {
    auto run = run_dir(id);
    if (!run) {
      return run.error();
    }
    return fs::read_file(run->get(), k_journal, 64U << 20U);
  }

  Result<std::vector<std::string>> runs() override {
    auto area = area_dir(false);
    if (!area) {
      if (area.error().sys_errno == ENOENT) {
        return std::vector<std::string>{};
      }
      return area.error();
    }
    auto entries = fs::list_dir(area->get(), where());
    if (!entries) {
      return entries.error();
    }
    std::vector<std::string> out;
    for (const fs::DirEntry& e : *entries) {
      if (e.type == fs::EntryType::directory && is_run_id(e.name)) {
        out.push_back(e.name);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Status objects(std::string_view id,
                 const std::function<void(const StoreObject&)>& visit) override {
    auto run = run_dir(id);
    if (!run) {
      return run.error();
    }
    return walk(run->get(), "", visit, 0);
  }

  Result<PutBack> put_back(std::string_view id, std::string_view path) override {
    if (!layout::is_contained(path)) {
      return Error{"refusing to restore '" + std::string(path) + "': not inside the registry tree",
                   EPERM};
    }
    auto run = run_dir(id);
    if (!run) {
      return run.error();
    }
    std::string shown = where() + "/" + std::string(id) + "/" + std::string(path);
    auto from = fs::open_dir(run->get(), layout::parent(path));
    if (!from) {
      return from.error();
    }
    auto to = make_dirs(m_v2, layout::parent(path), "docker/registry/v2");
    if (!to) {
      return to.error();
    }
    std::string name(layout::base_name(path));
    if (::renameat2(from->get(), name.c_str(), to->get(), name.c_str(), RENAME_NOREPLACE) == 0) {
      return PutBack::restored;
    }
    if (errno != EEXIST) {
      return fs::sys_error("restore", shown, errno);
    }
    auto same = same_bytes(from->get(), name, to->get(), name, shown);
    if (!same) {
      return same.error();
    }
    return *same ? PutBack::identical : PutBack::differs;
  }

  Status purge(std::string_view id) override {
    if (!is_run_id(id)) {
      return Error{"'" + std::string(id) + "' is not a quarantine run", EINVAL};
    }
    auto area = area_dir(false);
    if (!area) {
      return area.error();
    }
    return fs::remove_tree(area->get(), id);
  }

 private:
  // docker/registry/quarantine, created when `create`.
  Result<fs::Fd> area_dir(bool create) {
    int parent = ::openat(m_v2, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (parent < 0) {
      return fs::sys_error("open directory", m_root + "/docker/registry", errno);
    }
    fs::Fd registry(parent);
    if (create && ::mkdirat(parent, std::string(k_area).c_str(), 0700) != 0 && errno != EEXIST) {
      return fs::sys_error("create directory", where(), errno);
    }
    auto area = fs::open_dir(parent, k_area);
    if (!area) {
      return Error{area.error().message + " ('" + where() + "')", area.error().sys_errno};
    }
    return area;
  }
  Result<fs::Fd> run_dir(std::string_view id) {
    if (!is_run_id(id)) {
      return Error{"'" + std::string(id) + "' is not a quarantine run", EINVAL};
    }
    auto area = area_dir(false);
    if (!area) {
      return area.error();
    }
    auto run = fs::open_dir(area->get(), id);
    if (!run) {
      return Error{"no quarantine run '" + std::string(id) + "' in '" + where() + "'",
                   run.error().sys_errno};
    }
    return run;
  }
  Status walk(int dirfd, const std::string& path,
              const std::function<void(const StoreObject&)>& visit, int depth) {
    auto entries = fs::list_dir(dirfd, path.empty() ? where() : path);
    if (!entries) {
      return entries.error();
    }
    for (const fs::DirEntry& e : *entries) {
      if (path.empty() && (e.name == k_journal || e.name == k_journal_tmp)) {
        continue;
      }
      std::string child = path.empty() ? e.name : path + "/" + e.name;
      if (e.type == fs::EntryType::directory && depth < k_max_depth) {
        auto sub = fs::open_dir(dirfd, e.name);
        if (!sub) {
          return sub.error();
        }
        if (Status s = walk(sub->get(), child, visit, depth + 1); !s) {
          return s;
        }
        continue;
      }
      auto info = fs::stat(dirfd, e.name);
      if (!info || info->type != fs::EntryType::file) {
        return Error{"'" + where() + "/…/" + child + "' is not a regular file", EINVAL};
      }
      visit(StoreObject{
          child, info->size,
          static_cast<std::int64_t>(info->mtime.tv_sec) * 1000000000 + info->mtime.tv_nsec});
    }
    return ok_status();
  }

  int m_v2;
  std::string m_root;
  std::map<std::string, fs::Fd> m_runs;  // created by this run
};

}  // namespace

std::unique_ptr<QuarantineArea> make_fs_quarantine(int v2_fd, std::string root) {
  return std::make_unique<FsQuarantine>(v2_fd, std::move(root));
}

}  // namespace regsweep
