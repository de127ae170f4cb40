// Azure Blob without a server: the container's configuration as the registry's azure driver
// reads it (2.8 and 3.x), the Shared Key signature (checked against an independent
// implementation, tests/e2e/azure_blob.py, which Azurite accepts), and the reading of a Blob
// Batch answer, where a deletion not known to be done must never count as done.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "regsweep/config.hpp"
#include "store/azure/batch.hpp"
#include "store/azure/client.hpp"
#include "store/azure/settings.hpp"

namespace regsweep {
namespace {

constexpr const char* k_azurite_key =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

constexpr const char* k_azure_config = R"(version: 0.1
storage:
  azure:
    accountname: acct
    accountkey: c2VjcmV0LWtleQ==
    container: images
    realm: core.chinacloudapi.cn
    rootdirectory: /team/reg/
    credentials:
      type: shared_key
  delete:
    enabled: true
)";

Result<AzureSettings> from_text(const std::string& text, const RegistryEnv& env = {}) {
  auto driver = driver_parameters_from_text(text, "/etc/registry.yml", "azure", env);
  if (!driver) {
    return driver.error();
  }
  return azure_settings(*driver);
}

TEST(AzureConfig, ReadsTheKeysTheRegistryReads) {
  auto s = from_text(k_azure_config);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->account, "acct");
  EXPECT_EQ(s->key, "c2VjcmV0LWtleQ==");
  EXPECT_EQ(s->container, "images");
  EXPECT_EQ(s->service_url, "https://acct.blob.core.chinacloudapi.cn");  // from the realm
  EXPECT_EQ(s->rootdirectory, "team/reg");
  // 3.x: TrimLeft(TrimRight(rootdirectory, "/") + "/docker/registry/...", "/").
  EXPECT_EQ(s->registry_prefix(), "team/reg/docker/registry/");
  EXPECT_EQ(s->location(), "azure://images/team/reg");
}

TEST(AzureConfig, WithoutRootTheNamesStartAtDocker) {
  std::string text = k_azure_config;
  text.replace(text.find("    rootdirectory: /team/reg/\n"), 29, "");
  text.replace(text.find("    realm: core.chinacloudapi.cn\n"), 33, "");
  auto s = from_text(text);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->registry_prefix(), "docker/registry/");
  EXPECT_EQ(s->service_url, "https://acct.blob.core.windows.net");
  // 2.8's driver kept the path's leading slash in every blob name.
  EXPECT_EQ(k_azure_legacy_registry_prefix, "/docker/registry/");
}

TEST(AzureConfig, EnvironmentOverridesAndFallbacks) {
  RegistryEnv env;
  env.variables["REGISTRY_STORAGE_AZURE_CONTAINER"] = "other";
  env.variables["REGISTRY_STORAGE_AZURE_SERVICEURL"] = "http://127.0.0.1:10000/acct/";
  auto s = from_text(k_azure_config, env);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->container, "other");
  EXPECT_EQ(s->service_url, "http://127.0.0.1:10000/acct");
  // A 2.8 configuration: no credentials section, the key given by the environment.
  std::string text =
      "version: 0.1\nstorage:\n  azure:\n    accountname: acct\n"
      "    container: images\n";
  RegistryEnv keys;
  keys.variables["AZURE_STORAGE_KEY"] = "a2V5";
  auto legacy = from_text(text, keys);
  ASSERT_TRUE(legacy) << legacy.error().message;
  EXPECT_EQ(legacy->key, "a2V5");
}

TEST(AzureConfig, MissingOrUnusableSettingsAreNamed) {
  auto no_container = from_text(
      "version: 0.1\nstorage:\n  azure:\n    accountname: a\n"
      "    accountkey: a2V5\n");
  ASSERT_FALSE(no_container);
  EXPECT_NE(no_container.error().message.find("storage.azure.container"), std::string::npos);
  auto no_key = from_text(
      "version: 0.1\nstorage:\n  azure:\n    accountname: a\n"
      "    container: c\n");
  ASSERT_FALSE(no_key);
  EXPECT_NE(no_key.error().message.find("accountkey"), std::string::npos);
  std::string token = k_azure_config;
  token.replace(token.find("type: shared_key"), 16, "type: client_secret");
  auto refused = from_text(token);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("'client_secret'"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("c2VjcmV0LWtleQ"), std::string::npos);  // no secret
  std::string skip = k_azure_config;
  skip.replace(skip.find("    credentials:"), 0, "    skipverify: maybe\n");
  auto bad_bool = from_text(skip);
  ASSERT_FALSE(bad_bool);
  EXPECT_NE(bad_bool.error().message.find("skipverify"), std::string::npos);
}

TEST(AzureConfig, RootUrlWithEndpoint) {
  RegistryEnv env;
  env.variables["AZURE_STORAGE_ACCOUNT"] = "devstoreaccount1";
  env.variables["AZURE_STORAGE_KEY"] = k_azurite_key;
  auto root = locate_root(std::nullopt, std::string("azure://reg/team/"), env,
                          "http://127.0.0.1:10000/devstoreaccount1");
  ASSERT_TRUE(root) << root.error().message;
  ASSERT_TRUE(root->object);
  EXPECT_EQ(root->object->driver, "azure");
  auto s = azure_settings(*root->object);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->container, "reg");
  EXPECT_EQ(s->rootdirectory, "team");
  EXPECT_EQ(s->service_url, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_FALSE(parse_azure_url("azure:///x"));
  EXPECT_FALSE(parse_azure_url("s3://reg"));
}

AzureSettings azurite() {
  AzureSettings s;
  s.account = "devstoreaccount1";
  s.key = k_azurite_key;
  s.container = "reg";
  s.service_url = "http://127.0.0.1:10000/devstoreaccount1";
  return s;
}

