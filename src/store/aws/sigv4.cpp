// Signature Version 4, by hand (sigv4.hpp).

#include "store/aws/sigv4.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include "regsweep/digest.hpp"
#include "store/object/http.hpp"

namespace regsweep {

void sign_sigv4(object::HttpRequest& h, const AwsCredentials& keys, const std::string& region,
                const std::string& service) {
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
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  std::string key = "AWS4" + keys.secret_key;
  for (const std::string& part : {date, region, service, std::string("aws4_request")}) {
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

}  // namespace regsweep
