// The PostgreSQL result store against a real throwaway PostgreSQL 15 cluster (one per suite, a
// fresh database per test): runs read back as a DuckDB file gives them, values exact through
// the text both servers exchange, two stores on one database as two machines, writes that fail
// leaving the server as it was, schema versions, and the URL's password kept out of messages.

#include "ipfs_accel/store/postgres_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <chrono>
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/maintenance.h"
#include "ipfs_accel/store/prediction_records.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/result_store.h"
#include "ipfs_accel/store/template_records.h"
#include "store/duckdb_result_store.h"
#include "support/catch_error.h"
#include "support/child_process.h"
#include "support/postgres_cluster.h"
#include "support/temp_dir.h"

namespace ipfs_accel::store {
namespace postgres_store_test {

using core::ErrorKind;
using testing::CatchError;
using ::testing::HasSubstr;
using ::testing::Not;

// --- Records as text, field for field (NaN and infinities included, NULL apart from "") ---

std::string PgRepr(const std::string& s) { return "\"" + s + "\""; }
std::string PgRepr(double d) { return std::isnan(d) ? "nan" : fmt::format("{}", d); }
template <std::integral T>
std::string PgRepr(T v) {
  return std::to_string(v);
}
std::string PgRepr(const std::vector<double>& v) {
  std::vector<std::string> parts;
  for (double d : v) parts.push_back(PgRepr(d));
  return fmt::format("[{}]", fmt::join(parts, ","));
}
template <typename T>
std::string PgRepr(const std::optional<T>& v) {
  return v ? PgRepr(*v) : "NULL";
}

template <typename Record>
void AppendFields(const std::string& prefix, const Record& r, std::vector<std::string>& out) {
  ForEachField(r, [&](const char* name, const auto& value) {
    out.push_back(prefix + name + "=" + PgRepr(value));
  });
}

// Every field of a run, one "where.name=value" line each, so a difference names its field.
std::vector<std::string> RunFields(const RunResults& r) {
  std::vector<std::string> out;
  AppendFields("run.", r.run, out);
  for (size_t e = 0; e < r.entries.size(); ++e) {
    const std::string at = fmt::format("entry{}.", e);
    AppendFields(at + "model.", r.entries[e].model, out);
    AppendFields(at + "hardware.", r.entries[e].hardware, out);
    for (size_t i = 0; i < r.entries[e].performance.size(); ++i)
      AppendFields(fmt::format("{}performance{}.", at, i), r.entries[e].performance[i], out);
    for (size_t i = 0; i < r.entries[e].compatibility.size(); ++i)
      AppendFields(fmt::format("{}compatibility{}.", at, i), r.entries[e].compatibility[i], out);
  }
  return out;
}

// --- Runs to store ---

PerformanceRecord PgPerformance(double p50, int64_t batch) {
  PerformanceRecord p;
  p.execution_provider = "CPUExecutionProvider";
  p.runtime_version = "1.29.0";
  p.batch_size = batch;
  p.seq_len = 16;
  p.input_shapes_json = fmt::format(R"({{"input_ids":[{},16]}})", batch);
  p.threads = 2;
  p.warmup_iterations = 1;
  p.iterations = 3;
  p.load_ms = 12.5;
  p.first_inference_ms = 3.25;
  p.latency_mean_ms = p50;
  p.latency_stdev_ms = p50 / 10;
  p.latency_min_ms = p50 * 0.5;
  p.latency_max_ms = p50 * 2;
  p.latency_p50_ms = p50;
  p.latency_p90_ms = p50 * 1.5;
  p.latency_p95_ms = p50 * 1.6;
  p.latency_p99_ms = p50 * 1.9;
  p.throughput_items_per_s = 1000 * static_cast<double>(batch) / p50;
  p.peak_rss_bytes = 123456789;
  p.samples_ms = {p50 * 0.5, p50, p50 * 2};
  p.graph_optimization_level = 99;
  p.template_name = "bert";
  p.template_version = 1;
  p.graph_cid = "bafkreitest";
  return p;
}

RunResults::Entry PgEntry(const std::string& model, const std::string& platform,
                          const std::string& host) {
  RunResults::Entry e;
  e.model = {model, "bert", "text", "catalog", "", 4385920, "seed:0"};
  e.model.family = "embedding";
  e.model.config_hash = "sha256:c0ffee" + model;
  e.hardware = {platform, platform == "cpu" ? "Test CPU" : "Test GPU", host,
                R"({"cores": 2, "isa": ["avx2"]})"};
  return e;
}

// A run on `host` with bert-tiny on the CPU (two batch sizes and a compatibility result) and
// gpt2 generating on a GPU (a failed compatibility result).
RunResults PgRun(const std::string& id, const std::string& started,
                 const std::string& host = "host-a") {
  RunResults r;
  r.run.run_id = id;
  r.run.started_at = started;
  r.run.finished_at = started;
  r.run.tool_version = "0.1.0";
  r.run.git_commit = "abc123";
  r.run.command_line = "benchmark -m bert-tiny";
  r.run.hostname = host;
  r.run.os = "linux";
  r.run.seed = 7;
  r.run.metadata_json = R"({"threads": [1, 2]})";
  r.run.branch = "main";
  r.run.state = "complete";
  RunResults::Entry cpu = PgEntry("bert-tiny", "cpu", host);
  cpu.performance = {PgPerformance(1.5, 1), PgPerformance(2.5, 2)};
  cpu.compatibility.push_back({"CPUExecutionProvider", "ok", "", "", 1e-6});
  RunResults::Entry gpu = PgEntry("gpt2", "cuda", host);
  PerformanceRecord generate = PgPerformance(4.0, 1);
  generate.execution_provider = "CUDAExecutionProvider";
  generate.scenario = "generate";
  generate.prompt_len = 8;
  generate.new_tokens = 16;
  generate.time_to_first_token_ms = 9.5;
  gpu.performance = {generate};
  CompatibilityRecord failed;
  failed.execution_provider = "CUDAExecutionProvider";
  failed.status = "failed";
  failed.error_class = "runtime";
  failed.error_message = "out of memory";
  failed.scenario = "generate";
  failed.batch_size = 1;
  failed.configuration_json = R"({"b": 1, "a": 2})";
  gpu.compatibility.push_back(failed);
  r.entries = {cpu, gpu};
  return r;
}

// A template with variables, pieces and dependencies (tables keyed by two to four columns).
TemplateRecord PgTemplate(const std::string& resolved) {
  TemplateRecord t;
  t.model_type = "mistral";
  t.version = 2;
  t.builder = "decoder";
  t.inherits = "llama";
  t.hf_config_class = "MistralConfig";
  t.source = "data/templates/decoder/mistral.json";
  t.content_hash = "sha256:" + std::to_string(std::hash<std::string>{}(resolved));
  t.resolved_json = resolved;
  t.history = {{1, "first"}, {2, "sliding window"}};
  t.variables = {{"sliding_window", "sliding_window", "4096"}, {"n_embd", "hidden_size", "null"}};
  t.pieces = {{"sliding_window", R"("all")"}, {"norm", R"({"kind": "rms", "eps": 1e-5})"}};
  t.dependencies = {{"llama", "inherits"}, {"decoder", "builder"}};
  return t;
}

PredictionRecord PgPrediction(const std::string& model, int64_t batch, double predicted) {
  return {"predictor-1",
          "2026-11-26T10:00:00.5Z",
          model,
          "seed:0",
          "cpu:Test CPU",
          "fp32",
          "plain",
          batch,
          16,
          predicted,
          predicted / 2,
          predicted * 2};
}

// --- The server, natively ---

// One native session per database for the whole program: each connection costs a backend.
std::map<std::string, std::unique_ptr<PostgresSession>>& NativeSessions() {
  static std::map<std::string, std::unique_ptr<PostgresSession>> sessions;
  return sessions;
}

QueryResult Native(const std::string& url, const std::string& sql, const TextParams& params = {}) {
  std::unique_ptr<PostgresSession>& session = NativeSessions()[url];
  if (!session) session = PostgresSession::Connect(url);
  return session->Execute(sql, params);
}

std::string NativeValue(const std::string& url, const std::string& sql) {
  const QueryResult r = Native(url, sql);
  if (r.rows.size() != 1 || r.rows[0].size() != 1) return "<not one value>";
  return r.rows[0][0].value_or("NULL");
}

// Every table's row count on the server, and the store's generation.
std::vector<std::string> ServerCounts(const std::string& url) {
  std::vector<std::string> counts;
  const QueryResult tables = Native(url,
                                    "SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = 'public' ORDER BY table_name");
  for (const auto& row : tables.rows)
    counts.push_back(*row[0] + "=" + NativeValue(url, "SELECT count(*) FROM \"" + *row[0] + "\""));
  counts.push_back("generation=" +
                   NativeValue(url, "SELECT generation FROM ipfs_accel_store_generation"));
  return counts;
}

std::string ExportOf(ResultStore& store, const std::string& run_id) {
  return RunResultsToJson(ReadStoredRun(store, run_id)).dump();
}

// A query's rows as text lines.
std::vector<std::string> Rows(ResultStore& store, const std::string& sql) {
  std::vector<std::string> lines;
  for (const auto& row : store.Query(sql).rows) {
    std::vector<std::string> cells;
    for (const auto& cell : row) cells.push_back(cell.value_or("NULL"));
    lines.push_back(fmt::format("{}", fmt::join(cells, "|")));
  }
  return lines;
}

int64_t Count(ResultStore& store, const std::string& sql) {
  return std::stoll(*store.Query(sql).rows.at(0).at(0));
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = std::make_unique<testing::PostgresCluster>(); }
  static void TearDownTestSuite() {
    NativeSessions().clear();
    cluster_.reset();
  }
  void SetUp() override { url_ = cluster_->NewDatabase(); }

