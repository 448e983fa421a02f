// ResultStore on DuckDB: schema and migrations, exact round trips, deduplication,
// all-or-nothing writes, and the open errors a user meets (not DuckDB, locked, newer, missing).

#include "ipfs_accel/store/result_store.h"
#include "store/migrations.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/maintenance.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::store {
namespace result_store_test {

namespace fs = std::filesystem;
using core::ErrorKind;
using ::testing::HasSubstr;
using ::testing::Not;

class ResultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "result_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = (dir_ / "bench.duckdb").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string db_;
};

// Runs `fn`, expects a core::Error of `kind` whose message contains `part`; returns the message.
std::string ExpectError(const std::function<void()>& fn, ErrorKind kind, const std::string& part) {
  try {
    fn();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_THAT(e.what(), HasSubstr(part));
    return e.what();
  }
  ADD_FAILURE() << "expected a core::Error containing '" << part << "'";
  return "";
}

std::optional<std::string> Cell(ResultStore& store, const std::string& sql) {
  QueryResult result = store.Query(sql);
  EXPECT_EQ(result.rows.size(), 1u) << sql;
  EXPECT_EQ(result.column_names.size(), 1u) << sql;
  if (result.rows.size() != 1 || result.rows[0].empty()) return std::nullopt;
  return result.rows[0][0];
}

int64_t Count(ResultStore& store, const std::string& table) {
  return std::stoll(Cell(store, "SELECT count(*) FROM " + table).value_or("-1"));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "[0.1, 2.5]" -> {0.1, 2.5}
std::vector<double> ParseDoubleList(const std::string& text) {
  std::vector<double> out;
  std::string body = text.substr(1, text.size() - 2);
  std::stringstream items(body);
  for (std::string item; std::getline(items, item, ',');) out.push_back(std::stod(item));
  return out;
}

PerformanceRecord SamplePerformance() {
  PerformanceRecord p;
  p.execution_provider = "CPUExecutionProvider";
  p.provider_options_json = R"({"arena": true})";
  p.session_options_json = R"({"intra_op_threads": 4, "graph_optimization_level": "all"})";
  p.runtime_version = "1.29.0";
  p.precision = "fp32";
  p.batch_size = 4;
  p.seq_len = 128;
  p.input_shapes_json = R"({"input_ids": [4, 128], "attention_mask": [4, 128]})";
  p.threads = 4;
  p.warmup_iterations = 5;
  p.iterations = 5;
  p.load_ms = 123.456789;
  p.first_inference_ms = 9.87654321;
  p.latency_mean_ms = 1.2345678901234567;
  p.latency_stdev_ms = 0.1;
  p.latency_min_ms = 1e-05;
  p.latency_max_ms = 2.25;
  p.latency_p50_ms = 1.1;
  p.latency_p90_ms = 1.9;
  p.latency_p95_ms = 2.0000000000000004;
  p.latency_p99_ms = 2.2;
  p.throughput_items_per_s = 3240.0000000000005;
  p.peak_rss_bytes = 123456789012;
  p.samples_ms = {1e-05, 0.1, 1.5, 2.25, 1.2345678901234567};
  return p;
}

RunResults SampleRun(const std::string& device = "AMD EPYC 7B13") {
  RunResults results;
  results.run.run_id = NewRunId();
  results.run.started_at = "2026-11-26T15:04:05Z";
  results.run.finished_at = "2026-11-26T15:09:59Z";
  results.run.tool_version = "0.1.0";
  results.run.git_commit = "0123456789ab";
  results.run.command_line = "ipfs-accelerate benchmark --model bert-tiny";
  results.run.hostname = "bench-host";
  results.run.os = "Linux 6.8";
  results.run.seed = std::numeric_limits<uint64_t>::max();
  results.run.metadata_json = R"({"note": "quoted \"text\"", "list": [1, 2.5]})";

  RunResults::Entry entry;
  entry.model = {"bert-tiny", "bert", "text", "catalog", "", 4385920, "seed:42"};
  entry.hardware = {"cpu", device, "bench-host", R"({"cores": 8, "isa": ["avx2", "fma"]})"};
  entry.performance.push_back(SamplePerformance());
  entry.compatibility.push_back({"CPUExecutionProvider", "ok", "", "", 1.5e-06});
  entry.compatibility.push_back(
      {"CUDAExecutionProvider", "unavailable", "kUnavailable", "no CUDA device", std::nullopt});
  results.entries.push_back(entry);
  return results;
}

const std::vector<std::string> kTables = {"runs", "hardware_platforms", "models",
                                          "performance_results", "compatibility_results"};

std::vector<int64_t> AllCounts(ResultStore& store) {
  std::vector<int64_t> counts;
  for (const std::string& table : kTables) counts.push_back(Count(store, table));
  return counts;
}

// Leaves an empty DuckDB file: what a foreign or pre-schema database looks like.
void DropSchema(ResultStore& store) {
  store.Query(
      "DROP VIEW IF EXISTS latest_performance_by_cid; DROP TABLE IF EXISTS predictions; DROP TABLE "
      "IF EXISTS prediction_models; "
      "DROP TABLE IF EXISTS templates; DROP TABLE IF EXISTS template_versions; "
      "DROP TABLE IF EXISTS template_variables; DROP TABLE IF EXISTS template_helpers; "
      "DROP TABLE IF EXISTS template_dependencies; DROP TABLE IF EXISTS template_validations; "
      "DROP SEQUENCE IF EXISTS template_validation_id_seq; "
      "DROP TABLE IF EXISTS fleet_jobs; DROP TABLE IF EXISTS fleet_workers; "
      "DROP VIEW latest_performance; DROP VIEW model_hardware_compatibility; "
      "DROP TABLE compatibility_results; "
      "DROP TABLE performance_results; DROP TABLE models; DROP TABLE hardware_platforms; "
      "DROP TABLE runs; DROP TABLE schema_version; DROP SEQUENCE hardware_id_seq; "
      "DROP SEQUENCE model_id_seq; DROP SEQUENCE performance_result_id_seq; "
      "DROP SEQUENCE compatibility_result_id_seq;");
}

TEST_F(ResultStoreTest, OpenCreatesTheCurrentSchemaAndRecordsEveryStep) {
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(CurrentSchemaVersion(), 13);
  EXPECT_EQ(store->SchemaVersion(), 13);
  QueryResult versions = store->Query(
      "SELECT version, description, applied_at IS NOT NULL FROM schema_version ORDER BY version");
  ASSERT_EQ(versions.rows.size(), 13u);
  for (int v = 1; v <= 13; ++v) EXPECT_EQ(versions.rows[v - 1][0], std::to_string(v));
  EXPECT_FALSE(versions.rows[0][1].value_or("").empty());
  EXPECT_EQ(versions.rows[0][2], "true");
  for (const std::string& table : kTables) EXPECT_EQ(Count(*store, table), 0) << table;
  EXPECT_EQ(Count(*store, "latest_performance"), 0);
  EXPECT_TRUE(fs::exists(db_));
}

