// The compatibility matrix from a real results database: which result fills each cell
// (latest wins, host filter, aliases, extra platforms, families), and the Markdown, HTML
// and JSON made from it.

#include "ipfs_accel/analysis/compatibility_matrix.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/result_store.h"
#include "support/temp_dir.h"

namespace ipfs_accel::analysis {
namespace compatibility_matrix_test {

using ::testing::HasSubstr;
using ::testing::Not;

// One stored attempt: a model on a platform and how it ended.
struct Attempt {
  std::string model, modality, platform;
  store::CompatibilityRecord result;
  std::string source = "catalog";
};

store::CompatibilityRecord Ok(std::string precision, std::string graph, std::optional<double> error,
                              std::optional<double> top1 = {}) {
  return {.execution_provider = "CPUExecutionProvider",
          .status = "ok",
          .error_class = "",
          .error_message = "",
          .max_abs_error = error,
          .precision = std::move(precision),
          .graph_variant = std::move(graph),
          .top1_agreement = top1};
}

store::CompatibilityRecord NotOk(std::string status, std::string error_class, std::string message,
                                 std::string precision = "fp32", std::string graph = "plain") {
  return {.execution_provider = "",
          .status = std::move(status),
          .error_class = std::move(error_class),
          .error_message = std::move(message),
          .max_abs_error = std::nullopt,
          .precision = std::move(precision),
          .graph_variant = std::move(graph)};
}

void WriteRun(store::ResultStore& store, const std::string& started_at, const std::string& host,
              const std::vector<Attempt>& attempts) {
  store::RunResults run;
  run.run.run_id = store::NewRunId();
  run.run.started_at = started_at;
  run.run.finished_at = started_at;
  run.run.tool_version = "0.1.0";
  run.run.git_commit = "test";
  run.run.command_line = "ipfs-accelerate benchmark";
  run.run.hostname = host;
  run.run.os = "Linux";
  for (const Attempt& a : attempts) {
    store::RunResults::Entry e;
    e.model = {a.model,
               a.source == "catalog" ? a.model.substr(0, a.model.find('-')) : "onnx",
               a.modality,
               a.source,
               a.source == "catalog" ? "" : "/models/" + a.model,
               1000,
               "seed:42"};
    e.hardware = {a.platform, a.platform + " device", host, "{}"};
    e.compatibility.push_back(a.result);
    run.entries.push_back(e);
  }
  store.WriteRun(run);
}

const char* kWebNnReason = "Chromium has no WebNN backend (createContext throws NotSupportedError)";
const char* kScriptMessage = "kernel <script>alert(\"x\")</script> isn't there";

class CompatibilityMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::ResultStore::Open(dir_.File("results.duckdb"));
    // The newer run is written first: "latest" is by start time, not by write order.
    WriteRun(*store_, "2026-01-02T10:00:00Z", "alpha",
             {{"bert-base-uncased", "text", "cuda", Ok("fp32", "plain", 1e-4)}});
    WriteRun(
        *store_, "2026-01-01T10:00:00Z", "alpha",
        {
            {"bert-base-uncased", "text", "cpu", Ok("fp32", "plain", std::nullopt)},
            {"bert-base-uncased", "text", "cpu", Ok("fp32", "fused", 2.4e-6)},
            {"bert-base-uncased", "text", "cpu",
             NotOk("failed", "runtime", "no fp16 Gelu", "fp16")},
            {"bert-base-uncased", "text", "cpu", Ok("int8", "plain", 3e-2, 0.97)},
            {"bert-base-uncased", "text", "cuda", NotOk("failed", "runtime", "CUDA out of memory")},
            {"bert-base-uncased", "text", "webnn",
             NotOk("unavailable", "unavailable", kWebNnReason)},
            {"bert-tiny", "text", "cpu", NotOk("failed", "corrupt", "bad weights")},
            {"bert-tiny", "text", "webnn", NotOk("unavailable", "unavailable", kWebNnReason)},
            {"bert-tiny", "text", "qualcomm", NotOk("unavailable", "unavailable", "no QNN EP")},
            {"vit-base-patch16-224", "vision", "cpu", Ok("fp32", "plain", std::nullopt)},
            {"vit-base-patch16-224", "vision", "openvino", Ok("fp32", "plain", 1e-5)},
            {"t5-small", "text", "openvino", NotOk("unavailable", "", "estimated 12 GiB > 8 GiB")},
            {"t5-small", "text", "openvino",
             NotOk("unavailable", "unavailable", "no contrib ops", "fp32", "fused")},
            {"t5-small", "text", "cpu", NotOk("unavailable", "", "held back by the operator")},
            {"opt-125m", "text", "cpu", Ok("fp32", "plain", std::nullopt)},
            {"net.onnx", "unknown", "xnnpack", Ok("fp32", "plain", 3e-6), "onnx-file"},
        });
    WriteRun(*store_, "2026-01-03T10:00:00Z", "beta",
             {{"bert-base-uncased", "text", "rocm", NotOk("failed", "runtime", kScriptMessage)},
              {"opt-125m", "text", "cpu", NotOk("failed", "runtime", "beta's failure")}});
    // The schema refuses statuses it does not know; a copy of the table without its CHECKs
    // stands for a status from a newer tool ('quarantined').
    store_->Query(
        "CREATE TABLE c2 AS SELECT * FROM compatibility_results; "
        "DROP TABLE compatibility_results; ALTER TABLE c2 RENAME TO compatibility_results; "
        "UPDATE compatibility_results SET status = 'skipped' "
        "WHERE error_message LIKE 'estimated%'; "
        "UPDATE compatibility_results SET status = 'quarantined' "
        "WHERE error_message LIKE 'held back%';");
  }

