// The tree fuzzer: whole small registries, damaged at random with the classes of damage that
// once cost data (docs/safety.md), collected, then undamaged and checked.
//
// 1. Generate a tree from a seed: repositories with images sharing layers, an index with its
//    children, untagged and API-deleted images, orphans, and manifests whose keys Go reads
//    differently (their true references recorded as the registry's clients read them).
// 2. Note what every tag needs to be pulled: its manifest, children, configs and layers,
//    their links. Every tag is healthy by construction.
// 3. Apply 1 to 4 damages: a symlink in place of a blob prefix, blob directory or data; a
//    data that is a directory or FIFO; a blob directory or prefix that is a file; a garbage
//    or truncated link or manifest; a socket-like stranger in _layers. Each can be undone.
// 4. Collect as `regsweep gc [-m] --min-age 0` does (plan, revalidating sweep).
// 5. Undo the damage, then check that everything every tag needed still exists.
//
// usage: regsweep_treefuzz [--seconds N] [--seed S] [--iterations N]
// Exits 1 with the seed and the damage of the first failing tree; prints a count line.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>
#include <boost/filesystem.hpp>

#include "../temp_registry.hpp"
#include "regsweep/layout.hpp"
#include "store/fs/lock.hpp"
#include "store/fs/remover.hpp"
#include "store/fs/revalidate.hpp"

namespace regsweep::fuzz {
namespace {

namespace bfs = boost::filesystem;
using test::TempRegistry;

struct Generated {
  // Per tag ("repo:tag"), every path (relative to v2) a pull needs.
  std::map<std::string, std::set<std::string>> needs;
  std::vector<Digest> manifests;  // every manifest blob written, for damage
  std::vector<Digest> blobs;      // every layer and config blob written
  std::vector<std::string> repos;
};

std::string layer_descriptor(const Digest& d) {
  return R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":64,"digest":")" +
         d.str() + R"("})";
}

// An OCI image whose JSON gives `layers` twice or as "Layers" when `go_trick` is set: Go reads
// the last, so the true layers are the second list. Returns the manifest; adds what it needs.
Digest image(TempRegistry& reg, Generated& g, std::mt19937_64& rng, const std::string& repo,
             const std::vector<Digest>& shared, std::set<std::string>& needs) {
  std::vector<Digest> layers;
  for (const Digest& d : shared) {
    if (rng() % 2 == 0) {
      reg.link_layer(repo, d);
      layers.push_back(d);
    }
  }
  layers.push_back(reg.put_layer(repo, "own " + std::to_string(rng()), 64));
  Digest config = reg.put_blob(R"({"architecture":"amd64","os":"linux","n":)" +
                               std::to_string(rng() % 1000000) + "}");
  reg.link_layer(repo, config);
  std::string list;
  for (const Digest& d : layers) {
    list += (list.empty() ? "" : ",") + layer_descriptor(d);
  }
  std::string head =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":64,"digest":")" +
      config.str() + R"("},)";
  std::string json;
  switch (rng() % 4) {
    case 0:
      json = head + R"("layers":[],"layers":[)" + list + "]}";
      break;
    case 1:
      json = head + R"("Layers":[)" + list + "]}";
      break;
    default:
      json = head + R"("layers":[)" + list + "]}";
      break;
  }
  Digest m = reg.put_manifest(repo, json);
  g.manifests.push_back(m);
  needs.insert(layout::blob_data(m));
  needs.insert(layout::revision_link(repo, m));
  for (const Digest& d : layers) {
    needs.insert(layout::blob_data(d));
    needs.insert(layout::layer_link(repo, d));
    g.blobs.push_back(d);
  }
  needs.insert(layout::blob_data(config));
  needs.insert(layout::layer_link(repo, config));
  g.blobs.push_back(config);
  return m;
}