TEST(AzureSharedKey, StringToSignAsTheServiceBuildsIt) {
  AzureClient client(azurite());
  std::string url = client.url("docker/a b", "");
  EXPECT_EQ(url, "http://127.0.0.1:10000/devstoreaccount1/reg/docker/a%20b");
  std::vector<std::string> headers{"x-ms-version: 2020-10-02", "x-ms-blob-type: BlockBlob",
                                   "Content-Type: application/octet-stream",
                                   "x-ms-date: Mon, 07 Dec 2026 04:00:00 GMT"};
  std::string text = client.string_to_sign("PUT", url, headers, 5);
  // The emulator's account is in the path too: "/<account>/<account>/<container>/<blob>".
  EXPECT_EQ(text,
            "PUT\n\n\n5\n\napplication/octet-stream\n\n\n\n\n\n\n"
            "x-ms-blob-type:BlockBlob\nx-ms-date:Mon, 07 Dec 2026 04:00:00 GMT\n"
            "x-ms-version:2020-10-02\n/devstoreaccount1/devstoreaccount1/reg/docker/a%20b");
  // The same signature as the independent implementation gives (tests/e2e/azure_blob.py).
  EXPECT_EQ(AzureClient::signature(k_azurite_key, text),
            "AgEWP8wdukMtQ/JxHtwBL2ChN5MULIv4uAaJWAUQw0E=");
}

// A conditional Delete Blob: If-Unmodified-Since as an HTTP date, in its place in the string
// to sign (between If-None-Match and Range).
TEST(AzureSharedKey, TheDeletionsConditionIsAnHttpDateThatIsSigned) {
  EXPECT_EQ(AzureClient::http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(AzureClient::http_date(1796643313), "Mon, 07 Dec 2026 11:35:13 GMT");
  AzureClient client(azurite());
  std::string url = client.url("docker/k", "");
  std::vector<std::string> headers{"x-ms-version: 2020-10-02",
                                   "If-Unmodified-Since: " + AzureClient::http_date(0)};
  EXPECT_EQ(client.string_to_sign("DELETE", url, headers, 0),
            "DELETE\n\n\n\n\n\n\n\n\n\nThu, 01 Jan 1970 00:00:00 GMT\n\n"
            "x-ms-version:2020-10-02\n/devstoreaccount1/devstoreaccount1/reg/docker/k");
}

TEST(AzureSharedKey, QueryParametersAreDecodedAndSorted) {
  AzureSettings s = azurite();
  s.account = "acct";
  s.service_url = "https://acct.blob.core.windows.net";
  AzureClient client(s);
  std::string url = client.url("",
                               "restype=container&comp=list&prefix=docker%2Fregistry%2Fv2%2F"
                               "&delimiter=%2F&marker=2%21x");
  std::vector<std::string> headers{"x-ms-version: 2020-10-02", "Range: bytes=10-",
                                   "x-ms-date: Mon, 07 Dec 2026 04:00:00 GMT"};
  std::string text = client.string_to_sign("GET", url, headers, 0);
  EXPECT_EQ(text,
            "GET\n\n\n\n\n\n\n\n\n\n\nbytes=10-\nx-ms-date:Mon, 07 Dec 2026 04:00:00 GMT\n"
            "x-ms-version:2020-10-02\n/acct/reg\ncomp:list\ndelimiter:/\nmarker:2!x\n"
            "prefix:docker/registry/v2/\nrestype:container");
  EXPECT_EQ(AzureClient::signature(k_azurite_key, text),
            "GtbmNNrJdqjJ486zWbecwwAC/aFOuu+12SH2eUrZ3wY=");
}

std::string part(int id, const std::string& status_line, const std::string& code = "") {
  return "--batchresponse_1\r\nContent-Type: application/http\r\nContent-ID: " +
         std::to_string(id) + "\r\n\r\n" + status_line + "\r\n" +
         (code.empty() ? "" : "x-ms-error-code: " + code + "\r\n") +
         "x-ms-version: 2020-10-02\r\n\r\n";
}

TEST(AzureBatch, OnlyWhatTheAnswerSaysIsDoneCountsAsDone) {
  std::vector<std::string> keys{"a", "b", "c", "d"};
  std::string body =
      part(1, "HTTP/1.1 404 The specified blob does not exist.", "BlobNotFound") +
      part(0, "HTTP/1.1 202 Accepted") +
      part(2, "HTTP/1.1 412 There is currently a lease on the blob.", "LeaseIdMissing") +
      "--batchresponse_1--\r\n";
  auto failed = batch_failures(keys, "multipart/mixed; boundary=batchresponse_1", body);
  ASSERT_TRUE(failed) << failed.error().message;
  ASSERT_EQ(failed->size(), 2U);
  // c: refused; d: the answer says nothing of it, so it is not known to be deleted.
  EXPECT_EQ((*failed)[0].key, "c");
  EXPECT_EQ((*failed)[0].code, "LeaseIdMissing");
  EXPECT_EQ((*failed)[1].key, "d");
  // A quoted boundary; an answer without one is an error, not "nothing failed".
  auto quoted = batch_failures({"a"}, "multipart/mixed; boundary=\"batchresponse_1\"",
                               part(0, "HTTP/1.1 202 Accepted") + "--batchresponse_1--\r\n");
  ASSERT_TRUE(quoted);
  EXPECT_TRUE(quoted->empty());
  EXPECT_FALSE(batch_failures(keys, "application/xml", body));
  // Nothing readable: every key is a failure.
  auto garbage = batch_failures(keys, "multipart/mixed; boundary=batchresponse_1", "<html>");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->size(), keys.size());
}

}  // namespace
}  // namespace regsweep