  std::unique_ptr<PostgresResultStore> Open(bool read_only = false) {
    return PostgresResultStore::Open(url_, {.read_only = read_only});
  }

  static std::unique_ptr<testing::PostgresCluster> cluster_;
  std::string url_;
};

std::unique_ptr<testing::PostgresCluster> PostgresStoreTest::cluster_;

TEST_F(PostgresStoreTest, ARunReadsBackFromTheServerAsTheSameRunStoredInADuckDbFile) {
  const RunResults first = PgRun("run-1", "2026-11-26T15:04:05Z");
  const RunResults second = PgRun("run-2", "2026-11-27T08:00:00Z");
  testing::TempDir dir;
  auto duck = ResultStore::Open(dir.File("bench.duckdb"));
  auto writer = ResultStore::Open(url_);  // through the dispatch on the URL
  for (ResultStore* store : {duck.get(), writer.get()}) {
    store->WriteRuns({&first, &second});
  }
  writer.reset();
  auto reader = Open(/*read_only=*/true);  // its copy loaded from the server alone
  EXPECT_EQ(reader->SchemaVersion(), CurrentSchemaVersion());
  for (const char* id : {"run-1", "run-2"}) {
    EXPECT_EQ(RunFields(ReadStoredRun(*reader, id)), RunFields(ReadStoredRun(*duck, id))) << id;
    EXPECT_EQ(ExportOf(*reader, id), ExportOf(*duck, id)) << id;
  }
  EXPECT_EQ(RunFields(ReadStoredRun(*reader, "run-2")), RunFields(second));
  for (const char* sql :
       {"SELECT * EXCLUDE (created_at) FROM latest_performance ORDER BY ALL",
        "SELECT * EXCLUDE (created_at) FROM model_hardware_compatibility ORDER BY ALL",
        "SELECT * FROM models ORDER BY ALL", "SELECT * FROM hardware_platforms ORDER BY ALL"}) {
    const std::vector<std::string> rows = Rows(*reader, sql);
    EXPECT_FALSE(rows.empty()) << sql;
    EXPECT_EQ(rows, Rows(*duck, sql)) << sql;
  }
  EXPECT_EQ(Count(*reader, "SELECT count(*) FROM latest_performance"), 3);
}

TEST_F(PostgresStoreTest, ValuesSurviveTheServerExactly) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const double sum = 0.1 + 0.2;  // 0.30000000000000004: one bit off 0.3
  RunResults r = PgRun("run-exact", "2026-11-26T15:04:05.123456Z");
  r.run.finished_at = "2026-11-26T15:04:06.000001Z";
  r.run.seed = std::numeric_limits<uint64_t>::max();
  r.run.metadata_json = R"({"z": 1,  "a": {"y": [3, 1], "b": "é\"x"}})";  // key order, spacing
  r.run.branch = std::nullopt;
  r.run.imported_from = "";
  RunResults::Entry& e = r.entries[0];
  e.model.source_path = "";
  e.model.family = std::nullopt;
  e.model.config_hash = "";
  PerformanceRecord& p = e.performance[0];
  p.latency_mean_ms = sum;
  p.latency_min_ms = 5e-324;  // the smallest subnormal
  p.latency_max_ms = kInf;
  p.latency_p99_ms = std::numeric_limits<double>::max();
  p.loss_first = -kInf;
  p.loss_last = std::nan("");
  p.samples_ms = {sum, 1e-300, 5e-324, 1.7976931348623157e308, 0.0};
  p.template_name = "";
  p.graph_cid = std::nullopt;
  p.peak_rss_bytes = std::numeric_limits<int64_t>::max();
  // Samples JSON has no words for (ReadStoredRun cannot read them back, so through SQL).
  RunResults odd = PgRun("run-odd-samples", "2026-11-26T16:00:00Z");
  odd.entries.resize(1);
  odd.entries[0].performance.resize(1);
  odd.entries[0].performance[0].samples_ms = {1.0, kInf, -kInf, std::nan(""), sum};
  Open()->WriteRuns({&r, &odd});

  auto reader = Open(/*read_only=*/true);
  EXPECT_EQ(RunFields(ReadStoredRun(*reader, "run-exact")), RunFields(r));
  // On the server itself: the types mapped, the bytes as written.
  const QueryResult run = Native(url_,
                                 "SELECT seed::text, metadata, started_at::text, "
                                 "finished_at::text, branch IS NULL, imported_from FROM runs "
                                 "WHERE run_id = 'run-exact'");
  ASSERT_EQ(run.rows.size(), 1u);
  EXPECT_EQ(run.rows[0][0], "18446744073709551615");
  EXPECT_EQ(run.rows[0][1], r.run.metadata_json);
  EXPECT_EQ(run.rows[0][2], "2026-11-26 15:04:05.123456");
  EXPECT_EQ(run.rows[0][3], "2026-11-26 15:04:06.000001");
  EXPECT_EQ(run.rows[0][4], "true");
  EXPECT_EQ(run.rows[0][5], "");
  const QueryResult perf =
      Native(url_,
             "SELECT latency_mean_ms = 0.1::float8 + 0.2::float8, latency_mean_ms = 0.3::float8, "
             "latency_max_ms = 'Infinity', loss_first = '-Infinity', loss_last = 'NaN', "
             "(samples_ms::json->>0)::float8 = 0.1::float8 + 0.2::float8, "
             "json_array_length(samples_ms::json), template_name, graph_cid IS NULL "
             "FROM performance_results WHERE batch_size = 1 AND scenario = 'single-stream' "
             "AND run_id = 'run-exact'");
  ASSERT_EQ(perf.rows.size(), 1u);
  const std::vector<std::optional<std::string>> expected = {"true", "false", "true", "true", "true",
                                                            "true", "5",     "",     "true"};
  EXPECT_EQ(perf.rows[0], expected);
  EXPECT_EQ(NativeValue(url_,
                        "SELECT count(*) FROM models WHERE family IS NULL AND "
                        "config_hash = '' AND source_path = ''"),
            "1");

  auto duck = ResultStore::Open(":memory:");
  duck->WriteRun(odd);
  const std::string samples =
      "SELECT CAST(samples_ms AS VARCHAR), len(samples_ms), isinf(samples_ms[2]), "
      "samples_ms[3] < 0, isnan(samples_ms[4]), samples_ms[5] = 0.1::DOUBLE + 0.2::DOUBLE "
      "FROM performance_results WHERE run_id = 'run-odd-samples'";
  const std::vector<std::string> rows = Rows(*duck, samples);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_THAT(rows[0], HasSubstr("|5|true|true|true|true"));
  EXPECT_EQ(Rows(*reader, samples), rows);
}

