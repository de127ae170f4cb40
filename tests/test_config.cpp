#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>

#include "regsweep/config.hpp"
#include "regsweep/log_format.hpp"
#include "regsweep/open.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

TEST(Config, FilesystemRoot) {
  auto r = root_from_config_text(
      "version: 0.1\nstorage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n"
      "    rootdirectory: /srv/reg\n  delete:\n    enabled: true\n",
      "c.yml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "/srv/reg");
}

TEST(Config, DefaultRoot) {
  auto r = root_from_config_text("storage:\n  filesystem: {}\n", "c.yml");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "/var/lib/registry");
  auto r2 = root_from_config_text("storage:\n  filesystem:\n", "c.yml");
  ASSERT_TRUE(r2);
  EXPECT_EQ(*r2, "/var/lib/registry");
}

// As the registry reads them: an empty or null rootdirectory is the default (not the text
// "null"), and `storage: filesystem` as a scalar is the driver with no parameters.
TEST(Config, EmptyRootAndScalarDriverAreTheDefault) {
  for (const char* text :
       {"storage:\n  filesystem:\n    rootdirectory:\n",
        "storage:\n  filesystem:\n    rootdirectory: ~\n",
        "storage:\n  filesystem:\n    rootdirectory: \"\"\n", "storage: filesystem\n"}) {
    SCOPED_TRACE(text);
    auto r = root_from_config_text(text, "c.yml");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, "/var/lib/registry");
  }
  auto s3 = root_from_config_text("storage: s3\n", "c.yml");
  ASSERT_FALSE(s3);
  EXPECT_NE(s3.error().message.find("'s3' storage driver"), std::string::npos);
}

TEST(Config, OtherDriversAreRefusedByName) {
  auto r = root_from_config_text("storage:\n  s3:\n    bucket: b\n  delete:\n    enabled: true\n",
                                 "c.yml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'s3' storage driver"), std::string::npos);
  EXPECT_FALSE(root_from_config_text("version: 0.1\n", "c.yml"));
  EXPECT_FALSE(root_from_config_text("storage: [\n", "c.yml"));
}

// An environment with one variable set.
RegistryEnv env_with(std::optional<std::string> RegistryEnv::*field, const std::string& value) {
  RegistryEnv env;
  env.*field = value;
  return env;
}

TEST(Config, LocateRootOrder) {
  test::TempRegistry reg;  // only for a temp directory
  std::string cfg = reg.root() + "/config.yml";
  std::ofstream(cfg) << "storage:\n  filesystem:\n    rootdirectory: /from/file\n";

  auto a = locate_root(cfg, std::nullopt, {});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->root, "/from/file");

  auto b = locate_root(std::nullopt, std::nullopt, env_with(&RegistryEnv::configuration_path, cfg));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->root, "/from/file");

  auto c = locate_root(cfg, std::nullopt, env_with(&RegistryEnv::rootdirectory, "/from/env"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->root, "/from/env");

  auto d = locate_root(cfg, std::string("/from/flag"), env_with(&RegistryEnv::rootdirectory, "/e"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->root, "/from/flag");

  // REGISTRY_STORAGE=s3 over a filesystem configuration: the s3 driver, with no bucket.
  auto e = locate_root(cfg, std::nullopt, env_with(&RegistryEnv::storage, "s3"));
  ASSERT_TRUE(e) << e.error().message;
  ASSERT_TRUE(e->object);
  auto opened = open_store(*e);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("names no bucket"), std::string::npos)
      << opened.error().message;
  // A driver regsweep has no store for is named, with those it has.
  auto g = locate_root(cfg, std::nullopt, env_with(&RegistryEnv::storage, "gcs"));
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("'gcs' storage driver; regsweep works on the filesystem, s3 "
                                   "and azure drivers only"),
            std::string::npos)
      << g.error().message;

  auto f = locate_root(reg.root() + "/missing.yml", std::nullopt, {});
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("missing.yml"), std::string::npos);

  EXPECT_FALSE(locate_root(std::nullopt, std::nullopt, {}));
}