  static const MatrixRow& Row(const CompatibilityMatrix& m, const std::string& label) {
    for (const MatrixRow& row : m.rows)
      if (row.label == label) return row;
    ADD_FAILURE() << "no row " << label;
    return m.rows.front();
  }
  static const MatrixCell& Cell(const CompatibilityMatrix& m, const std::string& label,
                                const std::string& column) {
    for (size_t i = 0; i < m.columns.size(); ++i)
      if (m.columns[i].title == column) return Row(m, label).cells.at(i);
    ADD_FAILURE() << "no column " << column;
    return Row(m, label).cells.front();
  }

  testing::TempDir dir_;
  std::unique_ptr<store::ResultStore> store_;
};

TEST_F(CompatibilityMatrixTest, ColumnsAreTheFixedOnesThenOtherStoredPlatforms) {
  const CompatibilityMatrix m = BuildCompatibilityMatrix(*store_, {});
  std::vector<std::string> titles;
  for (const MatrixColumn& c : m.columns) titles.push_back(c.title);
  // qualcomm is an alias of the Qualcomm column; xnnpack has no column of its own but is stored.
  EXPECT_THAT(titles, ::testing::ElementsAre("CUDA", "ROCm", "MPS", "OpenVINO", "Qualcomm", "WebNN",
                                             "WebGPU", "CPU", "xnnpack"));
  EXPECT_EQ(m.result_count, 17u);  // 19 stored, two superseded
  EXPECT_THAT(m.hosts, ::testing::ElementsAre("alpha", "beta"));
  EXPECT_EQ(m.first_run_at, "2026-01-01 10:00:00Z");
  EXPECT_EQ(m.last_run_at, "2026-01-03 10:00:00Z");
}

