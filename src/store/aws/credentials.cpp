// The AWS default credential chain (credentials.hpp).

#include "store/aws/credentials.hpp"

#include <curl/curl.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <simdjson.h>
#include <pugixml.hpp>

#include "regsweep/fs.hpp"
#include "regsweep/timeutil.hpp"
#include "store/object/http.hpp"

namespace regsweep {

namespace {

constexpr std::int64_t k_refresh_before_s = 300;
constexpr std::size_t k_max_answer = 1U << 20U;

std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string var(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

struct Answer {
  long code = 0;
  std::string body;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * n > k_max_answer) {
    return 0;  // too large: the transfer fails
  }
  body->append(data, size * n);
  return size * n;
}

// One request for keys, with a deadline; never through a proxy for the link-local services.
Result<Answer> call(const std::string& method, const std::string& url,
                    const std::vector<std::string>& headers, long timeout_ms, bool direct) {
  CURL* c = curl_easy_init();
  if (c == nullptr) {
    return Error{"cannot start a request", ENOMEM};
  }
  Answer a;
  curl_slist* list = nullptr;
  for (const std::string& h : headers) {
    list = curl_slist_append(list, h.c_str());
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "PUT" || method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");  // an empty body, Content-Length: 0
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(timeout_ms, 2000));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (direct) {
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  }
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.code);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    return Error{std::string(curl_easy_strerror(rc)), EIO};
  }
  return a;
}

// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}: what ECS and IMDS answer.
Result<AwsCredentials> from_json(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Error{"its answer is not a JSON object", EINVAL};
  }
  AwsCredentials k;
  auto text = [&](const char* key) {
    std::string_view v;
    return doc[key].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
  };
  k.access_key = text("AccessKeyId");
  k.secret_key = text("SecretAccessKey");
  k.session_token = text("Token");
  if (std::string e = text("Expiration"); !e.empty()) {
    k.expires = parse_rfc3339(e);
  }
  if (k.access_key.empty() || k.secret_key.empty()) {
    return Error{"its answer has no AccessKeyId and SecretAccessKey", EINVAL};
  }
  return k;
}

// The profile's keys from a shared credentials file (INI: [profile] then key = value).
Result<std::optional<AwsCredentials>> from_file(const std::string& path,
                                                const std::string& profile) {
  auto text = fs::read_named_file(path, k_max_answer);
  if (!text) {
    if (text.error().sys_errno == ENOENT) {
      return std::optional<AwsCredentials>{};
    }
    return text.error();
  }
  std::istringstream in(*text);
  std::string line;
  std::string section;
  bool found = false;
  AwsCredentials k;
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
      s.pop_back();
    }
    std::size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) {
      ++i;
    }
    return s.substr(i);
  };
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') {
      continue;
    }
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      found = found || section == profile;
      continue;
    }
    auto eq = line.find('=');
    if (section != profile || eq == std::string::npos) {
      continue;
    }
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") {
      k.access_key = value;
    } else if (key == "aws_secret_access_key") {
      k.secret_key = value;
    } else if (key == "aws_session_token") {
      k.session_token = value;
    }
  }
  if (!found) {
    return std::optional<AwsCredentials>{};
  }
  if (k.access_key.empty() || k.secret_key.empty()) {
    return Error{"profile '" + profile + "' has no aws_access_key_id and aws_secret_access_key",
                 EINVAL};
  }
  return std::optional<AwsCredentials>(k);
}

// A token file's contents without its line end: read at each use (a projected token is
// rotated while the run goes on).
Result<std::string> read_token(const std::string& path) {
  auto token = fs::read_named_file(path, k_max_answer);
  if (!token) {
    return Error{"cannot read the token file '" + path + "': " + token.error().message,
                 token.error().sys_errno};
  }
  std::string t = std::move(*token);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) {
    t.pop_back();
  }
  return t;
}

// AssumeRoleWithWebIdentity at STS: unsigned, the token read from its file at each call
// (a projected token is rotated by the kubelet).
Result<AwsCredentials> web_identity(const std::string& endpoint, const std::string& token_file,
                                    const std::string& role, const std::string& session) {
  auto token = read_token(token_file);
  if (!token) {
    return token.error();
  }
  const std::string& t = *token;
  std::string url = endpoint + "/?Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" +
                    object::uri_encode(role, false) +
                    "&RoleSessionName=" + object::uri_encode(session, false) +
                    "&WebIdentityToken=" + object::uri_encode(t, false);
  auto a = call("POST", url, {"Accept: application/xml"}, 10000, false);
  if (!a) {
    return Error{"STS at " + endpoint + ": " + a.error().message, a.error().sys_errno};
  }
  pugi::xml_document doc;
  doc.load_string(a->body.c_str());
  if (a->code != 200) {
    std::string code = doc.child("ErrorResponse").child("Error").child_value("Code");
    return Error{"STS at " + endpoint + " answered " + std::to_string(a->code) +
                     (code.empty() ? "" : " (" + code + ")"),
                 EACCES};
  }
  pugi::xml_node c = doc.child("AssumeRoleWithWebIdentityResponse")
                         .child("AssumeRoleWithWebIdentityResult")
                         .child("Credentials");
  AwsCredentials k{.access_key = c.child_value("AccessKeyId"),
                   .secret_key = c.child_value("SecretAccessKey"),
                   .session_token = c.child_value("SessionToken"),
                   .expires = parse_rfc3339(c.child_value("Expiration"))};
  if (k.access_key.empty() || k.secret_key.empty()) {
    return Error{"STS at " + endpoint + " answered no credentials", EINVAL};
  }
  return k;
}