Generated generate(TempRegistry& reg, std::mt19937_64& rng) {
  Generated g;
  std::vector<Digest> shared;
  for (int i = 0; i < 3; ++i) {
    shared.push_back(reg.put_blob(test::layer_bytes("shared " + std::to_string(rng()), 64)));
  }
  int repos = 1 + static_cast<int>(rng() % 3);
  for (int r = 0; r < repos; ++r) {
    std::string repo = (r == 2 ? "team/" : "") + std::string("repo") + std::to_string(r);
    g.repos.push_back(repo);
    int images = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < images; ++i) {
      std::set<std::string> needs;
      Digest m = image(reg, g, rng, repo, shared, needs);
      std::string tag = "t" + std::to_string(i);
      reg.tag(repo, tag, m);
      needs.insert(layout::tag_current_link(repo, tag));
      g.needs[repo + ":" + tag] = needs;
    }
    if (rng() % 2 == 0) {  // an index over two children, tagged
      std::set<std::string> needs;
      Digest a = image(reg, g, rng, repo, shared, needs);
      Digest b = image(reg, g, rng, repo, shared, needs);
      Digest idx = reg.put_index(repo, {a, b});
      g.manifests.push_back(idx);
      reg.tag(repo, "multi", idx);
      needs.insert(layout::blob_data(idx));
      needs.insert(layout::revision_link(repo, idx));
      needs.insert(layout::tag_current_link(repo, "multi"));
      g.needs[repo + ":multi"] = needs;
    }
    if (rng() % 2 == 0) {  // untagged: kept without -m, collected with it
      std::set<std::string> ignored;
      image(reg, g, rng, repo, shared, ignored);
    }
    if (rng() % 3 == 0) {  // deleted through the API
      std::set<std::string> ignored;
      Digest d = image(reg, g, rng, repo, shared, ignored);
      reg.tag(repo, "doomed", d);
      reg.api_delete(repo, d);
    }
  }
  for (int i = 0; i < 2; ++i) {
    g.blobs.push_back(reg.put_blob("orphan " + std::to_string(rng())));
  }
  return g;
}

// One damage and how to undo it.
struct Damage {
  std::string what;
  std::function<void()> undo;
};

// Moves `rel` aside and calls `replace(path, aside)` to put something else in its place.
Damage hide(TempRegistry& reg, const std::string& what, const std::string& rel,
            const std::function<void(const std::string&, const std::string&)>& replace) {
  std::string path = reg.v2() + "/" + rel;
  static int n = 0;
  std::string aside = reg.root() + "/aside-" + std::to_string(n++);
  boost::system::error_code ec;
  if (!bfs::exists(bfs::symlink_status(path, ec)) || bfs::is_symlink(bfs::symlink_status(path))) {
    return {what + " (nothing there)", [] {}};
  }
  bfs::rename(path, aside);
  replace(path, aside);
  return {what + " at '" + rel + "'", [path, aside] {
            // Where the collection removed the parent, what was hidden stays hidden: the check
            // then sees it if a tag needed it.
            boost::system::error_code e;
            bfs::remove_all(path, e);
            bfs::rename(aside, path, e);
          }};
}

// Rewrites the file `rel` with `content`, keeping the original to put back.
Damage rewrite(TempRegistry& reg, const std::string& what, const std::string& rel,
               const std::string& content) {
  std::string path = reg.v2() + "/" + rel;
  boost::system::error_code ec;
  if (!bfs::is_regular_file(bfs::symlink_status(path, ec))) {
    return {what + " (nothing there)", [] {}};
  }
  std::string old;
  {
    FILE* f = std::fopen(path.c_str(), "rb");
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
      old.append(buf, n);
    }
    std::fclose(f);
  }
  auto put = [path](const std::string& text) {
    // A file the collection deleted stays deleted: the check then sees it if a tag needed it.
    boost::system::error_code e;
    if (!bfs::is_regular_file(bfs::symlink_status(path, e))) {
      return;
    }
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  };
  put(content);
  return {what + " at '" + rel + "'", [put, old] { put(old); }};
}