TEST_F(CompatibilityMatrixTest, KeyModelCellsHoldEveryVariantWithTheBestAsHeadline) {
  const CompatibilityMatrix m = BuildCompatibilityMatrix(*store_, {});
  // Every key model class has a row, in catalog order, data or not.
  ASSERT_GE(m.rows.size(), models::KeyModels().size());
  for (size_t i = 0; i < models::KeyModels().size(); ++i) {
    EXPECT_EQ(m.rows[i].section, MatrixSection::kKeyModel);
    EXPECT_EQ(m.rows[i].label, models::KeyModels()[i].key_class);
  }
  const MatrixRow& bert = Row(m, "BERT");
  ASSERT_EQ(bert.models, std::vector<std::string>{"bert-base-uncased"});

  const MatrixCell& cpu = Cell(m, "BERT", "CPU");
  EXPECT_EQ(cpu.status, "ok");
  EXPECT_TRUE(cpu.has_reference);
  ASSERT_TRUE(cpu.fp32_error.has_value());
  EXPECT_DOUBLE_EQ(*cpu.fp32_error, 2.4e-6);  // int8's 3e-2 is not an fp32 error
  ASSERT_EQ(cpu.results.size(), 4u);
  EXPECT_EQ(cpu.results[0].graph_variant, "plain");  // fp32 plain, fp32 fused, fp16, int8
  EXPECT_TRUE(cpu.results[0].reference);
  EXPECT_EQ(cpu.results[1].graph_variant, "fused");
  EXPECT_FALSE(cpu.results[1].reference);
  EXPECT_EQ(cpu.results[2].status, "failed");
  EXPECT_EQ(cpu.results[2].error_message, "no fp16 Gelu");
  EXPECT_EQ(cpu.results[3].precision, "int8");
  EXPECT_DOUBLE_EQ(cpu.results[3].top1_agreement.value_or(0), 0.97);
  EXPECT_EQ(CellSummary(bert, cpu), "ok 2.4e-06");

  // Latest wins: the older failure on CUDA is gone.
  const MatrixCell& cuda = Cell(m, "BERT", "CUDA");
  ASSERT_EQ(cuda.results.size(), 1u);
  EXPECT_EQ(cuda.status, "ok");
  EXPECT_EQ(cuda.results[0].run_started_at, "2026-01-02 10:00:00Z");
  EXPECT_EQ(CellSummary(bert, cuda), "ok 1.0e-04");

  EXPECT_EQ(CellSummary(bert, Cell(m, "BERT", "ROCm")), "failed: runtime");
  const MatrixCell& webnn = Cell(m, "BERT", "WebNN");
  EXPECT_EQ(webnn.status, "unavailable");
  EXPECT_EQ(webnn.results.at(0).error_message, kWebNnReason);
  EXPECT_EQ(Cell(m, "BERT", "MPS").status, kNeverTried);
  EXPECT_EQ(CellSummary(bert, Cell(m, "BERT", "MPS")), "—");

  EXPECT_EQ(CellSummary(Row(m, "ViT"), Cell(m, "ViT", "CPU")), "ok (reference)");
  EXPECT_EQ(CellSummary(Row(m, "ViT"), Cell(m, "ViT", "OpenVINO")), "ok 1.0e-05");
  // skipped beats unavailable; a status this build does not know is shown as stored.
  EXPECT_EQ(Cell(m, "T5", "OpenVINO").status, "skipped");
  EXPECT_EQ(Cell(m, "T5", "OpenVINO").results.size(), 2u);
  EXPECT_EQ(CellSummary(Row(m, "T5"), Cell(m, "T5", "CPU")), "quarantined");
  // A class with no data at all: every cell never tried.
  for (const MatrixCell& c : Row(m, "CLAP").cells) EXPECT_EQ(c.status, kNeverTried);
}

TEST_F(CompatibilityMatrixTest, FamilyRowsAggregateEveryModelOfAModality) {
  const CompatibilityMatrix m = BuildCompatibilityMatrix(*store_, {});
  std::vector<std::string> families;
  for (const MatrixRow& row : m.rows)
    if (row.section == MatrixSection::kFamily) families.push_back(row.label);
  EXPECT_THAT(families, ::testing::ElementsAre("text", "vision", "unknown"));  // no audio stored

  const MatrixRow& text = Row(m, "text");
  EXPECT_THAT(text.models,
              ::testing::ElementsAre("bert-base-uncased (seed 42)", "bert-tiny (seed 42)",
                                     "opt-125m (seed 42)", "t5-small (seed 42)"));
  const MatrixCell& cpu = Cell(m, "text", "CPU");
  EXPECT_EQ(cpu.status, "ok");
  EXPECT_EQ(cpu.model_counts.at("ok"), 1);           // bert-base-uncased
  EXPECT_EQ(cpu.model_counts.at("failed"), 2);       // bert-tiny; opt-125m (beta's is the latest)
  EXPECT_EQ(cpu.model_counts.at("quarantined"), 1);  // t5-small
  EXPECT_DOUBLE_EQ(cpu.fp32_error.value_or(0), 2.4e-6);
  EXPECT_EQ(CellSummary(text, cpu), "1 ok ≤ 2.4e-06, 2 failed, 1 quarantined");
  EXPECT_EQ(CellSummary(text, Cell(m, "text", "WebNN")), "2 unavailable");
  EXPECT_EQ(CellSummary(text, Cell(m, "text", "Qualcomm")), "1 unavailable");
  EXPECT_EQ(CellSummary(text, Cell(m, "text", "MPS")), "—");
  EXPECT_EQ(CellSummary(Row(m, "vision"), Cell(m, "vision", "CPU")), "1 ok (reference)");
  EXPECT_EQ(CellSummary(Row(m, "unknown"), Cell(m, "unknown", "xnnpack")), "1 ok ≤ 3.0e-06");
}

