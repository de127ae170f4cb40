// Plans reviewed before they run (reviewed_plan.hpp).

#include "regsweep/reviewed_plan.hpp"

#include <algorithm>
#include <cerrno>
#include <set>
#include <unordered_map>

#include <simdjson.h>

#include "regsweep/json_writer.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

namespace {

const Tag* find_tag(const Inventory& inventory, std::string_view repository, std::string_view tag) {
  const auto& repos = inventory.repositories;
  auto r = std::lower_bound(repos.begin(), repos.end(), repository,
                            [](const Repository& a, std::string_view n) { return a.name < n; });
  if (r == repos.end() || r->name != repository) {
    return nullptr;
  }
  auto t = std::lower_bound(r->tags.begin(), r->tags.end(), tag,
                            [](const Tag& a, std::string_view n) { return a.name < n; });
  return t != r->tags.end() && t->name == tag ? &*t : nullptr;
}

// One key for an action and its evidence: equal keys, the same decision on the same facts.
std::string key_of(const PlannedAction& a) {
  return a.kind + '\0' + a.path + '\0' + a.digest + '\0' + std::to_string(a.bytes) + '\0' + a.link +
         '\0' + std::to_string(a.mtime);
}

// Kinds whose not being done leaves nothing the plan deletes later referenced.
bool leaves_nothing(ActionKind kind) {
  return kind == ActionKind::blob || kind == ActionKind::upload || kind == ActionKind::tidy;
}

class ReviewedGuard final : public SweepGuard {
 public:
  ReviewedGuard(ReviewedSkips skips, std::unique_ptr<SweepGuard> inner)
      : m_skips(std::move(skips)), m_inner(std::move(inner)) {}
  void before_phase(ActionKind next, const Plan& plan, const std::vector<std::uint8_t>& done,
                    std::vector<std::uint8_t>& skip) override {
    for (std::size_t i = 0; i < skip.size() && i < m_skips.skip.size(); ++i) {
      skip[i] = skip[i] != 0 || m_skips.skip[i] != 0 ? 1 : 0;
    }
    if (m_inner) {
      m_inner->before_phase(next, plan, done, skip);
    }
  }
  std::vector<Finding> take_findings() override {
    std::vector<Finding> out = std::move(m_skips.findings);
    if (m_inner) {
      for (Finding& f : m_inner->take_findings()) {
        out.push_back(std::move(f));
      }
    }
    return out;
  }

 private:
  ReviewedSkips m_skips;
  std::unique_ptr<SweepGuard> m_inner;
};

}  // namespace

PlannedAction planned_action(const Action& action, const Inventory& inventory) {
  PlannedAction p{.kind = std::string(to_string(action.kind)),
                  .reason = std::string(to_string(action.reason)),
                  .path = action.path(),
                  .repository = std::string(action.repository.view()),
                  .digest = {},
                  .bytes = action.bytes,
                  .link = {},
                  .mtime = 0};
  switch (action.kind) {
    case ActionKind::blob:
    case ActionKind::quarantine:
      p.digest = action.digest.str();
      if (const Blob* b = find_blob(inventory, action.digest)) {
        p.mtime = b->mtime;
      }
      break;
    case ActionKind::revision:
    case ActionKind::layer_link:
    case ActionKind::tag_history:
      p.digest = action.digest.str();
      p.link = p.digest;  // a link is planned only when it names its own digest
      break;
    case ActionKind::tag:
      if (const Tag* t = find_tag(inventory, action.repository.view(), action.name.view())) {
        p.link = t->current ? t->current->str() : std::string();
        p.mtime = t->current_mtime_ns;
      }
      break;
    default:
      break;
  }
  return p;
}

std::string plan_file_json(const PlanFile& plan) {
  JsonWriter w;
  w.begin_object();
  w.key("schema").value(k_plan_schema);
  w.key("created").value(format_rfc3339(plan.created));
  w.key("location").value(plan.location);
  w.key("config");
  if (plan.config.empty()) {
    w.null();
  } else {
    w.begin_object().key("path").value(plan.config).key("sha256").value(plan.config_sha256);
    w.end_object();
  }
  w.key("directory").value(plan.directory);
  w.key("command").value(plan.command);
  w.key("arguments").begin_array();
  for (const std::string& a : plan.arguments) {
    w.value(a);
  }
  w.end_array();
  w.key("command_line").value(plan.command_line);
  w.key("actions").begin_array();
  for (const PlannedAction& a : plan.actions) {
    w.begin_object().key("kind").value(a.kind).key("reason").value(a.reason);
    w.key("path").value(a.path).key("repository").value(a.repository);
    w.key("digest").value(a.digest).key("bytes").value(a.bytes);
    w.key("evidence").begin_object().key("link").value(a.link).key("mtime").value(a.mtime);
    w.end_object().end_object();
  }
  w.end_array();
  w.end_object();
  return w.str() + "\n";
}

namespace {

Result<PlannedAction> parse_action(simdjson::dom::element e, std::size_t i) {
  PlannedAction a;
  std::string_view kind, reason, path, repository, digest, link;
  std::uint64_t bytes = 0;
  std::int64_t mtime = 0;
  simdjson::dom::element evidence;
  if (e["kind"].get(kind) != simdjson::SUCCESS || e["reason"].get(reason) != simdjson::SUCCESS ||
      e["path"].get(path) != simdjson::SUCCESS ||
      e["repository"].get(repository) != simdjson::SUCCESS ||
      e["digest"].get(digest) != simdjson::SUCCESS || e["bytes"].get(bytes) != simdjson::SUCCESS ||
      e["evidence"].get(evidence) != simdjson::SUCCESS ||
      evidence["link"].get(link) != simdjson::SUCCESS ||
      evidence["mtime"].get(mtime) != simdjson::SUCCESS) {
    return Error{"action " + std::to_string(i + 1) +
                     " lacks kind, reason, path, repository, digest, bytes or evidence",
                 EINVAL};
  }
  return PlannedAction{std::string(kind),   std::string(reason),
                       std::string(path),   std::string(repository),
                       std::string(digest), bytes,
                       std::string(link),   mtime};
}

}  // namespace

