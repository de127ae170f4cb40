// Bad input never aborts the run and never costs data: a table of damaged trees, each run
// through the real command line (as a cron job would run it), each asserting the finding, the
// exit code 3, that what the damage might protect still exists, and that the rest of the tree
// was collected.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "regsweep/layout.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

std::string corpus(const std::string& name) {
  std::ifstream in(std::string(REGSWEEP_FIXTURES) + "/bad/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Sample {
  test::TempRegistry reg;
  Digest good_layer, good, orphan, orphan2;
  Digest bad_layer, bad_config, bad, untagged, untagged_layer;
  Digest loose_layer;  // linked in "bad" but in no manifest: gc deletes its link and blob
  Sample() {
    good_layer = reg.put_layer("good", "good layer");
    good = reg.put_image("good", {good_layer}, "good");
    reg.tag("good", "v1", good);
    orphan = reg.put_blob("an orphan");
    for (int i = 0; orphan2 == Digest{} || orphan2.hex()[0] == orphan.hex()[0]; ++i) {
      orphan2 = reg.put_blob("another orphan " + std::to_string(i));
    }
    bad_layer = reg.put_layer("bad", "bad layer");
    bad = reg.put_image("bad", {bad_layer}, "bad");
    bad_config = reg.last_config();
    reg.tag("bad", "v1", bad);
    untagged_layer = reg.put_layer("bad", "untagged layer");
    untagged = reg.put_image("bad", {untagged_layer}, "untagged");
    loose_layer = reg.put_layer("bad", "loose layer");
  }
  // Leaves the bad manifest protected by its revision link alone.
  void untag() { reg.remove(layout::tag_dir("bad", "v1")); }
};

struct Outcome {
  int exit_code = -1;
  std::vector<std::pair<std::string, std::string>> findings;  // kind, path
};

Outcome run_gc(Sample& s, bool delete_untagged, bool as_nobody) {
  std::string report = s.reg.root() + "/report.json";
  std::string cmd;
  if (as_nobody) {
    cmd = test::unprivileged(s.reg.root());
  }
  cmd += std::string("'") + REGSWEEP_BIN + "' gc --root '" + s.reg.root() +
         "' --min-age 0 -q --json '" + report + "'" + (delete_untagged ? " -m" : "") +
         " >/dev/null 2>&1";
  int status = std::system(cmd.c_str());
  Outcome out;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.load(report).get(doc) != simdjson::SUCCESS) {
    ADD_FAILURE() << "no JSON report from: " << cmd;
    return out;
  }
  for (simdjson::dom::element f : doc["findings"]) {
    std::string_view kind;
    std::string_view path;
    if (f["kind"].get(kind) != simdjson::SUCCESS || f["path"].get(path) != simdjson::SUCCESS) {
      ADD_FAILURE() << "a finding without kind or path";
      continue;
    }
    out.findings.emplace_back(std::string(kind), std::string(path));
  }
  return out;
}

struct BadCase {
  std::string name;
  std::function<void(Sample&)> plant;
  std::string kind;                                                // the finding expected
  std::function<std::string(const Sample&)> path;                  // a part of its path
  std::function<std::vector<std::string>(const Sample&)> protect;  // must still exist
  bool delete_untagged = false;
  bool as_nobody = false;
  bool rest_collected = true;  // the good repository's orphans are deleted
};

std::string rev_link(const Sample& s) {
  return layout::revision_link("bad", s.bad);
}

std::vector<std::string> bad_image(const Sample& s) {
  return {layout::blob_data(s.bad), layout::blob_data(s.bad_layer),
          layout::blob_data(s.bad_config)};
}

std::vector<std::string> bad_layers(const Sample& s) {
  return {layout::blob_data(s.bad_layer), layout::blob_data(s.bad_config),
          layout::layer_link("bad", s.bad_layer)};
}

BadCase revision_link_case(const std::string& file) {
  return BadCase{"revision link: " + file,
                 [file](Sample& s) {
                   s.untag();
                   s.reg.write(rev_link(s), corpus(file));
                 },
                 "malformed-link", rev_link, bad_image};
}

