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
#include "store/aws/sigv4.hpp"
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
// signature (curl's pull request 14370). That request is signed here (sigv4.hpp).
void S3Client::sign_here(object::HttpRequest& h, const AwsCredentials& keys) const {
  const std::string region = m_sigv4.substr(8, m_sigv4.size() - 11);  // "aws:amz:<region>:s3"
  sign_sigv4(h, keys, region, "s3");
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