// The same bytes (one CID) measured under two names, as two machines of a fleet would name a
// folder: latest_performance keeps a row per model, latest_performance_by_cid one per CID, the
// newer; a model without a CID stays its own.
TEST_F(ResultStoreTest, LatestPerformanceByCidTakesTheSameBytesUnderTwoNamesAsOneModel) {
  auto store = ResultStore::Open(db_);
  RunResults older = SampleRun();
  older.entries[0].model = {"bert-a", "bert", "text", "folder", "/a/bert", 4385920, "sha256:aa"};
  older.entries[0].model.content_cid = "bafybeigdyrzt";
  store->WriteRun(older);
  RunResults newer = SampleRun();
  newer.run.started_at = "2026-11-27T10:00:00Z";
  newer.run.finished_at = "2026-11-27T10:05:00Z";
  newer.entries[0].model = {"bert-b", "bert", "text", "folder", "/b/bert", 4385920, "sha256:bb"};
  newer.entries[0].model.content_cid = "bafybeigdyrzt";
  newer.entries[0].performance[0].latency_mean_ms = 1.0;
  store->WriteRun(newer);
  store->WriteRun(SampleRun());  // bert-tiny, seeded: no CID

  EXPECT_EQ(Count(*store, "latest_performance"), 3);
  EXPECT_EQ(Count(*store, "latest_performance_by_cid"), 2);
  EXPECT_EQ(Cell(*store,
                 "SELECT model_name || ' ' || latency_mean_ms FROM latest_performance_by_cid "
                 "WHERE model_cid = 'bafybeigdyrzt'"),
            "bert-b 1.0");
  EXPECT_EQ(Cell(*store, "SELECT count(*) FROM latest_performance_by_cid WHERE model_cid IS NULL"),
            "1");
}

TEST_F(ResultStoreTest, ReopenDoesNotMigrateAgain) {
  std::optional<std::string> applied_at;
  {
    auto store = ResultStore::Open(db_);
    applied_at = Cell(*store, "SELECT max(applied_at) FROM schema_version");
  }
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), 13);
  EXPECT_EQ(Count(*store, "schema_version"), 13);
  EXPECT_EQ(Cell(*store, "SELECT max(applied_at) FROM schema_version"), applied_at);
}

TEST_F(ResultStoreTest, WriteRunThenQueryReadsBackExactValues) {
  RunResults run = SampleRun();
  const PerformanceRecord& p = run.entries[0].performance[0];
  {
    auto store = ResultStore::Open(db_);
    store->WriteRun(run);
  }
  auto store = ResultStore::Open(db_, {.read_only = true});

  QueryResult runs = store->Query(
      "SELECT run_id, started_at, finished_at, tool_version, git_commit, command_line, "
      "hostname, os, seed, metadata FROM runs");
  ASSERT_EQ(runs.rows.size(), 1u);
  EXPECT_EQ(runs.column_types,
            (std::vector<std::string>{"VARCHAR", "TIMESTAMP", "TIMESTAMP", "VARCHAR", "VARCHAR",
                                      "VARCHAR", "VARCHAR", "VARCHAR", "UBIGINT", "JSON"}));
  const auto& r = runs.rows[0];
  EXPECT_EQ(r[0], run.run.run_id);
  EXPECT_EQ(r[1], "2026-11-26 15:04:05");
  EXPECT_EQ(r[2], "2026-11-26 15:09:59");
  EXPECT_EQ(r[3], run.run.tool_version);
  EXPECT_EQ(r[4], run.run.git_commit);
  EXPECT_EQ(r[5], run.run.command_line);
  EXPECT_EQ(r[6], run.run.hostname);
  EXPECT_EQ(r[7], run.run.os);
  EXPECT_EQ(r[8], "18446744073709551615");
  EXPECT_EQ(r[9], run.run.metadata_json);

  QueryResult perf = store->Query(
      "SELECT execution_provider, provider_options_json, session_options_json, "
      "runtime_version, precision, batch_size, seq_len, input_shapes_json, threads, "
      "warmup_iterations, iterations, load_ms, first_inference_ms, latency_mean_ms, "
      "latency_stdev_ms, latency_min_ms, latency_max_ms, latency_p50_ms, latency_p90_ms, "
      "latency_p95_ms, latency_p99_ms, throughput_items_per_s, peak_rss_bytes, samples_ms, "
      "run_id FROM performance_results");
  ASSERT_EQ(perf.rows.size(), 1u);
  EXPECT_EQ(perf.column_types[1], "JSON");
  EXPECT_EQ(perf.column_types[11], "DOUBLE");
  EXPECT_EQ(perf.column_types[23], "DOUBLE[]");
  const auto& row = perf.rows[0];
  EXPECT_EQ(row[0], p.execution_provider);
  EXPECT_EQ(row[1], p.provider_options_json);
  EXPECT_EQ(row[2], p.session_options_json);
  EXPECT_EQ(row[3], p.runtime_version);
  EXPECT_EQ(row[4], p.precision);
  EXPECT_EQ(row[5], "4");
  EXPECT_EQ(row[6], "128");
  EXPECT_EQ(row[7], p.input_shapes_json);
  EXPECT_EQ(row[8], "4");
  EXPECT_EQ(row[9], "5");
  EXPECT_EQ(row[10], "5");
  const std::vector<std::optional<double>> doubles = {
      p.load_ms,        p.first_inference_ms, p.latency_mean_ms,       p.latency_stdev_ms,
      p.latency_min_ms, p.latency_max_ms,     p.latency_p50_ms,        p.latency_p90_ms,
      p.latency_p95_ms, p.latency_p99_ms,     p.throughput_items_per_s};
  for (size_t i = 0; i < doubles.size(); ++i) {
    EXPECT_EQ(std::stod(row[11 + i].value()), doubles[i].value()) << perf.column_names[11 + i];
  }
  EXPECT_EQ(row[22], "123456789012");
  EXPECT_EQ(row[23], "[1e-05, 0.1, 1.5, 2.25, 1.2345678901234567]");
  EXPECT_EQ(ParseDoubleList(row[23].value()), p.samples_ms);
  EXPECT_EQ(row[24], run.run.run_id);

  QueryResult compat = store->Query(
      "SELECT execution_provider, status, error_class, error_message, max_abs_error "
      "FROM compatibility_results ORDER BY id");
  ASSERT_EQ(compat.rows.size(), 2u);
  EXPECT_EQ(compat.rows[0][1], "ok");
  EXPECT_EQ(std::stod(compat.rows[0][4].value()), 1.5e-06);
  EXPECT_EQ(compat.rows[1][0], "CUDAExecutionProvider");
  EXPECT_EQ(compat.rows[1][1], "unavailable");
  EXPECT_EQ(compat.rows[1][2], "kUnavailable");
  EXPECT_EQ(compat.rows[1][3], "no CUDA device");
  EXPECT_EQ(compat.rows[1][4], std::nullopt);

  QueryResult model = store->Query(
      "SELECT name, architecture, modality, source, source_path, parameters, content_hash "
      "FROM models");
  ASSERT_EQ(model.rows.size(), 1u);
  EXPECT_EQ(model.rows[0], (std::vector<std::optional<std::string>>{
                               "bert-tiny", "bert", "text", "catalog", "", "4385920", "seed:42"}));
  EXPECT_EQ(Cell(*store, "SELECT details FROM hardware_platforms"),
            run.entries[0].hardware.details_json);

  QueryResult latest =
      store->Query("SELECT model_name, platform, device_name, batch_size FROM latest_performance");
  ASSERT_EQ(latest.rows.size(), 1u);
  EXPECT_EQ(latest.rows[0],
            (std::vector<std::optional<std::string>>{"bert-tiny", "cpu", "AMD EPYC 7B13", "4"}));
}

