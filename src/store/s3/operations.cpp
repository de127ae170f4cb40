// The S3 client's operations: each builds its request, performs it (client.cpp) and reads
// the answer with pugixml.

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "regsweep/markup.hpp"
#include "regsweep/timeutil.hpp"
#include "store/s3/client.hpp"
#include "store/s3/request.hpp"

namespace regsweep {

Status S3Client::list(std::string_view prefix, std::string_view delimiter,
                      const std::function<void(S3Page&)>& page) {
  std::string token;
  while (true) {
    Request req;
    // Parameters in the order SigV4's canonical request sorts them.
    std::string q;
    if (!token.empty()) {
      q += "continuation-token=" + uri_encode(token, false) + "&";
    }
    if (!delimiter.empty()) {
      q += "delimiter=" + uri_encode(delimiter, false) + "&";
    }
    q += "list-type=2&max-keys=1000&prefix=" + uri_encode(prefix, false);
    req.query = q;
    req.max = 64U << 20U;
    Response r = perform(req);
    if (r.curl != CURLE_OK || r.status != 200) {
      return error_of(r, "list", prefix);
    }
    pugi::xml_document doc;  // parsed in the body's own buffer: a page is the listing's largest
    if (!doc.load_buffer_inplace(r.body.data(), r.body.size())) {
      return Error{"cannot list 's3://" + m_settings.bucket + "/" + std::string(prefix) +
                       "': the server's answer is not XML",
                   EIO};
    }
    pugi::xml_node root = doc.child("ListBucketResult");
    S3Page p;
    for (pugi::xml_node c : root.children("Contents")) {
      S3Object o;
      o.key = c.child_value("Key");
      o.size = c.child("Size").text().as_ullong();
      auto t = parse_rfc3339_ns(c.child_value("LastModified"));
      if (!t) {
        return Error{"cannot list 's3://" + m_settings.bucket + "/" + std::string(prefix) +
                         "': object '" + o.key + "' has no readable LastModified",
                     EIO};
      }
      o.mtime_ns = *t;
      p.objects.push_back(std::move(o));
    }
    for (pugi::xml_node c : root.children("CommonPrefixes")) {
      p.prefixes.emplace_back(c.child_value("Prefix"));
    }
    bool truncated = std::string_view(root.child_value("IsTruncated")) == "true";
    token = root.child_value("NextContinuationToken");
    doc.reset();  // the page's objects are all that is needed now
    std::string().swap(r.body);
    page(p);
    if (!truncated) {
      return ok_status();
    }
    if (token.empty()) {
      return Error{"cannot list 's3://" + m_settings.bucket + "/" + std::string(prefix) +
                       "': a truncated page without a continuation token",
                   EIO};
    }
  }
}

Result<std::string> S3Client::get(std::string_view key, std::uint64_t max) {
  Request req = request("GET", key, "");
  req.max = max;
  Response r = perform(req);
  // The server's answer first: a 404's error document is larger than a small `max` too.
  if (r.status >= 300) {
    return error_of(r, "read", key);
  }
  if (req.too_large) {
    return Error{"'s3://" + m_settings.bucket + "/" + std::string(key) + "' is larger than " +
                     std::to_string(max) + " bytes",
                 EFBIG};
  }
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "read", key);
  }
  return std::move(r.body);
}

Status S3Client::get_stream(std::string_view key,
                            const std::function<void(std::string_view)>& sink) {
  Request req = request("GET", key, "");
  req.sink = &sink;
  Response r = perform(req);
  if (r.curl != CURLE_OK || (r.status != 200 && r.status != 206)) {
    return error_of(r, "read", key);
  }
  return ok_status();
}

Result<S3Object> S3Client::head(std::string_view key) {
  Request req = request("HEAD", key, "");
  Response r = perform(req);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "stat", key);
  }
  return object::object_of_headers(r.headers, std::string(key),
                                   "s3://" + m_settings.bucket + "/" + std::string(key));
}

Status S3Client::call(Request req, std::initializer_list<long> ok, std::string_view what) {
  Response r = perform(req);
  if (r.curl != CURLE_OK || std::find(ok.begin(), ok.end(), r.status) == ok.end()) {
    return error_of(r, what, req.key);
  }
  return ok_status();
}

Status S3Client::put(std::string_view key, std::string_view body) {
  Request req = request("PUT", key, "");
  req.body = std::string(body);
  return call(std::move(req), {200}, "write");
}

Result<std::string> S3Client::versioning() {
  Request req;
  req.query = "versioning=";
  req.max = 1U << 20U;
  Response r = perform(req);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "read the versioning state of", "");
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(r.body.data(), r.body.size())) {
    return Error{"cannot read the versioning state of 's3://" + m_settings.bucket +
                     "': the server's answer is not XML",
                 EIO};
  }
  return std::string(doc.child("VersioningConfiguration").child_value("Status"));
}

Status S3Client::delete_object(std::string_view key) {
  return call(request("DELETE", key, ""), {204, 200, 404}, "delete");
}

namespace {

// The body of a DeleteObjects request (quiet mode), with a version id for each key that
// has one.
std::string delete_body(const std::vector<S3Version>& objects) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
  for (const S3Version& o : objects) {
    body += "<Object><Key>" + markup_escape(o.key) + "</Key>";
    if (!o.version_id.empty()) {
      body += "<VersionId>" + markup_escape(o.version_id) + "</VersionId>";
    }
    body += "</Object>";
  }
  body += "</Delete>";
  return body;
}

}  // namespace

Result<std::vector<S3DeleteFailure>> S3Client::delete_objects(
    const std::vector<std::string>& keys) {
  std::vector<S3Version> objects(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    objects[i].key = keys[i];
  }
  return delete_versions(objects);
}

