// The report kinds against a real store filled through ResultStore::WriteRun (the numbers in
// the tables and charts are the stored ones), and the SVG writer: points land in the plot
// area in the right order, text is escaped, empty data is drawn as "no data".

#include "ipfs_accel/analysis/report.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "ipfs_accel/harness/statistics.h"
#include "support/catch_error.h"
#include "support/stored_runs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::analysis {
namespace report_test {

struct Measured {
  std::string platform;
  int64_t batch;
  double p50, throughput;
};

store::RunResults MakeRun(const std::string& id, const std::string& started,
                          const std::string& commit, const std::vector<Measured>& results) {
  store::RunResults r = testing::StoredRun(id, started, commit, "main");
  for (const Measured& m : results) {
    store::RunResults::Entry e =
        testing::StoredEntry(m.platform, m.platform == "cpu" ? "Test CPU" : "Test <GPU> & co");
    store::PerformanceRecord p = testing::StoredPerformance(
        {m.p50 * 0.99, m.p50, m.p50 * 1.01},
        m.platform == "cpu" ? "CPUExecutionProvider" : "CUDAExecutionProvider");
    p.batch_size = m.batch;
    p.latency_min_ms = m.p50 * 0.99;
    p.latency_max_ms = m.p50 * 1.01;
    p.latency_mean_ms = p.latency_p50_ms = p.latency_p90_ms = p.latency_p95_ms = p.latency_p99_ms =
        m.p50;
    p.throughput_items_per_s = m.throughput;
    e.performance.push_back(p);
    r.entries.push_back(e);
  }
  return r;
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::ResultStore::Open(dir_.File("r.duckdb"));
    store_->WriteRun(MakeRun("run-1", "2026-11-20T10:00:00Z", "aaaa11112222",
                             {{"cpu", 1, 2.0, 500}, {"cpu", 2, 3.0, 666.67}}));
    store_->WriteRun(
        MakeRun("run-2", "2026-11-21T10:00:00Z", "bbbb33334444",
                {{"cpu", 1, 2.5, 400}, {"cpu", 2, 3.5, 571.43}, {"cuda", 1, 0.5, 2000}}));
  }
  std::string Cell(const Report& r, size_t row, const std::string& column) {
    const auto& names = r.table.column_names;
    const size_t i =
        static_cast<size_t>(std::find(names.begin(), names.end(), column) - names.begin());
    EXPECT_LT(i, names.size()) << column;
    if (i >= names.size() || !r.table.rows.at(row)[i]) return "";
    return *r.table.rows.at(row)[i];
  }
  testing::TempDir dir_;
  std::unique_ptr<store::ResultStore> store_;
};

// Without --all a configuration shows once, with its newest result, whichever run has it;
// --all lists every stored result; --limit cuts either.
TEST_F(ReportTest, PerformanceShowsTheLatestResultOfEachConfigurationUnlessAskedForAll) {
  store_->WriteRun(
      MakeRun("run-3", "2026-11-22T10:00:00Z", "cccc55556666", {{"cpu", 1, 9.0, 111}}));
  const Report latest = BuildPerformanceReport(*store_, {});
  ASSERT_EQ(latest.table.rows.size(), 3u);  // cpu batch 1 and 2, cuda batch 1
  std::vector<std::string> shown;
  for (size_t i = 0; i < latest.table.rows.size(); ++i)
    shown.push_back(Cell(latest, i, "hardware") + " " + Cell(latest, i, "batch") + " " +
                    Cell(latest, i, "run_id"));
  std::sort(shown.begin(), shown.end());
  EXPECT_EQ(shown, (std::vector<std::string>{"cpu 1 run-3", "cpu 2 run-2", "cuda 1 run-2"}));
  EXPECT_NE(latest.notes.at(0).find("latest result of each of 3 configurations"), std::string::npos)
      << latest.notes.at(0);

  EXPECT_EQ(BuildPerformanceReport(*store_, {.every_result = true}).table.rows.size(), 6u);
  const Report limited = BuildPerformanceReport(*store_, {.every_result = true, .limit = 2});
  ASSERT_EQ(limited.table.rows.size(), 2u);
  EXPECT_EQ(Cell(limited, 0, "run_id"), "run-3");  // newest run first
  // Within one run, each configuration once too.
  EXPECT_EQ(BuildPerformanceReport(*store_, {.run_id = "run-2"}).table.rows.size(), 3u);
  const core::Error negative =
      testing::CatchError([&] { PerformanceReport(*store_, {.limit = -1}); });
  EXPECT_EQ(negative.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(negative.what()).find("--limit -1"), std::string::npos);
}