TEST_F(ResultStoreTest, RunsWithTheSameModelAndHardwareShareTheirIds) {
  auto store = ResultStore::Open(db_);
  store->WriteRun(SampleRun());
  RunResults second = SampleRun();
  second.run.started_at = "2026-11-27T10:00:00Z";
  second.run.finished_at = "2026-11-27T10:05:00Z";
  second.entries[0].performance[0].latency_mean_ms = 1.0;
  second.entries.push_back(SampleRun("NVIDIA H100 80GB HBM3").entries[0]);  // new hardware
  store->WriteRun(second);

  EXPECT_EQ(Count(*store, "runs"), 2);
  EXPECT_EQ(Count(*store, "models"), 1);
  EXPECT_EQ(Count(*store, "hardware_platforms"), 2);
  EXPECT_EQ(Count(*store, "performance_results"), 3);
  EXPECT_EQ(Cell(*store, "SELECT count(DISTINCT model_id) FROM performance_results"), "1");
  EXPECT_EQ(Cell(*store, "SELECT count(DISTINCT hardware_id) FROM compatibility_results"), "2");
  EXPECT_EQ(Cell(*store,
                 "SELECT count(DISTINCT hardware_id) FROM performance_results p "
                 "JOIN hardware_platforms h USING (hardware_id) WHERE h.device_name = 'AMD EPYC "
                 "7B13'"),
            "1");
  // The newest run's figure wins in the view; one row per configuration.
  EXPECT_EQ(Count(*store, "latest_performance"), 2);
  EXPECT_EQ(Cell(*store,
                 "SELECT latency_mean_ms FROM latest_performance WHERE device_name = 'AMD EPYC "
                 "7B13'"),
            "1.0");
}

TEST_F(ResultStoreTest, FailedWriteRunLeavesEveryTableUnchanged) {
  auto store = ResultStore::Open(db_);
  store->WriteRun(SampleRun());
  const std::vector<int64_t> before = AllCounts(*store);

  RunResults bad = SampleRun("NVIDIA H100 80GB HBM3");  // new hardware and rows before the fault
  bad.entries[0].model.content_hash = "sha256:new";     // and a new model
  bad.entries[0].performance.push_back(SamplePerformance());
  PerformanceRecord zero_batch = SamplePerformance();
  zero_batch.batch_size = 0;
  bad.entries[0].performance.push_back(zero_batch);
  std::string message =
      ExpectError([&] { store->WriteRun(bad); }, ErrorKind::kDatabase, "batch_size > 0");
  EXPECT_THAT(message, HasSubstr(bad.run.run_id));
  EXPECT_THAT(message, HasSubstr("performance result 3"));
  EXPECT_THAT(message, HasSubstr("nothing was written"));
  EXPECT_EQ(AllCounts(*store), before);

  // The store is usable afterwards: the failed transaction is gone.
  store->WriteRun(SampleRun());
  EXPECT_EQ(Count(*store, "runs"), before[0] + 1);
}

TEST_F(ResultStoreTest, InvalidJsonOrStatusIsRefusedWhole) {
  auto store = ResultStore::Open(db_);
  RunResults bad_json = SampleRun();
  bad_json.run.metadata_json = "{not json";
  ExpectError([&] { store->WriteRun(bad_json); }, ErrorKind::kDatabase, "run record");
  RunResults bad_status = SampleRun();
  bad_status.entries[0].compatibility[1].status = "maybe";
  ExpectError([&] { store->WriteRun(bad_status); }, ErrorKind::kDatabase, "status 'maybe'");
  EXPECT_EQ(AllCounts(*store), std::vector<int64_t>(kTables.size(), 0));
}

// The bulk append skips DuckDB's JSON check, so the writer makes it: a bad option text fails
// the whole run, and the row-by-row retry names the row.
TEST_F(ResultStoreTest, InvalidPerformanceJsonIsRefusedWhole) {
  auto store = ResultStore::Open(db_);
  RunResults bad = SampleRun();
  bad.entries[0].performance.push_back(SamplePerformance());
  bad.entries[0].performance.back().input_shapes_json = "{\"input_ids\": [1,";
  const std::string message =
      ExpectError([&] { store->WriteRun(bad); }, ErrorKind::kDatabase, "performance result 2");
  EXPECT_THAT(message, HasSubstr("nothing was written"));
  EXPECT_EQ(AllCounts(*store), std::vector<int64_t>(kTables.size(), 0));
}

// Appended rows get ids from the sequence in row order, and every column lands where its
// field's name says (the append fills columns by position).
TEST_F(ResultStoreTest, BulkAppendedRowsKeepTheirOrderAndColumns) {
  auto store = ResultStore::Open(db_);
  RunResults run = SampleRun();
  auto& rows = run.entries[0].performance;
  rows.clear();
  for (int i = 0; i < 5000; ++i) {  // more than two of DuckDB's 2048-row chunks
    PerformanceRecord p = SamplePerformance();
    p.batch_size = 1 + i;
    p.threads = i % 7;
    p.target_qps = i % 2 ? std::optional<double>(10.0 + i) : std::nullopt;
    rows.push_back(p);
  }
  store->WriteRun(run);
  const std::string n = std::to_string(rows.size());
  EXPECT_EQ(Cell(*store, "SELECT count(DISTINCT result_id) FROM performance_results"), n);
  EXPECT_EQ(Cell(*store,
                 "SELECT count(*) FROM (SELECT batch_size - lag(batch_size) OVER (ORDER BY "
                 "result_id) AS step FROM performance_results) WHERE step <> 1"),
            "0");
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {}', threads, CAST(target_qps AS BIGINT), created_at IS "
                 "NOT NULL) FROM performance_results WHERE batch_size = 4000"),
            fmt::format("{} {} true", 3999 % 7, 10 + 3999));
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {}', threads, target_qps IS NULL) FROM performance_results "
                 "WHERE batch_size = 4001"),
            fmt::format("{} true", 4000 % 7));
}

TEST_F(ResultStoreTest, WriteRunOnReadOnlyStoreIsRefused) {
  ResultStore::Open(db_);
  auto store = ResultStore::Open(db_, {.read_only = true});
  ExpectError([&] { store->WriteRun(SampleRun()); }, ErrorKind::kDatabase, "read-only");
}

TEST_F(ResultStoreTest, OpeningATextFileIsRefusedAndLeavesItAlone) {
  const fs::path text = dir_ / "notes.txt";
  std::ofstream(text) << "these are not the results you are looking for\n";
  const std::string before = ReadFile(text);
  for (bool read_only : {false, true}) {
    ExpectError([&] { ResultStore::Open(text.string(), {.read_only = read_only}); },
                ErrorKind::kDatabase, "not a DuckDB database");
  }
  EXPECT_EQ(ReadFile(text), before);
  EXPECT_FALSE(fs::exists(text.string() + ".wal"));
}

TEST_F(ResultStoreTest, ADamagedDatabaseIsCorruptAndSaysSoNotThatItsFolderIsMissing) {
  {
    auto store = ResultStore::Open(db_);
    for (int i = 0; i < 20; ++i) store->WriteRun(SampleRun("device " + std::to_string(i)));
  }
  const std::string bytes = ReadFile(db_);
  ASSERT_GT(bytes.size(), 300000u);
  const fs::path truncated = dir_ / "truncated.duckdb", scribbled = dir_ / "scribbled.duckdb";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, 20000);
  std::string damaged = bytes;
  for (size_t i = 4096; i < 12288; ++i) damaged[i] = static_cast<char>(i * 7919);
  std::ofstream(scribbled, std::ios::binary) << damaged;
  for (const fs::path& file : {truncated, scribbled}) {
    const std::string message =
        ExpectError([&] { ResultStore::Open(file.string(), {.read_only = true}); },
                    ErrorKind::kCorrupt, "is damaged");
    EXPECT_THAT(message, HasSubstr(file.string()));
    EXPECT_THAT(message, Not(HasSubstr("folder exists")));
  }
}

