// The s3 driver's parameters (settings.hpp).

#include "store/s3/settings.hpp"

namespace regsweep {

namespace {

Status finish_s3(S3Settings& s, const DriverParameters& d) {
  const std::string& origin = d.origin;
  if (s.region.empty()) {
    s.region = d.environment.count("AWS_REGION") != 0 ? d.variable("AWS_REGION")
                                                      : d.variable("AWS_DEFAULT_REGION");
  }
  if (s.region.empty() && !s.endpoint.empty()) {
    s.region = "us-east-1";  // any region signs for an endpoint of one's own
  }
  if (s.bucket.empty()) {
    return Error{origin + " names no bucket (storage.s3.bucket)", 0};
  }
  if (s.region.empty()) {
    return Error{origin + " names no region (storage.s3.region, or AWS_REGION)", 0};
  }
  if (s.access_key.empty() && s.secret_key.empty()) {
    // As the registry's driver does with empty keys: the AWS SDK's default chain.
    auto chain = aws_default_chain(d.environment, s.region);
    if (!chain) {
      return Error{origin + ": " + chain.error().message, 0};
    }
    s.credentials = std::move(*chain);
    return ok_status();
  }
  if (s.access_key.empty() || s.secret_key.empty()) {
    return Error{origin + " gives only one of storage.s3.accesskey and secretkey", 0};
  }
  return ok_status();
}

Result<S3Settings> from_config(const DriverParameters& d) {
  S3Settings s;
  s.bucket = d.value("bucket");
  s.region = d.value("region");
  s.endpoint = d.value("regionendpoint");
  s.access_key = d.value("accesskey");
  s.secret_key = d.value("secretkey");
  s.session_token = d.value("sessiontoken");
  s.rootdirectory = trim_slashes(d.value("rootdirectory"));
  auto secure = d.flag("secure", true);
  auto skip = d.flag("skipverify", false);
  auto v4 = d.flag("v4auth", true);
  auto path_style = d.flag("forcepathstyle", false);
  for (const auto* r : {&secure, &skip, &v4, &path_style}) {
    if (!*r) {
      return r->error();
    }
  }
  if (!*v4) {
    return Error{d.origin +
                     " sets storage.s3.v4auth to false; regsweep signs with AWS Signature "
                     "Version 4 only",
                 0};
  }
  s.secure = *secure;
  s.skip_verify = *skip;
  s.force_path_style = *path_style;
  if (Status ok = finish_s3(s, d); !ok) {
    return ok.error();
  }
  return s;
}

Result<S3Settings> from_url(const DriverParameters& d) {
  const std::string& url = d.url;
  const std::string& endpoint = d.endpoint;
  auto s = parse_s3_url(url);
  if (!s) {
    return Error{"'" + url + "' is not an s3://BUCKET[/PREFIX] location", 0};
  }
  s->region.clear();
  s->endpoint = endpoint;
  s->force_path_style = !endpoint.empty();
  if (endpoint.rfind("http://", 0) == 0) {
    s->secure = false;
  }
  if (Status ok = finish_s3(*s, d); !ok) {
    return ok.error();
  }
  return *s;
}

}  // namespace

Result<S3Settings> s3_settings(const DriverParameters& driver) {
  return driver.url.empty() ? from_config(driver) : from_url(driver);
}

std::string S3Settings::location() const {
  return "s3://" + bucket + (rootdirectory.empty() ? "" : "/" + rootdirectory);
}

std::string S3Settings::v2_prefix() const {
  return (rootdirectory.empty() ? "" : rootdirectory + "/") + "docker/registry/v2/";
}

std::string S3Settings::key(std::string_view v2_relative) const {
  return v2_prefix() + std::string(v2_relative);
}

std::optional<S3Settings> parse_s3_url(std::string_view text) {
  constexpr std::string_view k_scheme = "s3://";
  if (text.substr(0, k_scheme.size()) != k_scheme) {
    return std::nullopt;
  }
  text.remove_prefix(k_scheme.size());
  S3Settings s;
  auto slash = text.find('/');
  s.bucket = std::string(text.substr(0, slash));
  if (s.bucket.empty()) {
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    s.rootdirectory = trim_slashes(text.substr(slash + 1));
  }
  return s;
}

}  // namespace regsweep