TEST_F(PostgresStoreTest, AConditionalWriteWhoseConditionChangesNoRowLeavesTheServerAsItWas) {
  auto store = Open();
  store->WriteRun(PgRun("run-1", "2026-11-26T10:00:00Z"));
  Native(url_, "CREATE TABLE jobs (id integer PRIMARY KEY, worker text)");
  Native(url_, "INSERT INTO jobs VALUES (1, 'worker-a')");
  const std::vector<std::string> before = ServerCounts(url_);

  const CommitCondition stolen{"UPDATE jobs SET worker = $1 WHERE id = 1 AND worker = $2",
                               {"done", "worker-b"},
                               "job 1 is no longer this worker's; its result is not stored"};
  const core::Error refused =
      CatchError([&] { store->WriteRunIf(PgRun("run-2", "2026-11-26T11:00:00Z"), stolen); });
  EXPECT_EQ(refused.kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(std::string(refused.what()), stolen.refused);
  EXPECT_EQ(ServerCounts(url_), before);
  EXPECT_EQ(NativeValue(url_, "SELECT worker FROM jobs"), "worker-a");
  EXPECT_EQ(CatchError([&] { ReadStoredRun(*store, "run-2"); }).kind(), ErrorKind::kNotFound);
  EXPECT_EQ(Count(*store, "SELECT count(*) FROM performance_results"), 3);

  // A condition the server cannot run: kDatabase, nothing written either.
  const core::Error broken = CatchError([&] {
    store->WriteRunIf(PgRun("run-2", "2026-11-26T11:00:00Z"),
                      {"UPDATE no_such_table SET x = 1", {}, "unused"});
  });
  EXPECT_EQ(broken.kind(), ErrorKind::kDatabase);
  EXPECT_THAT(broken.what(), HasSubstr("no_such_table"));
  EXPECT_EQ(ServerCounts(url_), before);

  // The worker's own job: stored, and the job changed in the same transaction.
  store->WriteRunIf(PgRun("run-2", "2026-11-26T11:00:00Z"),
                    {stolen.sql, {"done", "worker-a"}, stolen.refused});
  EXPECT_EQ(NativeValue(url_, "SELECT worker FROM jobs"), "done");
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM runs"), "2");
  EXPECT_EQ(ExportOf(*Open(/*read_only=*/true), "run-2"), ExportOf(*store, "run-2"));
}

TEST_F(PostgresStoreTest, AStatementThatIsNotAQueryChangesTheServer) {
  auto store = Open();
  store->WriteRun(PgRun("run-1", "2026-11-26T10:00:00Z"));
  store->WriteRun(PgRun("run-2", "2026-11-26T11:00:00Z"));
  auto other = Open();
  EXPECT_EQ(Count(*other, "SELECT count(*) FROM performance_results"), 6);

  // What `db purge` does: the results of a run, then the run.
  store->Query("DELETE FROM performance_results WHERE run_id = 'run-1'");
  store->Query("DELETE FROM compatibility_results WHERE run_id = $1",
               std::vector<QueryParam>{std::string("run-1")});
  store->Query("DELETE FROM runs WHERE run_id = 'run-1'");
  EXPECT_FALSE(
      store->QueryLimited("UPDATE runs SET git_commit = 'def456' WHERE run_id = 'run-2'", {})
          .truncated);

  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM performance_results WHERE run_id = 'run-1'"),
            "0");
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM performance_results"), "3");
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM compatibility_results"), "2");
  EXPECT_EQ(NativeValue(url_, "SELECT string_agg(run_id || ':' || git_commit, ',') FROM runs"),
            "run-2:def456");
  EXPECT_EQ(Rows(*other, "SELECT run_id, git_commit FROM runs"),
            (std::vector<std::string>{"run-2|def456"}));
  EXPECT_EQ(Count(*other, "SELECT count(*) FROM performance_results"), 3);
  // A query changes nothing, so it does not count as a write.
  const std::string generation =
      NativeValue(url_, "SELECT generation FROM ipfs_accel_store_generation");
  store->Query("SELECT count(*) FROM runs");
  EXPECT_EQ(NativeValue(url_, "SELECT generation FROM ipfs_accel_store_generation"), generation);
}

