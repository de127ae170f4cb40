// Removing a run's entries from the registry's redis blob descriptor cache.
//
// 1. Connect: the first configured address that answers (with `mastername`, the master the
//    sentinels name), AUTH, SELECT.
// 2. Each removed repository: SSCAN its set, DEL each member's hash, then DEL the set.
// 3. Each deleted blob: DEL blobs::<digest>. Each deleted link: SREM the digest from its
//    repository's set, DEL the repository's hash of it. Pipelined, a thousand a round; a
//    cluster's MOVED answer is followed to the node it names.
// 4. What was not confirmed (an error reply, a lost connection, no answer in time) is written
//    as redis-cli commands to a file the finding names, with the command that runs it.

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <memory>

#include "cache/redis_client.hpp"
#include "regsweep/blob_cache.hpp"
#include "regsweep/fs.hpp"

namespace regsweep {

namespace {

using cache::RedisConnection;
using cache::RedisReply;
using Command = std::vector<std::string>;

constexpr std::size_t k_round = 1000;

std::string blob_key(const Digest& d) {
  return "blobs::sha256:" + d.hex();
}
std::string set_key(const std::string& repository) {
  return "repository::" + repository + "::blobs";
}
std::string repo_blob_key(const std::string& repository, const std::string& member) {
  return set_key(repository) + "::" + member;
}

// The connections of one run: the server first reached, and the cluster nodes a MOVED
// answer names.
class Router {
 public:
  explicit Router(const RedisSettings& s) : m_settings(s) {}

  Status connect();
  const std::string& address() const { return m_address; }
  // Replies to `commands`, in order; a MOVED answer is followed once. On a lost connection,
  // the replies read so far and the error.
  Status run(const std::vector<Command>& commands, std::vector<RedisReply>& replies);

 private:
  cache::RedisConnectOptions options(const std::string& address, bool sentinel) const {
    return cache::RedisConnectOptions{
        .address = address,
        .username = sentinel ? m_settings.sentinel_username : m_settings.username,
        .password = sentinel ? m_settings.sentinel_password : m_settings.password,
        .db = sentinel ? 0 : m_settings.db,
        .tls = cache::RedisTls{.enabled = m_settings.tls,
                               .certificate = m_settings.tls_certificate,
                               .key = m_settings.tls_key,
                               .rootcas = m_settings.tls_rootcas,
                               .server_name = {}},
        .dial_timeout = std::chrono::milliseconds(m_settings.dial_timeout_ms),
        .io_timeout = std::chrono::milliseconds(m_settings.read_timeout_ms)};
  }
  Result<std::string> master_from_sentinels();
  Result<RedisConnection*> node(const std::string& address);

