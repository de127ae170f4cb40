// The S3 client's server-side copies: CopyObject, and a multipart upload of UploadPartCopy
// parts. S3 may answer a copy 200 with an Error document inside: only the expected answer is
// taken as done.

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "regsweep/digest.hpp"
#include "store/s3/client.hpp"
#include "store/s3/request.hpp"

namespace regsweep {

Result<std::string> S3Client::answer(Request& req, const char* root, const char* value,
                                     std::string_view what) {
  Response r = perform(req);
  pugi::xml_document doc;
  if (r.curl != CURLE_OK || r.status != 200 || !doc.load_buffer(r.body.data(), r.body.size()) ||
      !doc.child(root)) {
    if (r.status == 200 && doc.child("Error")) {
      r.status = 500;
      r.code = doc.child("Error").child_value("Code");
      r.message = doc.child("Error").child_value("Message");
    }
    return error_of(r, what, req.key);
  }
  return std::string(doc.child(root).child_value(value));
}

S3Client::Request S3Client::request(const char* method, std::string_view key, std::string query) {
  Request req;
  req.method = method;
  req.key = std::string(key);
  req.query = std::move(query);
  return req;
}

// libcurl before 8.10 sorts SigV4's canonical headers as whole lines, which puts
// x-amz-copy-source-range before x-amz-copy-source, and the server rejects UploadPartCopy's
// signature (curl's pull request 14370). That request is signed here, as the specification
// says: every x-amz-* header and the host, sorted by name.
void S3Client::sign_here(object::HttpRequest& h, const AwsCredentials& keys) const {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[20];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const std::string date(stamp, 8);
  const object::UrlParts url = object::url_parts(h.url);
  h.headers.push_back("x-amz-date: " + std::string(stamp));
  std::map<std::string, std::string> headers{{"host", url.host}};
  for (const std::string& line : h.headers) {
    std::string name = line.substr(0, line.find(':'));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (name.rfind("x-amz-", 0) == 0) {
      headers[name] = line.substr(line.find_first_not_of(' ', name.size() + 1));
    }
  }
  std::string canonical = std::string(h.method) + "\n" + url.path + "\n" + url.query + "\n";
  std::string names;
  for (const auto& [name, value] : headers) {
    canonical += name + ":" + value + "\n";
    names += (names.empty() ? "" : ";") + name;
  }
  canonical += "\n" + names + "\n" + headers["x-amz-content-sha256"];
  const std::string region = m_sigv4.substr(8, m_sigv4.size() - 11);  // "aws:amz:<region>:s3"
  const std::string scope = date + "/" + region + "/s3/aws4_request";
  std::string key = "AWS4" + keys.secret_key;
  for (const std::string& part : {date, region, std::string("s3"), std::string("aws4_request")}) {
    key = object::hmac_sha256(key, part);
  }
  const std::string sig =
      object::hmac_sha256(key, "AWS4-HMAC-SHA256\n" + std::string(stamp) + "\n" + scope + "\n" +
                                   sha256_of(canonical).hex());
  Digest signature;  // 32 bytes, as a sha256 digest: its hex() is the signature's
  std::copy(sig.begin(), sig.end(), signature.bytes.begin());
  h.headers.push_back("Authorization: AWS4-HMAC-SHA256 Credential=" + keys.access_key + "/" +
                      scope + ", SignedHeaders=" + names + ", Signature=" + signature.hex());
  h.signed_here = true;
}

namespace {
std::string copy_source(const S3Settings& settings, std::string_view source) {
  return "x-amz-copy-source: /" + uri_encode(settings.bucket, false) + "/" +
         uri_encode(source, true);
}
}  // namespace

Status S3Client::copy(std::string_view source, std::string_view key) {
  Request req = request("PUT", key, "");
  req.headers.push_back(copy_source(m_settings, source));
  auto done = answer(req, "CopyObjectResult", "ETag", "copy '" + std::string(source) + "' to");
  return done ? ok_status() : Status(done.error());
}

Result<std::string> S3Client::start_multipart(std::string_view key) {
  Request req = request("POST", key, "uploads=");
  return answer(req, "InitiateMultipartUploadResult", "UploadId", "start a multipart copy to");
}

Result<std::string> S3Client::copy_part(const S3Multipart& upload, int part,
                                        std::string_view source, std::uint64_t first,
                                        std::uint64_t last) {
  Request req = request(
      "PUT", upload.key,
      "partNumber=" + std::to_string(part) + "&uploadId=" + uri_encode(upload.upload_id, false));
  req.headers.push_back(copy_source(m_settings, source));
  req.headers.push_back("x-amz-copy-source-range: bytes=" + std::to_string(first) + "-" +
                        std::to_string(last));
  req.sign_here = true;
  return answer(req, "CopyPartResult", "ETag",
                "copy part " + std::to_string(part) + " of '" + std::string(source) + "' to");
}

Status S3Client::complete_multipart(const S3Multipart& upload,
                                    const std::vector<std::string>& tags) {
  Request req = request("POST", upload.key, "uploadId=" + uri_encode(upload.upload_id, false));
  req.body = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < tags.size(); ++i) {
    req.body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + tags[i] +
                "</ETag></Part>";
  }
  req.body += "</CompleteMultipartUpload>";
  auto done = answer(req, "CompleteMultipartUploadResult", "ETag", "complete the copy to");
  return done ? ok_status() : Status(done.error());
}

}  // namespace regsweep
