// The azure driver's parameters (settings.hpp).

#include "store/azure/settings.hpp"

namespace regsweep {

namespace {

std::string without_trailing_slashes(std::string text) {
  while (!text.empty() && text.back() == '/') {
    text.pop_back();
  }
  return text;
}

Status finish_azure(AzureSettings& s, const DriverParameters& d, const std::string& realm) {
  const std::string& origin = d.origin;
  if (s.account.empty()) {
    s.account = d.variable("AZURE_STORAGE_ACCOUNT");
  }
  if (s.key.empty()) {
    s.key = d.variable("AZURE_STORAGE_KEY");
  }
  if (s.container.empty()) {
    return Error{origin + " names no container (storage.azure.container)", 0};
  }
  if (s.account.empty()) {
    return Error{origin +
                     " names no storage account (storage.azure.accountname, or "
                     "AZURE_STORAGE_ACCOUNT)",
                 0};
  }
  if (s.key.empty()) {
    return Error{origin +
                     " gives no account key: set storage.azure.accountkey, or "
                     "AZURE_STORAGE_KEY",
                 0};
  }
  if (s.service_url.empty()) {
    s.service_url =
        "https://" + s.account + ".blob." + (realm.empty() ? "core.windows.net" : realm);
  }
  s.service_url = without_trailing_slashes(s.service_url);
  if (s.service_url.find("://") == std::string::npos) {
    s.service_url = "https://" + s.service_url;
  }
  return ok_status();
}

Result<AzureSettings> from_config(const DriverParameters& d) {
  AzureSettings s;
  s.account = d.value("accountname");
  s.key = d.value("accountkey");
  s.container = d.value("container");
  s.service_url = d.value("serviceurl");
  s.rootdirectory = trim_slashes(d.value("rootdirectory"));
  auto skip = d.flag("skipverify", false);
  if (!skip) {
    return skip.error();
  }
  s.skip_verify = *skip;
  // 3.x: credentials.type is shared_key, client_secret or default_credentials; 2.8 has no
  // such parameter and signs with the account key.
  std::string type = d.value("credentials.type");
  if (type.empty()) {
    type = d.value("credentials_type");
  }
  if (!type.empty() && type != "shared_key") {
    return Error{d.origin + " sets storage.azure.credentials.type to '" + type +
                     "'; regsweep signs with the account's shared key only: give "
                     "storage.azure.accountkey (or AZURE_STORAGE_KEY) and credentials.type "
                     "shared_key",
                 0};
  }
  if (Status ok = finish_azure(s, d, d.value("realm")); !ok) {
    return ok.error();
  }
  return s;
}

Result<AzureSettings> from_url(const DriverParameters& d) {
  auto s = parse_azure_url(d.url);
  if (!s) {
    return Error{"'" + d.url + "' is not an azure://CONTAINER[/PREFIX] location", 0};
  }
  s->service_url = d.endpoint;
  if (Status ok = finish_azure(*s, d, ""); !ok) {
    return ok.error();
  }
  return *s;
}

}  // namespace

Result<AzureSettings> azure_settings(const DriverParameters& driver) {
  return driver.url.empty() ? from_config(driver) : from_url(driver);
}

std::string AzureSettings::location() const {
  return "azure://" + container + (rootdirectory.empty() ? "" : "/" + rootdirectory);
}

std::string AzureSettings::registry_prefix() const {
  return (rootdirectory.empty() ? "" : rootdirectory + "/") + "docker/registry/";
}

std::optional<AzureSettings> parse_azure_url(std::string_view text) {
  constexpr std::string_view k_scheme = "azure://";
  if (text.substr(0, k_scheme.size()) != k_scheme) {
    return std::nullopt;
  }
  text.remove_prefix(k_scheme.size());
  AzureSettings s;
  auto slash = text.find('/');
  s.container = std::string(text.substr(0, slash));
  if (s.container.empty()) {
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    s.rootdirectory = trim_slashes(text.substr(slash + 1));
  }
  return s;
}

}  // namespace regsweep
