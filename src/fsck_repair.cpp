// fsck --repair: the repairs fsck planned, carried out by sweep() like any deletion, under
// the store's guard and, for a dangling link, a direct look that its blob is still absent.

#include <algorithm>
#include <map>
#include <set>

#include "fsck_repair.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/store.hpp"

namespace regsweep {

namespace {

// Rule 3 for repairs: a dangling link is removed only while the blob it names is still
// absent, looked at directly right before the removal (a push may have written it since the
// scan). One that is there now, or whose absence cannot be told, is kept, and why recorded.
class BlobsStillAbsent final : public SweepGuard {
 public:
  explicit BlobsStillAbsent(Store& store) : m_store(store) {}

  void before_phase(ActionKind next, const Plan& plan, const std::vector<std::uint8_t>& /*done*/,
                    std::vector<std::uint8_t>& skip) override {
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
      const Action& a = plan.actions[i];
      if (a.kind != next || a.reason != Reason::dangling_link || skip[i] != 0) {
        continue;
      }
      std::string data = layout::blob_data(a.digest);
      auto there = m_store.stat(data);
      Presence found = presence_of(there);
      if (found == Presence::absent) {
        continue;
      }
      skip[i] = 1;
      m_why[i] =
          found == Presence::present
              ? "kept: blob '" + data + "' exists now (written since the scan)"
              : "kept: whether blob '" + data + "' exists cannot be told: " + there.error().message;
      m_findings.push_back(Finding{FindingKind::changed_since_scan, Severity::error, a.path(),
                                   std::string(a.repository.view()),
                                   "link '" + a.path() + "' " + m_why[i]});
    }
  }

  std::vector<Finding> take_findings() override { return std::move(m_findings); }

  // Why the action at `i` was kept; empty when it was not.
  std::string why(std::size_t i) const {
    auto it = m_why.find(i);
    return it == m_why.end() ? std::string() : it->second;
  }

 private:
  Store& m_store;
  std::map<std::size_t, std::string> m_why;
  std::vector<Finding> m_findings;
};

// Why a repair was kept: a guard's reason, or else a failed deletion before it (sweep.hpp).
std::string kept_why(const std::string& why) {
  return why.empty() ? "kept: an earlier repair failed" : why;
}

}  // namespace

std::vector<Repair> repairs_of(const Plan& repairs, const SweepResult* swept,
                               const std::function<std::string(std::size_t)>& why) {
  std::vector<Repair> out;
  for (std::size_t i = 0; i < repairs.actions.size(); ++i) {
    Action a = repairs.actions[i];
    bool move = a.kind == ActionKind::quarantine;
    out.push_back(
        Repair{move ? RepairAction::move_to_lost_found : RepairAction::remove_dangling_link,
               a.path(), move ? layout::lost_found_entry(a.digest, repairs.made_at) : "",
               swept == nullptr    ? ""
               : swept->skipped(i) ? kept_why(why(i))
                                   : swept->error(i)});
  }
  std::sort(out.begin(), out.end(),
            [](const Repair& a, const Repair& b) { return a.path < b.path; });
  return out;
}

namespace {

// The guard of the repairs: the store's (what they depend on is as the scan saw it), then
// BlobsStillAbsent. Each repair either keeps gets a reason.
class RepairGuard final : public SweepGuard {
 public:
  RepairGuard(Store& store, std::unique_ptr<SweepGuard> stores)
      : m_stores(std::move(stores)), m_absent(store) {}

  void before_phase(ActionKind next, const Plan& plan, const std::vector<std::uint8_t>& done,
                    std::vector<std::uint8_t>& skip) override {
    if (m_stores) {
      std::vector<std::uint8_t> before = skip;
      m_stores->before_phase(next, plan, done, skip);
      for (std::size_t i = 0; i < skip.size(); ++i) {
        if (skip[i] != 0 && before[i] == 0) {
          m_changed.insert(i);
        }
      }
    }
    m_absent.before_phase(next, plan, done, skip);
  }

  std::vector<Finding> take_findings() override {
    std::vector<Finding> out = m_stores ? m_stores->take_findings() : std::vector<Finding>{};
    std::vector<Finding> absent = m_absent.take_findings();
    out.insert(out.end(), absent.begin(), absent.end());
    return out;
  }

  std::string why(std::size_t i) const {
    return m_changed.count(i) != 0 ? "kept: the tree changed since the scan" : m_absent.why(i);
  }

 private:
  std::unique_ptr<SweepGuard> m_stores;
  BlobsStillAbsent m_absent;
  std::set<std::size_t> m_changed;
};

}  // namespace

SweepResult apply_repairs(Store& store, FsckPlan& planned, std::unique_ptr<SweepGuard> store_guard,
                          tbb::task_arena& arena) {
  RepairGuard guard(store, std::move(store_guard));
  auto remover = store.remover();
  SweepResult swept = sweep(planned.repairs, *remover, arena, &guard);
  planned.report.repairs =
      repairs_of(planned.repairs, &swept, [&](std::size_t i) { return guard.why(i); });
  return swept;
}

}  // namespace regsweep