TEST_F(ResultStoreTest, NewerSchemaIsRefused) {
  {
    auto store = ResultStore::Open(db_);
    store->Query("INSERT INTO schema_version VALUES (999, TIMESTAMP '2030-01-01', 'future')");
  }
  for (bool read_only : {false, true}) {
    std::string message = ExpectError([&] { ResultStore::Open(db_, {.read_only = read_only}); },
                                      ErrorKind::kDatabase, "newer");
    EXPECT_THAT(message, HasSubstr(fmt::format("schema version 999, newer than this tool's {}",
                                               CurrentSchemaVersion())));
  }
}

TEST_F(ResultStoreTest, ReadOnlyOpenOfMissingFileCreatesNothing) {
  ExpectError([&] { ResultStore::Open(db_, {.read_only = true}); }, ErrorKind::kNotFound,
              "does not exist");
  EXPECT_FALSE(fs::exists(db_));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(ResultStoreTest, ReadOnlyOpenNeverMigrates) {
  {
    auto store = ResultStore::Open(db_);
    DropSchema(*store);
  }
  {
    auto store = ResultStore::Open(db_, {.read_only = true});
    EXPECT_EQ(store->SchemaVersion(), 0);
    EXPECT_EQ(Cell(*store, "SELECT count(*) FROM duckdb_tables()"), "0");
  }
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), CurrentSchemaVersion());
}

// A database written by a tool that knew only schema v1 keeps its rows when opened by this
// one (v3 rebuilds both result tables), and gains the later columns (NULL in old rows) and
// the view again.
TEST_F(ResultStoreTest, MigratesAVersion1DatabaseKeepingItsRows) {
  {
    auto store = ResultStore::Open(db_);
    DropSchema(*store);
    store->Query(MigrationSteps()[0].sql);
    store->Query(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT "
        "NULL, description VARCHAR NOT NULL); INSERT INTO schema_version VALUES (1, TIMESTAMP "
        "'2026-11-01', 'v1')");
    store->Query(
        "INSERT INTO runs VALUES ('r1', TIMESTAMP '2026-11-01', NULL, '0.1', 'abc', 'cmd', 'h', "
        "'os', 1, '{}');"
        "INSERT INTO models VALUES (nextval('model_id_seq'), 'm', 'bert', 'text', 'catalog', '', "
        "10, 'seed:1');"
        "INSERT INTO hardware_platforms VALUES (nextval('hardware_id_seq'), 'cpu', 'x', 'h', "
        "'{}');"
        "INSERT INTO performance_results VALUES (nextval('performance_result_id_seq'), 'r1', 1, "
        "1, 'CPUExecutionProvider', '{}', '{}', '1.29', 'fp32', 'plain', 2, 8, '{}', 0, 1, 3, "
        "1.0, 2.0, 3.0, 0.5, 2.5, 3.5, 3.0, 3.4, 3.45, 3.5, 666.0, 1000, [2.5, 3.0, 3.5], "
        "'single-stream', NULL, NULL, NULL, TIMESTAMP '2026-11-01');"
        "INSERT INTO compatibility_results VALUES (nextval('compatibility_result_id_seq'), 'r1', "
        "1, 1, 'CPUExecutionProvider', 'failed', 'runtime', 'boom', NULL, 'fp32', 'plain', NULL, "
        "TIMESTAMP '2026-11-01')");
  }
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), CurrentSchemaVersion());
  EXPECT_EQ(Count(*store, "runs"), 1);
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {} {}', result_id, batch_size, samples_ms, "
                 "tail_percentile IS NULL) FROM performance_results"),
            "1 2 [2.5, 3.0, 3.5] true");
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {}', id, error_message, scenario IS NULL) FROM "
                 "compatibility_results"),
            "1 boom true");
  EXPECT_EQ(Count(*store, "latest_performance"), 1);
  EXPECT_EQ(Cell(*store, "SELECT origin || ' ' || (branch IS NULL) FROM runs"), "measured true");
  // v7: a run without finished_at never finished (its process died): it is "running".
  EXPECT_EQ(Cell(*store, "SELECT state FROM runs WHERE run_id = 'r1'"), "running");
  EXPECT_EQ(Count(*store, "model_hardware_compatibility"), 1);
  // The ids go on from where v1 left them.
  store->WriteRun(SampleRun());
  EXPECT_EQ(Cell(*store, "SELECT max(result_id) FROM performance_results"), "2");
  EXPECT_EQ(Cell(*store,
                 "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'latest_performance' "
                 "AND column_name = 'device_memory_process_bytes'"),
            "1");
  // v6 dropped the foreign keys (and with them DuckDB's per-row lookups); a run's rows can go
  // with it, as `db purge` deletes them.
  EXPECT_EQ(Cell(*store,
                 "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY'"),
            "0");
  store->Query(
      "DELETE FROM performance_results WHERE run_id = 'r1'; DELETE FROM compatibility_results "
      "WHERE run_id = 'r1'; DELETE FROM runs WHERE run_id = 'r1'");
  EXPECT_EQ(Count(*store, "runs"), 1);
}

// Brings the empty database of `store` to schema `version` the way the tool of that version
// left it: its steps, and their rows in schema_version.
void CreateSchemaUpTo(ResultStore& store, int version) {
  DropSchema(store);
  store.Query(
      "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL, "
      "description VARCHAR NOT NULL)");
  for (int v = 1; v <= version; ++v) {
    store.Query(MigrationSteps()[v - 1].sql);
    store.Query(
        fmt::format("INSERT INTO schema_version VALUES ({}, TIMESTAMP '2026-11-01', 'v{}')", v, v));
  }
}

// A v7 performance row of run `run_id` whose every latency, load time, throughput and peak RSS
// is `value` (a legacy import stored 0 for what its file lacked).
std::string V7PerformanceRow(const std::string& run_id, double value) {
  return fmt::format(
      "INSERT INTO performance_results BY NAME SELECT '{0}' AS run_id, 1 AS model_id, 1 AS "
      "hardware_id, 'legacy:cpu' AS execution_provider, '{{}}' AS provider_options_json, '{{}}' "
      "AS session_options_json, '' AS runtime_version, 'fp32' AS precision, 'plain' AS "
      "graph_variant, 1 AS batch_size, 0 AS seq_len, '{{}}' AS input_shapes_json, 0 AS threads, "
      "0 AS warmup_iterations, 0 AS iterations, {1} AS load_ms, {1} AS first_inference_ms, 20.0 "
      "AS latency_mean_ms, {1} AS latency_stdev_ms, {1} AS latency_min_ms, {1} AS "
      "latency_max_ms, {1} AS latency_p50_ms, {1} AS latency_p90_ms, {1} AS latency_p95_ms, {1} "
      "AS latency_p99_ms, 50.0 AS throughput_items_per_s, CAST({1} AS BIGINT) AS peak_rss_bytes, "
      "[]::DOUBLE[] AS samples_ms, 'single-stream' AS scenario, TIMESTAMP '2026-11-01' AS "
      "created_at, 0 AS configuration_key",
      run_id, value);
}

