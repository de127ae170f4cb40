// The Azure client's operations on blobs: each builds its request, performs it (client.cpp)
// and reads the answer.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <pugixml.hpp>

#include "regsweep/timeutil.hpp"
#include "store/azure/client.hpp"

namespace regsweep {

namespace {

std::string name_of(const pugi::xml_node& name) {
  std::string text = name.child_value();
  if (std::string_view(name.attribute("Encoded").value()) != "true") {
    return text;
  }
  // Names with characters XML cannot carry come percent-encoded.
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

Status AzureClient::list(std::string_view prefix, std::string_view delimiter,
                         const std::function<void(object::Page&)>& page) {
  std::string marker;
  std::string what = "list the blobs below";
  while (true) {
    Request req;
    req.query =
        "restype=container&comp=list&maxresults=5000&prefix=" + object::uri_encode(prefix, false);
    if (!delimiter.empty()) {
      req.query += "&delimiter=" + object::uri_encode(delimiter, false);
    }
    if (!marker.empty()) {
      req.query += "&marker=" + object::uri_encode(marker, false);
    }
    req.max = 64U << 20U;
    Response r = perform(req);
    if (r.curl != CURLE_OK || r.status != 200) {
      return error_of(r, what, prefix);
    }
    pugi::xml_document doc;
    if (!doc.load_buffer_inplace(r.body.data(), r.body.size())) {
      return Error{"cannot " + what + " '" + shown(prefix) + "': the service's answer is not XML",
                   EIO};
    }
    pugi::xml_node root = doc.child("EnumerationResults");
    object::Page p;
    for (pugi::xml_node b : root.child("Blobs").children()) {
      if (std::string_view(b.name()) == "BlobPrefix") {
        p.prefixes.push_back(name_of(b.child("Name")));
        continue;
      }
      if (std::string_view(b.name()) != "Blob") {
        continue;
      }
      StoreObject o;
      o.key = name_of(b.child("Name"));
      pugi::xml_node props = b.child("Properties");
      o.size = props.child("Content-Length").text().as_ullong();
      auto t = parse_http_date(props.child_value("Last-Modified"));
      if (!t || props.child("Content-Length").empty()) {
        return Error{"cannot " + what + " '" + shown(prefix) + "': blob '" + o.key +
                         "' has no readable Last-Modified or Content-Length",
                     EIO};
      }
      o.mtime_ns = *t * 1000000000;
      p.objects.push_back(std::move(o));
    }
    marker = root.child_value("NextMarker");
    doc.reset();
    std::string().swap(r.body);
    page(p);
    if (marker.empty()) {
      return ok_status();
    }
  }
}

Result<bool> AzureClient::any_below(std::string_view prefix) {
  Request req;
  req.query =
      "restype=container&comp=list&maxresults=1&prefix=" + object::uri_encode(prefix, false);
  req.max = 1U << 20U;
  Response r = perform(req);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "list the blobs below", prefix);
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(r.body.data(), r.body.size())) {
    return Error{
        "cannot list the blobs below '" + shown(prefix) + "': the service's answer is not XML",
        EIO};
  }
  return !doc.child("EnumerationResults").child("Blobs").child("Blob").empty();
}

Result<std::string> AzureClient::get(std::string_view key, std::uint64_t max) {
  Request req;
  req.key = std::string(key);
  req.max = max;
  Response r = perform(req);
  if (r.status >= 300) {
    return error_of(r, "read", key);
  }
  if (req.too_large) {
    return Error{"'" + shown(key) + "' is larger than " + std::to_string(max) + " bytes", EFBIG};
  }
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "read", key);
  }
  return std::move(r.body);
}

Status AzureClient::get_stream(std::string_view key,
                               const std::function<void(std::string_view)>& sink) {
  Request req;
  req.key = std::string(key);
  req.sink = &sink;
  Response r = perform(req);
  if (r.curl != CURLE_OK || (r.status != 200 && r.status != 206)) {
    return error_of(r, "read", key);
  }
  return ok_status();
}

AzureClient::Response AzureClient::head_answer(std::string_view key) {
  Request req;
  req.method = "HEAD";
  req.key = std::string(key);
  return perform(req);
}

Result<StoreObject> AzureClient::head(std::string_view key) {
  Response r = head_answer(key);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "stat", key);
  }
  return object::object_of_headers(r.headers, std::string(key), shown(key));
}

Status AzureClient::put(std::string_view key, std::string_view body) {
  Request req;
  req.method = "PUT";
  req.key = std::string(key);
  req.headers.emplace_back("x-ms-blob-type: BlockBlob");
  req.body = std::string(body);
  return call(std::move(req), {201}, "write");
}

AzureClient::Response AzureClient::delete_answer(std::string_view key,
                                                 std::optional<std::int64_t> unmodified_since) {
  Request req;
  req.method = "DELETE";
  req.key = std::string(key);
  if (unmodified_since) {
    req.headers.push_back("If-Unmodified-Since: " + http_date(*unmodified_since));
  }
  return perform(req);
}

bool AzureClient::deleted(const Response& r) {
  return r.curl == CURLE_OK && (r.status == 202 || r.status == 200 || r.status == 404);
}

Status AzureClient::delete_object(std::string_view key,
                                  std::optional<std::int64_t> unmodified_since) {
  Response r = delete_answer(key, unmodified_since);
  return deleted(r) ? ok_status() : Status(error_of(r, "delete", key));
}

Status AzureClient::copy(std::string_view source, std::string_view key) {
  Request req;
  req.method = "PUT";
  req.key = std::string(key);
  req.headers.push_back("x-ms-copy-source: " + url(source, ""));
  Response r = perform(req);
  if (r.curl != CURLE_OK || (r.status != 202 && r.status != 201)) {
    return error_of(r, "copy '" + shown(source) + "' to", key);
  }
  // Within one account a copy is usually done when it is answered; else it is waited for.
  std::string status = r.headers.copy_status;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  auto wait = std::chrono::milliseconds(100);
  while (status == "pending") {
    if (std::chrono::steady_clock::now() > deadline) {
      return Error{"cannot copy '" + shown(source) + "' to '" + shown(key) +
                       "': the copy was still pending after 10 minutes",
                   ETIMEDOUT};
    }
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(2000));
    Response h = head_answer(key);
    if (h.curl != CURLE_OK || h.status != 200) {
      return error_of(h, "follow the copy to", key);
    }
    status = h.headers.copy_status;
  }
  if (status != "success") {
    return Error{"cannot copy '" + shown(source) + "' to '" + shown(key) + "': the copy " +
                     (status.empty() ? "answered no state" : status),
                 EIO};
  }
  return ok_status();
}

}  // namespace regsweep