TEST_F(CompatibilityMatrixTest, HostFilterComesBeforeLatest) {
  const CompatibilityMatrix beta = BuildCompatibilityMatrix(*store_, {.hostname = "beta"});
  EXPECT_EQ(beta.result_count, 2u);
  EXPECT_EQ(beta.host_filter, "beta");
  EXPECT_EQ(Cell(beta, "BERT", "ROCm").status, "failed");
  EXPECT_EQ(Cell(beta, "BERT", "CPU").status, kNeverTried);
  EXPECT_EQ(beta.columns.size(), 8u);  // xnnpack only ran on alpha

  const CompatibilityMatrix alpha = BuildCompatibilityMatrix(*store_, {.hostname = "alpha"});
  EXPECT_EQ(Cell(alpha, "BERT", "ROCm").status, kNeverTried);
  EXPECT_EQ(Cell(alpha, "BERT", "CUDA").status, "ok");
  // Unfiltered, beta's newer failure is opt-125m's latest on the CPU; alpha's own result stays
  // visible under --host alpha.
  EXPECT_EQ(Cell(BuildCompatibilityMatrix(*store_, {}), "LLaMA", "CPU").status, "failed");
  EXPECT_EQ(Cell(alpha, "LLaMA", "CPU").status, "ok");
  EXPECT_EQ(Cell(beta, "LLaMA", "CPU").status, "failed");
}

TEST_F(CompatibilityMatrixTest, MarkdownHasShortCellsAndDeduplicatedFootnotes) {
  CompatibilityMatrix m = BuildCompatibilityMatrix(*store_, {});
  m.database = "results.duckdb";
  const std::string md = RenderMatrixMarkdown(m);
  EXPECT_THAT(md, HasSubstr("Data: results.duckdb, hosts alpha, beta; 17 results from runs "
                            "started 2026-01-01 10:00:00Z to 2026-01-03 10:00:00Z"));
  EXPECT_THAT(md, HasSubstr("Legend: "));
  EXPECT_THAT(md, HasSubstr("| Model | CUDA | ROCm | MPS | OpenVINO | Qualcomm | WebNN | WebGPU | "
                            "CPU | xnnpack |"));
  EXPECT_THAT(md, HasSubstr("| ViT (vit-base-patch16-224) | — | — | — | ok 1.0e-05 | — | — | — | "
                            "ok (reference) | — |"));
  EXPECT_THAT(md, HasSubstr("| CLAP (clap-htsat-unfused) | — | — | — | — | — | — | — | — | — |"));
  EXPECT_THAT(md, HasSubstr("| Family |"));
  EXPECT_THAT(md, HasSubstr("| text (4 models) |"));

  // The WebNN reason is one footnote, referred to by the BERT cell and the text family cell.
  const std::string note = std::string("unavailable: ") + kWebNnReason;
  const size_t at = md.find("] " + note);
  ASSERT_NE(at, std::string::npos) << md;
  EXPECT_EQ(md.find("] " + note, at + 1), std::string::npos) << "footnote repeated";
  const size_t open = md.rfind('[', at);
  const std::string ref = md.substr(open, at - open + 1);  // "[n]"
  EXPECT_THAT(md, HasSubstr("| unavailable " + ref + " |"));
  EXPECT_THAT(md, HasSubstr("| 2 unavailable " + ref + " |"));
  // An ok cell points at its variants that are not ok (the failed fp16 one).
  EXPECT_THAT(md, HasSubstr("fp16 plain failed (runtime): no fp16 Gelu"));
  EXPECT_THAT(md, ::testing::ContainsRegex("\\| ok 2\\.4e-06 \\[[0-9]+\\] \\|"));
  // Stored text cannot open HTML or break the table.
  EXPECT_THAT(md, HasSubstr("kernel \\<script\\>alert(\"x\")\\</script\\> isn't there"));
  EXPECT_THAT(md, Not(HasSubstr("<script>")));
}

TEST_F(CompatibilityMatrixTest, HtmlIsOnePageWithEscapedTitlesAndAClassPerState) {
  const CompatibilityMatrix m = BuildCompatibilityMatrix(*store_, {});
  const std::string html = RenderMatrixHtml(m);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_THAT(html, HasSubstr("<style>"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));  // nothing fetched from elsewhere
  EXPECT_THAT(
      html, HasSubstr("kernel &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; isn&#39;t there"));
  for (const char* state : {"state-ok", "state-failed", "state-unavailable", "state-skipped",
                            "state-never-tried", "state-other"})
    EXPECT_THAT(html, HasSubstr(std::string("<td class=\"") + state)) << state;
  // Messages are in the title, one line per result.
  EXPECT_THAT(
      html,
      HasSubstr("title=\"bert-base-uncased (seed 42) fp32 plain on webnn (alpha): unavailable "
                "(unavailable): Chromium has no WebNN backend"));
  EXPECT_THAT(html, HasSubstr("fp16 plain on cpu (alpha): failed (runtime): no fp16 Gelu"));
}