Result<AwsCredentials> container(const std::string& url, const std::string& authorization) {
  std::vector<std::string> headers;
  if (!authorization.empty()) {
    headers.push_back("Authorization: " + authorization);
  }
  auto a = call("GET", url, headers, 5000, true);
  if (!a) {
    return Error{a.error().message, a.error().sys_errno};
  }
  if (a->code != 200) {
    return Error{"answered " + std::to_string(a->code), EACCES};
  }
  return from_json(a->body);
}

Result<AwsCredentials> instance(const std::string& endpoint) {
  auto token = call("PUT", endpoint + "/latest/api/token",
                    {"X-aws-ec2-metadata-token-ttl-seconds: 21600"}, 2000, true);
  if (!token) {
    return Error{token.error().message, token.error().sys_errno};
  }
  if (token->code != 200 || token->body.empty()) {
    return Error{"gave no session token (answered " + std::to_string(token->code) + ")", EACCES};
  }
  const std::string h = "X-aws-ec2-metadata-token: " + token->body;
  const std::string base = endpoint + "/latest/meta-data/iam/security-credentials/";
  auto role = call("GET", base, {h}, 2000, true);
  if (!role) {
    return Error{role.error().message, role.error().sys_errno};
  }
  std::string name = role->body.substr(0, role->body.find('\n'));
  if (role->code != 200 || name.empty()) {
    return Error{"names no role for this instance (answered " + std::to_string(role->code) + ")",
                 EACCES};
  }
  auto keys = call("GET", base + name, {h}, 2000, true);
  if (!keys) {
    return Error{keys.error().message, keys.error().sys_errno};
  }
  if (keys->code != 200) {
    return Error{"answered " + std::to_string(keys->code) + " for role '" + name + "'", EACCES};
  }
  return from_json(keys->body);
}

// A source that is configured: its name and how it fetches.
Result<std::shared_ptr<CredentialProvider>> first_of(std::string source,
                                                     CredentialProvider::Fetch fetch) {
  auto keys = fetch();
  if (!keys) {
    return Error{"no S3 credentials from " + source + ": " + keys.error().message,
                 keys.error().sys_errno};
  }
  return std::make_shared<CredentialProvider>(std::move(source), std::move(*keys),
                                              std::move(fetch));
}

}  // namespace

CredentialProvider::CredentialProvider(std::string source, AwsCredentials first, Fetch again)
    : m_source(std::move(source)), m_keys(std::move(first)), m_again(std::move(again)) {}

std::shared_ptr<CredentialProvider> CredentialProvider::fixed(std::string source,
                                                              AwsCredentials keys) {
  return std::make_shared<CredentialProvider>(std::move(source), std::move(keys), nullptr);
}

AwsCredentials CredentialProvider::current() {
  std::lock_guard lock(m_mutex);
  const std::int64_t now = now_s();
  // Within five minutes of the end: fetched again, at most every 30 s (a source that hands
  // out short-lived keys, or fails, is not asked on every request), or at once once expired.
  if (m_again && m_keys.expires && *m_keys.expires - now < k_refresh_before_s &&
      (now - m_last_try >= 30 || *m_keys.expires <= now)) {
    m_last_try = now;
    if (auto fresh = m_again(); fresh) {
      m_keys = std::move(*fresh);
    }
  }
  return m_keys;
}