Result<std::vector<S3DeleteFailure>> S3Client::delete_versions(
    const std::vector<S3Version>& versions) {
  std::vector<S3DeleteFailure> failed;
  if (versions.empty()) {
    return failed;
  }
  Request req;
  req.method = "POST";
  req.query = "delete=";
  req.body = delete_body(versions);
  req.content_md5 = object::md5_base64(req.body);
  req.max = 64U << 20U;
  Response r = perform(req);
  if (r.curl != CURLE_OK || r.status != 200) {
    return error_of(r, "delete a batch of " + std::to_string(versions.size()) + " keys from",
                    versions[0].key);
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(r.body.data(), r.body.size())) {
    return Error{"a batch delete's answer is not XML; whether its keys are gone is unknown", EIO};
  }
  for (pugi::xml_node e : doc.child("DeleteResult").children("Error")) {
    failed.push_back(S3DeleteFailure{e.child_value("Key"), e.child_value("Code"),
                                     e.child_value("Message"), e.child_value("VersionId")});
  }
  return failed;
}

Status S3Client::marker_pages(const MarkerPaging& listing,
                              const std::function<bool(const pugi::xml_node&)>& page) {
  std::string key_marker;
  std::string id_marker;
  const std::string shown = "'s3://" + m_settings.bucket + "/" + std::string(listing.target) + "'";
  while (true) {
    Request req;
    req.query = listing.query(key_marker, id_marker);
    req.max = 64U << 20U;
    Response r = perform(req);
    if (r.curl != CURLE_OK || r.status != 200) {
      return error_of(r, listing.verb, listing.target);
    }
    pugi::xml_document doc;
    pugi::xml_node root;
    if (!doc.load_buffer(r.body.data(), r.body.size()) || !(root = doc.child(listing.root))) {
      return Error{"cannot " + std::string(listing.verb) + " " + shown +
                       ": the server's answer is not a listing",
                   EIO};
    }
    if (page(root) || std::string_view(root.child_value("IsTruncated")) != "true") {
      return ok_status();
    }
    key_marker = root.child_value("NextKeyMarker");
    id_marker = root.child_value(listing.next_id_marker);
    if (key_marker.empty() && id_marker.empty()) {
      return Error{"cannot " + std::string(listing.verb) + " " + shown +
                       ": a truncated page without a marker",
                   EIO};
    }
  }
}

Result<std::vector<S3Version>> S3Client::list_versions(std::string_view key) {
  std::vector<S3Version> out;
  // Parameters in the order SigV4's canonical request sorts them.
  auto query = [&](const std::string& key_marker, const std::string& id_marker) {
    std::string q;
    if (!key_marker.empty()) {
      q += "key-marker=" + uri_encode(key_marker, false) + "&";
    }
    q += "max-keys=1000&prefix=" + uri_encode(key, false) + "&";
    if (!id_marker.empty()) {
      q += "version-id-marker=" + uri_encode(id_marker, false) + "&";
    }
    return q + "versions=";
  };
  Status s = marker_pages(
      {"list the versions of", key, "ListVersionsResult", "NextVersionIdMarker", query},
      [&](const pugi::xml_node& root) {
        bool past = false;  // keys sort after `key`: its own versions are all listed
        for (pugi::xml_node v : root.children()) {
          std::string_view name = v.name();
          if (name != "Version" && name != "DeleteMarker") {
            continue;
          }
          if (std::string_view(v.child_value("Key")) != key) {
            past = true;
            continue;
          }
          S3Version version;
          version.key = std::string(key);
          version.version_id = v.child_value("VersionId");
          version.delete_marker = name == "DeleteMarker";
          version.latest = std::string_view(v.child_value("IsLatest")) == "true";
          version.size = v.child("Size").text().as_ullong();
          out.push_back(std::move(version));
        }
        return past;
      });
  if (!s) {
    return s.error();
  }
  return out;
}

Result<std::vector<S3Multipart>> S3Client::list_multipart(std::string_view prefix) {
  std::vector<S3Multipart> out;
  auto query = [&](const std::string& key_marker, const std::string& id_marker) {
    std::string q;
    if (!key_marker.empty()) {
      q += "key-marker=" + uri_encode(key_marker, false) + "&";
    }
    q += "prefix=" + uri_encode(prefix, false) + "&uploads=";
    if (!id_marker.empty()) {
      q += "&upload-id-marker=" + uri_encode(id_marker, false);
    }
    return q;
  };
  std::optional<Error> unreadable;
  Status s = marker_pages({"list the multipart uploads of", prefix, "ListMultipartUploadsResult",
                           "NextUploadIdMarker", query},
                          [&](const pugi::xml_node& root) {
                            for (pugi::xml_node u : root.children("Upload")) {
                              S3Multipart m;
                              m.key = u.child_value("Key");
                              m.upload_id = u.child_value("UploadId");
                              auto t = parse_rfc3339_ns(u.child_value("Initiated"));
                              if (!t) {
                                unreadable = Error{"cannot list the multipart uploads of 's3://" +
                                                       m_settings.bucket + "/" + m.key +
                                                       "': no readable Initiated time",
                                                   EIO};
                                return true;
                              }
                              m.initiated_ns = *t;
                              out.push_back(std::move(m));
                            }
                            return false;
                          });
  if (!s) {
    return s.error();
  }
  if (unreadable) {
    return *unreadable;
  }
  return out;
}

Status S3Client::abort_multipart(const S3Multipart& upload) {
  return call(request("DELETE", upload.key, "uploadId=" + uri_encode(upload.upload_id, false)),
              {204, 404}, "abort the multipart upload of");
}

}  // namespace regsweep