TEST_F(CompatibilityMatrixTest, JsonHasEveryCellByColumn) {
  const CompatibilityMatrix m = BuildCompatibilityMatrix(*store_, {});
  const nlohmann::json j = nlohmann::json::parse(MatrixToJson(m).dump());
  ASSERT_EQ(j["columns"].size(), 9u);
  EXPECT_EQ(j["columns"][2]["platforms"], nlohmann::json({"mps", "coreml"}));
  ASSERT_EQ(j["rows"].size(), models::KeyModels().size() + 3);
  const nlohmann::json& bert = j["rows"][0];
  EXPECT_EQ(bert["section"], "key-model");
  EXPECT_EQ(bert["label"], "BERT");
  ASSERT_EQ(bert["cells"].size(), 9u);
  const nlohmann::json& cpu = bert["cells"]["CPU"];
  EXPECT_EQ(cpu["status"], "ok");
  EXPECT_EQ(cpu["summary"], "ok 2.4e-06");
  EXPECT_DOUBLE_EQ(cpu["fp32_error"].get<double>(), 2.4e-6);
  ASSERT_EQ(cpu["results"].size(), 4u);
  EXPECT_EQ(cpu["results"][0]["reference"], true);
  EXPECT_TRUE(cpu["results"][0]["max_abs_error"].is_null());
  EXPECT_EQ(bert["cells"]["MPS"]["status"], kNeverTried);
  const nlohmann::json& text = j["rows"][models::KeyModels().size()];
  EXPECT_EQ(text["section"], "family");
  EXPECT_EQ(text["cells"]["CPU"]["model_counts"]["failed"], 2);
}

TEST(CompatibilityMatrixEmptyTest, EmptyDatabaseIsAllNeverTried) {
  testing::TempDir dir;
  auto store = store::ResultStore::Open(dir.File("empty.duckdb"));
  const CompatibilityMatrix m = BuildCompatibilityMatrix(*store, {});
  EXPECT_EQ(m.result_count, 0u);
  EXPECT_EQ(m.columns.size(), 8u);
  ASSERT_EQ(m.rows.size(), models::KeyModels().size());  // no family has data
  for (const MatrixRow& row : m.rows)
    for (const MatrixCell& c : row.cells) EXPECT_EQ(c.status, kNeverTried);
  const std::string md = RenderMatrixMarkdown(m);
  EXPECT_THAT(md, HasSubstr("no compatibility results yet"));
  EXPECT_THAT(md, Not(HasSubstr("| Family |")));
  EXPECT_THAT(md, HasSubstr("| BERT (bert-base-uncased) | — | — | — | — | — | — | — | — |\n"));
}

// One run of a sweep stores an "ok" for the configurations that ran beside a result per
// configuration that failed or was skipped: the cell keeps them all, headed by the best.
TEST(CompatibilityMatrixSweepTest, OneRunsResultsForAVariantAreKeptTogether) {
  testing::TempDir dir;
  auto store = store::ResultStore::Open(dir.File("sweep.duckdb"));
  WriteRun(*store, "2026-01-01T10:00:00Z", "alpha",
           {{"bert-base-uncased", "text", "cpu", NotOk("failed", "runtime", "an old failure")}});
  WriteRun(*store, "2026-01-02T10:00:00Z", "alpha",
           {{"bert-base-uncased", "text", "cpu", Ok("fp32", "plain", std::nullopt)},
            {"bert-base-uncased", "text", "cpu",
             NotOk("skipped", "insufficient_memory", "estimated 40 GiB > 20 GiB")}});
  const CompatibilityMatrix m = BuildCompatibilityMatrix(*store, {});
  const MatrixCell& cpu = m.rows.front().cells.back();
  EXPECT_EQ(cpu.status, "ok");
  ASSERT_EQ(cpu.results.size(), 2u);  // the older run's failure is not among them
  EXPECT_THAT(RenderMatrixMarkdown(m),
              HasSubstr("skipped (insufficient_memory): estimated 40 GiB"));
  EXPECT_THAT(RenderMatrixMarkdown(m), Not(HasSubstr("an old failure")));
}

}  // namespace compatibility_matrix_test
}  // namespace ipfs_accel::analysis
