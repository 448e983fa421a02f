#pragma once
// The `report` kinds as data: one table of stored results plus the charts drawn from the same
// rows. Building (store -> Report) is apart from rendering; RenderReportHtml makes the one
// self-contained page, the table formats (Markdown, CSV, JSON) are the CLI's table printer's.

#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/analysis/compatibility_matrix.h"
#include "ipfs_accel/analysis/performance_report.h"
#include "ipfs_accel/analysis/regression.h"
#include "ipfs_accel/analysis/svg_chart.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

// The title of the section of the runs a report's rows came from (HTML marks its rows apart).
inline constexpr const char* kRunsSectionTitle = "Runs";

// A part of a report the table formats and HTML show under its own heading.
struct ReportSection {
  std::string title;
  std::vector<std::string> notes;
  store::QueryResult table;
};

struct Report {
  std::string title;
  std::vector<std::string> notes;  // one line each: what the rows are, where they came from
  store::QueryResult table;        // every row and column: what CSV and JSON hold
  // When set, what Markdown, the text table and HTML show instead of `table`: its rows split
  // by scenario, each with the columns that mean something for it (a generate section has
  // prompt, new tokens, TTFT, decode p50/p90 and tokens/s), then the runs the rows came from
  // (machine, runtime version, command line).
  std::vector<ReportSection> sections;
  std::vector<LineChart> line_charts;
  std::vector<BarChart> bar_charts;
  std::string html_body;  // set instead of the table for a report with its own page (matrix)
};

// At most this many series per line chart; the rest are in the table (a legend of dozens of
// lines is unreadable). The report's notes say how many were left out.
inline constexpr size_t kMaxChartSeries = 10;

// PerformanceReport's rows, in a section per scenario, and the runs they came from. Charts:
// p50 latency against batch size, one line per model, platform, device, graph, precision,
// scenario and sequence length (with several runs, each point is the newest result); the best
// throughput per model and platform as bars; with generate results, decode tokens/s and time to
// first token per model and platform as bars. Models are told apart by identity (ModelLabelSql).
Report BuildPerformanceReport(store::ResultStore& store, const ReportFilter& filter);

// Per platform and device, per model (identity, not name) and scenario: results and runs
// counted, the best throughput, the best and the median p50 over its results (generate: tokens/s,
// TTFT and decode p50). Chart: best throughput per row as bars.
Report BuildHardwareReport(store::ResultStore& store, const ReportFilter& filter);

// Every result per configuration (model, platform, device, EP, precision, graph, scenario,
// batch, sequence) over its runs in start order, with the run's commit and branch. Charts: p50
// and throughput per configuration against the runs (x: commit and date); generate results as
// decode p50 and tokens/s, in charts of their own.
Report BuildTrendReport(store::ResultStore& store, const ReportFilter& filter);

// CompareRefs as a table (both methods' figures and the verdict per configuration) and the
// contender/baseline median ratio as bars. Throws what CompareRefs throws.
Report BuildRegressionReport(store::ResultStore& store, const CompareOptions& options);

// The options `report regressions` uses without --baseline/--contender: the newest run
// (not built from a modified tree) against the earlier runs of its branch. Throws
// core::Error(kNotFound) for a store without runs, kInvalidArgument when the newest run has no
// branch (then both refs must be given).
CompareOptions DefaultRegressionRefs(store::ResultStore& store, CompareOptions options);

// The compatibility matrix as rows (section, row, column, cell summary, status) for the table
// formats; html_body is RenderMatrixHtml's page.
Report BuildCompatibilityReport(const CompatibilityMatrix& matrix);

// One self-contained HTML page: inline CSS, the notes, the charts as inline SVG, the table;
// no script, font or link to anything outside. Every stored text is escaped.
std::string RenderReportHtml(const Report& report);

}  // namespace ipfs_accel::analysis