// Schema v8: what an imported run stored as 0 because its file lacked it becomes NULL; the
// same zeros of a measured run, and every value that is not 0, stay. Models keep their rows,
// with no config hash.
TEST_F(ResultStoreTest, MigratingAVersion7DatabaseTurnsImportedZerosIntoNull) {
  {
    auto store = ResultStore::Open(db_);
    CreateSchemaUpTo(*store, 7);
    store->Query(
        "INSERT INTO runs BY NAME SELECT * REPLACE (run_id || origin AS run_id) FROM (SELECT "
        "'r-' AS run_id, TIMESTAMP '2026-11-01' AS started_at, TIMESTAMP '2026-11-01' AS "
        "finished_at, '' AS tool_version, '' AS git_commit, '' AS command_line, 'h' AS hostname, "
        "'os' AS os, 0 AS seed, '{}' AS metadata, origin FROM (VALUES ('imported'), "
        "('measured')) o(origin));"
        "INSERT INTO models VALUES (nextval('model_id_seq'), 'bert', 'bert', 'text', "
        "'legacy-json', '', 0, '', 'embedding');"
        "INSERT INTO hardware_platforms VALUES (nextval('hardware_id_seq'), 'cpu', 'x', 'h', "
        "'{\"physical_cores\": 4}');");
    store->Query(V7PerformanceRow("r-imported", 0));
    store->Query(V7PerformanceRow("r-measured", 0));
    store->Query(V7PerformanceRow("r-imported", 1.5));
  }
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), CurrentSchemaVersion());
  const std::string row =
      "SELECT CAST([latency_p50_ms, latency_p99_ms, latency_stdev_ms, load_ms, peak_rss_bytes, "
      "latency_mean_ms, throughput_items_per_s] AS VARCHAR) FROM performance_results WHERE ";
  EXPECT_EQ(Cell(*store, row + "run_id = 'r-imported' AND latency_min_ms IS NULL"),
            "[NULL, NULL, NULL, NULL, NULL, 20.0, 50.0]");
  EXPECT_EQ(Cell(*store, row + "run_id = 'r-measured'"), "[0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 50.0]");
  EXPECT_EQ(Cell(*store, row + "run_id = 'r-imported' AND latency_min_ms = 1.5"),
            "[1.5, 1.5, 1.5, 1.5, 2.0, 20.0, 50.0]");
  EXPECT_EQ(Cell(*store, "SELECT format('{} {}', name, config_hash IS NULL) FROM models"),
            "bert true");
  EXPECT_EQ(Count(*store, "latest_performance"), 2);
  // The measured run used ONNX Runtime's default threads, one per physical core of its host;
  // its configuration key says so. The imported runs' threads are unknown.
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {}', threads, session_options_json->>'threads_source', "
                 "configuration_key <> 0) FROM performance_results WHERE run_id = 'r-measured'"),
            "4 runtime default true");
  EXPECT_EQ(
      Cell(*store, "SELECT max(threads) FROM performance_results WHERE run_id = 'r-imported'"),
      "0");
}

// Schema v9: a version-8 database keeps every result (their template unknown: NULL), gains the
// template tables, and takes new results naming their template in the columns' new place.
TEST_F(ResultStoreTest, MigratingAVersion8DatabaseKeepsItsResultsAndAddsTheTemplateTables) {
  {
    auto store = ResultStore::Open(db_);
    CreateSchemaUpTo(*store, 8);
    store->Query(
        "INSERT INTO runs BY NAME SELECT 'r-old' AS run_id, TIMESTAMP '2026-11-01' AS "
        "started_at, TIMESTAMP '2026-11-01' AS finished_at, '' AS tool_version, '' AS "
        "git_commit, '' AS command_line, 'h' AS hostname, 'os' AS os, 0 AS seed, '{}' AS "
        "metadata;"
        "INSERT INTO models BY NAME SELECT nextval('model_id_seq') AS model_id, 'bert' AS name, "
        "'bert' AS architecture, 'text' AS modality, 'catalog' AS source, '' AS source_path, 7 "
        "AS parameters, 'seed:1' AS content_hash;"
        "INSERT INTO hardware_platforms VALUES (nextval('hardware_id_seq'), 'cpu', 'x', 'h', "
        "'{}');");
    store->Query(V7PerformanceRow("r-old", 1.5));
  }
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), CurrentSchemaVersion());
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {}', run_id, latency_mean_ms, template_name IS NULL AND "
                 "template_version IS NULL) FROM performance_results"),
            "r-old 20.0 true");
  EXPECT_EQ(Count(*store, "latest_performance"), 1);
  for (const char* table : {"templates", "template_versions", "template_variables",
                            "template_helpers", "template_dependencies", "template_validations"})
    EXPECT_EQ(Count(*store, table), 0) << table;

  RunResults run = SampleRun();
  run.entries[0].performance[0].template_name = "bert";
  run.entries[0].performance[0].template_version = 3;
  store->WriteRun(run);
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{}@{}', template_name, template_version) FROM "
                 "performance_results WHERE run_id = '" +
                     run.run.run_id + "'"),
            "bert@3");
}

// Schema v11: a version-10 database keeps its results and models (their CIDs unknown: NULL);
// new results store their graph's CID in the column's new place, and a stored model without a
// CID gains the one a later run brings, without becoming another model.
TEST_F(ResultStoreTest, MigratingAVersion10DatabaseKeepsItsRowsAndAddsTheCids) {
  {
    auto store = ResultStore::Open(db_);
    CreateSchemaUpTo(*store, 10);
    store->Query(
        "INSERT INTO runs BY NAME SELECT 'r-old' AS run_id, TIMESTAMP '2026-11-01' AS "
        "started_at, TIMESTAMP '2026-11-01' AS finished_at, '' AS tool_version, '' AS "
        "git_commit, '' AS command_line, 'h' AS hostname, 'os' AS os, 0 AS seed, '{}' AS "
        "metadata;"
        "INSERT INTO hardware_platforms VALUES (nextval('hardware_id_seq'), 'cpu', 'x', 'h', "
        "'{}');");
    RunResults sample = SampleRun();
    const ModelRecord& m = sample.entries[0].model;
    store->Query(fmt::format(
        "INSERT INTO models BY NAME SELECT nextval('model_id_seq') AS model_id, '{}' AS name, "
        "'{}' AS architecture, '{}' AS modality, '{}' AS source, '{}' AS source_path, {} AS "
        "parameters, '{}' AS content_hash",
        m.name, m.architecture, m.modality, m.source, m.source_path, m.parameters, m.content_hash));
    store->Query(V7PerformanceRow("r-old", 1.5));
  }
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), CurrentSchemaVersion());
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {}', run_id, latency_mean_ms, graph_cid IS NULL) FROM "
                 "performance_results"),
            "r-old 20.0 true");
  EXPECT_EQ(Cell(*store, "SELECT count(*) FROM models WHERE content_cid IS NULL"), "1");
  EXPECT_EQ(Count(*store, "latest_performance"), 1);

  RunResults run = SampleRun();
  run.entries[0].model.content_cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
  run.entries[0].performance[0].graph_cid =
      "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq";
  store->WriteRun(run);
  EXPECT_EQ(Cell(*store, "SELECT count(*) FROM models"), "1");
  EXPECT_EQ(Cell(*store, "SELECT content_cid FROM models"), run.entries[0].model.content_cid);
  EXPECT_EQ(Cell(*store, "SELECT graph_cid FROM performance_results WHERE run_id = '" +
                             run.run.run_id + "'"),
            run.entries[0].performance[0].graph_cid);
  // Read back as the records that were written (export, import and push use these).
  const RunResults back = ReadStoredRun(*store, run.run.run_id);
  EXPECT_EQ(back.entries.at(0).model.content_cid, run.entries[0].model.content_cid);
  EXPECT_EQ(back.entries.at(0).performance.at(0).graph_cid,
            run.entries[0].performance[0].graph_cid);
}

