// Result files to records: the three legacy shapes, this tool's run export, and the files that
// must be refused.

#include "ipfs_accel/store/json_import.h"

#include <fstream>
#include <functional>
#include <regex>
#include <tuple>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::store {
namespace json_import_test {

using core::ErrorKind;
using nlohmann::json;

const std::string kFixtures = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/legacy-json/";
const std::string kFlat = kFixtures + "benchmark_bert_cpu_20250305_195714.json";
const std::string kBatch = kFixtures + "batch_benchmarks_cpu_20250306_174805.json";
const std::string kNested = kFixtures + "nested_benchmark_results_20250303_050235.json";

size_t PerformanceRows(const RunResults& r) {
  size_t n = 0;
  for (const auto& e : r.entries) n += e.performance.size();
  return n;
}

bool Contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

void ExpectImportedRun(const RunResults& r, const std::string& path) {
  EXPECT_EQ(r.run.origin, "imported");
  ASSERT_TRUE(r.run.imported_from.has_value());
  EXPECT_EQ(*r.run.imported_from, path);
  EXPECT_TRUE(std::regex_match(r.run.run_id,
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")))
      << r.run.run_id;
  EXPECT_TRUE(
      std::regex_match(r.run.started_at, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)")))
      << r.run.started_at;
  EXPECT_LE(r.run.started_at, r.run.finished_at);
}

TEST(JsonImportTest, FlatFileIsOneRunMarkedNotMeasured) {
  const ImportResult r = ParseResultFile(kFlat);
  EXPECT_EQ(r.shape, kShapeLegacyFlat);
  ASSERT_EQ(r.runs.size(), 1u);
  const RunResults& run = r.runs[0];
  ExpectImportedRun(run, kFlat);
  EXPECT_EQ(run.run.started_at, "2025-03-05T19:57:13Z");
  ASSERT_EQ(run.entries.size(), 1u);
  const auto& e = run.entries[0];
  EXPECT_EQ(e.model.name, "bert-base-uncased");
  EXPECT_EQ(e.model.architecture, "bert");
  EXPECT_EQ(e.model.family, std::optional<std::string>("embedding"));
  EXPECT_EQ(e.hardware.platform, "cpu");
  ASSERT_EQ(e.performance.size(), 2u);
  EXPECT_EQ(e.performance[0].batch_size, 1);
  EXPECT_DOUBLE_EQ(e.performance[0].latency_mean_ms.value(), 20);
  EXPECT_DOUBLE_EQ(e.performance[0].throughput_items_per_s.value(), 50);
  EXPECT_EQ(e.performance[1].batch_size, 4);
  EXPECT_DOUBLE_EQ(e.performance[1].latency_mean_ms.value(), 50);
  EXPECT_TRUE(e.performance[0].samples_ms.empty());
  // The file has the mean only: the rest is not there, not 0.
  for (const auto& missing : {e.performance[0].latency_p50_ms, e.performance[0].latency_p99_ms,
                              e.performance[0].latency_min_ms, e.performance[0].latency_stdev_ms,
                              e.performance[0].load_ms, e.performance[0].first_inference_ms})
    EXPECT_FALSE(missing.has_value());
  EXPECT_FALSE(e.performance[0].peak_rss_bytes.has_value());
  EXPECT_TRUE(e.compatibility.empty());
  const json meta = json::parse(run.run.metadata_json);
  EXPECT_NE(meta["import"]["note"].get<std::string>().find("did not measure"), std::string::npos);
  EXPECT_EQ(meta["legacy"]["batch_sizes"]["4"]["memory_usage_mb"], 160);
  EXPECT_TRUE(Contains(r.unmapped, "memory_usage_mb has no column"));
}

TEST(JsonImportTest, BatchFileKeepsEveryLatencySample) {
  const ImportResult r = ParseResultFile(kBatch);
  EXPECT_EQ(r.shape, kShapeLegacyBatch);
  ASSERT_EQ(r.runs.size(), 1u);
  const RunResults& run = r.runs[0];
  ExpectImportedRun(run, kBatch);
  EXPECT_EQ(run.run.started_at, "2025-03-06T17:47:51Z");
  EXPECT_EQ(run.run.finished_at, "2025-03-06T17:48:00Z");
  ASSERT_EQ(run.entries.size(), 2u);
  EXPECT_EQ(PerformanceRows(run), 2u);
  const RunResults::Entry* bert = nullptr;
  for (const auto& e : run.entries)
    if (e.model.name == "prajjwal1/bert-tiny") bert = &e;
  ASSERT_NE(bert, nullptr);
  ASSERT_EQ(bert->performance.size(), 1u);
  const auto& p = bert->performance[0];
  EXPECT_EQ(p.batch_size, 1);
  EXPECT_DOUBLE_EQ(p.latency_mean_ms.value(), 52.59137153625488);
  EXPECT_DOUBLE_EQ(p.throughput_items_per_s.value(), 19.014525972395123);
  ASSERT_EQ(p.samples_ms.size(), 5u);
  EXPECT_DOUBLE_EQ(p.samples_ms[1], 184.07940864562988);
  EXPECT_DOUBLE_EQ(p.latency_max_ms.value(), 184.07940864562988);
  EXPECT_DOUBLE_EQ(p.latency_min_ms.value(), 1.5406608581542969);
  EXPECT_DOUBLE_EQ(p.latency_p50_ms.value(), 26.749134063720703);
  EXPECT_EQ(p.iterations, 5);
  EXPECT_TRUE(Contains(r.unmapped, "stdout/stderr"));
  const json meta = json::parse(run.run.metadata_json);
  EXPECT_FALSE(meta["import"].contains("note"));  // these were measured
}

TEST(JsonImportTest, NestedFileConvertsSecondsAndKeepsFamilyAndHost) {
  const ImportResult r = ParseResultFile(kNested);
  EXPECT_EQ(r.shape, kShapeLegacyNested);
  ASSERT_EQ(r.runs.size(), 1u);
  const RunResults& run = r.runs[0];
  ExpectImportedRun(run, kNested);
  EXPECT_EQ(run.run.started_at, "2025-03-03T05:02:35Z");
  EXPECT_EQ(run.run.hostname, "barberb-Hyper-V-UEFI-Release-v4-1");
  EXPECT_EQ(run.run.os, "Linux 6.8.0-11-generic");
  ASSERT_EQ(run.entries.size(), 3u);
  EXPECT_EQ(PerformanceRows(run), 27u);
  const auto& bert = run.entries[0];
  EXPECT_EQ(bert.model.name, "bert-base-uncased");
  EXPECT_EQ(bert.model.family, std::optional<std::string>("embedding"));
  EXPECT_EQ(bert.hardware.device_name, "Intel(R) Xeon(R) CPU E3-1535M v6 @ 3.10GHz");
  EXPECT_EQ(bert.hardware.hostname, "barberb-Hyper-V-UEFI-Release-v4-1");
  const PerformanceRecord* b4s128 = nullptr;
  for (const auto& p : bert.performance)
    if (p.batch_size == 4 && p.seq_len == 128) b4s128 = &p;
  ASSERT_NE(b4s128, nullptr);
  EXPECT_NEAR(b4s128->latency_mean_ms.value(), 523.7879872322083, 1e-9);
  ASSERT_EQ(b4s128->samples_ms.size(), 20u);
  EXPECT_NEAR(b4s128->samples_ms[0], 663.7024879455566, 1e-9);
  EXPECT_DOUBLE_EQ(b4s128->throughput_items_per_s.value(), 7.636618353930059);
  EXPECT_EQ(b4s128->iterations, 20);
  EXPECT_NEAR(b4s128->load_ms.value(), 2835.731029510498, 1e-9);
  EXPECT_TRUE(Contains(r.unmapped, "model_load_time"));
}

TEST(JsonImportTest, SameFileGivesSameRunIds) {
  EXPECT_EQ(ParseResultFile(kNested).runs[0].run.run_id,
            ParseResultFile(kNested).runs[0].run.run_id);
  EXPECT_NE(ParseResultFile(kNested).runs[0].run.run_id,
            ParseResultFile(kBatch).runs[0].run.run_id);
}

RunResults FullRun() {
  RunResults r;
  r.run.run_id = NewRunId();
  r.run.started_at = "2026-11-26T10:00:00Z";
  r.run.finished_at = "2026-11-26T10:05:00Z";
  r.run.tool_version = "0.1.0";
  r.run.git_commit = "abc";
  r.run.command_line = "ipfs-accelerate benchmark";
  r.run.hostname = "h";
  r.run.os = "Linux";
  r.run.seed = 18446744073709551615ull;
  r.run.metadata_json = R"({"k":1})";
  r.run.branch = "main";
  RunResults::Entry e;
  e.model = {"bert-tiny", "bert",   "text",      "catalog",      "",
             4386178,     "seed:1", "embedding", "sha256:c0ffee"};
  e.hardware = {"cpu", "AMD EPYC", "h", R"({"cores":2})"};
  PerformanceRecord p;
  p.execution_provider = "CPUExecutionProvider";
  p.batch_size = 4;
  p.seq_len = 128;
  p.latency_mean_ms = 0.1 + 0.2;  // not representable in short decimal
  p.latency_max_ms = 1.0 / 3.0;
  p.samples_ms = {0.1, 1e-300, 12345.678901234567};
  p.peak_rss_bytes = int64_t{1} << 40;
  p.scenario = "generate";
  p.prompt_len = 8;
  p.template_name = "llama";
  p.template_version = 2;
  p.new_tokens = 16;
  p.time_to_first_token_ms = 3.5;
  p.graph_optimization_level = 99;
  p.tail_percentile = 90;
  p.tail_ci_low_ms = 0.25;
  p.target_qps = 10;
  p.memory_estimate_bytes = 123;
  p.device_memory_process_bytes = 7;
  e.performance.push_back(p);
  CompatibilityRecord c;
  c.execution_provider = "CUDAExecutionProvider";
  c.status = "failed";
  c.error_class = "runtime";
  c.error_message = "boom";
  c.top1_agreement = 0.5;
  c.batch_size = 2;
  c.configuration_json = R"({"x":2})";
  e.compatibility.push_back(c);
  r.entries.push_back(e);
  return r;
}

// Compares through the export itself, field for field, so a field the export forgets to write
// and read shows up as a difference in the text.
TEST(JsonImportTest, RunExportRoundTripsFieldForField) {
  const RunResults original = FullRun();
  const json exported = RunResultsToJson(original);
  const RunResults back = RunResultsFromJson(json::parse(exported.dump()), "test");
  EXPECT_EQ(RunResultsToJson(back).dump(), exported.dump());
  EXPECT_EQ(back.run.seed, original.run.seed);
  EXPECT_EQ(back.entries[0].performance[0].latency_mean_ms.value(),
            original.entries[0].performance[0].latency_mean_ms);
  EXPECT_EQ(back.entries[0].performance[0].samples_ms,
            original.entries[0].performance[0].samples_ms);
  EXPECT_EQ(back.entries[0].performance[0].prompt_len, 8);
  EXPECT_FALSE(back.entries[0].performance[0].achieved_qps.has_value());
  EXPECT_EQ(back.entries[0].compatibility[0].configuration_json,
            original.entries[0].compatibility[0].configuration_json);
  EXPECT_EQ(back.entries[0].model.family, original.entries[0].model.family);
  EXPECT_EQ(back.entries[0].model.config_hash, std::optional<std::string>("sha256:c0ffee"));
  EXPECT_EQ(back.entries[0].performance[0].template_name, std::optional<std::string>("llama"));
  EXPECT_EQ(back.entries[0].performance[0].template_version, 2);
}

// An export written before results named their template (schema v9) reads with it unset,
// through the document reader and the streaming one alike.
TEST(JsonImportTest, AnExportWithoutTemplateFieldsImportsWithThemUnset) {
  json old = RunResultsToJson(FullRun());
  old["entries"][0]["performance"][0].erase("template_name");
  old["entries"][0]["performance"][0].erase("template_version");
  for (const std::string& text : {old.dump(), old.dump(2)}) {
    const ImportResult r = ParseResultText(text, "old.json");
    ASSERT_EQ(r.runs.size(), 1u);
    EXPECT_FALSE(r.runs[0].entries[0].performance[0].template_name.has_value());
    EXPECT_FALSE(r.runs[0].entries[0].performance[0].template_version.has_value());
  }
}

// An export written before models had a config hash (schema v8) reads with it unset, and one
// written before measured values could be missing reads with them set: through the document
// reader and the streaming one alike.
TEST(JsonImportTest, AnExportWithoutConfigHashStillImports) {
  json old = RunResultsToJson(FullRun());
  old["entries"][0]["model"].erase("config_hash");
  for (const std::string& text : {old.dump(), old.dump(2)}) {
    const ImportResult r = ParseResultText(text, "old.json");
    ASSERT_EQ(r.runs.size(), 1u);
    EXPECT_FALSE(r.runs[0].entries[0].model.config_hash.has_value());
    EXPECT_EQ(r.runs[0].entries[0].performance[0].latency_max_ms, 1.0 / 3.0);
  }
  const RunResults back = RunResultsFromJson(old, "old");
  EXPECT_FALSE(back.entries[0].model.config_hash.has_value());
}

const std::string kData = std::string(IPFS_ACCEL_SOURCE_DIR) + "/tests/store/data/";

// The runner's summary: one row per model whose lists have a value for every model tested
// (its mean latency and throughput, nothing else); a hardware's shorter lists cannot be
// attributed and stay in the metadata.
TEST(JsonImportTest, SummaryFileGivesEachTestedModelItsMeans) {
  const std::string path = kData + "benchmark_summary_20250303_050235.json";
  const ImportResult r = ParseResultFile(path);
  EXPECT_EQ(r.shape, kShapeLegacySummary);
  ASSERT_EQ(r.runs.size(), 1u);
  const RunResults& run = r.runs[0];
  ExpectImportedRun(run, path);
  EXPECT_EQ(run.run.started_at, "2025-03-03T05:02:35Z");
  ASSERT_EQ(run.entries.size(), 3u);
  const std::vector<std::tuple<std::string, double, double>> expected = {
      {"bert-base-uncased", 1102.1262407302856, 12.177884157915123},
      {"distilbert-base-uncased", 599.9831557273865, 20.33077544701753},
      {"roberta-base", 1877.427417702145, 7.415730159527549}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& e = run.entries[i];
    EXPECT_EQ(e.model.name, std::get<0>(expected[i]));
    EXPECT_EQ(e.model.family, std::optional<std::string>("embedding"));
    EXPECT_EQ(e.hardware.platform, "cpu");
    ASSERT_EQ(e.performance.size(), 1u);
    const PerformanceRecord& p = e.performance[0];
    EXPECT_EQ(p.latency_mean_ms, std::get<1>(expected[i]));
    EXPECT_EQ(p.throughput_items_per_s, std::get<2>(expected[i]));
    EXPECT_FALSE(p.latency_p50_ms.has_value());
    EXPECT_FALSE(p.load_ms.has_value());
    EXPECT_TRUE(p.samples_ms.empty());
    EXPECT_EQ(p.provider_options_json, R"({"summary":"mean over configurations"})");
  }
  const json meta = json::parse(run.run.metadata_json);
  EXPECT_EQ(
      meta["legacy"]["unattributed"]["model_families.embedding.hardware_results.cuda"]["latency_ms"]
          .size(),
      2u);
  EXPECT_TRUE(Contains(r.unmapped, "fewer values than models_tested"));
}

// The runner's audio results, batch_<B>_audio_<N>s: the clip's length is the configuration's
// sequence (its samples at 16 kHz), the latencies are converted from seconds, a failed one is a
// failed compatibility record of that batch.
TEST(JsonImportTest, AudioResultsKeyedByClipLengthImport) {
  const std::string path = kData + "audio_benchmark_results_20250304_101500.json";
  const ImportResult r = ParseResultFile(path);
  EXPECT_EQ(r.shape, kShapeLegacyNested);
  ASSERT_EQ(r.runs.size(), 1u);
  ASSERT_EQ(r.runs[0].entries.size(), 1u);
  const auto& e = r.runs[0].entries[0];
  EXPECT_EQ(e.model.name, "openai/whisper-tiny");
  EXPECT_EQ(e.model.family, std::optional<std::string>("audio"));
  ASSERT_EQ(e.performance.size(), 1u);
  const PerformanceRecord& p = e.performance[0];
  EXPECT_EQ(p.batch_size, 1);
  EXPECT_EQ(p.seq_len, 5 * 16000);
  EXPECT_EQ(json::parse(p.input_shapes_json)["audio_seconds"], 5);
  EXPECT_EQ(p.samples_ms.size(), 3u);
  EXPECT_NEAR(p.latency_mean_ms.value(), 234.83333333333334, 1e-9);
  EXPECT_NEAR(p.latency_p50_ms.value(), 233.5, 1e-9);
  EXPECT_NEAR(p.load_ms.value(), 1317.7, 1e-9);
  EXPECT_DOUBLE_EQ(p.throughput_items_per_s.value(), 4.324);
  ASSERT_EQ(e.compatibility.size(), 1u);
  EXPECT_EQ(e.compatibility[0].batch_size, 4);
  EXPECT_EQ(e.compatibility[0].status, "failed");
  EXPECT_TRUE(Contains(r.unmapped, "16 kHz"));
}

// The streamed export is the document's text, byte for byte: entries with and without
// performance results, one with compatibility results only.
TEST(JsonImportTest, RunExportWriterWritesWhatTheDocumentDumps) {
  RunResults run = FullRun();
  RunResults::Entry only_compatibility = run.entries[0];
  only_compatibility.performance.clear();
  only_compatibility.model.name = "other";
  run.entries.push_back(only_compatibility);
  run.entries.push_back(run.entries[0]);
  std::ostringstream streamed;
  RunExportWriter writer(streamed);
  writer.BeginRun();
  for (const auto& e : run.entries) {
    writer.BeginEntry(e.model, e.hardware, e.compatibility);
    for (const auto& p : e.performance) writer.Add(p);
  }
  writer.EndRun(run.run);
  EXPECT_EQ(streamed.str(), RunResultsToJson(run).dump());

  RunResults empty = FullRun();
  empty.entries.clear();
  std::ostringstream none;
  RunExportWriter no_entries(none);
  no_entries.BeginRun();
  no_entries.EndRun(empty.run);
  EXPECT_EQ(none.str(), RunResultsToJson(empty).dump());
}

TEST(JsonImportTest, ExportedFileReimportsIdenticalApartFromOrigin) {
  testing::TempDir dir;
  const RunResults original = FullRun();
  const std::string path = dir.File("run.json");
  std::ofstream(path) << RunResultsToJson(original).dump(2);
  const ImportResult r = ParseResultFile(path);
  EXPECT_EQ(r.shape, kShapeRunExport);
  ASSERT_EQ(r.runs.size(), 1u);
  RunResults back = r.runs[0];
  EXPECT_EQ(back.run.origin, "imported");
  EXPECT_EQ(back.run.imported_from, std::optional<std::string>(r.path));
  back.run.origin = original.run.origin;
  back.run.imported_from = original.run.imported_from;
  EXPECT_EQ(RunResultsToJson(back), RunResultsToJson(original));
}

// A run export is read without a whole-file document; what that reader does not take (a
// missing required field, a mistyped one) goes through the document parser, whose error names
// the field. Both readers agree on what they both take: an absent optional field is unset, an
// integer is a valid double, several exports in an array are several runs.
TEST(JsonImportTest, RunExportReadersAgreeAndErrorsStillNameTheField) {
  testing::TempDir dir;
  const RunResults original = FullRun();
  json exported = RunResultsToJson(original);
  exported["entries"][0]["performance"][0].erase("tail_percentile");
  exported["entries"][0]["performance"][0]["latency_p50_ms"] = 3;
  const std::string path = dir.File("runs.json");
  std::ofstream(path) << json::array({exported, exported}).dump();
  const ImportResult r = ParseResultFile(path);
  ASSERT_EQ(r.runs.size(), 2u);
  const RunResults expected = RunResultsFromJson(exported, "test");
  for (RunResults back : r.runs) {
    EXPECT_FALSE(back.entries[0].performance[0].tail_percentile.has_value());
    EXPECT_EQ(back.entries[0].performance[0].latency_p50_ms.value(), 3.0);
    back.run.origin = expected.run.origin;
    back.run.imported_from = expected.run.imported_from;
    EXPECT_EQ(RunResultsToJson(back), RunResultsToJson(expected));
  }

  for (const auto& [field, value] :
       {std::pair<std::string, json>{"batch_size", nullptr}, {"iterations", "three"}}) {
    json bad = exported;
    if (value.is_null())
      bad["entries"][0]["performance"][0].erase(field);
    else
      bad["entries"][0]["performance"][0][field] = value;
    const std::string bad_path = dir.File("bad-" + field + ".json");
    std::ofstream(bad_path) << bad.dump();
    const core::Error e = testing::CatchError([&] { ParseResultFile(bad_path); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
  }
}

TEST(JsonImportTest, MalformedJsonIsCorruptWithPosition) {
  testing::TempDir dir;
  const std::string path = dir.File("bad.json");
  std::ofstream(path) << "{\"model\": \"bert\",\n \"batch_sizes\": {\"1\": }\n}";
  const core::Error e = testing::CatchError([&] { ParseResultFile(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("bad.json' is not valid JSON:"), std::string::npos)
      << e.what();
  EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
}

TEST(JsonImportTest, UnknownShapeIsUnsupportedAndNamesTheKnownShapes) {
  testing::TempDir dir;
  const std::string path = dir.File("other.json");
  std::ofstream(path) << R"({"hello": [1, 2, 3]})";
  const core::Error e = testing::CatchError([&] { ParseResultFile(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  const std::string msg = e.what();
  EXPECT_NE(msg.find("other.json"), std::string::npos) << msg;
  for (const char* shape :
       {kShapeLegacyFlat, kShapeLegacyBatch, kShapeLegacyNested, kShapeRunExport})
    EXPECT_NE(msg.find(shape), std::string::npos) << msg;
}

TEST(JsonImportTest, ImpossibleValuesAreCorruptNamingTheField) {
  testing::TempDir dir;
  json nested = json::parse(std::ifstream(kNested));
  nested["benchmarks"]["embedding"]["roberta-base"]["cpu"]["benchmark_results"]["batch_1_seq_32"]
        ["latencies"][3] = -0.5;
  const std::string negative = dir.File("negative.json");
  std::ofstream(negative) << nested.dump();
  core::Error e = testing::CatchError([&] { ParseResultFile(negative); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find(
                "benchmarks.embedding.roberta-base.cpu.benchmark_results.batch_1_seq_32."
                "latencies[3]"),
            std::string::npos)
      << e.what();

  json flat = json::parse(std::ifstream(kFlat));
  flat["batch_sizes"]["0"] = flat["batch_sizes"]["1"];
  const std::string zero = dir.File("zero.json");
  std::ofstream(zero) << flat.dump();
  e = testing::CatchError([&] { ParseResultFile(zero); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("batch_sizes.0"), std::string::npos) << e.what();
}

TEST(JsonImportTest, ExportedRunWithNegativeLatencyIsCorrupt) {
  testing::TempDir dir;
  RunResults run = FullRun();
  run.entries[0].performance[0].samples_ms[2] = -1;
  const std::string path = dir.File("negative_export.json");
  std::ofstream(path) << RunResultsToJson(run).dump();
  const core::Error e = testing::CatchError([&] { ParseResultFile(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("[0].entries[0].performance[0].samples_ms[2]"),
            std::string::npos)
      << e.what();
}

TEST(JsonImportTest, LegacyFileWithNoTimestampAnywhereIsCorrupt) {
  testing::TempDir dir;
  json flat = json::parse(std::ifstream(kFlat));
  flat.erase("timestamp");
  const std::string path = dir.File("undated.json");
  std::ofstream(path) << flat.dump();
  const core::Error e = testing::CatchError([&] { ParseResultFile(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("no timestamp"), std::string::npos) << e.what();
  // The legacy files' names carry one: that is enough.
  const std::string named = dir.File("benchmark_bert_cpu_20250305_195714.json");
  std::ofstream(named) << flat.dump();
  EXPECT_EQ(ParseResultFile(named).runs[0].run.started_at, "2025-03-05T19:57:14Z");
}

TEST(JsonImportTest, FailedEntryIsAFailedCompatibilityRecord) {
  testing::TempDir dir;
  json flat = json::parse(std::ifstream(kFlat));
  flat["batch_sizes"]["4"] = {{"success", false}, {"error", "out of memory"}};
  const std::string path = dir.File("failed.json");
  std::ofstream(path) << flat.dump();
  const ImportResult r = ParseResultFile(path);
  const auto& e = r.runs[0].entries[0];
  ASSERT_EQ(e.performance.size(), 1u);
  ASSERT_EQ(e.compatibility.size(), 1u);
  EXPECT_EQ(e.compatibility[0].status, "failed");
  EXPECT_EQ(e.compatibility[0].error_message, "out of memory");
  EXPECT_EQ(e.compatibility[0].batch_size, std::optional<int64_t>(4));
}

TEST(JsonImportTest, MissingFileIsNotFound) {
  EXPECT_EQ(testing::CatchError([] { ParseResultFile("/no/such/file.json"); }).kind(),
            ErrorKind::kNotFound);
}

}  // namespace json_import_test
}  // namespace ipfs_accel::store

namespace ipfs_accel::store {
namespace json_import_test {

// Found by the result_file fuzz target: numbers that are valid JSON but no count or duration
// can hold went through casts (undefined behaviour) or became infinity.
TEST(JsonImportTest, NumbersPastWhatACountOrDurationHoldsAreCorruptNamingTheField) {
  const std::string result = "benchmarks.embedding.roberta-base.cpu.benchmark_results.";
  const json fixture = json::parse(std::ifstream(kNested));
  const auto expect_corrupt = [&](const std::function<void(json&)>& damage,
                                  const std::string& field) {
    json nested = fixture;
    damage(nested);
    const core::Error e = testing::CatchError(
        [&] { ParseResultText(nested.dump(), "/x/nested_20250303_050235.json"); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  };
  const auto at = [](json& j) -> json& {
    return j["benchmarks"]["embedding"]["roberta-base"]["cpu"]["benchmark_results"];
  };
  expect_corrupt([&](json& j) { at(j)["batch_1_seq_32"]["iterations"] = 27130913734436.0; },
                 result + "batch_1_seq_32.iterations is 27130913734436");
  expect_corrupt([&](json& j) { at(j)["batch_1_seq_32"]["iterations"] = 2.5; },
                 "iterations is 2.5");
  expect_corrupt([&](json& j) { at(j)["batch_1_seq_32"]["avg_latency"] = 1e307; },
                 "avg_latency is 1e+307; no measurement produces a latency that large");
  expect_corrupt(
      [&](json& j) { at(j)["batch_1_seq_99999999999999999999"] = at(j)["batch_1_seq_32"]; },
      "is not a sequence length");
}

TEST(JsonImportTest, AnExportedIntegerFieldHoldingAFloatPastItsTypeIsCorrupt) {
  json run = RunResultsToJson(FullRun());
  run["entries"][0]["performance"][0]["iterations"] = 1e20;
  const core::Error e = testing::CatchError([&] { ParseResultText(run.dump(), "/x/run.json"); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_NE(std::string(e.what()).find("field 'iterations' is 1e+20, not a whole number"),
            std::string::npos)
      << e.what();
}

}  // namespace json_import_test
}  // namespace ipfs_accel::store
