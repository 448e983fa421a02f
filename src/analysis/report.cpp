#include "ipfs_accel/analysis/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "analysis/scenario_sql.h"
#include "ipfs_accel/analysis/labels.h"
#include "ipfs_accel/analysis/runs.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/store/display_time.h"
#include "ipfs_accel/store/run_ref.h"

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

// " AND ..." for the run, model and platform filters, their values bound in `params`.
std::string FilterSql(store::ResultStore& store, const ReportFilter& f,
                      store::QueryParams& params) {
  std::string where;
  if (f.run_id) where += " AND p.run_id = " + params.Bind(store::ResolveRunRef(store, *f.run_id));
  if (f.model) where += " AND " + ModelFilterSql(*f.model, "m", params);
  if (f.hardware) where += " AND h.platform = " + params.Bind(*f.hardware);
  return where;
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

// --- one section per scenario, with its own columns ------------------------------------------

// The order of the scenarios' sections; others follow by name.
int ScenarioRank(const std::string& scenario) {
  static const std::vector<std::string> order = {"single-stream", "offline", "server",
                                                 "generate",      "load",    "training"};
  return static_cast<int>(std::find(order.begin(), order.end(), scenario) - order.begin());
}

using Columns = std::vector<std::string>;

Columns Concat(Columns head, const Columns& middle, const Columns& tail) {
  head.insert(head.end(), middle.begin(), middle.end());
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// The rows of `t` (with `scenario`, those whose scenario column is that), with the columns
// `names` that `t` has, in that order.
store::QueryResult Project(const store::QueryResult& t, const Columns& names,
                           const std::optional<std::string>& scenario = std::nullopt) {
  store::QueryResult out;
  std::vector<size_t> picked;
  for (const auto& name : names) {
    const auto it = std::find(t.column_names.begin(), t.column_names.end(), name);
    if (it == t.column_names.end()) continue;
    const auto i = static_cast<size_t>(it - t.column_names.begin());
    picked.push_back(i);
    out.column_names.push_back(name);
    out.column_types.push_back(i < t.column_types.size() ? t.column_types[i] : "VARCHAR");
  }
  const size_t scen = scenario ? Column(t, "scenario") : 0;
  for (const Row& r : t.rows) {
    if (scenario && Text(r, scen) != *scenario) continue;
    Row row;
    for (size_t i : picked) row.push_back(r[i]);
    out.rows.push_back(std::move(row));
  }
  return out;
}

bool Has(const Columns& columns, const std::string& name) {
  return std::find(columns.begin(), columns.end(), name) != columns.end();
}

// What a section's figures are: one note per kind of column it shows.
std::vector<std::string> SectionNotes(const std::string& scenario, const Columns& columns) {
  std::vector<std::string> notes;
  if (Has(columns, "ttft_ms"))
    notes.push_back(
        "prompt: tokens prefilled; new_tokens: tokens generated greedily (the first from the "
        "prefill); ttft_ms: time to first token (the prefill); prefill_tok_s = batch x prompt / "
        "TTFT; decode_*: per decoded token.");
  if (Has(columns, "tokens_per_s") || Has(columns, "best_tokens_per_s"))
    notes.push_back(
        "tokens/s = batch x 1000 / the mean decode step (from the mean, not the median).");
  if (scenario == "server")
    notes.push_back(
        "Latencies from each query's arrival; target_qps: the Poisson arrival rate asked for, "
        "achieved_qps: the rate achieved.");
  if (Has(columns, "items_per_s") || Has(columns, "best_items_per_s"))
    notes.push_back("items/s = batch / mean latency (from the mean, not the median p50).");
  if (Has(columns, "noise"))
    notes.push_back(fmt::format(
        "noise: 'unstable' where p90 is over {}x p50: the samples are too spread for p50 alone "
        "to describe them (rerun on a quiet machine, or with more iterations).",
        harness::kUnstableTailRatio));
  return notes;
}

using ColumnsOf = Columns (*)(const std::string& scenario);

std::vector<ReportSection> ScenarioSections(const store::QueryResult& t, ColumnsOf columns) {
  std::vector<std::string> scenarios;
  const size_t scen = Column(t, "scenario");
  for (const Row& r : t.rows)
    if (std::find(scenarios.begin(), scenarios.end(), Text(r, scen)) == scenarios.end())
      scenarios.push_back(Text(r, scen));
  std::sort(scenarios.begin(), scenarios.end(), [](const auto& a, const auto& b) {
    return std::make_pair(ScenarioRank(a), a) < std::make_pair(ScenarioRank(b), b);
  });
  std::vector<ReportSection> out;
  for (const auto& s : scenarios)
    out.push_back({"Scenario " + s, SectionNotes(s, columns(s)), Project(t, columns(s), s)});
  return out;
}

Columns PerformanceColumns(const std::string& scenario) {
  const Columns head = {"started_at", "model",     "hardware", "device", "ep",
                        "graph",      "precision", "settings", "batch"};
  const Columns tail = {"noise", "peak_rss_mb", "source", "model_cid", "graph_cid", "run_id"};
  if (scenario == "generate")
    return Concat(head,
                  {"prompt", "new_tokens", "ttft_ms", "prefill_tok_s", "decode_mean_ms",
                   "decode_p50_ms", "decode_p90_ms", "tokens_per_s"},
                  tail);
  if (scenario == "server")
    return Concat(
        head,
        {"seq_len", "target_qps", "achieved_qps", "mean_ms", "p50_ms", "p99_ms", "items_per_s"},
        tail);
  if (scenario == "offline")
    return Concat(head, {"seq_len", "mean_ms", "p50_ms", "p90_ms", "items_per_s"}, tail);
  return Concat(
      head, {"seq_len", "first_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "items_per_s"}, tail);
}

Columns HardwareColumns(const std::string& scenario) {
  const Columns head = {"hardware", "device", "model", "results", "runs"};
  if (scenario == "generate")
    return Concat(
        head, {"best_tokens_per_s", "best_ttft_ms", "best_decode_p50_ms", "median_decode_p50_ms"},
        {"source"});
  return Concat(head, {"best_items_per_s", "best_p50_ms", "median_p50_ms"}, {"source"});
}

Columns TrendColumns(const std::string& scenario) {
  const Columns head = {"model", "hardware", "device", "ep", "precision", "graph", "batch"};
  const Columns tail = {"started_at", "commit", "branch", "noise", "run_id"};
  if (scenario == "generate")
    return Concat(head, {"prompt", "new_tokens", "ttft_ms", "decode_p50_ms", "tokens_per_s"}, tail);
  return Concat(head, {"seq_len", "mean_ms", "p50_ms", "items_per_s"}, tail);
}

// The runs the rows of `t` (its run_id column) came from: machine, runtime, command.
ReportSection RunsSection(store::ResultStore& store, const store::QueryResult& t) {
  std::vector<std::string> ids;
  const size_t run = Column(t, "run_id");
  for (const Row& r : t.rows)
    if (r[run] && std::find(ids.begin(), ids.end(), *r[run]) == ids.end()) ids.push_back(*r[run]);
  const store::QueryResult runs = RunsTable(store, {.run_ids = ids});
  return {kRunsSectionTitle,
          {"The runs these results came from: the machine, the runtime version and the command "
           "line."},
          Project(runs, {"id", "started_at", "state", "host", "os", "devices", "runtime", "tool",
                         "commit", "branch", "command"})};
}

// The best (highest, or with `lowest` the lowest) value of `column` per model and platform,
// over the rows that have one; empty bars when none has.
BarChart BestPerModel(const store::QueryResult& t, const std::string& column,
                      const std::string& title, const std::string& y_label, bool lowest = false) {
  const size_t model = Column(t, "model"), hw = Column(t, "hardware"), value = Column(t, column);
  std::map<std::string, double> best;
  BarChart bars;
  bars.title = title;
  bars.y_label = y_label;
  std::vector<std::string> order;
  for (const Row& r : t.rows) {
    const auto v = Number(r, value);
    if (!v) continue;
    const std::string label = Join({Text(r, model), Text(r, hw)});
    const auto [it, first] = best.emplace(label, *v);
    if (first) order.push_back(label);
    it->second = lowest ? std::min(it->second, *v) : std::max(it->second, *v);
  }
  for (const auto& label : order) bars.bars.push_back({label, best[label]});
  return bars;
}

bool HasValues(const store::QueryResult& t, const std::string& column) {
  const size_t i = Column(t, column);
  return std::any_of(t.rows.begin(), t.rows.end(), [&](const Row& r) { return r[i].has_value(); });
}

// A bar per row of the hardware report that has `column`.
BarChart BarPerRow(const store::QueryResult& t, const std::string& column, const std::string& title,
                   const std::string& unit) {
  const size_t hw = Column(t, "hardware"), dev = Column(t, "device"), model = Column(t, "model"),
               scen = Column(t, "scenario"), value = Column(t, column);
  BarChart bars;
  bars.title = title;
  bars.y_label = unit;
  for (const Row& r : t.rows)
    if (const auto v = Number(r, value)) {
      const std::string scenario = Text(r, scen);
      bars.bars.push_back(
          {Join({Text(r, hw), Text(r, dev), Text(r, model),
                 scenario == "single-stream" || scenario == "generate" ? "" : scenario}),
           *v});
    }
  return bars;
}

LineChart LatencyByBatch(const store::QueryResult& t) {
  const size_t model = Column(t, "model"), hw = Column(t, "hardware"), dev = Column(t, "device"),
               graph = Column(t, "graph"), prec = Column(t, "precision"),
               scen = Column(t, "scenario"), batch = Column(t, "batch"), seq = Column(t, "seq_len"),
               p50 = Column(t, "p50_ms");
  // Rows are newest first: the first result per series and batch size is the newest.
  std::map<std::string, std::map<double, double>> lines;
  std::vector<std::string> order;
  for (const Row& r : t.rows) {
    const std::string key =
        Join({Text(r, model), Text(r, hw), Text(r, dev), Text(r, graph), Text(r, prec),
              Text(r, scen) == "single-stream" ? "" : Text(r, scen), "seq " + Text(r, seq)});
    const auto b = Number(r, batch), y = Number(r, p50);
    if (!b || !y) continue;  // generate rows have no p50_ms: their latencies are per token
    if (!lines.count(key)) order.push_back(key);
    lines[key].emplace(*b, *y);
  }
  LineChart latency;
  latency.title = "p50 latency by batch size";
  latency.x_label = "batch size";
  latency.y_label = "p50 latency (ms)";
  latency.integer_x = true;
  for (const auto& key : order) {
    ChartSeries s;
    s.name = key;
    for (const auto& [x, y] : lines[key]) s.points.push_back({x, y});
    latency.series.push_back(std::move(s));
  }
  return latency;
}

}  // namespace

Report BuildPerformanceReport(store::ResultStore& store, const ReportFilter& filter) {
  Report rep;
  rep.title = "Performance";
  rep.table = PerformanceReport(store, filter);
  const bool latest = filter.run_id && *filter.run_id == "latest";
  rep.notes.push_back(fmt::format(
      "{}{}{}.",
      filter.every_result
          ? fmt::format("{} results", rep.table.rows.size())
          : fmt::format("The latest result of each of {} configurations", rep.table.rows.size()),
      !filter.run_id ? " from every run"
      : latest       ? " from the latest run"
                     : " from run " + store::ResolveRunRef(store, *filter.run_id),
      filter.limit && rep.table.rows.size() == static_cast<size_t>(*filter.limit)
          ? fmt::format(" (limited to {} rows)", *filter.limit)
          : ""));
  const auto& t = rep.table;
  rep.sections = ScenarioSections(t, PerformanceColumns);
  rep.sections.push_back(RunsSection(store, t));
  LineChart latency = LatencyByBatch(t);
  CapSeries(latency, rep.notes);
  rep.line_charts.push_back(std::move(latency));
  rep.bar_charts.push_back(BestPerModel(
      t, "items_per_s", "Best throughput per model and platform (from the mean)", "items/s"));
  if (HasValues(t, "tokens_per_s")) {
    rep.bar_charts.push_back(
        BestPerModel(t, "tokens_per_s",
                     "Generate: best decode tokens/s (from the mean decode step)", "tokens/s"));
    rep.bar_charts.push_back(
        BestPerModel(t, "ttft_ms", "Generate: best time to first token", "ms", /*lowest=*/true));
  }
  return rep;
}

Report BuildHardwareReport(store::ResultStore& store, const ReportFilter& filter) {
  Report rep;
  rep.title = "Hardware";
  // Each aggregate over the rows of one kind (grouped by scenario: NULL for the other kind).
  const auto of = [](bool generate, const std::string& aggregate, const std::string& value,
                     int digits, const std::string& name) {
    return fmt::format("round({}({}) FILTER (WHERE p.scenario {} 'generate'), {}) AS {}", aggregate,
                       value, generate ? "=" : "<>", digits, name);
  };
  store::QueryParams params;
  const std::string where = FilterSql(store, filter, params);
  rep.table = store.Query(
      fmt::format(
          "SELECT h.platform AS hardware, h.device_name AS device, {} AS model, p.scenario, "
          "count(*) AS results, count(DISTINCT p.run_id) AS runs, {}, {}, {}, {}, {}, {}, {}, "
          "{} AS source, p.model_id "
          "FROM performance_results p JOIN models m USING (model_id) "
          "JOIN hardware_platforms h USING (hardware_id) WHERE TRUE{} "
          "GROUP BY ALL ORDER BY hardware, device, model, p.model_id, p.scenario",
          ModelLabelSql("m"), of(false, "max", "p.throughput_items_per_s", 2, "best_items_per_s"),
          of(false, "min", "p.latency_p50_ms", 3, "best_p50_ms"),
          of(false, "median", "p.latency_p50_ms", 3, "median_p50_ms"),
          of(true, "max", "p.throughput_items_per_s", 2, "best_tokens_per_s"),
          of(true, "min", "p.time_to_first_token_ms", 3, "best_ttft_ms"),
          of(true, "min", "p.latency_p50_ms", 3, "best_decode_p50_ms"),
          of(true, "median", "p.latency_p50_ms", 3, "median_decode_p50_ms"), ModelSourceSql("m"),
          where),
      params.values());
  rep.notes.push_back(
      "Per platform and device, per model (one row per model identity: same name, other weights "
      "or source is another row) and scenario: stored results, the runs they came from, the "
      "best throughput (from the mean) and the best and median p50 latency over all its "
      "configurations (batch sizes, sequence lengths, precisions, graphs); generate: tokens/s, "
      "time to first token and decode p50 per token.");
  const auto& t = rep.table;
  rep.sections = ScenarioSections(t, HardwareColumns);
  rep.bar_charts.push_back(
      BarPerRow(t, "best_items_per_s", "Best throughput per platform and model", "items/s"));
  if (HasValues(t, "best_tokens_per_s"))
    rep.bar_charts.push_back(BarPerRow(t, "best_tokens_per_s",
                                       "Generate: best decode tokens/s per platform and model",
                                       "tokens/s"));
  return rep;
}

namespace {

// One line per configuration of the trend's rows over the runs (x: run_no - 1), from the rows
// that have `column`.
LineChart OverRuns(const store::QueryResult& t, const LineChart& axes, const std::string& column,
                   const std::string& title, const std::string& y_label) {
  const size_t model = Column(t, "model"), hw = Column(t, "hardware"), dev = Column(t, "device"),
               ep = Column(t, "ep"), prec = Column(t, "precision"), graph = Column(t, "graph"),
               scen = Column(t, "scenario"), batch = Column(t, "batch"), seq = Column(t, "seq_len"),
               prompt = Column(t, "prompt"), run_no = Column(t, "run_no"),
               value = Column(t, column);
  LineChart chart = axes;
  chart.title = title;
  chart.y_label = y_label;
  std::map<std::string, size_t> index;
  for (const Row& r : t.rows) {
    const auto v = Number(r, value);
    if (!v) continue;
    const std::string key =
        Join({Text(r, model), Text(r, hw), Text(r, dev), Text(r, ep), Text(r, prec), Text(r, graph),
              Text(r, scen) == "single-stream" ? "" : Text(r, scen), "b" + Text(r, batch),
              r[seq] ? "seq " + Text(r, seq) : "prompt " + Text(r, prompt)});
    const auto [it, first] = index.emplace(key, chart.series.size());
    if (first) chart.series.push_back(ChartSeries{key, {}});
    chart.series[it->second].points.push_back({Number(r, run_no).value_or(1) - 1, *v});
  }
  return chart;
}

}  // namespace

Report BuildTrendReport(store::ResultStore& store, const ReportFilter& filter) {
  Report rep;
  rep.title = "Trend";
  store::QueryParams params;
  const std::string where = FilterSql(store, filter, params);
  rep.table = store.Query(
      fmt::format(
          "SELECT {} AS model, h.platform AS hardware, h.device_name AS device, "
          "p.execution_provider AS ep, p.precision, p.graph_variant AS graph, p.scenario, "
          "p.batch_size AS batch, {}, p.prompt_len AS prompt, p.new_tokens, {} AS started_at, "
          "r.git_commit AS commit, r.branch, {}, {}, {}, round(p.time_to_first_token_ms, 3) AS "
          "ttft_ms, {}, {}, {} AS noise, "
          "dense_rank() OVER (ORDER BY r.started_at, p.run_id) AS run_no, p.run_id, p.model_id "
          "FROM performance_results p JOIN runs r USING (run_id) JOIN models m USING (model_id) "
          "JOIN hardware_platforms h USING (hardware_id) WHERE TRUE{} "
          "ORDER BY model, p.model_id, hardware, device, ep, p.precision, graph, p.scenario, "
          "batch, "
          "p.seq_len, p.prompt_len, p.new_tokens, r.started_at, p.result_id",
          ModelLabelSql("m"), ScenarioOnly(false, "p.seq_len", "seq_len"),
          store::DisplayTimestampSql("r.started_at"),
          ScenarioOnly(false, "round(p.latency_mean_ms, 3)", "mean_ms"),
          ScenarioOnly(false, "round(p.latency_p50_ms, 3)", "p50_ms"),
          ScenarioOnly(false, "round(p.throughput_items_per_s, 2)", "items_per_s"),
          ScenarioOnly(true, "round(p.latency_p50_ms, 3)", "decode_p50_ms"),
          ScenarioOnly(true, "round(p.throughput_items_per_s, 2)", "tokens_per_s"), NoiseSql("p"),
          where),
      params.values());
  const auto& t = rep.table;
  rep.sections = ScenarioSections(t, TrendColumns);
  rep.sections.push_back(RunsSection(store, t));
  // The x axis: every run shown, in start order (run_no: 1, 2, ...).
  const size_t run_no = Column(t, "run_no"), started = Column(t, "started_at"),
               commit = Column(t, "commit");
  std::map<int, std::string> runs;  // run_no -> tick label
  for (const Row& r : t.rows)
    runs.emplace(static_cast<int>(Number(r, run_no).value_or(0)),
                 Text(r, commit) + " " + Text(r, started).substr(0, 10));
  LineChart axes;
  axes.x_label = "run (commit, start date)";
  for (const auto& [no, label] : runs) axes.x_categories.push_back(label);
  std::vector<LineChart> charts = {
      OverRuns(t, axes, "p50_ms", "p50 latency over runs", "p50 latency (ms)"),
      OverRuns(t, axes, "items_per_s", "Throughput over runs", "items/s")};
  if (HasValues(t, "tokens_per_s")) {
    charts.push_back(OverRuns(t, axes, "decode_p50_ms", "Generate: decode p50 per token over runs",
                              "decode p50 (ms per token)"));
    charts.push_back(
        OverRuns(t, axes, "tokens_per_s", "Generate: decode tokens/s over runs", "tokens/s"));
  }
  std::set<std::string> configurations;
  for (const auto& c : charts)
    for (const auto& s : c.series) configurations.insert(s.name);
  rep.notes.push_back(fmt::format("{} results of {} configurations over {} runs, in start order.",
                                  t.rows.size(), configurations.size(), runs.size()));
  for (auto& c : charts) {
    CapSeries(c, rep.notes);
    rep.line_charts.push_back(std::move(c));
  }
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

}  // namespace ipfs_accel::analysis
