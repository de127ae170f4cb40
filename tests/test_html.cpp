// The HTML usage report (html_report.hpp): escaping, the embedded data, determinism. How it
// renders in a browser is tests/cli/html_test.sh's.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "regsweep/html_report.hpp"
#include "regsweep/markup.hpp"

namespace regsweep {
namespace {

Usage sample_usage() {
  Usage u;
  RepoUsage a;
  a.name = "org/team/app";
  a.tags = 2;
  a.logical_bytes = 3000;
  a.exclusive_bytes = 1000;
  a.shared_bytes = 2000;
  a.reclaimable_bytes = 500;
  u.repositories.push_back(a);
  RepoUsage evil;
  evil.name = "x/<script>alert(1)</script>&\"'";  // an invalid name, scanned anyway
  evil.exclusive_bytes = 7;
  u.repositories.push_back(evil);
  u.totals.repositories = 2;
  u.totals.blob_bytes = 123456;
  u.findings.push_back(Finding{FindingKind::invalid_name, Severity::error,
                               "repositories/x/<script>alert(1)</script>", evil.name,
                               "'<img src=x onerror=alert(1)>' is not a valid name"});
  return u;
}

HtmlFacts facts() {
  return HtmlFacts{"/srv/<root>", "2026-12-01T00:00:00Z", 3600, "0.1.0"};
}

TEST(HtmlReport, NamesAreTextNeverMarkup) {
  std::string page = render_usage_html(sample_usage(), facts());
  // Nowhere as markup: not in the facts, the findings, nor the data block.
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("<root>"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("/srv/&lt;root&gt;"), std::string::npos);
  // The data block cannot be closed by a name: < > & are \u escapes there.
  auto open = page.find("<script type=\"application/json\" id=\"data\">");
  ASSERT_NE(open, std::string::npos);
  auto body = open + std::string("<script type=\"application/json\" id=\"data\">").size();
  auto close = page.find("</script>", body);
  std::string json = page.substr(body, close - body);
  EXPECT_EQ(json.find('<'), std::string::npos);
  EXPECT_EQ(json.find('&'), std::string::npos);
  // And it still says the name exactly.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::string_view name;
  ASSERT_EQ(doc["repos"].at(1)["n"].get(name), simdjson::SUCCESS);
  EXPECT_EQ(name, sample_usage().repositories[1].name);
}

TEST(HtmlReport, SelfContained) {
  std::string a = render_usage_html(sample_usage(), facts());
  // Nothing fetched: no external script, style, font or image, and a policy that forbids it.
  for (const char* fetch : {"src=\"http", "href=\"http", "url(", "@import", "<link"}) {
    EXPECT_EQ(a.find(fetch), std::string::npos) << fetch;
  }
  EXPECT_NE(a.find("default-src 'none'"), std::string::npos);
  // The totals and the facts are on the page as written, before any script runs.
  EXPECT_NE(a.find("123456 bytes"), std::string::npos);
  EXPECT_NE(a.find("3600 s"), std::string::npos);
  EXPECT_NE(a.find("regsweep 0.1.0"), std::string::npos);
}

TEST(HtmlReport, EscapeCoversEveryHtmlSpecialCharacter) {
  EXPECT_EQ(markup_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(markup_escape("plain/name-1.0"), "plain/name-1.0");
}

}  // namespace
}  // namespace regsweep
