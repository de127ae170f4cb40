#pragma once

// A store that goes wrong where a test says, the way LevelDB's tests go through a faulty
// `Env`: every call is the wrapped store's, except that
// * read() of a key in `read_errors` fails with that errno, and of a key in `short_reads`
//   gives only the first half of the object;
// * the remover fails the removal of a path in `delete_errors` with that errno, removing
//   nothing of it;
// * `before_sweep` runs when a remover is made: a change between the scan and the sweep.
// Unlike chmod, none of it needs root. It reaches what goes through the Store: reads of
// manifests, links and configs, and every deletion; a filesystem scan's own directory
// reads are below it (tests/e2e/faults_e2e.sh injects those through FUSE).

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "regsweep/sweep.hpp"
#include "temp_registry.hpp"

namespace regsweep::test {

class FaultStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  std::map<std::string, int, std::less<>> read_errors;
  std::set<std::string, std::less<>> short_reads;
  std::map<std::string, int, std::less<>> delete_errors;
  std::function<void()> before_sweep;

  Result<std::string> read(std::string_view key, std::uint64_t max) override {
    if (auto it = read_errors.find(key); it != read_errors.end()) {
      return Error{"cannot read '" + std::string(key) + "': " + std::strerror(it->second),
                   it->second};
    }
    auto bytes = ForwardingStore::read(key, max);
    if (bytes && short_reads.count(key) != 0) {
      bytes->resize(bytes->size() / 2);
    }
    return bytes;
  }

  std::unique_ptr<Remover> remover() override {
    if (before_sweep) {
      before_sweep();
    }
    return std::make_unique<FaultyRemover>(ForwardingStore::remover(), delete_errors);
  }

 private:
  class FaultyRemover final : public Remover {
   public:
    FaultyRemover(std::unique_ptr<Remover> inner,
                  const std::map<std::string, int, std::less<>>& errors)
        : m_inner(std::move(inner)), m_errors(errors) {}
    Status remove_tree(std::string_view path) override {
      if (auto e = fault(path)) {
        return *e;
      }
      return m_inner->remove_tree(path);
    }
    Status remove_empty_tree(std::string_view path) override {
      if (auto e = fault(path)) {
        return *e;
      }
      return m_inner->remove_empty_tree(path);
    }
    std::vector<Status> remove_batch(const std::vector<std::string>& paths) override {
      std::vector<Status> out;
      out.reserve(paths.size());
      for (const std::string& p : paths) {
        out.push_back(remove_tree(p));
      }
      return out;
    }
    Status move_aside(std::string_view path, std::string_view to) override {
      if (auto e = fault(path)) {
        return *e;
      }
      return m_inner->move_aside(path, to);
    }
    Result<bool> remove_if_empty(std::string_view path) override {
      if (auto e = fault(path)) {
        return *e;
      }
      return m_inner->remove_if_empty(path);
    }
    Status barrier() override { return m_inner->barrier(); }

   private:
    std::optional<Error> fault(std::string_view path) const {
      auto it = m_errors.find(path);
      if (it == m_errors.end()) {
        return std::nullopt;
      }
      return Error{"cannot remove '" + std::string(path) + "': " + std::strerror(it->second),
                   it->second};
    }
    std::unique_ptr<Remover> m_inner;
    const std::map<std::string, int, std::less<>>& m_errors;
  };
};

}  // namespace regsweep::test