BadCase manifest_case(const std::string& file) {
  // What an unreadable manifest references is unknown: no blob goes (issue 31, cause 13).
  return BadCase{"manifest: " + file,
                 [file](Sample& s) { s.reg.write(layout::blob_data(s.bad), corpus(file)); },
                 "manifest-unparseable",
                 [](const Sample& s) { return layout::blob_data(s.bad); },
                 bad_layers,
                 false,
                 false,
                 false};
}

std::vector<BadCase> cases() {
  std::vector<BadCase> out;
  for (const char* f :
       {"link-empty", "link-newline", "link-upper", "link-short", "link-sha512", "link-garbage"}) {
    out.push_back(revision_link_case(f));
  }
  out.push_back(BadCase{
      "tag link garbage, with -m",
      [](Sample& s) { s.reg.write(layout::tag_current_link("bad", "v1"), corpus("link-garbage")); },
      "malformed-link", [](const Sample&) { return std::string("tags/v1/current/link"); },
      [](const Sample& s) {
        return std::vector<std::string>{layout::blob_data(s.untagged),
                                        layout::blob_data(s.untagged_layer),
                                        layout::revision_link("bad", s.untagged)};
      },
      true});
  // gc only stats a layer link of a link's size (71 bytes) and reads it when it would delete
  // it: these are links it would delete. A damaged link that stays is fsck's to report.
  auto loose_link = [](const Sample& s) { return layout::layer_link("bad", s.loose_layer); };
  auto keep_loose_link = [loose_link](const Sample& s) {
    return std::vector<std::string>{loose_link(s)};
  };
  out.push_back(
      BadCase{"layer link of a link's size, upper case, unreferenced",
              [loose_link](Sample& s) { s.reg.write(loose_link(s), corpus("link-upper")); },
              "malformed-link", loose_link, keep_loose_link});
  out.push_back(BadCase{"layer link naming another blob, unreferenced",
                        [loose_link](Sample& s) { s.reg.write(loose_link(s), s.good_layer.str()); },
                        "link-mismatch", loose_link, keep_loose_link});
  // A repository with an unreadable manifest keeps every layer link and what each names.
  out.push_back(BadCase{
      "layer link naming an orphan, where a manifest is unreadable",
      [](Sample& s) {
        s.reg.write(layout::blob_data(s.bad), corpus("manifest-truncated.json"));
        s.reg.write(layout::layer_link("bad", s.untagged_layer), s.orphan2.str());
      },
      "link-mismatch", [](const Sample& s) { return layout::layer_link("bad", s.untagged_layer); },
      [](const Sample& s) {
        return std::vector<std::string>{layout::blob_data(s.orphan2),
                                        layout::layer_link("bad", s.untagged_layer)};
      },
      false, false, false});
  // A garbage layer link whose blob a live manifest keeps decides nothing: it is fsck's
  // finding (AGarbageLayerLinkThatDecidesNothingIsFscksFinding), not gc's. One gc would
  // delete is gc's.
  out.push_back(BadCase{
      "layer link garbage, unreferenced",
      [](Sample& s) {
        s.reg.write(layout::layer_link("bad", s.loose_layer), corpus("link-garbage"));
      },
      "malformed-link", [](const Sample& s) { return layout::layer_link("bad", s.loose_layer); },
      [](const Sample& s) {
        return std::vector<std::string>{layout::layer_link("bad", s.loose_layer)};
      }});
  for (const char* f :
       {"manifest-truncated.json", "manifest-unknown-mediatype.json", "manifest-non-utf8.json",
        "manifest-deep.json", "manifest-not-object.json", "manifest-bad-digest.json"}) {
    out.push_back(manifest_case(f));
  }
  out.push_back(BadCase{"manifest: 65 MiB",
                        [](Sample& s) {
                          std::string p = s.reg.v2() + "/" + layout::blob_data(s.bad);
                          ASSERT_EQ(::truncate(p.c_str(), 65LL << 20), 0);
                        },
                        "manifest-unparseable",
                        [](const Sample& s) { return layout::blob_data(s.bad); }, bad_layers, false,
                        false, false});
  out.push_back(BadCase{"invalid repository name",
                        [](Sample& s) {
                          Digest l = s.reg.put_layer("Bad_Name", "in a bad name");
                          s.reg.link_layer("Bad_Name", l);
                          s.reg.tag("Bad_Name", "v1", s.reg.put_image("Bad_Name", {l}, "badname"));
                        },
                        "invalid-name",
                        [](const Sample&) { return std::string("repositories/Bad_Name"); },
                        [](const Sample&) {
                          return std::vector<std::string>{layout::layer_link(
                              "Bad_Name", sha256_of(test::layer_bytes("in a bad name", 64)))};
                        }});
  out.push_back(BadCase{"no repositories directory",
                        [](Sample& s) { s.reg.remove("repositories"); }, "unreadable",
                        [](const Sample&) { return std::string("repositories"); },
                        [](const Sample& s) {
                          return std::vector<std::string>{layout::blob_data(s.orphan),
                                                          layout::blob_data(s.bad_layer)};
                        },
                        false, false, false});
  out.push_back(BadCase{
      "one-character directory in a blob prefix",
      [](Sample& s) { s.reg.mkdir(layout::blob_prefix_dir(s.orphan.hex().substr(0, 2)) + "/c"); },
      "unknown-entry",
      [](const Sample& s) { return layout::blob_prefix_dir(s.orphan.hex().substr(0, 2)) + "/c"; },
      [](const Sample& s) {
        return std::vector<std::string>{layout::blob_prefix_dir(s.orphan.hex().substr(0, 2)) +
                                        "/c"};
      }});
  out.push_back(
      BadCase{"file where the revisions directory belongs",
              [](Sample& s) {
                s.reg.remove(layout::revisions_dir("bad"));
                s.reg.remove("repositories/bad/_manifests/revisions");
                s.reg.write("repositories/bad/_manifests/revisions", "x");
              },
              "unknown-entry",
              [](const Sample&) { return std::string("repositories/bad/_manifests/revisions"); },
              [](const Sample& s) {
                return std::vector<std::string>{layout::blob_data(s.bad_layer),
                                                layout::blob_data(s.untagged_layer),
                                                layout::layer_link("bad", s.untagged_layer)};
              }});
  out.push_back(
      BadCase{"file where a layer link directory belongs",
              [](Sample& s) {
                s.reg.remove(layout::layer_link_dir("bad", s.untagged_layer));
                s.reg.write(layout::layer_link_dir("bad", s.untagged_layer), "x");
              },
              "unknown-entry",
              [](const Sample& s) { return layout::layer_link_dir("bad", s.untagged_layer); },
              [](const Sample& s) {
                return std::vector<std::string>{layout::layer_link_dir("bad", s.untagged_layer)};
              }});
  out.push_back(BadCase{"directory where a revision link belongs",
                        [](Sample& s) {
                          s.untag();
                          s.reg.remove(rev_link(s));
                          s.reg.mkdir(rev_link(s));
                        },
                        "unknown-entry", rev_link, bad_image});
  out.push_back(BadCase{
      "directory where a blob's data belongs",
      [](Sample& s) {
        s.reg.remove(layout::blob_data(s.orphan));
        s.reg.mkdir(layout::blob_data(s.orphan));
      },
      "unknown-entry", [](const Sample& s) { return layout::blob_data(s.orphan); },
      [](const Sample& s) { return std::vector<std::string>{layout::blob_data(s.orphan)}; }});
  out.push_back(BadCase{"a FIFO where a revision link belongs",
                        [](Sample& s) {
                          s.untag();
                          s.reg.remove(rev_link(s));
                          std::string p = s.reg.v2() + "/" + rev_link(s);
                          ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0);
                        },
                        "unknown-entry", rev_link, bad_image});
  // Unreadable files and directories (the run drops root privileges for these).
  auto chmod0 = [](Sample& s, const std::string& rel) {
    std::string p = s.reg.v2() + "/" + rel;
    ASSERT_EQ(::chmod(p.c_str(), 0), 0);
  };
  out.push_back(
      BadCase{"unreadable manifest", [chmod0](Sample& s) { chmod0(s, layout::blob_data(s.bad)); },
              "manifest-unparseable", [](const Sample& s) { return layout::blob_data(s.bad); },
              bad_layers, false, true, false});
  out.push_back(BadCase{"unreadable revisions directory",
                        [chmod0](Sample& s) { chmod0(s, layout::revisions_dir("bad")); },
                        "unreadable",
                        [](const Sample&) { return std::string("repositories/bad/_manifests"); },
                        [](const Sample& s) {
                          return std::vector<std::string>{layout::blob_data(s.bad_layer),
                                                          layout::blob_data(s.orphan)};
                        },
                        false, true, false});
  out.push_back(BadCase{
      "unreadable blob prefix directory",
      [chmod0](Sample& s) { chmod0(s, layout::blob_prefix_dir(s.orphan.hex().substr(0, 2))); },
      "unreadable",
      [](const Sample& s) { return layout::blob_prefix_dir(s.orphan.hex().substr(0, 2)); },
      [](const Sample& s) {
        return std::vector<std::string>{layout::blob_prefix_dir(s.orphan.hex().substr(0, 2))};
      },
      false, true});
  out.push_back(BadCase{
      "unreadable layer link, unreferenced",
      [chmod0](Sample& s) { chmod0(s, layout::layer_link("bad", s.loose_layer)); }, "unreadable",
      [](const Sample& s) { return layout::layer_link("bad", s.loose_layer); },
      [](const Sample& s) {
        return std::vector<std::string>{layout::layer_link("bad", s.loose_layer)};
      },
      false, true});
  return out;
}

