#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "fault_store.hpp"
#include "regsweep/fsck.hpp"
#include "regsweep/layout.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

FsckReport check(const test::TempRegistry& reg, bool verify = false, bool repair = false) {
  auto v2 = open_registry(reg.root());
  if (!v2) {
    ADD_FAILURE() << v2.error().message;
    return {};
  }
  tbb::task_arena arena(2);
  FsckOptions o;
  o.verify_percent = verify ? 100 : 0;
  o.repair = repair;
  o.now = static_cast<std::int64_t>(std::time(nullptr));
  auto r = fsck(*make_fs_store(v2->get()), o, arena);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return std::move(*r);
}

const Problem* find(const FsckReport& r, const std::string& kind) {
  for (const Problem& p : r.problems) {
    if (to_string(p.kind) == kind) {
      return &p;
    }
  }
  return nullptr;
}

// A clean registry: two repositories sharing a layer, a multi-platform index, a referrer.
struct Clean {
  test::TempRegistry reg;
  Digest base, la, lb, a, b, idx;
  Clean() {
    base = reg.put_layer("a", "base");
    reg.link_layer("b", base);
    la = reg.put_layer("a", "a");
    lb = reg.put_layer("b", "b");
    a = reg.put_image("a", {base, la}, "a");
    b = reg.put_image("b", {base, lb}, "b");
    reg.tag("a", "v1", a);
    reg.tag("b", "v1", b);
    Digest c1 = reg.put_image("b", {base}, "c1");
    idx = reg.put_index("b", {b, c1});
    reg.tag("b", "multi", idx);
    reg.put_referrer("a", a, "sig");
  }
};

TEST(Fsck, ACleanTreeReportsNothing) {
  Clean c;
  FsckReport r = check(c.reg, true);
  EXPECT_TRUE(r.problems.empty()) << to_string(r.problems.front().kind) << ": "
                                  << r.problems.front().message;
  EXPECT_TRUE(r.repairs.empty());
  EXPECT_EQ(r.tags, 3U);
  EXPECT_EQ(r.blobs_verified, r.blobs);
}

struct KindCase {
  std::string kind;
  std::function<void(Clean&)> damage;
  std::vector<std::string> broken;  // the tags it must name, exactly
  bool verify = false;
};

TEST(Fsck, EveryKindOnAPurposeBuiltTree) {
  const std::vector<KindCase> table = {
      {"blob-missing",
       [](Clean& c) { c.reg.remove(layout::blob_dir(c.base)); },
       {"a:v1", "b:multi", "b:v1"}},
      {"layer-unlinked",
       [](Clean& c) { c.reg.remove(layout::layer_link_dir("b", c.lb)); },
       {"b:multi", "b:v1"}},
      {"revision-missing",
       [](Clean& c) { c.reg.remove(layout::revision_link("a", c.a)); },
       {"a:v1"}},
      {"digest-mismatch",
       [](Clean& c) { c.reg.write(layout::blob_data(c.la), "flipped bytes"); },
       {"a:v1"},
       true},
      {"manifest-missing", [](Clean& c) { c.reg.remove(layout::blob_dir(c.idx)); }, {"b:multi"}},
      {"manifest-unparseable",
       [](Clean& c) { c.reg.write(layout::blob_data(c.a), "{nope"); },
       {"a:v1"}},
      {"malformed-link",
       [](Clean& c) { c.reg.write(layout::tag_current_link("a", "v1"), "sha256:nope"); },
       {"a:v1"}},
      {"link-mismatch",
       [](Clean& c) { c.reg.write(layout::layer_link("a", c.la), c.base.str()); },
       {"a:v1"}},
      {"symlink", [](Clean& c) { c.reg.symlink("/nonexistent", "repositories/a/_uploads"); }, {}},
      {"invalid-name",
       [](Clean& c) { c.reg.tag("Bad", "x", c.reg.put_image("Bad", {}, "x")); },
       {}},
      {"unknown-entry", [](Clean& c) { c.reg.write("repositories/a/stray.txt", "x"); }, {}},
      {"blob-without-data",
       [](Clean& c) { c.reg.write("blobs/sha256/ab/ab" + std::string(62, '0') + "/junk", "x"); },
       {}},
      {"dangling-link", [](Clean& c) { c.reg.link_layer("a", sha256_of("gone")); }, {}},
      {"upload-without-startedat", [](Clean& c) { c.reg.start_upload("a", "u1", ""); }, {}},
      {"temp-leftover",
       [](Clean& c) {
         c.reg.write(layout::join(layout::layer_link_dir("a", sha256_of("t")), "link.1.tmp"), "x");
       },
       {}},
  };
  for (const KindCase& k : table) {
    SCOPED_TRACE(k.kind);
    Clean c;
    k.damage(c);
    FsckReport r = check(c.reg, k.verify);
    const Problem* p = find(r, k.kind);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->broken_tags, k.broken);
    EXPECT_EQ(
        p->severity,
        k.broken.empty() && (k.kind == "unknown-entry" || k.kind == "blob-without-data" ||
                             k.kind == "dangling-link" || k.kind == "upload-without-startedat" ||
                             k.kind == "temp-leftover")
            ? Severity::warning
            : Severity::error);
    EXPECT_FALSE(suggested_action(p->kind).empty());
  }
}

