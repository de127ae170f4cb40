// Blob Batch: up to 256 Delete Blob sub-requests in one multipart/mixed request, each signed
// as a request of its own; the answer's parts say, by Content-ID, what each did.

#include <strings.h>

#include <cerrno>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "store/azure/batch.hpp"
#include "store/azure/client.hpp"

namespace regsweep {

namespace {

std::string boundary_id() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out = "batch_";
  for (int i = 0; i < 32; ++i) {
    out += k_hex[random() % 16];
  }
  return out;
}

// One sub-request's answer: its Content-ID, status, and error code.
struct PartAnswer {
  long id = -1;
  long status = 0;
  std::string code;
  std::string reason;
};

// Reads the parts of a multipart answer: each carries "Content-ID: N", then an HTTP status
// line and the sub-request's headers.
std::vector<PartAnswer> read_parts(const std::string& body, const std::string& boundary) {
  std::vector<PartAnswer> out;
  std::string delimiter = "--" + boundary;
  std::size_t at = body.find(delimiter);
  while (at != std::string::npos) {
    std::size_t start = at + delimiter.size();
    std::size_t next = body.find(delimiter, start);
    std::string part =
        body.substr(start, next == std::string::npos ? std::string::npos : next - start);
    at = next;
    if (part.rfind("--", 0) == 0) {
      break;  // the closing delimiter
    }
    PartAnswer a;
    std::size_t line_start = 0;
    while (line_start < part.size()) {
      std::size_t end = part.find('\n', line_start);
      std::string line =
          part.substr(line_start, end == std::string::npos ? std::string::npos : end - line_start);
      line_start = end == std::string::npos ? part.size() : end + 1;
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      auto value = [&](std::string_view name) -> std::optional<std::string> {
        if (line.size() > name.size() && strncasecmp(line.c_str(), name.data(), name.size()) == 0) {
          std::string v = line.substr(name.size());
          v.erase(0, v.find_first_not_of(' '));
          return v;
        }
        return std::nullopt;
      };
      if (auto id = value("content-id:")) {
        a.id = std::strtol(id->c_str(), nullptr, 10);
      } else if (line.rfind("HTTP/", 0) == 0 && a.status == 0) {
        auto sp = line.find(' ');
        a.status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
        auto sp2 = line.find(' ', sp + 1);
        a.reason = sp2 == std::string::npos ? std::string() : line.substr(sp2 + 1);
      } else if (auto code = value("x-ms-error-code:")) {
        a.code = *code;
      }
    }
    if (a.status != 0) {
      out.push_back(std::move(a));
    }
  }
  return out;
}

}  // namespace

Result<std::vector<object::DeleteFailure>> batch_failures(const std::vector<std::string>& keys,
                                                          const std::string& content_type,
                                                          const std::string& body) {
  std::vector<object::DeleteFailure> failed;
  const std::string& type = content_type;
  auto b = type.find("boundary=");
  if (b == std::string::npos) {
    return Error{"the batch's answer has no multipart boundary", EIO};
  }
  std::string answer_boundary = type.substr(b + 9);
  answer_boundary = answer_boundary.substr(0, answer_boundary.find(';'));
  if (answer_boundary.size() > 1 && answer_boundary.front() == '"') {
    answer_boundary = answer_boundary.substr(1, answer_boundary.size() - 2);
  }
  std::vector<bool> answered(keys.size(), false);
  std::vector<PartAnswer> parts = read_parts(body, answer_boundary);
  for (std::size_t n = 0; n < parts.size(); ++n) {
    PartAnswer& a = parts[n];
    if (a.id < 0 && parts.size() == keys.size()) {
      a.id = static_cast<long>(n);  // parts without a Content-ID come in the request's order
    }
    if (a.id < 0 || static_cast<std::size_t>(a.id) >= keys.size() ||
        answered[static_cast<std::size_t>(a.id)]) {
      continue;
    }
    answered[static_cast<std::size_t>(a.id)] = true;
    if (a.status != 202 && a.status != 200 && a.status != 404) {
      failed.push_back({keys[static_cast<std::size_t>(a.id)],
                        a.code.empty() ? std::to_string(a.status) : a.code,
                        std::to_string(a.status) + " " + a.reason, ""});
    }
  }
  // A sub-request the answer does not account for is not known to be done.
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!answered[i]) {
      failed.push_back({keys[i], "NoAnswer", "the batch's answer says nothing of it", ""});
    }
  }
  return failed;
}

Result<std::vector<object::DeleteFailure>> AzureClient::delete_objects(
    const std::vector<std::string>& keys, std::optional<std::int64_t> unmodified_since) {
  std::vector<object::DeleteFailure> failed;
  if (keys.empty()) {
    return failed;
  }
  if (keys.size() == 1) {
    // The service's code, as a batch's part gives it: ConditionNotMet says the blob changed.
    if (Response r = delete_answer(keys[0], unmodified_since); !deleted(r)) {
      failed.push_back({keys[0], r.code.empty() ? "DeleteFailed" : r.code,
                        error_of(r, "delete", keys[0]).message, ""});
    }
    return failed;
  }
  std::string boundary = boundary_id();
  Request req;
  req.method = "POST";
  req.account = true;
  req.query = "comp=batch";
  req.headers.push_back("Content-Type: multipart/mixed; boundary=" + boundary);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string blob_url = url(keys[i], "");
    object::UrlParts parts = object::url_parts(blob_url);
    std::vector<std::string> headers{"x-ms-version: " + std::string(k_azure_api_version)};
    if (unmodified_since) {
      headers.push_back("If-Unmodified-Since: " + http_date(*unmodified_since));
    }
    sign("DELETE", blob_url, headers, 0);
    req.body += "--" + boundary +
                "\r\nContent-Type: application/http\r\n"
                "Content-Transfer-Encoding: binary\r\nContent-ID: " +
                std::to_string(i) + "\r\n\r\nDELETE " + parts.path + " HTTP/1.1\r\n";
    for (const std::string& h : headers) {
      req.body += h + "\r\n";
    }
    req.body += "Content-Length: 0\r\n\r\n\r\n";
  }
  req.body += "--" + boundary + "--\r\n";
  req.max = 16U << 20U;
  Response r = perform(req);
  std::string what = "delete a batch of " + std::to_string(keys.size()) + " blobs from";
  if (r.curl != CURLE_OK || r.status != 202) {
    return error_of(r, what, keys[0]);
  }
  auto failed_here = batch_failures(keys, r.headers.content_type, r.body);
  if (!failed_here) {
    return Error{"cannot " + what + " '" + shown(keys[0]) + "': " + failed_here.error().message,
                 EIO};
  }
  return failed_here;
}

}  // namespace regsweep