  const RedisSettings& m_settings;
  std::string m_address;
  std::map<std::string, std::unique_ptr<RedisConnection>> m_nodes;
};

Result<std::string> Router::master_from_sentinels() {
  std::string why;
  for (const std::string& sentinel : m_settings.addrs) {
    auto c = RedisConnection::connect(options(sentinel, true));
    if (!c) {
      why = c.error().message;
      continue;
    }
    std::vector<RedisReply> r;
    Status s = (*c)->pipeline({{"SENTINEL", "get-master-addr-by-name", m_settings.mastername}}, r);
    if (s && r.front().type == RedisReply::Type::array && r.front().elements.size() == 2) {
      const std::string& host = r.front().elements[0].text;
      std::string port = r.front().elements[1].text;
      return host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port;
    }
    why = !s ? s.error().message
             : "redis at '" + sentinel + "': no master named '" + m_settings.mastername + "'";
  }
  return Error{why.empty() ? "no redis address in the configuration" : why, ECONNREFUSED};
}

Status Router::connect() {
  std::vector<std::string> candidates = m_settings.addrs;
  if (!m_settings.mastername.empty()) {
    auto master = master_from_sentinels();
    if (!master) {
      return master.error();
    }
    candidates = {*master};
  }
  std::string why = "no redis address (redis.addr or redis.addrs) in the " + m_settings.origin;
  for (const std::string& address : candidates) {
    auto c = RedisConnection::connect(options(address, false));
    if (c) {
      m_address = address;
      m_nodes[address] = std::move(*c);
      return ok_status();
    }
    why = c.error().message;
  }
  return Error{why, ECONNREFUSED};
}

Result<RedisConnection*> Router::node(const std::string& address) {
  auto it = m_nodes.find(address);
  if (it != m_nodes.end()) {
    return it->second.get();
  }
  auto c = RedisConnection::connect(options(address, false));
  if (!c) {
    return c.error();
  }
  return (m_nodes[address] = std::move(*c)).get();
}

Status Router::run(const std::vector<Command>& commands, std::vector<RedisReply>& replies) {
  replies.clear();
  if (Status s = m_nodes.at(m_address)->pipeline(commands, replies); !s) {
    return s;
  }
  std::map<std::string, std::vector<std::size_t>> moved;  // node → command indices
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const RedisReply& r = replies[i];
    if (r.type == RedisReply::Type::error && r.text.rfind("MOVED ", 0) == 0) {
      moved[r.text.substr(r.text.rfind(' ') + 1)].push_back(i);
    }
  }
  for (const auto& [address, indices] : moved) {
    auto c = node(address);
    if (!c) {
      continue;  // the MOVED error replies stand: those removals failed
    }
    std::vector<Command> again;
    for (std::size_t i : indices) {
      again.push_back(commands[i]);
    }
    std::vector<RedisReply> answers;
    Status s = (*c)->pipeline(again, answers);
    for (std::size_t k = 0; k < answers.size(); ++k) {
      replies[indices[k]] = std::move(answers[k]);
    }
    if (!s) {
      m_nodes.erase(address);
    }
  }
  return ok_status();
}

// The removal, round by round, and what failed.
class Clearing {
 public:
  Clearing(const BlobCacheSettings& settings, CacheReport& report)
      : m_router(settings.redis), m_report(report) {}

  void start() {
    if (Status s = m_router.connect(); !s) {
      m_error = s.error().message;
    }
  }
  void add(Command c) {
    m_round.push_back(std::move(c));
    if (m_round.size() >= k_round) {
      flush();
    }
  }
  void flush();
  void repository(const std::string& name);
  const std::vector<Command>& stale() const { return m_stale; }
  const std::string& error() const { return m_error; }
  const std::string& address() const { return m_router.address(); }

 private:
  void fail(const Command& c) {
    ++m_report.failed;
    m_stale.push_back(c);
  }