// Each statement through Query commits on the server, so a ROLLBACK sent later could not take
// back what it did: a transaction left open is refused, one whole in a text runs. A text that
// fails part way (its first statement ran on the copy) changes neither the server nor what the
// store shows, and says the first error.
TEST_F(PostgresStoreTest, StatementTextsThatFailOrLeaveATransactionOpenChangeNothingAnywhere) {
  auto store = Open();
  store->WriteRun(PgRun("run-1", "2026-11-26T10:00:00Z"));
  store->WriteRun(PgRun("run-2", "2026-11-26T11:00:00Z"));
  const std::vector<std::string> before = ServerCounts(url_);
  const auto expect_unchanged = [&](const std::string& sql) {
    EXPECT_EQ(ServerCounts(url_), before) << sql;
    EXPECT_EQ(Count(*store, "SELECT count(*) FROM compatibility_results"), 4) << sql;
    EXPECT_EQ(Count(*store, "SELECT count(*) FROM runs"), 2) << sql;
  };
  for (const char* sql : {"BEGIN TRANSACTION", "BEGIN; DELETE FROM compatibility_results",
                          "DELETE FROM runs WHERE run_id = 'run-1'; BEGIN TRANSACTION"}) {
    const core::Error e = CatchError([&] { store->Query(sql); });
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << sql;
    EXPECT_THAT(e.what(), HasSubstr("COMMIT in one text")) << sql;
    expect_unchanged(sql);
  }
  for (const char* sql : {"DELETE FROM compatibility_results; INSERT INTO runs (run_id) VALUES "
                          "(NULL)",
                          "BEGIN; DELETE FROM compatibility_results; INSERT INTO runs (run_id) "
                          "VALUES (NULL); COMMIT"}) {
    const core::Error e = CatchError([&] { store->Query(sql); });
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << sql;
    EXPECT_THAT(e.what(), HasSubstr("NOT NULL")) << sql;
    expect_unchanged(sql);
  }
  store->Query("BEGIN; DELETE FROM compatibility_results; ROLLBACK");
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM compatibility_results"), "4");
  store->Query("BEGIN; DELETE FROM compatibility_results WHERE run_id = 'run-1'; COMMIT");
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM compatibility_results"), "2");
  EXPECT_EQ(Count(*store, "SELECT count(*) FROM compatibility_results"), 2);
}