Damage damage(TempRegistry& reg, const Generated& g, std::mt19937_64& rng) {
  const Digest& m = g.manifests[rng() % g.manifests.size()];
  const Digest& b = g.blobs[rng() % g.blobs.size()];
  const Digest& target = rng() % 2 == 0 ? m : b;
  const std::string& repo = g.repos[rng() % g.repos.size()];
  // The real thing stays, moved aside, behind a link the collector must not follow.
  auto symlink_to = [](const std::string& path, const std::string& aside) {
    bfs::create_symlink(aside, path);
  };
  switch (rng() % 10) {
    case 0:
      return hide(reg, "symlinked prefix", layout::blob_prefix_dir(target.hex().substr(0, 2)),
                  symlink_to);
    case 1:
      return hide(reg, "symlinked data", layout::blob_data(target), symlink_to);
    case 2:
      return hide(reg, "data as a directory", layout::blob_data(target),
                  [](const std::string& p, const std::string&) { bfs::create_directory(p); });
    case 3:
      return hide(reg, "data as a FIFO", layout::blob_data(target),
                  [](const std::string& p, const std::string&) { ::mkfifo(p.c_str(), 0644); });
    case 4:
      return hide(reg, "blob directory as a file", layout::blob_dir(target),
                  [](const std::string& p, const std::string&) {
                    FILE* f = std::fopen(p.c_str(), "wb");
                    std::fclose(f);
                  });
    case 5:
      return hide(reg, "blob prefix as a file", layout::blob_prefix_dir(target.hex().substr(0, 2)),
                  [](const std::string& p, const std::string&) {
                    FILE* f = std::fopen(p.c_str(), "wb");
                    std::fclose(f);
                  });
    case 6:
      return rewrite(reg, "truncated manifest", layout::blob_data(m), "{\"schemaVersion\":2,");
    case 7:
      return rewrite(reg, "garbage revision link", layout::revision_link(repo, m), "garbage\n");
    case 8: {
      // A garbage tag link: the tag's manifest is then unknown.
      std::vector<std::string> tags;
      for (const auto& [name, needs] : g.needs) {
        tags.push_back(name);
      }
      const std::string& t = tags[rng() % tags.size()];
      std::size_t colon = t.rfind(':');
      return rewrite(reg, "garbage tag link",
                     layout::tag_current_link(t.substr(0, colon), t.substr(colon + 1)),
                     "sha256:zz");
    }
    default: {
      std::string rel = layout::join(layout::repo_dir(repo), "_layers/stranger");
      reg.write(rel, "not a layer link");
      std::string path = reg.v2() + "/" + rel;
      return {"a stranger in '" + rel + "'", [path] {
                boost::system::error_code e;
                bfs::remove(path, e);
              }};
    }
  }
}

int run(std::uint64_t seed, double seconds, long iterations) {
  auto start = std::chrono::steady_clock::now();
  long done = 0;
  long damages = 0;
  tbb::task_arena arena(2);
  for (long i = 0;
       (iterations < 0 || i < iterations) &&
       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds;
       ++i) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(i));
    TempRegistry reg;
    Generated g = generate(reg, rng);
    std::vector<Damage> applied;
    int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      applied.push_back(damage(reg, g, rng));
    }
    bool delete_untagged = rng() % 2 == 0;
    GcOptions options = test::options(delete_untagged);
    auto v2 = open_registry(reg.root());
    if (!v2) {
      std::cerr << "treefuzz: " << v2.error().message << "\n";
      return 1;
    }
    auto store = make_fs_store(v2->get());
    auto c = plan_gc(*store, options, arena);
    if (!c) {
      std::cerr << "treefuzz: seed " << seed + i << ": " << c.error().message << "\n";
      return 1;
    }
    auto remover = store->remover();
    auto guard = store->guard(c->inventory, tags_to_watch(*c, delete_untagged));
    SweepResult s = sweep(c->plan, *remover, arena, guard.get());
    for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
      it->undo();
    }
    for (const auto& [tag, needs] : g.needs) {
      for (const std::string& p : needs) {
        if (!reg.exists(p)) {
          std::cerr << "treefuzz: seed " << seed + i << (delete_untagged ? " (gc -m)" : " (gc)")
                    << ": " << tag << " lost '" << p << "' after:\n";
          for (const Damage& d : applied) {
            std::cerr << "  " << d.what << "\n";
          }
          return 1;
        }
      }
    }
    ++done;
    damages += n;
  }
  std::cout << "treefuzz: " << done << " trees, " << damages
            << " damages, every tag kept what it needs (seed " << seed << ")\n";
  return 0;
}

}  // namespace
}  // namespace regsweep::fuzz

int main(int argc, char** argv) {
  double seconds = 20;
  std::uint64_t seed = static_cast<std::uint64_t>(std::time(nullptr));
  long iterations = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (flag == "--seed") {
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--iterations") {
      iterations = std::atol(argv[i + 1]);
    } else {
      std::cerr << "usage: regsweep_treefuzz [--seconds N] [--seed S] [--iterations N]\n";
      return 2;
    }
  }
  return regsweep::fuzz::run(seed, seconds, iterations);
}
