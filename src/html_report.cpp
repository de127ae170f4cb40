// The usage report as one self-contained HTML page (html_report.hpp).
//
// The C++ side writes the facts and totals as escaped HTML and every repository's figures as
// JSON in a <script type="application/json"> block, with <, > and & written as \u escapes so
// that no name can close the block. The page's script reads that block, lays the treemap out
// (squarified, nested by name components) and fills the table, putting names on the page only
// as text (textContent), never as markup.

#include "regsweep/html_report.hpp"

#include <cstdio>
#include <map>
#include <string_view>

#include "html_assets.hpp"  // src/assets/du-report.css and .js, built in (CMakeLists.txt)
#include "regsweep/human.hpp"
#include "regsweep/json_writer.hpp"
#include "regsweep/markup.hpp"

namespace regsweep {

namespace {

// JSON safe inside a <script> element: <, > and & (outside strings JSON has none) as \u
// escapes, so that no name can end the element or open a comment.
std::string script_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string data_json(const Usage& usage) {
  JsonWriter w;
  w.begin_object().key("repos").begin_array();
  for (const RepoUsage& u : usage.repositories) {
    w.begin_object().key("n").value(u.name).key("t").value(u.tags);
    w.key("mt").value(u.manifests_tagged).key("mu").value(u.manifests_untagged);
    w.key("l").value(u.logical_bytes).key("e").value(u.exclusive_bytes);
    w.key("s").value(u.shared_bytes).key("r").value(u.reclaimable_bytes);
    w.key("rm").value(u.reclaimable_m_bytes).key("u").value(u.upload_bytes).end_object();
  }
  w.end_array().end_object();
  return script_safe(w.str());
}

void total_box(std::string& out, std::string_view label, std::uint64_t bytes) {
  out += "<div>" + std::string(label) + "<b>" + human_bytes(bytes) + "</b>" +
         std::to_string(bytes) + " bytes</div>";
}

std::string totals_html(const UsageTotals& t) {
  std::string out = "<div class=\"totals\" id=\"totals\">";
  out += "<div>repositories<b>" + std::to_string(t.repositories) + "</b>" +
         std::to_string(t.blobs) + " blobs</div>";
  total_box(out, "on disk", t.blob_bytes);
  total_box(out, "referenced", t.referenced_bytes);
  total_box(out, "unreferenced (gc would free)", t.unreferenced_bytes);
  total_box(out, "unreferenced with gc -m", t.unreferenced_m_bytes);
  total_box(out, "kept for being young", t.young_bytes);
  total_box(out, "in uploads", t.upload_bytes);
  return out + "</div>";
}

std::string findings_html(const std::vector<Finding>& findings) {
  if (findings.empty()) {
    return "<p id=\"findings\">No findings: everything regsweep looked at was readable and as "
           "the layout has it.</p>";
  }
  std::map<std::string, std::vector<const Finding*>> by_kind;
  for (const Finding& f : findings) {
    by_kind[std::string(to_string(f.kind))].push_back(&f);
  }
  std::string out = "<ul id=\"findings\">";
  for (const auto& [kind, list] : by_kind) {
    out += "<li><b>" + markup_escape(kind) + "</b>: " + std::to_string(list.size()) + "<ul>";
    for (std::size_t i = 0; i < list.size() && i < 3; ++i) {
      out += "<li><code>" + markup_escape(list[i]->path) +
             "</code>: " + markup_escape(list[i]->message) + "</li>";
    }
    if (list.size() > 3) {
      out += "<li>and " + std::to_string(list.size() - 3) + " more</li>";
    }
    out += "</ul></li>";
  }
  return out + "</ul>";
}

}  // namespace

std::string render_usage_html(const Usage& usage, const HtmlFacts& facts) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">";
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">";
  out += "<title>regsweep du: " + markup_escape(facts.location) + "</title>";
  out += "<style>" + std::string(assets::k_du_report_css) + "</style></head><body>\n";
  out += "<h1>Disk usage of " + markup_escape(facts.location) + "</h1>\n";
  out += totals_html(usage.totals) + "\n";
  // Findings first: what could not be read, or is damaged, matters before any figure below.
  out += "<h2>Findings (" + std::to_string(usage.findings.size()) + ")</h2>\n" +
         findings_html(usage.findings) + "\n";
  out +=
      "<h2>Repositories</h2><div id=\"controls\"><label>Area: <select id=\"metric\">"
      "<option value=\"e\" selected>exclusive bytes</option>"
      "<option value=\"l\">logical bytes</option>"
      "<option value=\"r\">reclaimable bytes</option></select></label> "
      "colour: share of the cell gc would free, on a log scale: <span class=\"legend\">"
      "<span>0</span><span>1%</span><span>10%</span><span>all</span>"
      "</span></div>\n";
  out +=
      "<div id=\"info\" aria-live=\"polite\">Point at or focus a cell for its "
      "figures.</div>\n";
  out += "<svg id=\"map\" role=\"img\" aria-label=\"treemap of the repositories\"></svg>\n";
  out += "<h2>Every repository</h2><table id=\"table\"><thead><tr>";
  static const std::pair<const char*, const char*> heads[] = {
      {"REPOSITORY", "n"}, {"TAGS", "t"},      {"TAGGED", "mt"}, {"UNTAGGED", "mu"},
      {"LOGICAL", "l"},    {"EXCLUSIVE", "e"}, {"SHARED", "s"},  {"RECLAIM", "r"},
      {"RECLAIM-M", "rm"}, {"UPLOADS", "u"}};
  for (const auto& [label, key] : heads) {
    out += "<th data-col=\"" + std::string(key) + "\">" + label + "</th>";
  }
  const UsageTotals& t = usage.totals;
  // The totals line, as du's table ends; each figure carries its exact bytes.
  auto fig = [](std::string_view key, std::uint64_t bytes, std::string_view what) {
    return "<span data-total=\"" + std::string(key) + "\" data-bytes=\"" + std::to_string(bytes) +
           "\" title=\"" + std::to_string(bytes) + " bytes\">" + human_bytes(bytes) + "</span> " +
           std::string(what);
  };
  out += "</tr></thead><tbody id=\"rows\"></tbody><tfoot><tr><td>TOTAL " +
         std::to_string(t.repositories) + " repositories</td><td colspan=\"9\">" +
         fig("blob_bytes", t.blob_bytes, "on disk, ") +
         fig("referenced_bytes", t.referenced_bytes, "referenced, ") +
         fig("unreferenced_bytes", t.unreferenced_bytes, "unreferenced (gc would free), ") +
         fig("unreferenced_m_bytes", t.unreferenced_m_bytes, "with gc -m, ") +
         fig("young_bytes", t.young_bytes, "kept for being young, ") +
         fig("upload_bytes", t.upload_bytes, "in uploads") + "</td></tr></tfoot></table>\n";
  out += "<h2>The run</h2><dl id=\"facts\"><dt>Root</dt><dd>" + markup_escape(facts.location) +
         "</dd><dt>Generated</dt><dd>" + markup_escape(facts.generated_at) +
         "</dd><dt>Grace period</dt><dd>" + std::to_string(facts.grace_seconds) +
         " s</dd><dt>Findings</dt><dd>" + std::to_string(usage.findings.size()) +
         "</dd><dt>Version</dt><dd>regsweep " + markup_escape(facts.version) + "</dd></dl>\n";
  out += "<script type=\"application/json\" id=\"data\">" + data_json(usage) + "</script>\n";
  out += "<script>" + std::string(assets::k_du_report_js) + "</script>\n</body></html>\n";
  return out;
}

}  // namespace regsweep
