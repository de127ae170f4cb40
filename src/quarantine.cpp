// The quarantine's run ids, journals and listing (quarantine.hpp).

#include "regsweep/quarantine.hpp"

#include <openssl/rand.h>
#include <simdjson.h>

#include <cstdio>
#include <ctime>

#include "regsweep/json_writer.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/timeutil.hpp"

namespace regsweep {

namespace {

constexpr std::string_view k_hex = "0123456789abcdef";
constexpr std::size_t k_stamp = 20;  // "20261206T181811.123Z"

}  // namespace

std::string new_run_id(std::int64_t now_ms) {
  std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(now_ms % 1000));
  unsigned char random[3] = {0, 0, 0};
  if (RAND_bytes(random, sizeof random) != 1) {
    // Two runs in one second are refused by the lock anyway; the digits only tell them apart.
    random[0] = static_cast<unsigned char>(std::clock());
  }
  std::string id(stamp);
  id += '-';
  for (unsigned char c : random) {
    id += k_hex[c >> 4U];
    id += k_hex[c & 0xFU];
  }
  return id;
}

bool is_run_id(std::string_view text) {
  if (text.size() != k_stamp + 7 || text[8] != 'T' || text[15] != '.' || text[19] != 'Z' ||
      text[20] != '-') {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 15 || i == 19 || i == 20) {
      continue;
    }
    bool digit = text[i] >= '0' && text[i] <= '9';
    bool hex = i > 20 && text[i] >= 'a' && text[i] <= 'f';
    if (!digit && !hex) {
      return false;
    }
  }
  return true;
}

std::optional<std::int64_t> run_started(std::string_view id) {
  if (!is_run_id(id)) {
    return std::nullopt;
  }
  std::string rfc = std::string(id.substr(0, 4)) + "-" + std::string(id.substr(4, 2)) + "-" +
                    std::string(id.substr(6, 2)) + "T" + std::string(id.substr(9, 2)) + ":" +
                    std::string(id.substr(11, 2)) + ":" + std::string(id.substr(13, 2)) + "Z";
  return parse_rfc3339(rfc);
}

std::string journal_json(const QuarantineJournal& j) {
  JsonWriter w;
  w.begin_object();
  w.key("version").value(1);
  w.key("run_id").value(j.run_id);
  w.key("started").value(format_rfc3339(j.started));
  w.key("command").value(j.command);
  w.key("location").value(j.location);
  w.key("complete").value(j.complete);
  if (j.complete) {
    w.key("ended").value(format_rfc3339(j.ended));
  }
  w.key("planned").begin_array();
  for (const std::string& p : j.planned) {
    w.value(p);
  }
  w.end_array();
  w.key("moved").begin_array();
  for (const StoreObject& o : j.moved) {
    w.begin_object().key("path").value(o.key).key("bytes").value(o.size).end_object();
  }
  w.end_array();
  w.end_object();
  return w.str() + "\n";
}

Result<QuarantineJournal> parse_journal(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Error{"not a journal: not a JSON object", EINVAL};
  }
  QuarantineJournal j;
  std::int64_t version = 0;
  std::string_view id;
  std::string_view started;
  std::string_view command;
  bool complete = false;
  if (doc["version"].get(version) != simdjson::SUCCESS || version != 1 ||
      doc["run_id"].get(id) != simdjson::SUCCESS || !is_run_id(id) ||
      doc["started"].get(started) != simdjson::SUCCESS ||
      doc["command"].get(command) != simdjson::SUCCESS ||
      doc["complete"].get(complete) != simdjson::SUCCESS) {
    return Error{"not a journal of version 1 (version, run_id, started, command, complete)",
                 EINVAL};
  }
  auto when = parse_rfc3339(started);
  if (!when) {
    return Error{"journal: 'started' is not a time", EINVAL};
  }
  j.run_id = std::string(id);
  j.started = *when;
  j.command = std::string(command);
  j.complete = complete;
  std::string_view location;
  if (doc["location"].get(location) == simdjson::SUCCESS) {
    j.location = std::string(location);
  }
  simdjson::dom::array planned;
  if (doc["planned"].get(planned) == simdjson::SUCCESS) {
    for (auto p : planned) {
      std::string_view s;
      if (p.get(s) == simdjson::SUCCESS) {
        j.planned.emplace_back(s);
      }
    }
  }
  simdjson::dom::array moved;
  if (doc["moved"].get(moved) == simdjson::SUCCESS) {
    for (auto m : moved) {
      std::string_view path;
      std::uint64_t bytes = 0;
      if (m["path"].get(path) == simdjson::SUCCESS && m["bytes"].get(bytes) == simdjson::SUCCESS) {
        j.moved.push_back(StoreObject{std::string(path), bytes, 0});
      }
    }
  }
  return j;
}

Result<std::vector<QuarantineRunInfo>> list_quarantine(QuarantineArea& area) {
  auto ids = area.runs();
  if (!ids) {
    return ids.error();
  }
  std::vector<QuarantineRunInfo> out;
  for (const std::string& id : *ids) {
    QuarantineRunInfo info;
    info.id = id;
    info.started = run_started(id).value_or(0);
    auto text = area.read_journal(id);
    auto journal = text ? parse_journal(*text) : Result<QuarantineJournal>(text.error());
    if (journal) {
      info.command = journal->command;
      info.complete = journal->complete;
    } else {
      info.problem = journal.error().message;
    }
    Status listed = area.objects(id, [&](const StoreObject& o) {
      ++info.objects;
      info.bytes += o.size;
    });
    if (!listed) {
      return listed.error();
    }
    out.push_back(std::move(info));
  }
  return out;
}

int restore_rank(std::string_view path) {
  auto what = layout::classify(path);
  if (!what) {
    return 6;
  }
  switch (what->kind) {
    case layout::PathKind::blob_dir:
    case layout::PathKind::blob_data:
      return 0;
    case layout::PathKind::layer_link:
    case layout::PathKind::revision_link:
      return 1;
    case layout::PathKind::tag_index_entry_link:
      return 2;
    case layout::PathKind::tag_current_link:
      return 3;
    default:
      return 4;
  }
}

}  // namespace regsweep