Result<PlanFile> parse_plan_file(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Error{"not a plan: not a JSON object", EINVAL};
  }
  std::string_view schema, created, location, directory, command, command_line;
  simdjson::dom::array arguments, actions;
  if (doc["schema"].get(schema) != simdjson::SUCCESS || schema != k_plan_schema) {
    return Error{"not a plan of schema " + std::string(k_plan_schema), EINVAL};
  }
  if (doc["created"].get(created) != simdjson::SUCCESS ||
      doc["location"].get(location) != simdjson::SUCCESS ||
      doc["directory"].get(directory) != simdjson::SUCCESS ||
      doc["command"].get(command) != simdjson::SUCCESS ||
      doc["command_line"].get(command_line) != simdjson::SUCCESS ||
      doc["arguments"].get(arguments) != simdjson::SUCCESS ||
      doc["actions"].get(actions) != simdjson::SUCCESS) {
    return Error{"the plan lacks created, location, directory, command, arguments or actions",
                 EINVAL};
  }
  PlanFile plan;
  auto when = parse_rfc3339(created);
  if (!when || (command != "gc" && command != "rm" && command != "prune")) {
    return Error{"the plan's 'created' is not a time, or its command not gc, rm or prune", EINVAL};
  }
  plan.created = *when;
  plan.location = std::string(location);
  plan.directory = std::string(directory);
  plan.command = std::string(command);
  plan.command_line = std::string(command_line);
  simdjson::dom::element config;
  if (doc["config"].get(config) == simdjson::SUCCESS && config.is_object()) {
    std::string_view path, sha;
    if (config["path"].get(path) != simdjson::SUCCESS ||
        config["sha256"].get(sha) != simdjson::SUCCESS) {
      return Error{"the plan's config lacks path or sha256", EINVAL};
    }
    plan.config = std::string(path);
    plan.config_sha256 = std::string(sha);
  }
  for (auto a : arguments) {
    std::string_view s;
    if (a.get(s) != simdjson::SUCCESS) {
      return Error{"the plan's arguments are not all strings", EINVAL};
    }
    plan.arguments.emplace_back(s);
  }
  std::size_t i = 0;
  for (auto e : actions) {
    auto a = parse_action(e, i++);
    if (!a) {
      return a.error();
    }
    plan.actions.push_back(std::move(*a));
  }
  return plan;
}

ReviewedSkips reviewed_skips(const Plan& fresh, const Inventory& inventory,
                             const PlanFile& reviewed) {
  ReviewedSkips out;
  std::unordered_map<std::string, std::size_t> wanted;  // key -> index in reviewed.actions
  for (std::size_t i = 0; i < reviewed.actions.size(); ++i) {
    wanted.emplace(key_of(reviewed.actions[i]), i);
  }
  std::vector<std::uint8_t> carried(reviewed.actions.size(), 0);
  out.skip.assign(fresh.actions.size(), 0);
  std::set<std::string, std::less<>> held_repositories;  // what a skipped action leaves held
  bool blobs_held = false;
  for (std::size_t i = 0; i < fresh.actions.size(); ++i) {
    const Action a = fresh.actions[i];
    auto it = wanted.find(key_of(planned_action(a, inventory)));
    if (it != wanted.end()) {
      carried[it->second] = 1;
      continue;
    }
    out.skip[i] = 1;
    ++out.not_reviewed;
    if (!leaves_nothing(a.kind)) {
      blobs_held = true;
      held_repositories.insert(std::string(a.repository.view()));
    }
  }
  for (std::size_t i = 0; i < fresh.actions.size(); ++i) {
    const Action a = fresh.actions[i];
    if (out.skip[i] == 0 &&
        ((blobs_held && blob_side(a)) || held_repositories.count(a.repository.view()) != 0)) {
      out.skip[i] = 1;
      ++out.dependent;
    }
  }
  out.carried = fresh.actions.size() - out.not_reviewed - out.dependent;
  for (std::size_t i = 0; i < reviewed.actions.size(); ++i) {
    if (carried[i] == 0) {
      ++out.changed;
      const PlannedAction& p = reviewed.actions[i];
      out.findings.push_back(Finding{FindingKind::changed_since_plan, Severity::error, p.path,
                                     p.repository,
                                     "'" + p.path +
                                         "' is not deleted: a fresh scan no longer plans it on "
                                         "the same evidence (changed since the plan)"});
    }
  }
  if (out.not_reviewed + out.dependent > 0) {
    out.findings.push_back(Finding{
        FindingKind::changed_since_plan, Severity::error, "", "",
        std::to_string(out.not_reviewed) + " deletions the fresh scan plans were not in the " +
            "reviewed plan, and " + std::to_string(out.dependent) +
            " of it wait on them: not done; make and review a new plan"});
  }
  return out;
}

std::unique_ptr<SweepGuard> reviewed_guard(ReviewedSkips skips, std::unique_ptr<SweepGuard> inner) {
  return std::make_unique<ReviewedGuard>(std::move(skips), std::move(inner));
}

}  // namespace regsweep