  Router m_router;
  CacheReport& m_report;
  std::vector<Command> m_round;
  std::vector<Command> m_stale;
  std::string m_error;  // the first failure of the connection; nothing is sent after it
};

void Clearing::flush() {
  if (m_round.empty()) {
    return;
  }
  std::vector<RedisReply> replies;
  if (m_error.empty()) {
    if (Status s = m_router.run(m_round, replies); !s) {
      m_error = s.error().message;
    }
  }
  for (std::size_t i = 0; i < m_round.size(); ++i) {
    if (i >= replies.size() || replies[i].type != RedisReply::Type::integer) {
      if (i < replies.size() && m_error.empty()) {
        m_error = "redis at '" + m_router.address() + "' answered '" + replies[i].text + "'";
      }
      fail(m_round[i]);
    } else {
      m_report.removed += static_cast<std::uint64_t>(std::max(0LL, replies[i].integer));
    }
  }
  m_round.clear();
}

// Every entry of a removed repository: its set's members' hashes, then the set. Without its
// set, the registry finds none of the repository's entries (it checks membership first).
void Clearing::repository(const std::string& name) {
  std::string cursor = "0";
  const std::string set = set_key(name);
  while (m_error.empty()) {
    std::vector<RedisReply> r;
    Status s = m_router.run({{"SSCAN", set, cursor, "COUNT", "1000"}}, r);
    if (!s || r.front().type != RedisReply::Type::array || r.front().elements.size() != 2) {
      m_error =
          !s ? s.error().message
             : "redis at '" + m_router.address() + "' answered '" + r.front().text + "' to SSCAN";
      break;
    }
    for (const RedisReply& member : r.front().elements[1].elements) {
      add({"DEL", repo_blob_key(name, member.text)});
    }
    cursor = r.front().elements[0].text;
    if (cursor == "0") {
      break;
    }
  }
  add({"DEL", set});
}

// The redis-cli line of a command (keys and digests hold no space or quote).
std::string cli_line(const Command& c) {
  std::string line;
  for (const std::string& arg : c) {
    line += (line.empty() ? "" : " ") + arg;
  }
  return line + "\n";
}

// The commands of what failed, in a new file of `dir` (mode 0600); its path, or "".
std::string write_stale(const std::string& dir, const std::vector<Command>& stale) {
  std::array<char, 32> stamp{};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(stamp.data(), stamp.size(), "%Y%m%dT%H%M%SZ", &tm);
  std::string path =
      dir + "/regsweep-redis-stale-" + stamp.data() + "-" + std::to_string(::getpid()) + ".txt";
  std::string text;
  for (const Command& c : stale) {
    text += cli_line(c);
  }
  return fs::write_new_file(path, text) ? path : std::string();
}

// The finding of a clearing that failed: the server, what may be stale, the one command.
Finding stale_finding(const BlobCacheSettings& s, const CacheReport& r, const std::string& why) {
  // No address configured: the command names the server to fill in.
  auto [host, port] = cache::split_address(r.address.empty() ? "HOST:PORT" : r.address);
  std::string cli = "redis-cli -h " + host + " -p " + port;
  cli += s.redis.db != 0 ? " -n " + std::to_string(s.redis.db) : "";
  cli += !s.redis.username.empty() ? " --user " + s.redis.username : "";
  cli += s.redis.tls ? " --tls" : "";
  std::string fix =
      !r.stale_file.empty()
          ? "with the registry stopped, run: " + cli + " < " + r.stale_file
          : "with the registry stopped, clear the blobs' global entries (the registry refills "
            "them): " +
                cli + " --scan --pattern 'blobs::*' | xargs -r -n 100 " + cli + " unlink";
  if (!s.redis.password.empty()) {
    fix += " (with REDISCLI_AUTH set to the password of the " + s.redis.origin + ")";
  }
  std::string message =
      "the registry's redis cache at '" + (r.address.empty() ? "(no address)" : r.address) +
      "' (db " + std::to_string(r.db) + ") may still list " + std::to_string(r.failed) +
      " entries of the " + std::to_string(r.blobs) + " blobs, " + std::to_string(r.links) +
      " links and " + std::to_string(r.repositories) + " repositories this run deleted: " + why +
      "; pushes of them would be skipped as 'already exists' and leave "
      "images broken; " +
      fix;
  return Finding{.kind = FindingKind::cache_stale,
                 .severity = Severity::error,
                 .path = {},
                 .repository = {},
                 .message = std::move(message)};
}

}  // namespace

CacheReport clear_blob_cache(const BlobCacheSettings& settings, const CacheEntries& entries) {
  CacheReport report = planned_cache_clear(settings.redis, entries);
  if (entries.empty()) {
    return report;
  }
  report.attempted = true;
  auto started = std::chrono::steady_clock::now();
  Clearing clearing(settings, report);
  clearing.start();
  if (!clearing.address().empty()) {
    report.address = clearing.address();
  }
  for (const std::string& name : entries.repositories) {
    clearing.repository(name);
  }
  for (const Digest& d : entries.blobs) {
    clearing.add({"DEL", blob_key(d)});
  }
  for (const auto& [repository, d] : entries.links) {
    std::string member = "sha256:" + d.hex();
    clearing.add({"SREM", set_key(repository), member});
    clearing.add({"DEL", repo_blob_key(repository, member)});
  }
  clearing.flush();
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (report.failed > 0) {
    report.stale_file = write_stale(settings.stale_dir, clearing.stale());
    report.finding = stale_finding(settings, report, clearing.error());
  }
  return report;
}

}  // namespace regsweep