// Schema v12: a version-11 database keeps its results (scenario unchanged, training columns
// NULL, still one configuration); training results store their optimizer, loss, accumulation
// and losses, read back as written, and two that differ only by optimizer or accumulation are
// two configurations.
TEST_F(ResultStoreTest, MigratingAVersion11DatabaseKeepsItsRowsAndStoresTrainingResults) {
  {
    auto store = ResultStore::Open(db_);
    CreateSchemaUpTo(*store, 11);
    store->Query(
        "INSERT INTO runs BY NAME SELECT 'r-old' AS run_id, TIMESTAMP '2026-11-01' AS "
        "started_at, TIMESTAMP '2026-11-01' AS finished_at, '' AS tool_version, '' AS "
        "git_commit, '' AS command_line, 'h' AS hostname, 'os' AS os, 0 AS seed, '{}' AS "
        "metadata;"
        "INSERT INTO hardware_platforms VALUES (nextval('hardware_id_seq'), 'cpu', 'x', 'h', "
        "'{}');"
        "INSERT INTO models BY NAME SELECT nextval('model_id_seq') AS model_id, 'm' AS name, "
        "'bert' AS architecture, 'text' AS modality, 'catalog' AS source, '' AS source_path, 1 "
        "AS parameters, 'seed:1' AS content_hash");
    store->Query(V7PerformanceRow("r-old", 1.5));
  }
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), 13);
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {}', scenario, training_optimizer IS NULL AND loss_first IS "
                 "NULL) FROM performance_results"),
            "single-stream true");
  EXPECT_EQ(Count(*store, "latest_performance"), 1);

  RunResults run = SampleRun();
  PerformanceRecord& p = run.entries[0].performance[0];
  p.scenario = "training";
  p.training_optimizer = "adamw";
  p.training_loss = "cross-entropy";
  p.grad_accum_steps = 1;
  p.loss_first = 10.25;
  p.loss_last = 6.5;
  p.loss_steps = 11;
  PerformanceRecord other = p;
  other.grad_accum_steps = 4;
  run.entries[0].performance.push_back(other);
  other.training_optimizer = "sgd-momentum";
  run.entries[0].performance.push_back(other);
  store->WriteRun(run);
  EXPECT_EQ(Cell(*store, "SELECT count(*) FROM latest_performance WHERE scenario = 'training'"),
            "3");
  const RunResults back = ReadStoredRun(*store, run.run.run_id);
  const auto& got = back.entries.at(0).performance.at(0);
  EXPECT_EQ(got.scenario, "training");
  EXPECT_EQ(got.training_optimizer, "adamw");
  EXPECT_EQ(got.training_loss, "cross-entropy");
  EXPECT_EQ(got.grad_accum_steps, 1);
  EXPECT_EQ(got.loss_first, 10.25);
  EXPECT_EQ(got.loss_last, 6.5);
  EXPECT_EQ(got.loss_steps, 11);
}

// A model is its weights and its structure: the same name, source and weights with another
// config is another model; the same config finds the stored one, and an unset config hash (an
// .onnx file, or a row stored before v8) is its own key.
TEST_F(ResultStoreTest, AModelIsItsWeightsAndItsConfig) {
  auto store = ResultStore::Open(db_);
  for (const char* config : {"sha256:aa", "sha256:bb", "sha256:aa", "", ""}) {
    RunResults run = SampleRun();
    if (*config) run.entries[0].model.config_hash = config;
    store->WriteRun(run);
  }
  EXPECT_EQ(Cell(*store,
                 "SELECT string_agg(COALESCE(config_hash, 'NULL') || ' ' || (SELECT count(*) "
                 "FROM performance_results p WHERE p.model_id = m.model_id), ', ' ORDER BY "
                 "model_id) FROM models m"),
            "sha256:aa 2, sha256:bb 1, NULL 2");
}

// A known hardware row keeps the details it was first stored with, and gains the keys a later
// run knows that it lacks (the memory bandwidth probe's figure, measured once per machine).
TEST_F(ResultStoreTest, AKnownHardwareRowKeepsItsDetailsAndGainsTheKeysItLacks) {
  auto store = ResultStore::Open(db_);
  store->WriteRun(SampleRun());
  RunResults later = SampleRun();
  later.entries[0].hardware.details_json = R"({"cores": 16, "memory_bandwidth": {"triad": 9.5}})";
  store->WriteRun(later);
  store->WriteRun(SampleRun());  // a run without the figure takes nothing away
  EXPECT_EQ(Count(*store, "hardware_platforms"), 1);
  EXPECT_EQ(Cell(*store,
                 "SELECT details->>'cores' || ' ' || "
                 "(details->'memory_bandwidth'->>'triad') || ' ' || "
                 "(details->'isa'->>0) FROM hardware_platforms"),
            "8 9.5 avx2");
}

// A model stored before v8 has no config hash: the first config measured with its name, source
// and weights claims it (a catalog model's earlier results stay its own); another config is
// another model.
TEST_F(ResultStoreTest, AModelStoredWithoutConfigHashIsClaimedByTheFirstConfig) {
  auto store = ResultStore::Open(db_);
  for (const char* config : {"", "sha256:cc", "sha256:dd", "sha256:cc"}) {
    RunResults run = SampleRun();
    if (*config) run.entries[0].model.config_hash = config;
    store->WriteRun(run);
  }
  EXPECT_EQ(Cell(*store,
                 "SELECT string_agg(model_id || ' ' || config_hash || ' ' || (SELECT count(*) "
                 "FROM performance_results p WHERE p.model_id = m.model_id), ', ' ORDER BY "
                 "model_id) FROM models m"),
            "1 sha256:cc 3, 2 sha256:dd 1");
}

// The fields of schema v3 (benchmark method: tail estimate, server QPS, memory estimate,
// configuration of a compatibility result) come back exactly.
TEST_F(ResultStoreTest, WritesTheBenchmarkMethodFields) {
  RunResults run = SampleRun();
  PerformanceRecord& p = run.entries[0].performance[0];
  p.scenario = "server";
  p.graph_optimization_level = 2;
  p.tail_percentile = 99;
  p.tail_early_stopping_ms = 2.25;
  p.tail_confidence = 0.99;
  p.tail_ci_low_ms = 1.9;
  p.tail_ci_high_ms = 2.25;
  p.tail_ci_level = 0.95;
  p.target_qps = 120.5;
  p.achieved_qps = 119.25;
  p.latency_bound_ms = 10;
  p.memory_estimate_bytes = 123456;
  CompatibilityRecord& c = run.entries[0].compatibility[1];
  c.status = "skipped";
  c.scenario = "offline";
  c.batch_size = 64;
  c.seq_len = 512;
  c.configuration_json = R"({"threads": 2})";
  run.run.branch = "main";
  run.run.origin = "imported";
  run.run.imported_from = "/data/legacy.json";
  run.entries[0].model.family = "embedding";
  auto store = ResultStore::Open(db_);
  store->WriteRun(run);
  EXPECT_EQ(Cell(*store, "SELECT format('{} {} {}', branch, origin, imported_from) FROM runs"),
            "main imported /data/legacy.json");
  EXPECT_EQ(Cell(*store, "SELECT family FROM models"), "embedding");
  EXPECT_EQ(Cell(*store, "SELECT count(*) FROM model_hardware_compatibility"), "2");
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {} {} {} {} {} {} {} {} {} {} {}', scenario, "
                 "graph_optimization_level, tail_percentile, tail_early_stopping_ms, "
                 "tail_confidence, tail_ci_low_ms, tail_ci_high_ms, tail_ci_level, target_qps, "
                 "achieved_qps, latency_bound_ms, memory_estimate_bytes, "
                 "(SELECT count(*) FROM latest_performance)) FROM performance_results"),
            "server 2 99.0 2.25 0.99 1.9 2.25 0.95 120.5 119.25 10.0 123456 1");
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {} {} {}', status, scenario, batch_size, seq_len, "
                 "configuration_json->>'threads') FROM compatibility_results WHERE status <> 'ok'"),
            "skipped offline 64 512 2");
}

