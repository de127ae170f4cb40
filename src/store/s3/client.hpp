#pragma once

// The client for the S3 requests regsweep makes (listings, reads, writes, deletes, multipart
// uploads, versions, server-side copies), signed by libcurl (CURLOPT_AWS_SIGV4), answers read
// with pugixml, over object::HttpClient (pool, deadlines, retries). Usable from many threads.
// What fails is an Error naming the key and the server's words, never a secret.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regsweep/result.hpp"
#include "store/object/bucket.hpp"
#include "store/object/http.hpp"
#include "store/object/http_client.hpp"
#include "store/s3/settings.hpp"

namespace pugi {
class xml_node;
}  // namespace pugi

namespace regsweep {

// The client speaks in full keys, in the object store's types (store/object/bucket.hpp);
// object::PrefixedBucket maps them to the tree's keys.
using S3Object = StoreObject;  // LastModified as mtime_ns
using S3Page = object::Page;   // one page of ListObjectsV2; prefixes: CommonPrefixes
using S3Multipart = object::Multipart;
using S3DeleteFailure = object::DeleteFailure;  // a key DeleteObjects did not delete
using S3Version = object::Version;              // one version, as ListObjectVersions gives it

using S3ClientOptions = object::HttpOptions;
using S3Counters = object::HttpCounters;  // what the client did, for reports and benchmarks

class S3Client {
 public:
  S3Client(S3Settings settings, S3ClientOptions options = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Settings& settings() const { return m_settings; }

  // Each call is object::Bucket's of the same meaning (bucket.hpp), on full keys: the page
  // below `prefix` with `delimiter` ListObjectsV2's; a key that does not exist counts as
  // deleted; versions newest first; the copies in copy.cpp.
  Status list(std::string_view prefix, std::string_view delimiter,
              const std::function<void(S3Page&)>& page);
  Result<std::string> get(std::string_view key, std::uint64_t max);
  Status get_stream(std::string_view key, const std::function<void(std::string_view)>& sink);
  Result<S3Object> head(std::string_view key);
  Status put(std::string_view key, std::string_view body);
  Result<std::vector<S3DeleteFailure>> delete_objects(const std::vector<std::string>& keys);
  Status delete_object(std::string_view key);
  Result<std::vector<S3Version>> list_versions(std::string_view key);
  Result<std::vector<S3DeleteFailure>> delete_versions(const std::vector<S3Version>& versions);
  Result<std::string> versioning();  // "Enabled", "Suspended", or "" for never enabled
  Result<std::vector<S3Multipart>> list_multipart(std::string_view prefix);
  Status abort_multipart(const S3Multipart& upload);
  Status copy(std::string_view source, std::string_view key);
  Result<std::string> start_multipart(std::string_view key);
  Result<std::string> copy_part(const S3Multipart& upload, int part, std::string_view source,
                                std::uint64_t first, std::uint64_t last);
  Status complete_multipart(const S3Multipart& upload, const std::vector<std::string>& tags);

  S3Counters counters() const { return m_http.counters(); }

  // The server's clock minus this machine's, in seconds, from the Date header of the last
  // answer; nothing before one came. Ages of objects are judged by the server's clock.
  std::optional<std::int64_t> clock_offset() const { return m_http.clock_offset(); }

 private:
  struct Request;
  using Response = object::HttpResponse;
  static Request request(const char* method, std::string_view key, std::string query);
  // Performs `req`: an Error naming its key unless the answer's status is one of `ok`.
  Status call(Request req, std::initializer_list<long> ok, std::string_view what);
  Response perform(Request& request);
  void sign_here(object::HttpRequest& h, const AwsCredentials& keys) const;
  // Each attempt's keys: ones that expire are fetched again in time (credentials.hpp).
  AwsCredentials keys() const { return m_settings.credentials->current(); }
  std::string url(std::string_view key, const std::string& query) const;
  Error error_of(const Response& response, std::string_view what, std::string_view key) const;
  // Performs `req`: `root`'s child `value` from a 200 answer's XML body, else an Error.
  Result<std::string> answer(Request& req, const char* root, const char* value,
                             std::string_view what);
  // Every page of a listing paged by a key marker and an id marker (ListObjectVersions,
  // ListMultipartUploads), its `root` element to `page`, which returns true when it needs no
  // more. `query` makes a page's query from the markers. Complete, or an error.
  struct MarkerPaging {
    std::string_view verb;  // "list the versions of"
    std::string_view target;
    const char* root;
    const char* next_id_marker;
    std::function<std::string(const std::string& key_marker, const std::string& id_marker)> query;
  };
  Status marker_pages(const MarkerPaging& listing,
                      const std::function<bool(const pugi::xml_node&)>& page);

  S3Settings m_settings;
  std::string m_sigv4;  // "aws:amz:<region>:s3"
  object::HttpClient m_http;
};

using object::uri_encode;

}  // namespace regsweep