namespace {

using Chosen = std::optional<Result<std::shared_ptr<CredentialProvider>>>;
using Env = std::map<std::string, std::string>;

// 1. The environment; nothing when it sets neither key.
Chosen from_environment(const Env& env) {
  if (var(env, "AWS_ACCESS_KEY_ID").empty() && var(env, "AWS_SECRET_ACCESS_KEY").empty()) {
    return std::nullopt;
  }
  AwsCredentials k{.access_key = var(env, "AWS_ACCESS_KEY_ID"),
                   .secret_key = var(env, "AWS_SECRET_ACCESS_KEY"),
                   .session_token = var(env, "AWS_SESSION_TOKEN"),
                   .expires = std::nullopt};
  if (k.access_key.empty() || k.secret_key.empty()) {
    return Error{
        "no S3 credentials from the environment: set both AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY",
        EINVAL};
  }
  return CredentialProvider::fixed("the environment", std::move(k));
}

// 2. The shared credentials file (`file`, empty without HOME); nothing when it lacks the
// default profile. A profile AWS_PROFILE names and the file lacks is a mistake, an error.
Chosen from_shared_file(const Env& env, const std::string& file) {
  std::string profile = var(env, "AWS_PROFILE");
  const bool named = !profile.empty();
  if (!named) {
    profile = "default";
  }
  if (file.empty()) {
    return std::nullopt;
  }
  auto keys = from_file(file, profile);
  const std::string source = "profile '" + profile + "' of '" + file + "'";
  if (!keys) {
    return Error{"no S3 credentials from " + source + ": " + keys.error().message,
                 keys.error().sys_errno};
  }
  if (*keys) {
    return CredentialProvider::fixed(source, std::move(**keys));
  }
  if (named) {
    return Error{"no S3 credentials: AWS_PROFILE names '" + profile + "', which '" + file +
                     "' does not have",
                 ENOENT};
  }
  return std::nullopt;
}

// 3. Web identity; nothing without a token file and a role.
Chosen from_web_identity(const Env& env, const std::string& region) {
  std::string token_file = var(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
  std::string role = var(env, "AWS_ROLE_ARN");
  if (token_file.empty() || role.empty()) {
    return std::nullopt;
  }
  std::string endpoint = var(env, "AWS_ENDPOINT_URL_STS");
  if (endpoint.empty()) {
    endpoint =
        "https://sts." + (region.empty() ? std::string("us-east-1") : region) + ".amazonaws.com";
  }
  std::string session = var(env, "AWS_ROLE_SESSION_NAME");
  if (session.empty()) {
    session = "regsweep-" + std::to_string(now_s());
  }
  return first_of("web identity (role '" + role + "' at " + endpoint + ")",
                  [=] { return web_identity(endpoint, token_file, role, session); });
}

// 4. The container credentials endpoint; nothing when neither URI is set.
Chosen from_container(const Env& env) {
  std::string relative = var(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  std::string full = var(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (relative.empty() && full.empty()) {
    return std::nullopt;
  }
  std::string url = !relative.empty() ? "http://169.254.170.2" + relative : full;
  std::string token_path = var(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  std::string token = var(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  return first_of("the container credentials endpoint " + url, [=]() -> Result<AwsCredentials> {
    if (token_path.empty()) {
      return container(url, token);
    }
    auto authorization = read_token(token_path);
    if (!authorization) {
      return authorization.error();
    }
    return container(url, *authorization);
  });
}

}  // namespace

Result<std::shared_ptr<CredentialProvider>> aws_default_chain(const Env& env,
                                                              const std::string& region) {
  std::string file = var(env, "AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty() && !var(env, "HOME").empty()) {
    file = var(env, "HOME") + "/.aws/credentials";
  }
  if (Chosen c = from_environment(env)) {
    return std::move(*c);
  }
  if (Chosen c = from_shared_file(env, file)) {
    return std::move(*c);
  }
  if (Chosen c = from_web_identity(env, region)) {
    return std::move(*c);
  }
  if (Chosen c = from_container(env)) {
    return std::move(*c);
  }
  // 5. The instance metadata service.
  std::string disabled = var(env, "AWS_EC2_METADATA_DISABLED");
  if (disabled == "true" || disabled == "TRUE" || disabled == "True") {
    return Error{
        "no S3 credentials: none in the configuration (storage.s3.accesskey and "
        "secretkey), the environment (AWS_ACCESS_KEY_ID), a shared credentials file, "
        "web identity or a container endpoint, and the instance metadata service is "
        "disabled (AWS_EC2_METADATA_DISABLED)",
        ENOENT};
  }
  std::string endpoint = var(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (endpoint.empty()) {
    endpoint = "http://169.254.169.254";
  }
  while (!endpoint.empty() && endpoint.back() == '/') {
    endpoint.pop_back();
  }
  auto got = instance(endpoint);
  if (!got) {
    return Error{
        "no S3 credentials: none in the configuration, the environment "
        "(AWS_ACCESS_KEY_ID), a shared credentials file (" +
            (file.empty() ? std::string("no HOME") : "'" + file + "'") +
            "), web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN) or a "
            "container endpoint (AWS_CONTAINER_CREDENTIALS_*), and the instance "
            "metadata service at " +
            endpoint + ": " + got.error().message,
        got.error().sys_errno};
  }
  return std::make_shared<CredentialProvider>("the instance metadata service at " + endpoint,
                                              std::move(*got),
                                              [endpoint] { return instance(endpoint); });
}

}  // namespace regsweep