// The configuration key the writer stores (from its staging table's columns) is the one the
// migration computes from the table's own, and latest_performance keeps one row per key.
TEST_F(ResultStoreTest, ConfigurationKeyIsTheSameFromEitherSide) {
  auto store = ResultStore::Open(db_);
  RunResults run = SampleRun();
  PerformanceRecord other = SamplePerformance();
  other.batch_size = 8;
  other.graph_optimization_level = 1;
  other.provider_options_json = R"({"device_id": "1"})";
  run.entries[0].performance.push_back(other);
  store->WriteRun(run);
  store->WriteRun(SampleRun());  // the first configuration again, later
  EXPECT_EQ(Cell(*store, std::string("SELECT bool_and(configuration_key = ") +
                             kConfigurationKeySql + ") FROM performance_results"),
            "true");
  EXPECT_EQ(Cell(*store, "SELECT count(DISTINCT configuration_key) FROM performance_results"), "2");
  EXPECT_EQ(Count(*store, "latest_performance"), 2);
}

// A process that dies right after creating (migrating) a database must leave one that opens:
// DuckDB cannot replay v2's ALTER TABLE from its write-ahead log, so the migration checkpoints.
// Seen on the GPU machine, where a crashing CUDA run left such a file.
TEST_F(ResultStoreTest, DatabaseOfAProcessThatDiedAfterMigratingStillOpens) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = ResultStore::Open(db_);
    std::_Exit(0);  // no destructors: whatever DuckDB has not checkpointed stays in the WAL
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  auto store = ResultStore::Open(db_);
  EXPECT_EQ(store->SchemaVersion(), CurrentSchemaVersion());
  store->WriteRun(SampleRun());
  EXPECT_EQ(Count(*store, "performance_results"), 1);
}

TEST_F(ResultStoreTest, FailedMigrationLeavesDatabaseUnchanged) {
  {
    auto store = ResultStore::Open(db_);
    DropSchema(*store);
    store->Query("CREATE TABLE runs (x INTEGER); INSERT INTO runs VALUES (7)");
  }
  ExpectError([&] { ResultStore::Open(db_); }, ErrorKind::kDatabase,
              "migrating database '" + db_ + "' to schema version 1 failed");
  auto store = ResultStore::Open(db_, {.read_only = true});
  EXPECT_EQ(store->SchemaVersion(), 0);
  EXPECT_EQ(Cell(*store, "SELECT string_agg(table_name) FROM duckdb_tables()"), "runs");
  EXPECT_EQ(Cell(*store, "SELECT x FROM runs"), "7");
}

TEST_F(ResultStoreTest, DatabaseLockedByAnotherProcess) {
  ResultStore::Open(db_);  // create it first, so the child only opens
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    close(release[1]);
    char status = 'E';
    try {
      auto store = ResultStore::Open(db_);
      status = 'R';
      (void)!write(ready[1], &status, 1);
      char ignored;
      (void)!read(release[0], &ignored, 1);  // holds the lock until the parent closes the pipe
    } catch (...) {
      (void)!write(ready[1], &status, 1);
    }
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  pollfd wait_ready{ready[0], POLLIN, 0};
  char status = 0;
  ASSERT_EQ(poll(&wait_ready, 1, 30000), 1) << "the child did not open the database in 30 s";
  ASSERT_EQ(read(ready[0], &status, 1), 1);
  EXPECT_EQ(status, 'R');

  for (bool read_only : {false, true}) {
    int notices = 0;
    std::string message = ExpectError(
        [&] {
          ResultStore::Open(db_, {.read_only = read_only,
                                  .lock_wait_s = 0.3,
                                  .on_lock_wait = [&](const std::string&) { ++notices; }});
        },
        ErrorKind::kDatabase, "is locked by another process and stayed locked for 0.3 s");
    EXPECT_THAT(message, HasSubstr(db_));
    EXPECT_THAT(message, HasSubstr("--db"));
    EXPECT_EQ(notices, 1);  // said once, not once per retry
  }

  close(release[1]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  close(ready[0]);
  EXPECT_EQ(ResultStore::Open(db_)->SchemaVersion(), CurrentSchemaVersion());  // free again
}

TEST_F(ResultStoreTest, AnOpenWaitsForAnotherProcessToReleaseTheLockAndSaysSo) {
  ResultStore::Open(db_);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // holds the file for half a second, as a writer storing a configuration
    close(ready[0]);
    {
      auto store = ResultStore::Open(db_);
      (void)!write(ready[1], "R", 1);
      usleep(500000);
    }
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  std::string notice;
  auto store = ResultStore::Open(
      db_, {.lock_wait_s = 30, .on_lock_wait = [&](const std::string& why) { notice = why; }});
  EXPECT_THAT(notice, HasSubstr("is locked by another process; waiting up to 30 s"));
  store->WriteRun(SampleRun());
  EXPECT_EQ(Count(*store, "runs"), 1);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  close(ready[0]);
}

TEST_F(ResultStoreTest, StoresOnOneFileInOneProcessShareIt) {
  auto first = ResultStore::Open(db_);
  auto second = ResultStore::Open(db_);
  first->WriteRun(SampleRun());
  EXPECT_EQ(Count(*second, "runs"), 1);
  ExpectError([&] { ResultStore::Open(db_, {.read_only = true}); }, ErrorKind::kDatabase,
              "already open in this process");
}

TEST_F(ResultStoreTest, UnwritableFolderIsAnIoError) {
  const fs::path file = dir_ / "a_file";
  std::ofstream(file) << "x";
  ExpectError([&] { ResultStore::Open((file / "bench.duckdb").string()); }, ErrorKind::kIo,
              "cannot open database");
  ExpectError([&] { ResultStore::Open((dir_ / "missing" / "bench.duckdb").string()); },
              ErrorKind::kIo, "cannot open database");
  if (geteuid() != 0) {  // root writes anywhere
    const fs::path locked = dir_ / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    ExpectError([&] { ResultStore::Open((locked / "bench.duckdb").string()); }, ErrorKind::kIo,
                "cannot open database");
    fs::permissions(locked, fs::perms::owner_all);
  }
}

TEST(ResolveDatabasePathTest, ExplicitThenEnvironmentThenDefault) {
  const char* saved = std::getenv("BENCHMARK_DB_PATH");
  const std::optional<std::string> saved_value =
      saved ? std::optional<std::string>(saved) : std::nullopt;

  unsetenv("BENCHMARK_DB_PATH");
  EXPECT_EQ(ResolveDatabasePath(std::nullopt), "./benchmark_db.duckdb");
  EXPECT_EQ(ResolveDatabasePath("/x/explicit.duckdb"), "/x/explicit.duckdb");
  setenv("BENCHMARK_DB_PATH", "/x/env.duckdb", 1);
  EXPECT_EQ(ResolveDatabasePath(std::nullopt), "/x/env.duckdb");
  EXPECT_EQ(ResolveDatabasePath("/x/explicit.duckdb"), "/x/explicit.duckdb");
  EXPECT_EQ(ResolveDatabasePath(std::string()), "/x/env.duckdb");  // an empty --db is no --db
  setenv("BENCHMARK_DB_PATH", "", 1);
  EXPECT_EQ(ResolveDatabasePath(std::nullopt), "./benchmark_db.duckdb");

  if (saved_value) {
    setenv("BENCHMARK_DB_PATH", saved_value->c_str(), 1);
  } else {
    unsetenv("BENCHMARK_DB_PATH");
  }
}

TEST_F(ResultStoreTest, BadSqlIsAnInvalidArgument) {
  auto store = ResultStore::Open(db_);
  std::string message =
      ExpectError([&] { store->Query("SELEC 1"); }, ErrorKind::kInvalidArgument, "syntax error");
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  ExpectError([&] { store->Query("SELECT * FROM no_such_table"); }, ErrorKind::kInvalidArgument,
              "no_such_table");
}

// Every cell is DuckDB's own CAST(x AS VARCHAR) text and every type name is typeof()'s, both
// for plain columns and inside nested ones (which take another path through the C API).
TEST_F(ResultStoreTest, QueryRendersCellsAndTypesAsDuckDbDoes) {
  auto store = ResultStore::Open(":memory:");
  const std::vector<std::string> expressions = {
      "true",
      "42::TINYINT",
      "-7::SMALLINT",
      "123456::INTEGER",
      "-9007199254740993::BIGINT",
      "200::UTINYINT",
      "60000::USMALLINT",
      "4000000000::UINTEGER",
      "18446744073709551615::UBIGINT",
      "-170141183460469231731687303715884105727::HUGEINT",
      "340282366920938463463374607431768211455::UHUGEINT",
      "1.5::FLOAT",
      "0.1::DOUBLE",
      "1e-300::DOUBLE",
      "'nan'::DOUBLE",
      "DATE '2026-11-26'",
      "TIME '15:04:05.123456'",
      "TIMESTAMP '2026-11-26 15:04:05.123456'",
      "'2026-11-26 15:04:05'::TIMESTAMP_S",
      "'2026-11-26 15:04:05.123'::TIMESTAMP_MS",
      "'2026-11-26 15:04:05.123456789'::TIMESTAMP_NS",
      "TIMESTAMPTZ '2026-11-26 15:04:05+00'",
      "'15:04:05+02'::TIMETZ",
      "INTERVAL 3 DAY + INTERVAL 5 MINUTE",
      "'h\xc3\xa9llo, ''quoted'''",
      "''",
      "'\\xAA\\x00z'::BLOB",
      "'{\"a\": [1, 2.5]}'::JSON",
      "12.34::DECIMAL(4,2)",
      "-1234567.89::DECIMAL(9,2)",
      "-12345678901.234::DECIMAL(18,3)",
      "12345678901234567890.12::DECIMAL(38,2)",
      "'1b4e28ba-2fa1-11d2-883f-0016d3cca427'::UUID",
      "'b'::ENUM('a', 'b')",
      "'101'::BIT",
      "[1, NULL, 3]",
      "{'k': 'v', 'n': NULL::INTEGER, 'Odd Name': 1.5}",
      "MAP {'a': 1, 'b': 2}",
      "[1, 2]::INTEGER[2]",
      "union_value(k := 1)::UNION(k INTEGER, s VARCHAR)",
      "[]::DOUBLE[]",
  };
  for (const std::string& e : expressions) {
    for (const std::string& form : {e, "[" + e + "]", "{'x': " + e + "}"}) {
      if (form.starts_with("['{")) continue;  // JSON[]: the json extension drops the quotes
      SCOPED_TRACE(form);
      QueryResult got;
      try {
        got = store->Query("SELECT " + form + " AS v, typeof(" + form + ") AS t, CAST(" + form +
                           " AS VARCHAR) AS s");
      } catch (const core::Error& error) {
        ADD_FAILURE() << error.what();
        continue;
      }
      ASSERT_EQ(got.rows.size(), 1u);
      EXPECT_EQ(got.column_types[0], got.rows[0][1].value_or("?"));
      EXPECT_EQ(got.rows[0][0], got.rows[0][2]);
    }
  }
  QueryResult nulls =
      store->Query("SELECT * FROM (VALUES (NULL::INTEGER, [1]), (2, NULL)) t(a, b)");
  ASSERT_EQ(nulls.rows.size(), 2u);
  EXPECT_EQ(nulls.column_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(nulls.rows[0][0], std::nullopt);
  EXPECT_EQ(nulls.rows[1][1], std::nullopt);
}

}  // namespace result_store_test
}  // namespace ipfs_accel::store

