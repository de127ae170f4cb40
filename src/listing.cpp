#include "regsweep/listing.hpp"

#include <algorithm>
#include <unordered_set>

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <simdjson.h>

#include "regsweep/graph.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/select.hpp"

namespace regsweep {

namespace {

constexpr std::uint64_t k_config_max = 16ULL << 20U;

// The `created` field of an image config blob, or empty.
std::string created_of(Store& store, const Digest& config, simdjson::dom::parser& parser) {
  auto bytes = store.read(layout::blob_data(config), k_config_max);
  if (!bytes) {
    return "";
  }
  simdjson::dom::element doc;
  std::string_view created;
  if (parser.parse(bytes->data(), bytes->size(), true).get(doc) != simdjson::SUCCESS ||
      doc["created"].get(created) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(created.substr(0, 64));
}

// What `tag` names: its manifest's kind and platforms, the bytes it reaches (each blob once),
// whether they all exist, and the newest `created` of its image configs.
TagInfo describe_tag(Store& store, const Graph& graph, const Tag& tag,
                     simdjson::dom::parser& parser) {
  const Inventory& inv = graph.inventory;
  const ManifestTable& table = graph.manifests;
  TagInfo info;
  info.name = tag.name;
  info.digest = tag.current;
  if (!tag.current) {
    info.complete = false;
    return info;
  }
  std::unordered_set<Digest, DigestHash> seen;
  std::vector<Digest> todo{*tag.current};
  std::vector<Digest> configs;
  while (!todo.empty()) {
    Digest d = todo.back();
    todo.pop_back();
    if (!seen.insert(d).second) {
      continue;
    }
    const Blob* b = find_blob(inv, d);
    if (b == nullptr) {
      info.complete = false;
      continue;
    }
    info.size += b->size;
    const ManifestRecord* m = table.find(inv, d);
    if (m == nullptr || !m->parsed()) {
      continue;
    }
    if (d == *tag.current) {
      info.media_type = m->media_type;
      info.platforms = m->platforms();
    }
    std::span<const ManifestRef> blobs = m->blobs();
    for (std::size_t k = 0; k < blobs.size(); ++k) {
      const Digest& bd = table.digest(inv, blobs[k]);
      if (k == 0 && m->kind != ManifestKind::docker_schema1) {
        configs.push_back(bd);
      }
      todo.push_back(bd);
    }
    for (ManifestRef c : m->children()) {
      todo.push_back(table.digest(inv, c));
    }
  }
  for (const Digest& c : configs) {
    info.created = std::max(info.created, created_of(store, c, parser));
  }
  return info;
}

}  // namespace

Result<Listing> list_registry(Store& store, const std::vector<std::string>& globs, bool with_tags,
                              tbb::task_arena& arena) {
  GraphOptions graph_options;
  graph_options.read_manifests = with_tags;
  auto graph = build_graph(store, graph_options, arena);
  if (!graph) {
    return graph.error();
  }
  Listing out;
  out.findings = std::move(graph->findings);
  std::vector<const Repository*> chosen;
  for (const Repository& r : graph->inventory.repositories) {
    if (globs.empty() || glob_match_any(globs, r.name)) {
      chosen.push_back(&r);
    }
  }
  out.repositories.resize(chosen.size());
  tbb::enumerable_thread_specific<simdjson::dom::parser> parsers;
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, chosen.size(), [&](std::size_t i) {
      RepoListing& rl = out.repositories[i];
      rl.name = chosen[i]->name;
      if (!with_tags) {
        return;
      }
      for (const Tag& tag : chosen[i]->tags) {
        rl.tags.push_back(describe_tag(store, *graph, tag, parsers.local()));
      }
    });
  });
  sort_findings(out.findings);
  return out;
}

}  // namespace regsweep