TEST(Fsck, RepairRemovesDanglingLinksAndMovesCorruptBlobsNeverDeletingTheirLinks) {
  Clean c;
  Digest ghost = sha256_of("gone");
  c.reg.link_layer("a", ghost);
  c.reg.write(layout::blob_data(c.la), "flipped bytes");
  auto before = c.reg.snapshot();
  FsckReport dry = check(c.reg, true, false);
  EXPECT_EQ(dry.repairs.size(), 2U);    // the ghost link; the corrupt blob (not its link)
  EXPECT_EQ(c.reg.snapshot(), before);  // without --repair nothing changes

  FsckReport done = check(c.reg, true, true);
  for (const Repair& r : done.repairs) {
    EXPECT_TRUE(r.error.empty()) << r.path << ": " << r.error;
  }
  EXPECT_FALSE(c.reg.exists(layout::layer_link_dir("a", ghost)));
  EXPECT_FALSE(c.reg.exists(layout::blob_dir(c.la)));
  // No reference goes because of what a content check found (issue 31, cause 5).
  EXPECT_TRUE(c.reg.exists(layout::layer_link_dir("a", c.la)));
  // The corrupt bytes are kept, in lost+found.
  bool kept = false;
  for (const auto& [path, state] : c.reg.snapshot()) {
    kept = kept || (path.find("/lost+found/sha256-" + c.la.hex()) != std::string::npos);
  }
  EXPECT_TRUE(kept);
  EXPECT_TRUE(c.reg.has_blob(c.base));
  // gc leaves lost+found alone.
  test::collect(c.reg);
  EXPECT_TRUE(c.reg.exists("lost+found"));
}

TEST(Fsck, RepairKeepsALinkWhoseBlobAppearedSinceTheScan) {
  // Rule 3: what a removal depends on (here, that the blob is absent) is looked at again
  // right before it; a link whose blob is there now is kept, and the repair says so.
  Clean c;
  Digest late = sha256_of("late");
  c.reg.link_layer("a", late);
  auto v2 = open_registry(c.reg.root());
  ASSERT_TRUE(v2);
  tbb::task_arena arena(2);
  FsckOptions o;
  o.repair = true;
  o.now = static_cast<std::int64_t>(std::time(nullptr));
  // A push lands between the scan and the repairs: when they start, the blob is written.
  test::FaultStore store(make_fs_store(v2->get(), c.reg.root()));
  store.before_sweep = [&c] { c.reg.put_blob("late"); };
  auto r = fsck(store, o, arena);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(c.reg.exists(layout::layer_link("a", late)));
  ASSERT_EQ(r->repairs.size(), 1U);
  EXPECT_NE(r->repairs[0].error.find("exists now"), std::string::npos) << r->repairs[0].error;
}

}  // namespace
}  // namespace regsweep

namespace regsweep {
namespace {

// Every kind has its own name and advice, and each finding of the scan is reported under its
// own name.
TEST(Fsck, EveryProblemKindHasANameAndAdvice) {
  std::set<std::string_view> names;
  for (int k = 0; k <= static_cast<int>(ProblemKind::cache_stale); ++k) {
    auto kind = static_cast<ProblemKind>(k);
    EXPECT_TRUE(names.insert(to_string(kind)).second) << to_string(kind);
    EXPECT_FALSE(suggested_action(kind).empty()) << to_string(kind);
  }
  for (int f = 0; f <= static_cast<int>(FindingKind::cache_stale); ++f) {
    auto finding = static_cast<FindingKind>(f);
    EXPECT_EQ(to_string(problem_kind_of(finding)), to_string(finding));
  }
}

}  // namespace
}  // namespace regsweep
