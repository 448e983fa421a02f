// RenderReportHtml: a report as one self-contained page (inline CSS and SVG, no script).

#include <algorithm>

#include <fmt/format.h>

#include "ipfs_accel/analysis/report.h"
#include "ipfs_accel/analysis/svg_chart.h"

namespace ipfs_accel::analysis {

namespace {

using Row = std::vector<std::optional<std::string>>;

bool IsNumeric(const std::string& type) {
  return type == "BIGINT" || type == "DOUBLE" || type == "INTEGER" || type == "HUGEINT" ||
         type.rfind("DECIMAL", 0) == 0;
}

// The cell's class: numbers right-aligned; timestamps and ids never broken across lines; the
// long free texts (command line, source path) allowed to wrap anywhere.
std::string CellClass(const std::string& name, const std::string& type) {
  if (IsNumeric(type)) return "num";
  if (name == "started_at" || name == "id" || name == "run_id") return "nowrap";
  if (name == "command" || name == "source" || name == "settings") return "long";
  return "";
}

// One <table>; its rows have the class `row_class`.
std::string HtmlTable(const store::QueryResult& t, const std::string& row_class) {
  std::string out = "<div class=\"table-wrap\"><table class=\"report\">\n<thead><tr>";
  std::vector<std::string> classes;
  for (size_t i = 0; i < t.column_names.size(); ++i) {
    out += "<th>" + XmlEscape(t.column_names[i]) + "</th>";
    classes.push_back(
        CellClass(t.column_names[i], i < t.column_types.size() ? t.column_types[i] : ""));
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const Row& r : t.rows) {
    out += "<tr class=\"" + row_class + "\">";
    for (size_t i = 0; i < r.size(); ++i)
      out += (i < classes.size() && !classes[i].empty() ? "<td class=\"" + classes[i] + "\">"
                                                        : std::string("<td>")) +
             (r[i] ? XmlEscape(*r[i]) : "") + "</td>";
    out += "</tr>\n";
  }
  if (t.rows.empty())
    out += fmt::format("<tr><td colspan=\"{}\">no results</td></tr>\n",
                       std::max<size_t>(1, t.column_names.size()));
  return out + "</tbody>\n</table></div>\n";
}

std::string HtmlNotes(const std::vector<std::string>& notes) {
  std::string out;
  for (const auto& n : notes) out += "<p class=\"note\">" + XmlEscape(n) + "</p>\n";
  return out;
}

}  // namespace

std::string RenderReportHtml(const Report& report) {
  if (!report.html_body.empty()) return report.html_body;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
      XmlEscape("ipfs-accelerate report: " + report.title) +
      "</title>\n<style>\n"
      "body{font-family:sans-serif;margin:1.5em;color:#222}\n"
      ".table-wrap{max-width:100%;overflow-x:auto}\n"
      "table{border-collapse:collapse;font-size:13px}\n"
      "th,td{border:1px solid #ccc;padding:3px 6px}th{background:#f0f0f0;white-space:nowrap}\n"
      "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
      "td.nowrap{white-space:nowrap}td.long{min-width:16em;overflow-wrap:anywhere}\n"
      ".charts{display:flex;flex-wrap:wrap;gap:1em}svg.chart{max-width:100%;height:auto;"
      "border:1px solid #eee}\n</style></head>\n<body>\n<h1>" +
      XmlEscape(report.title) + "</h1>\n" + HtmlNotes(report.notes);
  out += "<div class=\"charts\">\n";
  for (const auto& c : report.line_charts) out += RenderLineChart(c);
  for (const auto& c : report.bar_charts) out += RenderBarChart(c);
  out += "</div>\n";
  if (report.sections.empty())
    return out + HtmlTable(report.table, "report-row") + "</body></html>\n";
  for (const auto& section : report.sections)
    out += "<h2>" + XmlEscape(section.title) + "</h2>\n" + HtmlNotes(section.notes) +
           HtmlTable(section.table, section.title == kRunsSectionTitle ? "run-row" : "report-row");
  return out + "</body></html>\n";
}

}  // namespace ipfs_accel::analysis
