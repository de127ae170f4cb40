// gc takes tag history links from their directories' names (ScanOptions::read_tag_history
// false) and reads only those a plan might delete or tidy away: the ones naming a revision
// a marking deletes, and the ones naming no revision of their repository
// (Store::verify_tag_history). It must decide what a scan that reads every link decides, and
// never delete a history entry it has not read.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "regsweep/collect.hpp"
#include "regsweep/graph.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/mark.hpp"
#include "regsweep/plan.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

using test::planned;

std::string decisions(const Plan& plan, const std::vector<Finding>& findings) {
  std::ostringstream out;
  for (const Action& a : plan.actions) {
    out << to_string(a.kind) << ' ' << to_string(a.reason) << ' ' << a.path() << '\n';
  }
  for (const Finding& f : findings) {
    out << "finding " << to_string(f.kind) << ' ' << f.path << '\n';
  }
  return out.str();
}

// What a scan that reads every link and stats every blob decides, with no grace period.
std::string full_decisions(const test::TempRegistry& reg, bool m) {
  auto v2 = open_registry(reg.root());
  if (!v2) {
    ADD_FAILURE() << v2.error().message;
    return {};
  }
  tbb::task_arena arena(2);
  auto store = make_fs_store(v2->get());
  auto graph = build_graph(*store, GraphOptions{}, arena);
  if (!graph) {
    ADD_FAILURE() << graph.error().message;
    return {};
  }
  MarkOptions mark_options;
  mark_options.delete_untagged = m;
  MarkResult marks = mark(graph->inventory, graph->manifests, mark_options, arena);
  std::vector<Finding> findings = graph->findings;
  findings.insert(findings.end(), marks.findings.begin(), marks.findings.end());
  sort_findings(findings);
  Plan p = make_plan(graph->inventory, marks, findings, test::options(m).plan, Grace());
  return decisions(p, findings);
}

std::string lazy_decisions(const test::TempRegistry& reg, bool m) {
  Collection c = test::plan(reg, m);
  return decisions(c.plan, c.findings);
}

// Lines of `text` that do not contain `without`.
std::string drop_lines(const std::string& text, const std::string& without) {
  std::istringstream in(text);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.find(without) == std::string::npos) {
      kept += line + "\n";
    }
  }
  return kept;
}

const Tag& tag_of(const Collection& c, const std::string& repo, const std::string& tag) {
  for (const Repository& r : c.inventory.repositories) {
    for (const Tag& t : r.tags) {
      if (r.name == repo && t.name == tag) {
        return t;
      }
    }
  }
  throw std::logic_error("no tag " + repo + ":" + tag);
}

// The history link of `tag` naming `d`, or null.
const Link* history_link(const Collection& c, const std::string& repo, const std::string& tag,
                         const Digest& d) {
  const Repository* owner = nullptr;
  for (const Repository& r : c.inventory.repositories) {
    owner = r.name == repo ? &r : owner;
  }
  for (const Link& l : tag_of(c, repo, tag).history) {
    if (link_digest(c.inventory, *owner, l) == d) {
      return &l;
    }
  }
  return nullptr;
}

// r:v1 was B, then A (its history names both); r:v2 is C. With -m, B is deleted.
struct Tree {
  test::TempRegistry reg;
  Digest a, b, c;
  Tree() {
    a = reg.put_image("r", {reg.put_layer("r", "a")}, "a");
    b = reg.put_image("r", {reg.put_layer("r", "b")}, "b");
    c = reg.put_image("r", {reg.put_layer("r", "c")}, "c");
    reg.tag("r", "v1", b);
    reg.tag("r", "v1", a);
    reg.tag("r", "v2", c);
  }
  std::string b_entry() const { return layout::tag_index_entry_dir("r", "v1", b); }
};

TEST(LazyHistory, OnlyTheHistoryAPlanMightTouchIsRead) {
  Tree t;
  // An entry naming no revision of the repository: what an interrupted sweep leaves.
  Digest none = sha256_of("a manifest this repository never had");
  t.reg.write(layout::tag_index_entry_link("r", "v2", none), none.str());

  Collection plain = test::plan(t.reg);
  EXPECT_TRUE(history_link(plain, "r", "v1", t.a)->unverified());
  EXPECT_TRUE(history_link(plain, "r", "v1", t.b)->unverified());
  EXPECT_TRUE(history_link(plain, "r", "v2", t.c)->unverified());
  EXPECT_FALSE(history_link(plain, "r", "v2", none)->unverified());
  EXPECT_TRUE(planned(plain, ActionKind::tag_history).empty());

  // With -m, B's revision goes, and the history entry naming it: that one is read first.
  Collection m = test::plan(t.reg, true);
  EXPECT_TRUE(history_link(m, "r", "v1", t.a)->unverified());
  const Link* b = history_link(m, "r", "v1", t.b);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->unverified());
  EXPECT_GT(b->mtime, 0U);
  EXPECT_TRUE(history_link(m, "r", "v2", t.c)->unverified());
  EXPECT_EQ(planned(m, ActionKind::tag_history), std::vector<Digest>{t.b});
  EXPECT_EQ(planned(m, ActionKind::revision), std::vector<Digest>{t.b});
}