namespace ipfs_accel::store {
namespace result_store_test {

TEST_F(ResultStoreTest, ARunStoredAsItGoesIsRunningUntilItIsFinished) {
  auto store = ResultStore::Open(db_);
  const RunResults sample = SampleRun();
  store->BeginRun(sample.run);
  EXPECT_EQ(Cell(*store, "SELECT state || ' ' || (finished_at IS NULL) FROM runs"), "running true");
  RunResults part;
  part.run.run_id = sample.run.run_id;
  part.entries = sample.entries;
  store->AppendToRun(part);
  store->AppendToRun(part);
  EXPECT_EQ(Count(*store, "performance_results"), 2);
  EXPECT_EQ(Count(*store, "compatibility_results"), 4);
  EXPECT_EQ(Count(*store, "models"), 1);  // the second part found the first one's model
  store->FinishRun(sample.run.run_id, "2026-11-26T15:10:00Z", "complete");
  EXPECT_EQ(Cell(*store, "SELECT state || ' ' || CAST(finished_at AS VARCHAR) FROM runs"),
            "complete 2026-11-26 15:10:00");
  EXPECT_EQ(Count(*store, "latest_performance"), 1);
}

TEST_F(ResultStoreTest, AnInterruptedRunKeepsWhatItStored) {
  auto store = ResultStore::Open(db_);
  const RunResults sample = SampleRun();
  store->BeginRun(sample.run);
  RunResults part;
  part.run.run_id = sample.run.run_id;
  part.entries = sample.entries;
  store->AppendToRun(part);
  store->FinishRun(sample.run.run_id, "2026-11-26T15:10:00Z", "interrupted");
  EXPECT_EQ(Cell(*store, "SELECT state FROM runs"), "interrupted");
  EXPECT_EQ(Count(*store, "performance_results"), 1);
  ExpectError([&] { store->FinishRun(sample.run.run_id, "2026-11-26T15:11:00Z", "paused"); },
              ErrorKind::kDatabase, "finishing run");
  EXPECT_EQ(Cell(*store, "SELECT state FROM runs"), "interrupted");
}

TEST_F(ResultStoreTest, AppendingToARunNeverBegunIsRefusedAndWritesNothing) {
  auto store = ResultStore::Open(db_);
  const std::vector<int64_t> before = AllCounts(*store);
  ExpectError([&] { store->AppendToRun(SampleRun()); }, ErrorKind::kInternal, "never begun");
  EXPECT_EQ(AllCounts(*store), before);
}

TEST_F(ResultStoreTest, WriteRunsIsAllOrNothing) {
  auto store = ResultStore::Open(db_);
  const RunResults good = SampleRun();
  RunResults bad = SampleRun("another device");
  bad.entries[0].compatibility[0].status = "no-such-status";  // the schema's CHECK refuses it
  const std::vector<int64_t> before = AllCounts(*store);
  ExpectError([&] { store->WriteRuns({&good, &bad}); }, ErrorKind::kDatabase, "");
  EXPECT_EQ(AllCounts(*store), before);
  store->WriteRuns({&good});
  EXPECT_EQ(Count(*store, "runs"), 1);
  EXPECT_EQ(Cell(*store, "SELECT state FROM runs"), "complete");
}

}  // namespace result_store_test
}  // namespace ipfs_accel::store
