// The S3 client: libcurl signs (CURLOPT_AWS_SIGV4) and transfers, pugixml reads the bodies.

#include <curl/curl.h>

#include <cerrno>
#include <string>

#include <pugixml.hpp>

#include "regsweep/digest.hpp"
#include "store/s3/client.hpp"
#include "store/s3/request.hpp"

namespace regsweep {

namespace {

constexpr std::string_view k_empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// What S3 says is worth a retry, besides 5xx and 429.
bool retry_code(const std::string& code) {
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError";
}

// An error document's Code and Message.
void read_error(object::HttpResponse& r) {
  pugi::xml_document doc;
  if (doc.load_buffer(r.body.data(), r.body.size())) {
    r.code = doc.child("Error").child_value("Code");
    r.message = doc.child("Error").child_value("Message");
  }
}

}  // namespace

// ---- requests ----

S3Client::S3Client(S3Settings settings, S3ClientOptions options)
    : m_settings(std::move(settings)),
      m_sigv4("aws:amz:" +
              (m_settings.region.empty() ? std::string("us-east-1") : m_settings.region) + ":s3"),
      m_http(options,
             object::HttpClient::Service{.prepare =
                                             [this](CURL* c) {
                                               AwsCredentials k = keys();
                                               std::string up = k.access_key + ":" + k.secret_key;
                                               curl_easy_setopt(c, CURLOPT_AWS_SIGV4,
                                                                m_sigv4.c_str());
                                               curl_easy_setopt(c, CURLOPT_USERPWD, up.c_str());
                                             },
                                         .inspect = read_error,
                                         .retry_code = retry_code,
                                         .sign = nullptr},
             m_settings.skip_verify) {
  if (!m_settings.credentials) {  // the keys given (the configuration's, a test's)
    m_settings.credentials = CredentialProvider::fixed(
        "the configuration",
        {m_settings.access_key, m_settings.secret_key, m_settings.session_token, std::nullopt});
  }
}

S3Client::~S3Client() = default;

std::string S3Client::url(std::string_view key, const std::string& query) const {
  std::string endpoint = m_settings.endpoint;
  bool path_style = m_settings.force_path_style || !endpoint.empty();
  if (endpoint.empty()) {
    endpoint = "s3." + (m_settings.region.empty() ? std::string("us-east-1") : m_settings.region) +
               ".amazonaws.com";
  }
  if (endpoint.find("://") == std::string::npos) {
    endpoint = (m_settings.secure ? "https://" : "http://") + endpoint;
  }
  while (!endpoint.empty() && endpoint.back() == '/') {
    endpoint.pop_back();
  }
  std::string out;
  if (path_style) {
    out = endpoint + "/" + uri_encode(m_settings.bucket, false);
  } else {
    auto at = endpoint.find("://") + 3;
    out = endpoint.substr(0, at) + m_settings.bucket + "." + endpoint.substr(at);
  }
  out += "/" + uri_encode(key, true);
  if (!query.empty()) {
    out += "?" + query;
  }
  return out;
}

S3Client::Response S3Client::perform(Request& request) {
  object::HttpRequest h;
  h.method = request.method;
  h.url = url(request.key, request.query);
  h.headers.push_back("x-amz-content-sha256: " + (request.body.empty()
                                                      ? std::string(k_empty_sha256)
                                                      : sha256_of(request.body).hex()));
  const AwsCredentials k = keys();
  if (!k.session_token.empty()) {
    h.headers.push_back("x-amz-security-token: " + k.session_token);
  }
  h.headers.insert(h.headers.end(), request.headers.begin(), request.headers.end());
  if (!request.content_md5.empty()) {
    h.headers.push_back("Content-MD5: " + request.content_md5);
  }
  h.body = std::move(request.body);
  h.max = request.max;
  h.sink = request.sink;
  h.offset = request.offset;
  if (request.sign_here) {
    sign_here(h, k);
  }
  Response r = m_http.perform(h);
  request.body = std::move(h.body);
  request.offset = h.offset;
  request.too_large = h.too_large;
  return r;
}

Error S3Client::error_of(const Response& r, std::string_view what, std::string_view key) const {
  std::string where = "'s3://" + m_settings.bucket + "/" + std::string(key) + "'";
  // A transfer cut short by the caller's size limit still has the server's status.
  if (r.curl != CURLE_OK && r.status < 300) {
    return Error{"cannot " + std::string(what) + " " + where + ": " + r.curl_error + " (endpoint " +
                     url("", "").substr(0, url("", "").find('/', 8)) + ")",
                 EIO};
  }
  std::string server = std::to_string(r.status) + (r.code.empty() ? "" : " " + r.code) +
                       (r.message.empty() ? "" : ": " + r.message);
  int err = EIO;
  std::string hint;
  if (r.code == "NoSuchBucket") {
    hint = "; the bucket '" + m_settings.bucket + "' does not exist";
    err = ENOENT;
  } else if (r.status == 404) {
    err = ENOENT;
  } else if (r.code == "InvalidObjectState") {
    hint =
        "; the object is in an archive storage class: what it holds is unknown until it is "
        "restored";
    err = EIO;
  } else if (r.code == "RequestTimeTooSkewed") {
    hint = "; this machine's clock and the server's" +
           (r.headers.date.empty() ? std::string() : " (" + r.headers.date + ")") +
           " differ by more than S3 allows: correct the clock";
    err = EACCES;
  } else if (r.status == 403 || r.code == "InvalidAccessKeyId" ||
             r.code == "SignatureDoesNotMatch") {
    hint = "; check the access key and secret key";
    err = EACCES;
  }
  return Error{
      "cannot " + std::string(what) + " " + where + ": the server answered " + server + hint, err};
}

}  // namespace regsweep