TEST(LazyHistory, ADeadRevisionsHistoryEntryHoldingSomethingElseIsKept) {
  Tree t;
  t.reg.remove(layout::join(t.b_entry(), layout::k_link));
  t.reg.write(layout::join(t.b_entry(), "notes"), "not a link");
  test::GcRun run = test::collect(t.reg, true);
  EXPECT_TRUE(planned(run.collection, ActionKind::tag_history).empty());
  EXPECT_EQ(planned(run.collection, ActionKind::revision), std::vector<Digest>{t.b});
  EXPECT_TRUE(t.reg.exists(layout::join(t.b_entry(), "notes")));
  bool reported = std::any_of(
      run.collection.findings.begin(), run.collection.findings.end(), [&](const Finding& f) {
        return f.kind == FindingKind::unknown_entry && f.path == t.b_entry();
      });
  EXPECT_TRUE(reported);
  EXPECT_EQ(lazy_decisions(t.reg, true), full_decisions(t.reg, true));
}

TEST(LazyHistory, ADeadRevisionsMismatchedHistoryLinkIsReportedAsAFullScanReportsIt) {
  Tree t;
  t.reg.write(layout::join(t.b_entry(), layout::k_link), t.a.str());
  Collection m = test::plan(t.reg, true);
  bool reported = std::any_of(m.findings.begin(), m.findings.end(), [&](const Finding& f) {
    return f.kind == FindingKind::link_mismatch &&
           f.path == layout::tag_index_entry_link("r", "v1", t.b);
  });
  EXPECT_TRUE(reported);
  EXPECT_EQ(lazy_decisions(t.reg, true), full_decisions(t.reg, true));
}

// A dead revision's history entry whose link could not be read as a link naming it is kept
// with everything in it, as its finding says ("kept"), and reported; the revision still goes.
// Rule 1: what the link holds is unknown, so its entry is not removed.
TEST(LazyHistory, ADeadRevisionsDamagedHistoryLinkIsKeptWithWhatItHolds) {
  struct Damage {
    std::string name;
    std::function<void(Tree&, const std::string&)> apply;
    std::string survivor;  // below the entry: what must still exist after the sweep
  };
  const std::vector<Damage> damages = {
      {"names another digest",
       [](Tree& t, const std::string& link) { t.reg.write(link, t.a.str()); }, "link"},
      {"is a directory holding a file",
       [](Tree& t, const std::string& link) {
         t.reg.remove(link);
         t.reg.write(layout::join(link, "inside"), "something");
       },
       "link/inside"},
      {"is not a digest", [](Tree& t, const std::string& link) { t.reg.write(link, "garbage"); },
       "link"},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE("the link " + d.name);
    Tree t;
    std::string link = layout::join(t.b_entry(), layout::k_link);
    d.apply(t, link);
    test::GcRun run = test::collect(t.reg, true);
    EXPECT_TRUE(planned(run.collection, ActionKind::tag_history).empty());
    EXPECT_EQ(planned(run.collection, ActionKind::revision), std::vector<Digest>{t.b});
    EXPECT_TRUE(t.reg.exists(layout::join(t.b_entry(), d.survivor)));
    bool reported = std::any_of(
        run.collection.findings.begin(), run.collection.findings.end(), [&](const Finding& f) {
          return f.path.rfind(t.b_entry(), 0) == 0 && f.message.find("kept") != std::string::npos;
        });
    EXPECT_TRUE(reported);
    EXPECT_EQ(lazy_decisions(t.reg, true), full_decisions(t.reg, true));
    // A second run, the revision gone: the entry names no revision and is read again.
    test::GcRun again = test::collect(t.reg, true);
    EXPECT_TRUE(planned(again.collection, ActionKind::tag_history).empty());
    EXPECT_TRUE(t.reg.exists(layout::join(t.b_entry(), d.survivor)));
  }
}

TEST(LazyHistory, LazyAndFullScansDecideTheSame) {
  Tree t;
  // B's entry emptied (as the registry's own delete or a killed sweep leaves it).
  t.reg.remove(layout::join(t.b_entry(), layout::k_link));
  // Entries naming no revision: one empty, one holding an old leftover of a write.
  Digest gone = sha256_of("gone");
  Digest half = sha256_of("half written");
  t.reg.mkdir(layout::tag_index_entry_dir("r", "v2", gone));
  std::string leftover = layout::join(layout::tag_index_entry_dir("r", "v2", half), "link.1.tmp");
  t.reg.write(leftover, half.str());
  t.reg.backdate(leftover, std::int64_t{2} * 24 * 3600);
  // A tag with no current link whose history holds only an empty entry: a leftover tag.
  t.reg.mkdir(layout::tag_index_entry_dir("r", "t3", gone));
  // A symbolic link and an upper-case name among the entries.
  std::string upper = t.c.hex();
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  t.reg.symlink("/tmp", layout::join(layout::tag_index_dir("r", "v2"), sha256_of("x").hex()));
  t.reg.write(layout::join(layout::join(layout::tag_index_dir("r", "v2"), upper), layout::k_link),
              t.c.str());
  EXPECT_EQ(lazy_decisions(t.reg, true), full_decisions(t.reg, true));
  // Without -m, B is a live revision: its empty entry decides nothing, and gc leaves it (and
  // its finding) to fsck, where a full scan tidies it. Everything else is the same.
  std::string full = full_decisions(t.reg, false);
  ASSERT_NE(full.find(t.b_entry()), std::string::npos);
  EXPECT_EQ(lazy_decisions(t.reg, false), drop_lines(full, t.b_entry()));
}

}  // namespace
}  // namespace regsweep