// Whether the registry serves TLS, as it decides (a certificate, or Let's Encrypt's cache
// file): the probe then asks over https.
TEST(Config, ServingTlsIsReadFromTheConfigurationAndTheEnvironment) {
  EXPECT_FALSE(serve_settings_from_text("http:\n  addr: :5000\n").tls);
  EXPECT_TRUE(
      serve_settings_from_text("http:\n  addr: :5000\n  tls:\n    certificate: /c.pem\n").tls);
  EXPECT_TRUE(serve_settings_from_text(
                  "http:\n  addr: :5000\n  tls:\n    letsencrypt:\n      cachefile: /c\n")
                  .tls);
  EXPECT_FALSE(serve_settings_from_text("http:\n  tls:\n    certificate: \"\"\n").tls);

  test::TempRegistry reg;
  std::string cfg = reg.root() + "/config.yml";
  std::ofstream(cfg) << "storage:\n  filesystem:\n    rootdirectory: /r\nhttp:\n  addr: :5000\n";
  auto plain = locate_root(cfg, std::nullopt, {});
  ASSERT_TRUE(plain && plain->serve);
  EXPECT_FALSE(plain->serve->tls);
  auto tls = locate_root(cfg, std::nullopt,
                         env_with(&RegistryEnv::http_tls_certificate, "/etc/registry/cert.pem"));
  ASSERT_TRUE(tls && tls->serve);
  EXPECT_TRUE(tls->serve->tls);
}

// Issue 37: the registry's log section, and lines written as its logrus formatters write them.
TEST(LogSettings, TheFormatterLevelAndFieldsWithTheEnvironmentsOverrides) {
  const std::string yaml =
      "log:\n  level: warn\n  formatter: text\n  fields:\n    service: registry\n"
      "storage:\n  filesystem:\n    rootdirectory: /r\n";
  auto s = log_settings_from_text(yaml, {});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->formatter, "text");
  EXPECT_EQ(s->level, "warn");
  EXPECT_EQ(s->fields.at("service"), "registry");
  EXPECT_FALSE(log_enabled(*s, LogLevel::info));
  EXPECT_TRUE(log_enabled(*s, LogLevel::warning));
  auto env = log_settings_from_text(
      yaml, {{"REGISTRY_LOG_FORMATTER", "json"}, {"REGISTRY_LOG_LEVEL", "debug"}});
  ASSERT_TRUE(env);
  EXPECT_EQ(env->formatter, "json");
  EXPECT_TRUE(log_enabled(*env, LogLevel::info));
  auto none = log_settings_from_text("storage:\n  filesystem: {}\n", {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->formatter.empty());
  EXPECT_EQ(none->level, "info");
  auto bad = log_settings_from_text("log:\n  formatter: xml\n", {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "unsupported logging formatter: \"xml\"");
}

TEST(LogSettings, RecordsAreWrittenAsLogrusWritesThem) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  LogSettings text{
      .formatter = "text", .level = "info", .fields = {{"b", "two words"}, {"a", "x"}}};
  // 2026-12-07T07:08:02.5688Z
  const std::int64_t t = std::int64_t{1796627282} * 1000000000 + 568800000;
  EXPECT_EQ(log_record(text, LogLevel::info, "Deleting blob: /docker/x", t),
            "time=\"2026-12-07T07:08:02.5688Z\" level=info msg=\"Deleting blob: /docker/x\" a=x "
            "b=\"two words\"");
  EXPECT_EQ(log_record(text, LogLevel::warning, "plain", t - 568800000),
            "time=\"2026-12-07T07:08:02Z\" level=warning msg=plain a=x b=\"two words\"");
  LogSettings json{.formatter = "json", .level = "info", .fields = {{"service", "registry"}}};
  EXPECT_EQ(log_record(json, LogLevel::error, "a \"q\" <b>\n", t),
            "{\"level\":\"error\",\"msg\":\"a \\\"q\\\" \\u003cb\\u003e\\n\",\"service\":"
            "\"registry\",\"time\":\"2026-12-07T07:08:02.5688Z\"}");
  LogSettings logstash{.formatter = "logstash", .level = "info", .fields = {}};
  EXPECT_EQ(log_record(logstash, LogLevel::info, "m", t),
            "{\"@timestamp\":\"2026-12-07T07:08:02.5688Z\",\"@version\":\"1\",\"level\":\"info\","
            "\"message\":\"m\"}");
  EXPECT_EQ(go_quote("tab\there \"é\" \x01\xff"), "\"tab\\there \\\"é\\\" \\x01\\xff\"");
}

}  // namespace
}  // namespace regsweep