TEST_F(ReportTest, PerformanceLatestRunAndCharts) {
  const Report r =
      BuildPerformanceReport(*store_, {.run_id = "latest", .model = {}, .hardware = {}});
  ASSERT_EQ(r.table.rows.size(), 3u);  // run-2 only
  ASSERT_EQ(r.line_charts.size(), 1u);
  // One line per platform/device/variant: cpu (batch 1 and 2) and cuda (batch 1).
  const auto& series = r.line_charts[0].series;
  ASSERT_EQ(series.size(), 2u);
  const auto cpu = std::find_if(series.begin(), series.end(), [](const ChartSeries& s) {
    return s.name.find("cpu") == 0 || s.name.find("· cpu ·") != std::string::npos;
  });
  ASSERT_NE(cpu, series.end());
  ASSERT_EQ(cpu->points.size(), 2u);
  EXPECT_DOUBLE_EQ(cpu->points[0].x, 1);
  EXPECT_DOUBLE_EQ(cpu->points[0].y, 2.5);
  EXPECT_DOUBLE_EQ(cpu->points[1].x, 2);
  EXPECT_DOUBLE_EQ(cpu->points[1].y, 3.5);
  // Bars: the best throughput per model and platform.
  ASSERT_EQ(r.bar_charts.size(), 1u);
  ASSERT_EQ(r.bar_charts[0].bars.size(), 2u);
  double cpu_best = 0;
  for (const auto& b : r.bar_charts[0].bars)
    if (b.label == "bert-tiny (seed 0) · cpu") cpu_best = b.value;
  EXPECT_DOUBLE_EQ(cpu_best, 571.43);
}

TEST_F(ReportTest, HardwareCountsAndBests) {
  const Report r = BuildHardwareReport(*store_, {});
  ASSERT_EQ(r.table.rows.size(), 2u);  // cpu, cuda
  EXPECT_EQ(Cell(r, 0, "hardware"), "cpu");
  EXPECT_EQ(Cell(r, 0, "results"), "4");
  EXPECT_EQ(Cell(r, 0, "runs"), "2");
  EXPECT_EQ(std::stod(Cell(r, 0, "best_items_per_s")), 666.67);
  EXPECT_EQ(std::stod(Cell(r, 0, "best_p50_ms")), 2.0);
  EXPECT_EQ(std::stod(Cell(r, 0, "median_p50_ms")), 2.75);  // of 2, 2.5, 3, 3.5
  EXPECT_EQ(Cell(r, 1, "hardware"), "cuda");
  EXPECT_EQ(Cell(r, 1, "results"), "1");
  // --model and --hardware filter.
  EXPECT_EQ(BuildHardwareReport(*store_, {.run_id = {}, .model = {}, .hardware = "cuda"})
                .table.rows.size(),
            1u);
  EXPECT_TRUE(BuildHardwareReport(*store_, {.run_id = {}, .model = "other", .hardware = {}})
                  .table.rows.empty());
}

TEST_F(ReportTest, TrendOrdersRunsByStartAndLabelsCommits) {
  const Report r = BuildTrendReport(*store_, {.run_id = {}, .model = {}, .hardware = "cpu"});
  ASSERT_EQ(r.table.rows.size(), 4u);
  EXPECT_EQ(Cell(r, 0, "commit"), "aaaa11112222");
  EXPECT_EQ(Cell(r, 1, "commit"), "bbbb33334444");
  ASSERT_EQ(r.line_charts.size(), 2u);
  const LineChart& p50 = r.line_charts[0];
  ASSERT_EQ(p50.x_categories.size(), 2u);
  EXPECT_EQ(p50.x_categories[0], "aaaa11112222 2026-11-20");
  EXPECT_EQ(p50.x_categories[1], "bbbb33334444 2026-11-21");
  ASSERT_EQ(p50.series.size(), 2u);  // batch 1 and batch 2
  ASSERT_EQ(p50.series[0].points.size(), 2u);
  EXPECT_DOUBLE_EQ(p50.series[0].points[0].x, 0);
  EXPECT_DOUBLE_EQ(p50.series[0].points[0].y, 2.0);
  EXPECT_DOUBLE_EQ(p50.series[0].points[1].x, 1);
  EXPECT_DOUBLE_EQ(p50.series[0].points[1].y, 2.5);
  EXPECT_DOUBLE_EQ(r.line_charts[1].series[1].points[1].y, 571.43);  // throughput
}