void run_case(const BadCase& c) {
  SCOPED_TRACE(c.name);
  Sample s;
  c.plant(s);
  Outcome out = run_gc(s, c.delete_untagged, c.as_nobody);
  EXPECT_EQ(out.exit_code, 3);
  std::string part = c.path(s);
  bool found = false;
  for (const auto& [kind, path] : out.findings) {
    found = found || (kind == c.kind && path.find(part) != std::string::npos);
  }
  EXPECT_TRUE(found) << "no " << c.kind << " finding naming '" << part << "'";
  for (const std::string& p : c.protect(s)) {
    EXPECT_TRUE(s.reg.exists(p)) << p << " was deleted";
  }
  EXPECT_TRUE(s.reg.has_blob(s.good));
  EXPECT_TRUE(s.reg.has_blob(s.good_layer));
  if (c.rest_collected) {
    EXPECT_FALSE(s.reg.has_blob(s.orphan2)) << "the rest of the tree was not collected";
  } else {
    EXPECT_TRUE(s.reg.has_blob(s.orphan2));
  }
}

// gc reports what its decisions depend on, fsck everything (docs/safety.md): a garbage layer
// link whose blob a live manifest keeps is not read by gc, and is kept; fsck reports it.
TEST(BadInput, AGarbageLayerLinkThatDecidesNothingIsFscksFinding) {
  Sample s;
  std::string link = layout::layer_link("bad", s.untagged_layer);
  s.reg.write(link, corpus("link-garbage"));
  Outcome gc = run_gc(s, false, false);
  EXPECT_EQ(gc.exit_code, 0);
  EXPECT_TRUE(gc.findings.empty());
  EXPECT_TRUE(s.reg.exists(link));
  EXPECT_TRUE(s.reg.has_blob(s.untagged_layer));
  std::string report = s.reg.root() + "/fsck.json";
  std::string cmd = std::string("'") + REGSWEEP_BIN + "' fsck --root '" + s.reg.root() +
                    "' -q --json >'" + report + "' 2>/dev/null";
  int status = std::system(cmd.c_str());
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 3);
  std::ifstream in(report);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(link), std::string::npos) << text;
}

TEST(BadInput, EveryCaseIsReportedKeepsWhatItProtectsAndTheRestIsCollected) {
  for (const BadCase& c : cases()) {
    if (!c.as_nobody) {
      run_case(c);
    }
  }
}

// Unreadable files and directories, made so with chmod: a real-permissions test, since
// directory listings and stats are the filesystem scan's own, below the Store seam that
// tests/fault_store.hpp injects faults at (test_faults.cpp reaches the manifest read through
// it too). The run is unprivileged, so that they are unreadable to it.
TEST(BadInput, UnreadableCasesAsAnUnprivilegedUser) {
  ASSERT_TRUE(test::can_run_unprivileged()) << "as root, this needs setpriv (util-linux)";
  for (const BadCase& c : cases()) {
    if (c.as_nobody) {
      run_case(c);
    }
  }
}

}  // namespace
}  // namespace regsweep
