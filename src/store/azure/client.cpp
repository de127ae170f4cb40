// The Azure Blob client: Shared Key signing on each attempt, requests over the shared
// transport, error documents read with pugixml (client.hpp).

#include "store/azure/client.hpp"

#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <map>
#include <utility>

#include <pugixml.hpp>

namespace regsweep {

namespace {

std::string base64_decode(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || text.size() % 4 != 0) {
    return {};
  }
  std::size_t pad = 0;
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) {
    ++pad;
  }
  out.resize(static_cast<std::size_t>(n) - std::min<std::size_t>(pad, 2));
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// The value of header `name` among `headers` ("Name: value"); "" when absent.
std::string header(const std::vector<std::string>& headers, std::string_view name) {
  for (const std::string& h : headers) {
    auto colon = h.find(':');
    if (colon == name.size() && strncasecmp(h.c_str(), name.data(), name.size()) == 0) {
      return trimmed(std::string_view(h).substr(colon + 1));
    }
  }
  return {};
}

// The query's parameters, names in lower case, values decoded and sorted, as the canonicalized
// resource lists them: "\nname:v1,v2" for each name in order.
std::string canonical_query(std::string_view query) {
  std::map<std::string, std::vector<std::string>> params;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    auto eq = pair.find('=');
    std::string name = lower(percent_decode(pair.substr(0, eq)));
    std::string value =
        eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    params[name].push_back(std::move(value));
  }
  std::string out;
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) {
      out += (i == 0 ? "" : ",") + values[i];
    }
  }
  return out;
}

std::string http_date_now() {
  return AzureClient::http_date(std::time(nullptr));
}

// An error document's Code and Message (a HEAD's code comes in x-ms-error-code instead).
void read_error(object::HttpResponse& r) {
  pugi::xml_document doc;
  if (doc.load_buffer(r.body.data(), r.body.size())) {
    r.code = doc.child("Error").child_value("Code");
    r.message = doc.child("Error").child_value("Message");
  }
}

bool retry_code(const std::string& code) {
  return code == "ServerBusy" || code == "InternalError" || code == "OperationTimedOut";
}

}  // namespace

std::string AzureClient::http_date(std::int64_t seconds) {
  auto when = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&when, &tm);
  static constexpr const char* k_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", k_days[tm.tm_wday],
                tm.tm_mday, k_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

AzureClient::AzureClient(AzureSettings settings, object::HttpOptions options)
    : m_settings(std::move(settings)),
      m_key(base64_decode(m_settings.key)),
      m_http(options,
             object::HttpClient::Service{
                 .prepare = nullptr,
                 .inspect = read_error,
                 .retry_code = retry_code,
                 .sign =
                     [this](const object::HttpRequest& r, std::vector<std::string>& headers) {
                       sign(r.method, r.url, headers, r.body.size());
                     }},
             m_settings.skip_verify) {}

AzureClient::~AzureClient() = default;

std::string AzureClient::url(std::string_view key, const std::string& query) const {
  std::string out = m_settings.service_url + "/" + object::uri_encode(m_settings.container, false);
  if (!key.empty()) {
    out += "/" + object::uri_encode(key, true);
  }
  if (!query.empty()) {
    out += "?" + query;
  }
  return out;
}

std::string AzureClient::string_to_sign(std::string_view method, const std::string& url,
                                        const std::vector<std::string>& headers,
                                        std::uint64_t content_length) const {
  std::string out(method);
  out += "\n";
  for (const char* name : {"Content-Encoding", "Content-Language"}) {
    out += header(headers, name) + "\n";
  }
  out += (content_length == 0 ? std::string() : std::to_string(content_length)) + "\n";
  for (const char* name : {"Content-MD5", "Content-Type", "Date", "If-Modified-Since", "If-Match",
                           "If-None-Match", "If-Unmodified-Since", "Range"}) {
    out += header(headers, name) + "\n";
  }
  std::map<std::string, std::string> ms;
  for (const std::string& h : headers) {
    auto colon = h.find(':');
    if (colon != std::string::npos && strncasecmp(h.c_str(), "x-ms-", 5) == 0) {
      ms[lower(std::string_view(h).substr(0, colon))] =
          trimmed(std::string_view(h).substr(colon + 1));
    }
  }
  for (const auto& [name, value] : ms) {
    out += name + ":" + value + "\n";
  }
  object::UrlParts parts = object::url_parts(url);
  out += "/" + m_settings.account + (parts.path.empty() ? std::string("/") : parts.path);
  out += canonical_query(parts.query);
  return out;
}