// Templates (keys of two to four columns, one of them named `key`) and predictions (a table
// without a key, replaced whole) from two stores, against the same writes to a DuckDB database.
TEST_F(PostgresStoreTest, TemplatesAndPredictionsFromTwoStoresReadBackAsInDuckDb) {
  auto duck = ResultStore::Open(":memory:");
  auto a = Open();
  auto b = Open();
  PredictionModelRecord predictor;
  predictor.id = "predictor-1";
  predictor.created_at = "2026-11-26T09:00:00Z";
  predictor.target = "latency_p50_ms";
  predictor.kind = "roofline";
  predictor.library = "none";
  predictor.git_commit = "abc";
  predictor.training_rows = 12;
  predictor.model_json = R"({"b": [0.5, 1e-7], "a": null})";
  for (ResultStore* store : std::vector<ResultStore*>{duck.get(), a.get()}) {
    store->WriteTemplates({PgTemplate(R"({"model_type": "mistral"})")}, "abc123");
    store->WritePredictionModel(predictor);
    store->WritePredictions({PgPrediction("bert-tiny", 1, 1.5), PgPrediction("bert-tiny", 2, 2.5)});
  }
  for (ResultStore* store : std::vector<ResultStore*>{duck.get(), b.get()}) {
    store->WritePredictions({PgPrediction("gpt2", 1, 0.1 + 0.2)});
    store->Query("UPDATE template_variables SET canonical_name = 'd_model' WHERE key = 'n_embd'");
  }
  const std::vector<std::string> before = ServerCounts(url_);
  const core::Error changed =
      CatchError([&] { a->WriteTemplates({PgTemplate(R"({"model_type": "other"})")}, "def456"); });
  EXPECT_EQ(changed.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(changed.what(), HasSubstr("mistral"));
  EXPECT_EQ(ServerCounts(url_), before);

  auto reader = Open(/*read_only=*/true);
  for (const char* sql :
       {"SELECT * EXCLUDE (loaded_at) FROM templates ORDER BY ALL",
        "SELECT * EXCLUDE (recorded_at) FROM template_versions ORDER BY ALL",
        "SELECT * FROM template_variables ORDER BY ALL",
        "SELECT * FROM template_helpers ORDER BY ALL",
        "SELECT * FROM template_dependencies ORDER BY ALL",
        "SELECT * FROM prediction_models ORDER BY ALL", "SELECT * FROM predictions ORDER BY ALL"}) {
    const std::vector<std::string> rows = Rows(*duck, sql);
    EXPECT_FALSE(rows.empty()) << sql;
    EXPECT_EQ(Rows(*reader, sql), rows) << sql;
    EXPECT_EQ(Rows(*a, sql), rows) << sql;
  }
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM predictions"), "3");
  EXPECT_EQ(NativeValue(url_,
                        "SELECT string_agg(key || '=' || canonical_name, ',' ORDER BY key) "
                        "FROM template_variables"),
            "n_embd=d_model,sliding_window=sliding_window");
}

// Two machines storing runs as they go (BeginRun, AppendToRun, FinishRun), interleaved: each
// sees the other's rows, loading its copy again only after the other wrote, and the server ends
// with the same rows, ids included, as the same calls in the same order on one DuckDB database
// (models and hardware stored once, every result under its own id).
TEST_F(PostgresStoreTest, RunsStoredAsTheyGoByTwoStoresInterleavedEndAsInDuckDb) {
  const RunResults first = PgRun("stream-a", "2026-11-26T10:00:00Z", "host-a");
  const RunResults second = PgRun("stream-b", "2026-11-26T10:00:01Z", "host-b");
  const auto steps = [&](ResultStore& one, ResultStore& two) {
    one.BeginRun(first.run);
    two.BeginRun(second.run);
    two.AppendToRun(second);  // its run fields are not used
    one.AppendToRun(first);
  };
  auto duck = ResultStore::Open(":memory:");
  steps(*duck, *duck);
  duck->FinishRun("stream-b", "2026-11-26T10:04:00Z", "interrupted");
  duck->FinishRun("stream-a", "2026-11-26T10:05:00Z", "complete");

  auto a = Open();
  a->DisableExternalAccess();  // as `serve` has it: loading the copy again must still work
  auto b = Open();
  steps(*a, *b);
  const std::string state_of_b = "SELECT state FROM runs WHERE run_id = 'stream-b'";
  const int64_t reloads = a->Reloads();
  EXPECT_EQ(Rows(*a, state_of_b), std::vector<std::string>{"running"});
  EXPECT_EQ(a->Reloads(), reloads) << "its own write was the last: no load";
  b->FinishRun("stream-b", "2026-11-26T10:04:00Z", "interrupted");
  EXPECT_EQ(Rows(*a, state_of_b), std::vector<std::string>{"interrupted"});
  EXPECT_EQ(a->Reloads(), reloads + 1) << "the other store's write is loaded once";
  a->FinishRun("stream-a", "2026-11-26T10:05:00Z", "complete");
  EXPECT_EQ(Rows(*a, state_of_b), std::vector<std::string>{"interrupted"});
  EXPECT_EQ(a->Reloads(), reloads + 1) << "its own write needs no load";

  auto reader = Open(/*read_only=*/true);
  for (const char* id : {"stream-a", "stream-b"}) {
    EXPECT_EQ(ExportOf(*reader, id), ExportOf(*duck, id)) << id;
    EXPECT_EQ(ExportOf(*b, id), ExportOf(*duck, id)) << id;
  }
  for (const char* sql :
       {"SELECT * EXCLUDE (created_at) FROM performance_results ORDER BY result_id",
        "SELECT * EXCLUDE (created_at) FROM compatibility_results ORDER BY id",
        "SELECT * FROM runs ORDER BY run_id", "SELECT * FROM models ORDER BY model_id",
        "SELECT * FROM hardware_platforms ORDER BY hardware_id"})
    EXPECT_EQ(Rows(*reader, sql), Rows(*duck, sql)) << sql;
  EXPECT_EQ(NativeValue(url_,
                        "SELECT count(*) || ' ' || count(DISTINCT result_id) || ' ' || "
                        "count(DISTINCT model_id) || ' ' || count(DISTINCT hardware_id) "
                        "FROM performance_results"),
            "6 6 2 4");
}

// The server cutting the store's connection (a restart, a failover): the call that meets it is
// kUnavailable and writes nothing; the next one connects again.
TEST_F(PostgresStoreTest, AStoreWhoseConnectionWasCutConnectsAgainOnTheNextCall) {
  auto store = Open();
  store->WriteRun(PgRun("run-1", "2026-11-26T10:00:00Z"));
  const auto cut = [&] {
    Native(url_,
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
           "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  };
  cut();
  const core::Error lost =
      CatchError([&] { store->WriteRun(PgRun("run-2", "2026-11-26T11:00:00Z")); });
  EXPECT_EQ(lost.kind(), ErrorKind::kUnavailable) << lost.what();
  EXPECT_THAT(lost.what(), HasSubstr("nothing was written"));
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM runs"), "1");
  EXPECT_EQ(Count(*store, "SELECT count(*) FROM runs"), 1) << "the refused run is not shown";
  store->WriteRun(PgRun("run-2", "2026-11-26T11:00:00Z"));
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM runs"), "2");
  cut();
  EXPECT_EQ(CatchError([&] { store->SchemaVersion(); }).kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(Count(*store, "SELECT count(*) FROM runs"), 2);
}

TEST_F(PostgresStoreTest, ANewerSchemaOnTheServerIsRefusedAndLeftAsItWas) {
  Open()->WriteRun(PgRun("run-1", "2026-11-26T10:00:00Z"));
  Native(url_,
         "INSERT INTO schema_version (version, applied_at, description) "
         "VALUES (999, now(), 'from the future')");
  const std::vector<std::string> before = ServerCounts(url_);
  for (bool read_only : {false, true}) {
    const core::Error e = CatchError([&] { Open(read_only); });
    EXPECT_EQ(e.kind(), ErrorKind::kDatabase);
    EXPECT_THAT(e.what(), HasSubstr("schema version 999"));
    EXPECT_THAT(e.what(), HasSubstr(fmt::format("this tool's {}", CurrentSchemaVersion())));
  }
  EXPECT_EQ(ServerCounts(url_), before);
  EXPECT_EQ(NativeValue(url_, "SELECT max(version) FROM schema_version"), "999");
}

TEST_F(PostgresStoreTest, AServerThatCannotBeReachedIsUnavailableWithThePasswordHidden) {
  const std::string url = "postgresql://u:secret@/x?host=/nonexistent_ipfs_accel_socket_dir";
  const core::Error e = CatchError([&] { ResultStore::Open(url); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
  EXPECT_THAT(e.what(), Not(HasSubstr("secret")));
  EXPECT_THAT(e.what(), HasSubstr("postgresql://u:***@/x"));
  const core::Error session = CatchError([&] { PostgresSession::Connect(url); });
  EXPECT_EQ(session.kind(), ErrorKind::kUnavailable);
  EXPECT_THAT(session.what(), Not(HasSubstr("secret")));
}

TEST_F(PostgresStoreTest, AReadOnlyOpenOfADatabaseWithoutTheSchemaIsNotFoundAndCreatesNothing) {
  const core::Error e = CatchError([&] { Open(/*read_only=*/true); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
  // A read-only store refuses writes.
  Open();
  auto reader = Open(/*read_only=*/true);
  EXPECT_EQ(CatchError([&] { reader->WriteRun(PgRun("r", "2026-11-26T10:00:00Z")); }).kind(),
            ErrorKind::kDatabase);
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM runs"), "0");
}

TEST(PostgresRedactedUrlTest, PasswordsAreHiddenInEveryFormAndOtherUrlsLeftAsTheyAre) {
  EXPECT_EQ(RedactedUrl("postgresql://u:secret@db.example:5432/results"),
            "postgresql://u:***@db.example:5432/results");
  EXPECT_EQ(RedactedUrl("postgres://u:se:cr@et@db/results"), "postgres://u:***@db/results");
  EXPECT_EQ(RedactedUrl("postgresql:///results?host=/tmp/pg&user=u&password=secret"),
            "postgresql:///results?host=/tmp/pg&user=u&password=***");
  EXPECT_EQ(RedactedUrl("postgresql:///results?password=secret&user=u"),
            "postgresql:///results?password=***&user=u");
  EXPECT_EQ(RedactedUrl("postgresql://u:one@db/results?password=two"),
            "postgresql://u:***@db/results?password=***");
  for (const char* url : {"postgresql:///results?sslpassword=key&password=secret",
                          "postgresql:///r?password=first&password=secret"})
    EXPECT_THAT(RedactedUrl(url), Not(HasSubstr("secret"))) << url;
  for (const char* plain :
       {"postgresql:///postgres?host=/tmp/pg&user=postgres", "postgresql://u@db:5432/results",
        "postgresql://db:5432/results", "postgresql://u@[::1]:5432/results", "bench.duckdb"})
    EXPECT_EQ(RedactedUrl(plain), plain);
}

TEST_F(PostgresStoreTest, AnOlderStoreIsMigratedOnAReadWriteOpenAndKeepsItsRuns) {
  ASSERT_EQ(CurrentSchemaVersion(), 13) << "simulate the step before the newest one below";
  const RunResults run = PgRun("run-old", "2026-11-26T10:00:00Z");
  Open()->WriteRun(run);
  const std::string generation =
      NativeValue(url_, "SELECT generation FROM ipfs_accel_store_generation");
  // Schema v12 on the server: v13 added the fleet's tables.
  Native(url_, "DELETE FROM schema_version WHERE version = 13");
  Native(url_, "DROP TABLE fleet_jobs");
  Native(url_, "DROP TABLE fleet_workers");

  const core::Error e = CatchError([&] { Open(/*read_only=*/true); });
  EXPECT_EQ(e.kind(), ErrorKind::kDatabase);
  EXPECT_THAT(e.what(), HasSubstr("schema version 12, older"));

  auto store = Open();
  EXPECT_EQ(store->SchemaVersion(), 13);
  EXPECT_EQ(NativeValue(url_, "SELECT max(version) FROM schema_version"), "13");
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM fleet_jobs"), "0");
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM performance_results WHERE loss_first IS NULL"),
            "3");
  EXPECT_NE(NativeValue(url_, "SELECT generation FROM ipfs_accel_store_generation"), generation);
  EXPECT_EQ(RunFields(ReadStoredRun(*Open(/*read_only=*/true), "run-old")), RunFields(run));
  // A training result (v12's columns) stores after the migration.
  RunResults training = PgRun("run-new", "2026-11-27T10:00:00Z");
  PerformanceRecord& p = training.entries[0].performance[0];
  p.scenario = "training";
  p.training_optimizer = "adamw";
  p.training_loss = "cross-entropy";
  p.grad_accum_steps = 2;
  p.loss_first = 2.5;
  p.loss_last = 1.25;
  p.loss_steps = 10;
  store->WriteRun(training);
  EXPECT_EQ(NativeValue(url_,
                        "SELECT training_optimizer || ',' || loss_last || ',' || loss_steps "
                        "FROM performance_results WHERE scenario = 'training'"),
            "adamw,1.25,10");
}

// The CLI end to end: a benchmark stored on the server, and the report read from it.
TEST_F(PostgresStoreTest, TheCliBenchmarksIntoTheServerAndReportsFromIt) {
  testing::Child bench = testing::Spawn({"benchmark", "--model", "bert-tiny", "--iterations", "3",
                                         "--warmup", "1", "--min-time", "0", "--db", url_});
  ASSERT_NE(bench.out, nullptr);
  std::string said;
  for (char buffer[4096]; std::fgets(buffer, sizeof buffer, bench.out) != nullptr;) said += buffer;
  std::fclose(bench.out);
  ASSERT_EQ(testing::ExitStatus(bench.pid), 0) << said;
  EXPECT_EQ(NativeValue(url_, "SELECT count(*) FROM runs"), "1");
  const std::string run_id = NativeValue(url_, "SELECT run_id FROM runs");

  testing::Child report = testing::Spawn({"report", "--db", url_, "--format", "json"});
  ASSERT_NE(report.out, nullptr);
  std::string text;
  for (char buffer[4096]; std::fgets(buffer, sizeof buffer, report.out) != nullptr;) text += buffer;
  std::fclose(report.out);
  ASSERT_EQ(testing::ExitStatus(report.pid), 0);
  const nlohmann::json rows = nlohmann::json::parse(text);
  ASSERT_EQ(rows.size(), 1u) << text;
  EXPECT_EQ(rows[0]["run_id"], run_id);
  EXPECT_EQ(rows[0]["graph_cid"], NativeValue(url_, "SELECT graph_cid FROM performance_results"));
  EXPECT_NEAR(rows[0]["p50_ms"].get<double>(),
              std::stod(NativeValue(url_, "SELECT latency_p50_ms FROM performance_results")),
              0.0005);
}

}  // namespace postgres_store_test
}  // namespace ipfs_accel::store
