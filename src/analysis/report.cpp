#include "ipfs_accel/analysis/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "analysis/sql_literal.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

namespace {

using Row = std::vector<std::optional<std::string>>;

size_t Column(const store::QueryResult& r, const std::string& name) {
  const auto it = std::find(r.column_names.begin(), r.column_names.end(), name);
  if (it == r.column_names.end())
    throw core::Error(core::ErrorKind::kInternal, fmt::format("report has no column '{}'", name));
  return static_cast<size_t>(it - r.column_names.begin());
}

std::string Text(const Row& row, size_t i) { return row[i] ? *row[i] : ""; }
std::optional<double> Number(const Row& row, size_t i) {
  if (!row[i]) return std::nullopt;
  try {
    return std::stod(*row[i]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// " AND ..." for the model and platform filters.
std::string FilterSql(const ReportFilter& f) {
  std::string where;
  if (f.model) where += " AND m.name = " + SqlLiteral(*f.model);
  if (f.hardware) where += " AND h.platform = " + SqlLiteral(*f.hardware);
  return where;
}

std::string LatestRunId(store::ResultStore& store) {
  const auto latest = store.Query("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1");
  if (latest.rows.empty() || !latest.rows[0][0])
    throw core::Error(core::ErrorKind::kNotFound,
                      "the database holds no runs yet; run `ipfs-accelerate benchmark` first");
  return *latest.rows[0][0];
}

std::string RunSql(store::ResultStore& store, const ReportFilter& f) {
  if (!f.run_id) return "";
  return " AND p.run_id = " + SqlLiteral(*f.run_id == "latest" ? LatestRunId(store) : *f.run_id);
}

// Keeps the first kMaxChartSeries series and says in the notes how many were left out.
void CapSeries(LineChart& chart, std::vector<std::string>& notes) {
  if (chart.series.size() <= kMaxChartSeries) return;
  notes.push_back(fmt::format("Chart '{}' shows the first {} of {} series; all are in the table.",
                              chart.title, kMaxChartSeries, chart.series.size()));
  chart.series.resize(kMaxChartSeries);
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts)
    if (!p.empty()) {
      if (!out.empty()) out += " · ";
      out += p;
    }
  return out;
}

}  // namespace

Report BuildPerformanceReport(store::ResultStore& store, const ReportFilter& filter) {
  Report rep;
  rep.title = "Performance";
  rep.table = PerformanceReport(store, filter);
  rep.notes.push_back(fmt::format(
      "{}{}{}.",
      filter.every_result
          ? fmt::format("{} results", rep.table.rows.size())
          : fmt::format("The latest result of each of {} configurations", rep.table.rows.size()),
      !filter.run_id               ? " from every run"
      : *filter.run_id == "latest" ? " from the latest run"
                                   : " from run " + *filter.run_id,
      filter.limit && rep.table.rows.size() == static_cast<size_t>(*filter.limit)
          ? fmt::format(" (limited to {} rows)", *filter.limit)
          : ""));
  const auto& t = rep.table;
  const size_t model = Column(t, "model"), hw = Column(t, "hardware"), dev = Column(t, "device"),
               graph = Column(t, "graph"), prec = Column(t, "precision"),
               scen = Column(t, "scenario"), batch = Column(t, "batch"), seq = Column(t, "seq_len"),
               p50 = Column(t, "p50_ms"), tput = Column(t, "items_per_s");
  // Rows are newest first: the first result per series and batch size is the newest.
  std::map<std::string, std::map<double, double>> lines;
  std::vector<std::string> order;
  std::map<std::string, double> best;
  std::vector<std::string> bar_order;
  for (const Row& r : t.rows) {
    const std::string key =
        Join({Text(r, model), Text(r, hw), Text(r, dev), Text(r, graph), Text(r, prec),
              Text(r, scen) == "single-stream" ? "" : Text(r, scen), "seq " + Text(r, seq)});
    const auto b = Number(r, batch), y = Number(r, p50), tp = Number(r, tput);
    if (b && y) {
      if (!lines.count(key)) order.push_back(key);
      lines[key].emplace(*b, *y);
    }
    if (tp) {
      const std::string label = Join({Text(r, model), Text(r, hw)});
      if (!best.count(label)) bar_order.push_back(label);
      best[label] = std::max(best[label], *tp);
    }
  }
  LineChart latency;
  latency.title = "p50 latency by batch size";
  latency.x_label = "batch size";
  latency.y_label = "p50 latency (ms)";
  for (const auto& key : order) {
    ChartSeries s;
    s.name = key;
    for (const auto& [x, y] : lines[key]) s.points.push_back({x, y});
    latency.series.push_back(std::move(s));
  }
  CapSeries(latency, rep.notes);
  rep.line_charts.push_back(std::move(latency));
  BarChart bars;
  bars.title = "Best throughput per model and platform";
  bars.y_label = "items/s";
  for (const auto& label : bar_order) bars.bars.push_back({label, best[label]});
  rep.bar_charts.push_back(std::move(bars));
  return rep;
}

Report BuildHardwareReport(store::ResultStore& store, const ReportFilter& filter) {
  Report rep;
  rep.title = "Hardware";
  rep.table = store.Query(
      fmt::format("SELECT h.platform AS hardware, h.device_name AS device, m.name AS model, "
                  "count(*) AS results, count(DISTINCT p.run_id) AS runs, "
                  "round(max(p.throughput_items_per_s), 2) AS best_items_per_s, "
                  "round(min(p.latency_p50_ms), 3) AS best_p50_ms, "
                  "round(median(p.latency_p50_ms), 3) AS median_p50_ms "
                  "FROM performance_results p JOIN models m USING (model_id) "
                  "JOIN hardware_platforms h USING (hardware_id) WHERE TRUE{}{} "
                  "GROUP BY ALL ORDER BY hardware, device, model",
                  RunSql(store, filter), FilterSql(filter)));
  rep.notes.push_back(
      "Per platform and device, per model: stored results, the runs they came from, the best "
      "throughput and the best and median p50 latency over all its configurations (batch "
      "sizes, sequence lengths, precisions, graphs).");
  const auto& t = rep.table;
  const size_t hw = Column(t, "hardware"), dev = Column(t, "device"), model = Column(t, "model"),
               tput = Column(t, "best_items_per_s");
  BarChart bars;
  bars.title = "Best throughput per platform and model";
  bars.y_label = "items/s";
  for (const Row& r : t.rows)
    if (const auto v = Number(r, tput))
      bars.bars.push_back({Join({Text(r, hw), Text(r, dev), Text(r, model)}), *v});
  rep.bar_charts.push_back(std::move(bars));
  return rep;
}

Report BuildTrendReport(store::ResultStore& store, const ReportFilter& filter) {
  Report rep;
  rep.title = "Trend";
  rep.table = store.Query(fmt::format(
      "SELECT m.name AS model, h.platform AS hardware, h.device_name AS device, "
      "p.execution_provider AS ep, p.precision, p.graph_variant AS graph, p.scenario, "
      "p.batch_size AS batch, p.seq_len, strftime(r.started_at, '%Y-%m-%dT%H:%M:%SZ') AS "
      "started_at, r.git_commit AS commit, r.branch, round(p.latency_p50_ms, 3) AS p50_ms, "
      "round(p.throughput_items_per_s, 2) AS items_per_s, "
      "dense_rank() OVER (ORDER BY r.started_at, p.run_id) AS run_no, p.run_id "
      "FROM performance_results p JOIN runs r USING (run_id) JOIN models m USING (model_id) "
      "JOIN hardware_platforms h USING (hardware_id) WHERE TRUE{}{} "
      "ORDER BY model, hardware, device, ep, p.precision, graph, p.scenario, batch, p.seq_len, "
      "r.started_at, p.result_id",
      RunSql(store, filter), FilterSql(filter)));
  const auto& t = rep.table;
  const size_t model = Column(t, "model"), hw = Column(t, "hardware"), dev = Column(t, "device"),
               ep = Column(t, "ep"), prec = Column(t, "precision"), graph = Column(t, "graph"),
               scen = Column(t, "scenario"), batch = Column(t, "batch"), seq = Column(t, "seq_len"),
               started = Column(t, "started_at"), commit = Column(t, "commit"),
               p50 = Column(t, "p50_ms"), tput = Column(t, "items_per_s");
  // The x axis: every run shown, in start order (run_no: 1, 2, ...).
  const size_t run_no = Column(t, "run_no");
  std::map<int, std::string> runs;  // run_no -> tick label
  for (const Row& r : t.rows)
    runs.emplace(static_cast<int>(Number(r, run_no).value_or(0)),
                 Text(r, commit) + " " + Text(r, started).substr(0, 10));
  LineChart latency;
  latency.title = "p50 latency over runs";
  latency.x_label = "run (commit, start date)";
  latency.y_label = "p50 latency (ms)";
  for (const auto& [no, label] : runs) latency.x_categories.push_back(label);
  LineChart throughput = latency;
  throughput.title = "Throughput over runs";
  throughput.y_label = "items/s";
  std::string last_key;
  for (const Row& r : t.rows) {
    const std::string key =
        Join({Text(r, model), Text(r, hw), Text(r, dev), Text(r, ep), Text(r, prec), Text(r, graph),
              Text(r, scen) == "single-stream" ? "" : Text(r, scen), "b" + Text(r, batch),
              "seq " + Text(r, seq)});
    if (key != last_key) {
      latency.series.push_back(ChartSeries{key, {}});
      throughput.series.push_back(ChartSeries{key, {}});
      last_key = key;
    }
    const double x = Number(r, run_no).value_or(1) - 1;
    if (const auto v = Number(r, p50)) latency.series.back().points.push_back({x, *v});
    if (const auto v = Number(r, tput)) throughput.series.back().points.push_back({x, *v});
  }
  rep.notes.push_back(fmt::format("{} results of {} configurations over {} runs, in start order.",
                                  t.rows.size(), latency.series.size(), runs.size()));
  CapSeries(latency, rep.notes);
  CapSeries(throughput, rep.notes);
  rep.line_charts.push_back(std::move(latency));
  rep.line_charts.push_back(std::move(throughput));
  return rep;
}

CompareOptions DefaultRegressionRefs(store::ResultStore& store, CompareOptions options) {
  const auto latest = store.Query(
      fmt::format("SELECT run_id, branch FROM runs WHERE {} ORDER BY started_at DESC LIMIT 1",
                  options.include_dirty ? "TRUE" : "NOT ends_with(git_commit, '-dirty')"));
  if (latest.rows.empty() || !latest.rows[0][0])
    throw core::Error(core::ErrorKind::kNotFound,
                      "the database holds no runs from a clean tree (runs built from a modified "
                      "tree count with --include-dirty); run `ipfs-accelerate benchmark` first");
  if (!latest.rows[0][1])
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("the latest run {} has no branch stored; give --baseline and "
                                  "--contender (run id, branch or commit)",
                                  *latest.rows[0][0]));
  options.contender_ref = *latest.rows[0][0];
  options.baseline_ref = *latest.rows[0][1];
  return options;
}

Report BuildRegressionReport(store::ResultStore& store, const CompareOptions& options) {
  const Comparison c = CompareRefs(store, options);
  Report rep;
  rep.title = "Regressions";
  rep.notes.push_back(fmt::format(
      "Baseline {} '{}' ({} runs) against contender {} '{}' (run {}). Regression: z-score > {} "
      "over the last {} baseline results, or median ratio > {} with Mann-Whitney p < {}.",
      c.baseline.kind, c.baseline.ref, c.baseline.run_ids.size(), c.contender.kind, c.contender.ref,
      c.contender_run_id, options.threshold_z, options.history, options.factor, options.alpha));
  rep.table = ComparisonTable(c);
  BarChart bars;
  bars.title = "Contender / baseline median latency";
  bars.y_label = "ratio";
  for (const auto& r : c.rows) {
    if (!r.in_baseline || !r.in_contender) continue;
    bars.bars.push_back(
        {Join({r.model, r.hardware, r.precision, r.graph_variant,
               "b" + std::to_string(r.batch_size), "seq " + std::to_string(r.seq_len)}),
         r.asv.ratio});
  }
  rep.bar_charts.push_back(std::move(bars));
  return rep;
}

Report BuildCompatibilityReport(const CompatibilityMatrix& matrix) {
  Report rep;
  rep.title = "Compatibility";
  rep.table.column_names = {"section", "row", "column", "summary", "status"};
  rep.table.column_types.assign(5, "VARCHAR");
  for (const MatrixRow& row : matrix.rows)
    for (size_t i = 0; i < row.cells.size() && i < matrix.columns.size(); ++i)
      rep.table.rows.push_back({row.section == MatrixSection::kKeyModel ? "key model" : "family",
                                row.label, matrix.columns[i].title, CellSummary(row, row.cells[i]),
                                row.cells[i].status});
  rep.html_body = RenderMatrixHtml(matrix);
  return rep;
}

std::string RenderReportHtml(const Report& report) {
  if (!report.html_body.empty()) return report.html_body;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
      XmlEscape("ipfs-accelerate report: " + report.title) +
      "</title>\n<style>\n"
      "body{font-family:sans-serif;margin:1.5em;color:#222}\n"
      "table{border-collapse:collapse;font-size:13px}\n"
      "th,td{border:1px solid #ccc;padding:3px 6px}th{background:#f0f0f0}\n"
      "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
      ".charts{display:flex;flex-wrap:wrap;gap:1em}svg.chart{max-width:100%;height:auto;"
      "border:1px solid #eee}\n</style></head>\n<body>\n<h1>" +
      XmlEscape(report.title) + "</h1>\n";
  for (const auto& n : report.notes) out += "<p class=\"note\">" + XmlEscape(n) + "</p>\n";
  out += "<div class=\"charts\">\n";
  for (const auto& c : report.line_charts) out += RenderLineChart(c);
  for (const auto& c : report.bar_charts) out += RenderBarChart(c);
  out += "</div>\n<table class=\"report\">\n<thead><tr>";
  const auto& t = report.table;
  std::vector<bool> numeric;
  for (size_t i = 0; i < t.column_names.size(); ++i) {
    out += "<th>" + XmlEscape(t.column_names[i]) + "</th>";
    const std::string type = i < t.column_types.size() ? t.column_types[i] : "";
    numeric.push_back(type == "BIGINT" || type == "DOUBLE" || type == "INTEGER" ||
                      type.rfind("DECIMAL", 0) == 0);
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const Row& r : t.rows) {
    out += "<tr class=\"report-row\">";
    for (size_t i = 0; i < r.size(); ++i)
      out += std::string(i < numeric.size() && numeric[i] ? "<td class=\"num\">" : "<td>") +
             (r[i] ? XmlEscape(*r[i]) : "") + "</td>";
    out += "</tr>\n";
  }
  if (t.rows.empty())
    out += fmt::format("<tr><td colspan=\"{}\">no results</td></tr>\n",
                       std::max<size_t>(1, t.column_names.size()));
  return out + "</tbody>\n</table>\n</body></html>\n";
}

}  // namespace ipfs_accel::analysis