std::string AzureClient::signature(std::string_view key, std::string_view text) {
  return base64_encode(object::hmac_sha256(base64_decode(key), text));
}

void AzureClient::sign(std::string_view method, const std::string& url,
                       std::vector<std::string>& headers, std::uint64_t content_length) const {
  headers.push_back("x-ms-date: " + http_date_now());
  std::string text = string_to_sign(method, url, headers, content_length);
  headers.push_back("Authorization: SharedKey " + m_settings.account + ":" +
                    base64_encode(object::hmac_sha256(m_key, text)));
}

AzureClient::Response AzureClient::perform(Request& request) {
  object::HttpRequest h;
  h.method = request.method;
  h.url = request.account ? m_settings.service_url + "/?" + request.query
                          : url(request.key, request.query);
  h.headers.push_back("x-ms-version: " + std::string(k_azure_api_version));
  h.headers.insert(h.headers.end(), request.headers.begin(), request.headers.end());
  h.body = std::move(request.body);
  h.max = request.max;
  h.sink = request.sink;
  h.offset = request.offset;
  Response r = m_http.perform(h);
  if (r.code.empty()) {
    r.code = r.headers.error_code;
  }
  request.body = std::move(h.body);
  request.offset = h.offset;
  request.too_large = h.too_large;
  return r;
}

std::string AzureClient::shown(std::string_view key) const {
  return "azure://" + m_settings.container + "/" + std::string(key);
}

Error AzureClient::error_of(const Response& r, std::string_view what, std::string_view key) const {
  std::string where = "'" + shown(key) + "'";
  if (r.curl != CURLE_OK && r.status < 300) {
    return Error{"cannot " + std::string(what) + " " + where + ": " + r.curl_error + " (endpoint " +
                     m_settings.service_url + ")",
                 EIO};
  }
  std::string server = std::to_string(r.status) + (r.code.empty() ? "" : " " + r.code) +
                       (r.message.empty() ? "" : ": " + r.message.substr(0, r.message.find('\n')));
  int err = EIO;
  std::string hint;
  if (r.code == "ContainerNotFound") {
    hint = "; the container '" + m_settings.container + "' does not exist";
    err = ENOENT;
  } else if (r.status == 404) {
    err = ENOENT;
  } else if (r.status == 403 || r.code == "AuthenticationFailed" ||
             r.code == "AuthorizationFailure") {
    hint = "; check the account name and key" +
           (r.headers.date.empty() ? std::string()
                                   : ", and that this machine's clock agrees with the "
                                     "service's (" +
                                         r.headers.date + ")");
    err = EACCES;
  } else if (r.code == "BlobArchived" || r.code == "BlobBeingRehydrated") {
    hint = "; the blob is in the archive tier: what it holds is unknown until it is rehydrated";
  }
  return Error{
      "cannot " + std::string(what) + " " + where + ": the service answered " + server + hint, err};
}

Status AzureClient::call(Request req, std::initializer_list<long> ok, std::string_view what) {
  Response r = perform(req);
  if (r.curl != CURLE_OK || std::find(ok.begin(), ok.end(), r.status) == ok.end()) {
    return error_of(r, what, req.key);
  }
  return ok_status();
}

Error AzureClient::not_here(std::string_view call) const {
  return Error{"the Blob service has no " + std::string(call) + " (" + m_settings.location() + ")",
               ENOTSUP};
}

Result<std::vector<object::Multipart>> AzureClient::list_multipart(std::string_view /*prefix*/) {
  return std::vector<object::Multipart>{};
}

Status AzureClient::abort_multipart(const object::Multipart& /*upload*/) {
  return not_here("multipart uploads");
}

Result<std::string> AzureClient::start_multipart(std::string_view /*key*/) {
  return not_here("multipart copies");
}

Result<std::string> AzureClient::copy_part(const object::Multipart& /*upload*/, int /*part*/,
                                           std::string_view /*source*/, std::uint64_t /*first*/,
                                           std::uint64_t /*last*/) {
  return not_here("multipart copies");
}

Status AzureClient::complete_multipart(const object::Multipart& /*upload*/,
                                       const std::vector<std::string>& /*tags*/) {
  return not_here("multipart copies");
}

Result<std::string> AzureClient::versioning() {
  return std::string();
}

Result<std::vector<object::Version>> AzureClient::list_versions(std::string_view /*key*/) {
  return std::vector<object::Version>{};
}

Result<std::vector<object::DeleteFailure>> AzureClient::delete_versions(
    const std::vector<object::Version>& versions) {
  if (versions.empty()) {
    return std::vector<object::DeleteFailure>{};
  }
  return not_here("versions to delete");
}

}  // namespace regsweep