TEST_F(ReportTest, RegressionsDefaultToLatestRunAgainstItsBranch) {
  const CompareOptions o = DefaultRegressionRefs(*store_, {});
  EXPECT_EQ(o.contender_ref, "run-2");
  EXPECT_EQ(o.baseline_ref, "main");
  const Report r = BuildRegressionReport(*store_, o);
  // cpu batch 1 and 2 in both; cuda only in the contender.
  ASSERT_EQ(r.table.rows.size(), 3u);
  EXPECT_EQ(Cell(r, 0, "baseline_median_ms"), "2.000");
  EXPECT_EQ(Cell(r, 0, "contender_median_ms"), "2.500");
  EXPECT_EQ(Cell(r, 0, "ratio"), "1.250");
  EXPECT_EQ(Cell(r, 2, "verdict"), "contender only");
  ASSERT_EQ(r.bar_charts[0].bars.size(), 2u);
  EXPECT_DOUBLE_EQ(r.bar_charts[0].bars[0].value, 1.25);
}

TEST_F(ReportTest, RegressionsWithoutRunsSayWhatToDo) {
  testing::TempDir empty;
  auto store = store::ResultStore::Open(empty.File("e.duckdb"));
  const auto e = testing::CatchError([&] { DefaultRegressionRefs(*store, {}); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kNotFound);
}

TEST_F(ReportTest, HtmlIsSelfContainedAndEscaped) {
  const std::string html = RenderReportHtml(BuildHardwareReport(*store_, {}));
  EXPECT_NE(html.find("Test &lt;GPU&gt; &amp; co"), std::string::npos);
  EXPECT_EQ(html.find("Test <GPU>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the namespace
  EXPECT_EQ(html.find("https://"), std::string::npos);
  // Two table rows, two bars.
  size_t rows = 0, bars = 0;
  for (size_t at = 0; (at = html.find("class=\"report-row\"", at)) != std::string::npos; ++at)
    ++rows;
  for (size_t at = 0; (at = html.find("class=\"chart-bar\"", at)) != std::string::npos; ++at)
    ++bars;
  EXPECT_EQ(rows, 2u);
  EXPECT_EQ(bars, 2u);
}

// --- the SVG writer --------------------------------------------------------------------------

std::vector<ChartPoint> PolylinePoints(const std::string& svg) {
  const std::regex points("points=\"([^\"]*)\"");
  std::smatch m;
  std::vector<ChartPoint> out;
  if (!std::regex_search(svg, m, points)) return out;
  std::istringstream in(m[1].str());
  for (std::string pair; in >> pair;) {
    const size_t comma = pair.find(',');
    out.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
  }
  return out;
}

// --- models by identity, scenarios by their own columns, noise, runs shown, timestamps ----------

// Two models of one name (the catalog's seeded bert-tiny and a folder of that name with its own
// weights) are two rows, two lines and two bars, each with a label that tells them apart.
TEST_F(ReportTest, TwoModelsOfOneNameAreNeverMerged) {
  store::RunResults run = MakeRun("run-3", "2026-11-22T10:00:00Z", "cccc55556666",
                                  {{"cpu", 1, 76.0, 13}, {"cpu", 2, 80.0, 25}});
  for (auto& e : run.entries) {
    e.model.source = "hf-folder";
    e.model.source_path = "/models/bert-tiny";
    e.model.content_hash = "sha256:1a2b3c4d5e6f";
  }
  store_->WriteRun(run);
  const Report perf = BuildPerformanceReport(*store_, {});
  std::set<std::string> labels;
  for (size_t i = 0; i < perf.table.rows.size(); ++i)
    if (Cell(perf, i, "hardware") == "cpu" && Cell(perf, i, "batch") == "1")
      labels.insert(Cell(perf, i, "model") + " | " + Cell(perf, i, "source"));
  EXPECT_EQ(labels, (std::set<std::string>{"bert-tiny (seed 0) | catalog",
                                           "bert-tiny @1a2b3c4d | /models/bert-tiny"}));
  size_t cpu_lines = 0;
  for (const auto& s : perf.line_charts.at(0).series)
    cpu_lines += s.name.find("· cpu") != std::string::npos;
  EXPECT_EQ(cpu_lines, 2u);
  std::set<std::string> bars;
  for (const auto& b : perf.bar_charts.at(0).bars) bars.insert(b.label);
  EXPECT_EQ(bars.count("bert-tiny @1a2b3c4d · cpu"), 1u);
  EXPECT_EQ(bars.count("bert-tiny (seed 0) · cpu"), 1u);

  const Report hw = BuildHardwareReport(*store_, {.hardware = "cpu"});
  ASSERT_EQ(hw.table.rows.size(), 2u);
  EXPECT_NE(Cell(hw, 0, "model"), Cell(hw, 1, "model"));
  // A label names one model, the name every model of that name.
  EXPECT_EQ(BuildHardwareReport(*store_, {.model = "bert-tiny @1a2b3c4d"}).table.rows.size(), 1u);
  EXPECT_EQ(
      BuildHardwareReport(*store_, {.model = "bert-tiny", .hardware = "cpu"}).table.rows.size(),
      2u);
  // The trend keeps each model's configurations apart: 2 batch sizes x 2 models on the CPU.
  EXPECT_EQ(BuildTrendReport(*store_, {.hardware = "cpu"}).line_charts.at(0).series.size(), 4u);
}

TEST_F(ReportTest, ModelsOfOneNameAndWeightsButAnotherConfigShowTheirConfigHash) {
  for (const std::string config : {"sha256:0c25ab8c99", "sha256:906b896811"}) {
    store::RunResults run =
        MakeRun("run-" + config, "2026-11-22T10:00:00Z", "cccc55556666", {{"cpu", 1, 76.0, 13}});
    for (auto& e : run.entries) {
      e.model.source = "hf-folder";
      e.model.content_hash = "sha256:1a2b3c4d5e6f";
      e.model.config_hash = config;
    }
    store_->WriteRun(run);
  }
  std::set<std::string> labels;
  const Report hw = BuildHardwareReport(*store_, {.model = "bert-tiny", .hardware = "cpu"});
  for (size_t i = 0; i < hw.table.rows.size(); ++i) labels.insert(Cell(hw, i, "model"));
  // The seeded catalog model has no twin, so its label needs no config.
  EXPECT_EQ(labels, (std::set<std::string>{"bert-tiny (seed 0)", "bert-tiny @1a2b3c4d cfg 0c25ab8c",
                                           "bert-tiny @1a2b3c4d cfg 906b8968"}));
}

store::PerformanceRecord GenerateResult() {
  store::PerformanceRecord p = testing::StoredPerformance({0.5, 0.6, 0.7});
  p.scenario = "generate";
  p.seq_len = 12;  // what the old report showed as seq_len: the prompt
  p.prompt_len = 12;
  p.new_tokens = 4;
  p.time_to_first_token_ms = 3.0;
  p.latency_mean_ms = 0.6;
  p.latency_p50_ms = 0.6;
  p.latency_p90_ms = 0.7;
  p.throughput_items_per_s = 1666.67;
  return p;
}

// A generate result shows prompt, new tokens, TTFT, decode p50/p90 and tokens/s in a section
// of its own, never under the single-stream columns or in the single-stream charts.
TEST_F(ReportTest, GenerateResultsHaveTheirOwnColumnsSectionAndCharts) {
  store::RunResults run = testing::StoredRun("run-g", "2026-11-23T10:00:00Z", "dddd", "main");
  run.entries.push_back(testing::StoredEntry());
  run.entries[0].performance.push_back(GenerateResult());
  store_->WriteRun(run);
  const Report r = BuildPerformanceReport(*store_, {.run_id = "run-g"});
  ASSERT_EQ(r.table.rows.size(), 1u);
  EXPECT_EQ(Cell(r, 0, "p50_ms"), "");  // NULL: not a per-query latency
  EXPECT_EQ(Cell(r, 0, "seq_len"), "");
  EXPECT_EQ(Cell(r, 0, "items_per_s"), "");
  EXPECT_EQ(Cell(r, 0, "prompt"), "12");
  EXPECT_EQ(Cell(r, 0, "new_tokens"), "4");
  EXPECT_EQ(std::stod(Cell(r, 0, "ttft_ms")), 3.0);
  EXPECT_EQ(std::stod(Cell(r, 0, "decode_p50_ms")), 0.6);
  EXPECT_EQ(std::stod(Cell(r, 0, "decode_p90_ms")), 0.7);
  EXPECT_EQ(std::stod(Cell(r, 0, "tokens_per_s")), 1666.67);
  ASSERT_EQ(r.sections.size(), 2u);  // the generate section, the runs
  const auto& names = r.sections[0].table.column_names;
  EXPECT_EQ(r.sections[0].title, "Scenario generate");
  for (const char* column :
       {"prompt", "new_tokens", "ttft_ms", "decode_p50_ms", "decode_p90_ms", "tokens_per_s"})
    EXPECT_NE(std::find(names.begin(), names.end(), column), names.end()) << column;
  for (const char* column : {"p50_ms", "seq_len", "items_per_s"})
    EXPECT_EQ(std::find(names.begin(), names.end(), column), names.end()) << column;
  std::string notes;
  for (const auto& n : r.sections[0].notes) notes += n;
  EXPECT_NE(notes.find("from the mean, not the median"), std::string::npos) << notes;
  EXPECT_TRUE(r.line_charts.at(0).series.empty());  // p50 by batch: single-stream figures only
  ASSERT_EQ(r.bar_charts.size(), 3u);               // items/s (empty), tokens/s, TTFT
  EXPECT_TRUE(r.bar_charts[0].bars.empty());
  EXPECT_DOUBLE_EQ(r.bar_charts[1].bars.at(0).value, 1666.67);
  EXPECT_DOUBLE_EQ(r.bar_charts[2].bars.at(0).value, 3.0);
  // The trend and hardware reports too.
  const Report trend = BuildTrendReport(*store_, {.run_id = "run-g"});
  EXPECT_EQ(Cell(trend, 0, "p50_ms"), "");
  EXPECT_EQ(std::stod(Cell(trend, 0, "decode_p50_ms")), 0.6);
  const Report hw = BuildHardwareReport(*store_, {.run_id = "run-g"});
  EXPECT_EQ(Cell(hw, 0, "best_items_per_s"), "");
  EXPECT_EQ(std::stod(Cell(hw, 0, "best_tokens_per_s")), 1666.67);
}

// Mean beside p50; a p90 over kUnstableTailRatio x p50 is flagged, one under it is not.
TEST_F(ReportTest, MeanIsBesideP50AndNoisyConfigurationsAreFlagged) {
  store::RunResults run = MakeRun("run-n", "2026-11-23T10:00:00Z", "eeee",
                                  {{"cpu", 1, 2.0, 500}, {"cpu", 2, 2.0, 1000}});
  run.entries[0].performance[0].latency_mean_ms = 5.0;
  run.entries[0].performance[0].latency_p90_ms = 2.0 * harness::kUnstableTailRatio + 0.5;
  run.entries[1].performance[0].latency_p90_ms = 2.0 * harness::kUnstableTailRatio - 0.1;
  store_->WriteRun(run);
  const Report r = BuildPerformanceReport(*store_, {.run_id = "run-n"});
  ASSERT_EQ(r.table.rows.size(), 2u);
  std::map<std::string, std::string> noise, mean;
  for (size_t i = 0; i < 2; ++i) {
    noise[Cell(r, i, "batch")] = Cell(r, i, "noise");
    mean[Cell(r, i, "batch")] = Cell(r, i, "mean_ms");
  }
  EXPECT_EQ(noise["1"], "unstable: p90 3.3x p50");
  EXPECT_EQ(noise["2"], "");
  EXPECT_EQ(std::stod(mean["1"]), 5.0);
  const auto& names = r.sections.at(0).table.column_names;
  const auto p50 = std::find(names.begin(), names.end(), "p50_ms");
  ASSERT_NE(p50, names.end());
  EXPECT_EQ(*(p50 - 1), "mean_ms");
}

// Every timestamp in one format; the HTML page shows the runs' machine, runtime and command
// line, keeps dates on one line, and the batch axis has whole-number ticks only.
TEST_F(ReportTest, HtmlShowsTheRunsAndKeepsDatesWholeAndBatchTicksIntegral) {
  const std::regex utc(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)");
  const Report perf = BuildPerformanceReport(*store_, {});
  EXPECT_TRUE(std::regex_match(Cell(perf, 0, "started_at"), utc)) << Cell(perf, 0, "started_at");
  const Report trend = BuildTrendReport(*store_, {});
  EXPECT_TRUE(std::regex_match(Cell(trend, 0, "started_at"), utc)) << Cell(trend, 0, "started_at");
  const ReportSection& runs = perf.sections.back();
  EXPECT_EQ(runs.title, "Runs");
  ASSERT_EQ(runs.table.rows.size(), 1u);  // every configuration's latest result is run-2's
  const std::string html = RenderReportHtml(perf);
  EXPECT_NE(html.find("<td class=\"long\">test</td>"), std::string::npos);  // the command line
  EXPECT_NE(html.find(">1.29<"), std::string::npos);                        // the runtime
  EXPECT_NE(html.find(">linux<"), std::string::npos);                       // the machine's OS
  EXPECT_NE(html.find("td.nowrap{white-space:nowrap}"), std::string::npos);
  const std::regex date_cell(R"(<td class="nowrap">\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ</td>)");
  EXPECT_TRUE(std::regex_search(html, date_cell));
  // Batch sizes 1 and 2: ticks 1 and 2, no 1.5.
  const std::string svg = RenderLineChart(perf.line_charts.at(0));
  const auto xticks = svg.substr(svg.find("chart-xticks"));
  const std::regex tick(R"(text-anchor="middle">([^<]*)</text>)");
  std::vector<std::string> ticks;
  for (std::sregex_iterator
           it(xticks.begin(), xticks.begin() + static_cast<long>(xticks.find("</g>")), tick),
       end;
       it != end; ++it)
    ticks.push_back((*it)[1]);
  EXPECT_EQ(ticks, (std::vector<std::string>{"1", "2"}));
}

TEST(SvgChart, PointsMapIntoThePlotArea) {
  LineChart c;
  c.title = "t";
  c.series.push_back({"s", {{1, 10}, {4, 40}, {2, 0}}});
  const std::string svg = RenderLineChart(c);
  EXPECT_NE(svg.find("viewBox=\"0 0 860 450\""), std::string::npos);
  const auto pts = PolylinePoints(svg);
  ASSERT_EQ(pts.size(), 3u);
  for (const auto& p : pts) {
    EXPECT_GE(p.x, kPlotLeft);
    EXPECT_LE(p.x, kPlotRight);
    EXPECT_GE(p.y, kPlotTop);
    EXPECT_LE(p.y, kPlotBottom);
  }
  // x grows to the right, y upwards (SVG y downwards); 0 is on the x axis.
  EXPECT_LT(pts[0].x, pts[2].x);
  EXPECT_LT(pts[2].x, pts[1].x);
  EXPECT_LT(pts[1].y, pts[0].y);
  EXPECT_DOUBLE_EQ(pts[2].y, kPlotBottom);
  // Linear: x=2 lies a third of the way from x=1 to x=4.
  EXPECT_NEAR((pts[2].x - pts[0].x) / (pts[1].x - pts[0].x), 1.0 / 3, 1e-3);
  // The y axis reaches at least 40: the highest point is inside, the tick 40 is drawn.
  EXPECT_NE(svg.find(">40</text>"), std::string::npos);
}

TEST(SvgChart, EscapesEveryText) {
  LineChart c;
  c.title = "a<b>&\"c\"";
  c.x_label = "<x>";
  c.y_label = "'y'";
  c.series.push_back({"<script>alert(1)</script>", {{0, 1}, {1, 2}}});
  c.x_categories = {"<c1>", "c&2"};
  const std::string svg = RenderLineChart(c);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_NE(svg.find("a&lt;b&gt;&amp;&quot;c&quot;"), std::string::npos);
  EXPECT_NE(svg.find("&lt;c1&gt;"), std::string::npos);
  EXPECT_NE(svg.find("c&amp;2"), std::string::npos);
  EXPECT_NE(svg.find("&#39;y&#39;"), std::string::npos);
  BarChart b;
  b.bars.push_back({"<&>", 3});
  EXPECT_NE(RenderBarChart(b).find("&lt;&amp;&gt;"), std::string::npos);
}

TEST(SvgChart, EmptyDataIsDrawnAsNoData) {
  LineChart c;
  c.title = "empty";
  c.series.push_back({"nothing", {}});
  const std::string svg = RenderLineChart(c);
  EXPECT_NE(svg.find("chart-empty"), std::string::npos);
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("nothing (no data)"), std::string::npos);  // still in the legend
  const std::string bars = RenderBarChart(BarChart{});
  EXPECT_NE(bars.find("chart-empty"), std::string::npos);
  EXPECT_EQ(bars.find("<rect class=\"chart-bar\""), std::string::npos);
  EXPECT_EQ(bars.find("nan"), std::string::npos);
}

TEST(SvgChart, OnePointAndEqualValuesStayInside) {
  LineChart c;
  c.series.push_back({"one", {{5, 7}}});
  const auto pts = PolylinePoints(RenderLineChart(c));
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_GT(pts[0].x, kPlotLeft);
  EXPECT_LT(pts[0].x, kPlotRight);
  EXPECT_GE(pts[0].y, kPlotTop);
  EXPECT_LT(pts[0].y, kPlotBottom);
}

TEST(SvgChart, NiceTicksAreRound) {
  EXPECT_EQ(NiceTicks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  const std::vector<double> small = NiceTicks(0, 0.178, 5);
  const std::vector<double> expected = {0, 0.05, 0.1, 0.15};
  ASSERT_EQ(small.size(), expected.size());
  for (size_t i = 0; i < small.size(); ++i) EXPECT_NEAR(small[i], expected[i], 1e-12);
  EXPECT_EQ(NiceTicks(-3, 7, 5), (std::vector<double>{-2, 0, 2, 4, 6}));
  EXPECT_EQ(NiceTicks(3, 3, 5), std::vector<double>{3});
}

TEST(SvgChart, IntegerTicksAreWholeNumbers) {
  EXPECT_EQ(IntegerTicks(1, 3, 6), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(IntegerTicks(1, 64, 6), NiceTicks(1, 64, 6));
  EXPECT_EQ(IntegerTicks(4, 4, 6), std::vector<double>{4});
}

// Legend entries wrap between name parts, never inside one; parts every series shares are
// said once.
TEST(SvgChart, LegendWrapsBetweenPartsAndSaysSharedPartsOnce) {
  const std::string name =
      "bert-base-uncased @1a2b3c4d · cuda · NVIDIA H100 80GB HBM3 · fused · fp16 · seq 128";
  const auto lines = LegendLines(name, 30);
  ASSERT_GT(lines.size(), 1u);
  std::string joined;
  for (const auto& l : lines) {
    EXPECT_TRUE(l.size() <= 30 || l.find(" · ") == std::string::npos) << l;
    joined += (joined.empty() ? "" : " · ") + l;
  }
  EXPECT_EQ(joined, name);  // nothing cut, nothing lost
  LineChart c;
  c.series.push_back({"m1 · cpu · Some CPU · seq 8", {{1, 1}}});
  c.series.push_back({"m2 · cpu · Some CPU · seq 8", {{1, 2}}});
  const std::string svg = RenderLineChart(c);
  EXPECT_NE(svg.find(">all: cpu · Some CPU · seq 8<"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">m1<"), std::string::npos);
  EXPECT_EQ(svg.find("…"), std::string::npos);
  // Bar labels too: the shared parts once, each label's own parts on lines under its bar.
  BarChart bars;
  bars.bars = {{"cuda · NVIDIA H100 80GB HBM3 · bert-base-uncased @1a2b3c4d", 1},
               {"cuda · NVIDIA H100 80GB HBM3 · gpt2 (seed 42)", 2}};
  const std::string bar_svg = RenderBarChart(bars);
  EXPECT_NE(bar_svg.find(">all: cuda · NVIDIA H100 80GB HBM3<"), std::string::npos) << bar_svg;
  EXPECT_NE(bar_svg.find("<tspan x=\"0\" dy=\"0\">bert-base-uncased @1a2b3c4d</tspan>"),
            std::string::npos)
      << bar_svg;
}

}  // namespace report_test
}  // namespace ipfs_accel::analysis
