// Database maintenance on files filled through ResultStore::WriteRun: stats, planted integrity
// problems, purge by cutoff, backups that reopen, exports DuckDB reads back, and failures that
// leave no half-written file.

#include "ipfs_accel/store/maintenance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/result_store.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::store {
namespace {

namespace fs = std::filesystem;
using core::ErrorKind;
using testing::CatchError;
using ::testing::HasSubstr;

PerformanceRecord Performance(double p50) {
  PerformanceRecord p;
  p.execution_provider = "CPUExecutionProvider";
  p.provider_options_json = "{}";
  p.session_options_json = "{}";
  p.runtime_version = "1.29.0";
  p.precision = "fp32";
  p.batch_size = 1;
  p.seq_len = 16;
  p.input_shapes_json = "{}";
  p.threads = 2;
  p.iterations = 3;
  p.latency_mean_ms = p50;
  p.latency_min_ms = p50 * 0.5;
  p.latency_max_ms = p50 * 2;
  p.latency_p50_ms = p50;
  p.latency_p90_ms = p50 * 1.5;
  p.latency_p95_ms = p50 * 1.6;
  p.latency_p99_ms = p50 * 1.9;
  p.throughput_items_per_s = 1000 / p50;
  p.samples_ms = {p50 * 0.5, p50, p50 * 2};
  return p;
}

// A run started at `started_at` with one entry per model, `results_per_model` performance
// results each and one compatibility result.
RunResults MakeRun(const std::string& run_id, const std::string& started_at,
                   const std::vector<std::string>& models, int results_per_model = 1,
                   const std::string& device = "test cpu") {
  RunResults r;
  r.run.run_id = run_id;
  r.run.started_at = started_at;
  r.run.finished_at = started_at;
  r.run.tool_version = "0.1.0";
  r.run.git_commit = "abc";
  r.run.command_line = "test";
  r.run.hostname = "host";
  r.run.os = "Linux";
  r.run.metadata_json = "{}";
  for (const std::string& name : models) {
    RunResults::Entry e;
    e.model = {name, "bert", "text", "catalog", "", 100, "hash-" + name};
    e.hardware = {"cpu", device, "host", "{}"};
    for (int i = 0; i < results_per_model; ++i) e.performance.push_back(Performance(1.0 + i));
    e.compatibility.push_back({"CPUExecutionProvider", "ok", "", "", 1e-6});
    r.entries.push_back(e);
  }
  return r;
}

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ResultStore::Open(db_);
    store->WriteRun(MakeRun("old", "2025-01-01T00:00:00Z", {"old-only", "shared"}, 2, "old cpu"));
    store->WriteRun(MakeRun("new", "2026-06-01T00:00:00Z", {"shared", "new-only"}, 3));
  }

  int64_t Count(const std::string& sql, const std::string& path = "") {
    auto store = ResultStore::Open(path.empty() ? db_ : path, {.read_only = true});
    return std::stoll(*store->Query(sql).rows.at(0).at(0));
  }

  testing::TempDir dir_;
  std::string db_ = dir_.File("results.duckdb");
};

TEST_F(MaintenanceTest, StatsCountRowsRunsAndSpan) {
  const DatabaseStats s = ReadStats(db_);
  ASSERT_EQ(s.rows_per_table.size(), ResultTables().size());
  EXPECT_EQ(s.rows_per_table[0], (std::pair<std::string, int64_t>{"runs", 2}));
  EXPECT_EQ(s.rows_per_table[3], (std::pair<std::string, int64_t>{"performance_results", 10}));
  EXPECT_EQ(s.rows_per_table[4], (std::pair<std::string, int64_t>{"compatibility_results", 4}));
  ASSERT_EQ(s.runs_by_origin.size(), 1u);
  EXPECT_EQ(s.runs_by_origin[0], (std::pair<std::string, int64_t>{"measured", 2}));
  EXPECT_EQ(s.distinct_models, 3);
  EXPECT_EQ(s.distinct_hardware, 2);
  EXPECT_EQ(s.first_run_started_at, "2025-01-01 00:00:00");
  EXPECT_EQ(s.last_run_started_at, "2026-06-01 00:00:00");
  EXPECT_EQ(s.schema_version, CurrentSchemaVersion());
  EXPECT_GT(s.file_bytes, 0u);
}

TEST_F(MaintenanceTest, CheckPassesOnAWrittenDatabase) { EXPECT_TRUE(CheckDatabase(db_).empty()); }

TEST_F(MaintenanceTest, CheckFindsPlantedProblemsAndWarnsAboutOrphans) {
  {
    auto store = ResultStore::Open(db_);
    // Copies without constraints stand for a database edited by another tool.
    store->Query(
        "CREATE TABLE p2 AS SELECT * FROM performance_results; DROP VIEW latest_performance; "
        "DROP TABLE performance_results; ALTER TABLE p2 RENAME TO performance_results; "
        "CREATE TABLE c2 AS SELECT * FROM compatibility_results; "
        "DROP VIEW model_hardware_compatibility; DROP TABLE compatibility_results; "
        "ALTER TABLE c2 RENAME TO compatibility_results;");
    store->Query("UPDATE performance_results SET run_id = 'ghost' WHERE result_id = 1");
    store->Query("UPDATE performance_results SET latency_min_ms = -1 WHERE result_id = 2");
    store->Query("UPDATE performance_results SET latency_p50_ms = 99 WHERE result_id = 3");
    store->Query("UPDATE performance_results SET load_ms = 'NaN'::DOUBLE WHERE result_id = 4");
    store->Query("UPDATE performance_results SET iterations = 0 WHERE result_id = 5");
    store->Query("UPDATE performance_results SET result_id = 7 WHERE result_id = 6");
    store->Query("UPDATE compatibility_results SET model_id = 999 WHERE id = 1");
    store->Query(
        "INSERT INTO models (name, architecture, modality, source, source_path, "
        "parameters, content_hash) VALUES ('unused', 'bert', 'text', 'catalog', '', 1, "
        "'h')");
  }
  const std::vector<CheckFinding> findings = CheckDatabase(db_);
  std::vector<std::string> problems, warnings;
  for (const CheckFinding& f : findings)
    (f.is_problem ? problems : warnings).push_back(f.table + " " + f.id + ": " + f.message);
  EXPECT_THAT(problems, ::testing::UnorderedElementsAre(
                            "compatibility_results 1: model_id 999 does not exist in models",
                            "performance_results 1: run_id ghost does not exist in runs",
                            "performance_results 2: latency_min_ms is -1.0",
                            HasSubstr("performance_results 3: latency_p50_ms 99"),
                            "performance_results 4: load_ms is nan",
                            "performance_results 5: iterations is 0 but there are 3 samples",
                            "performance_results 7: result_id is used by 2 rows"));
  // 'unused' is an orphan; so is old-only's model: its only compatibility row now points at 999.
  EXPECT_THAT(warnings, ::testing::Contains(HasSubstr("model 'unused' is referred to by no")));
  ASSERT_FALSE(findings.empty());
  EXPECT_TRUE(findings.front().is_problem);  // problems come first
}

TEST_F(MaintenanceTest, CheckReportsAnOlderSchema) {
  {
    auto store = ResultStore::Open(db_);
    store->Query(
        "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM "
        "schema_version)");
  }
  const auto findings = CheckDatabase(db_);
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings[0].table, "schema_version");
  EXPECT_THAT(findings[0].message,
              HasSubstr(fmt::format("schema version {} differs", CurrentSchemaVersion() - 1)));
}

TEST_F(MaintenanceTest, PurgeDeletesExactlyTheOldRunsTheirRowsAndTheirOwnModels) {
  const std::string cutoff = ParsePurgeCutoff("2026-01-01");
  EXPECT_EQ(cutoff, "2026-01-01 00:00:00");

  const PurgeReport dry = PurgeRunsBefore(db_, cutoff, /*dry_run=*/true);
  EXPECT_EQ(dry.runs, 1);
  EXPECT_EQ(dry.performance_results, 4);
  EXPECT_EQ(dry.compatibility_results, 2);
  EXPECT_EQ(dry.models, 1);    // old-only; 'shared' is still used by the new run
  EXPECT_EQ(dry.hardware, 1);  // old cpu
  EXPECT_EQ(Count("SELECT count(*) FROM runs"), 2);  // dry run changed nothing

  const PurgeReport done = PurgeRunsBefore(db_, cutoff, false);
  EXPECT_EQ(done.runs, 1);
  EXPECT_EQ(done.performance_results, 4);
  EXPECT_EQ(Count("SELECT count(*) FROM runs WHERE run_id = 'new'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM performance_results WHERE run_id = 'new'"), 6);
  EXPECT_EQ(Count("SELECT count(*) FROM performance_results"), 6);
  EXPECT_EQ(Count("SELECT count(*) FROM compatibility_results"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM models"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM models WHERE name = 'old-only'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM hardware_platforms"), 1);
  EXPECT_TRUE(CheckDatabase(db_).empty());
}

TEST_F(MaintenanceTest, PurgeCutoffs) {
  EXPECT_EQ(ParsePurgeCutoff("2026-01-01T10:20:30Z"), "2026-01-01 10:20:30");
  EXPECT_EQ(ParsePurgeCutoff("90d").size(), 19u);
  EXPECT_LT(ParsePurgeCutoff("2w"), ParsePurgeCutoff("1d"));
  EXPECT_EQ(CatchError([] { ParsePurgeCutoff("yesterday"); }).kind(), ErrorKind::kInvalidArgument);
  // Nothing older than a far past date: nothing deleted.
  EXPECT_EQ(PurgeRunsBefore(db_, "2000-01-01 00:00:00", false).runs, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM performance_results"), 10);
}

TEST_F(MaintenanceTest, BackupReopensWithTheSameCountsAndNeverOverwrites) {
  const std::string copy = dir_.File("backup.duckdb");
  const BackupReport r = BackupDatabase(db_, copy, false);
  EXPECT_EQ(r.bytes, fs::file_size(copy));
  for (const std::string& table : ResultTables()) {
    EXPECT_EQ(Count("SELECT count(*) FROM " + table, copy), Count("SELECT count(*) FROM " + table))
        << table;
  }
  const core::Error again = CatchError([&] { BackupDatabase(db_, copy, false); });
  EXPECT_EQ(again.kind(), ErrorKind::kIo);
  EXPECT_THAT(again.what(), HasSubstr("already exists"));
}

TEST_F(MaintenanceTest, CompressedBackupImportsBack) {
  const std::string folder = dir_.File("backup");
  const BackupReport r = BackupDatabase(db_, folder, true);
  EXPECT_TRUE(fs::exists(fs::path(folder) / "schema.sql"));
  EXPECT_GT(r.bytes, 0u);
  auto restored = ResultStore::Open(":memory:");
  // The fresh store holds the schema already; the import brings its own.
  restored->Query(
      "DROP VIEW latest_performance; DROP VIEW model_hardware_compatibility; "
      "DROP TABLE performance_results; DROP TABLE compatibility_results; "
      "DROP TABLE runs; DROP TABLE models; DROP TABLE hardware_platforms; "
      "DROP TABLE schema_version; DROP SEQUENCE hardware_id_seq; "
      "DROP SEQUENCE model_id_seq; DROP SEQUENCE performance_result_id_seq; "
      "DROP SEQUENCE compatibility_result_id_seq");
  restored->Query("IMPORT DATABASE '" + folder + "'");
  EXPECT_EQ(*restored->Query("SELECT count(*) FROM performance_results").rows[0][0], "10");
}

TEST_F(MaintenanceTest, BackupIntoAMissingFolderLeavesNothing) {
  const std::string dest = dir_.File("no/such/folder/backup.duckdb");
  const core::Error e = CatchError([&] { BackupDatabase(db_, dest, false); });
  EXPECT_EQ(e.kind(), ErrorKind::kIo);
  EXPECT_THAT(e.what(), HasSubstr(dest));
  EXPECT_FALSE(fs::exists(dir_.File("no")));
}

TEST_F(MaintenanceTest, ExportEveryFormatReadsBack) {
  for (const std::string format : {"parquet", "csv", "json"}) {
    const std::string folder = dir_.File("export-" + format);
    const ExportReport r = ExportDatabase(db_, {.format = format, .output = folder});
    ASSERT_EQ(r.files.size(), ResultTables().size());
    const std::string reader = format == "parquet" ? "read_parquet"
                               : format == "csv"   ? "read_csv"
                                                   : "read_json";
    EXPECT_EQ(Count("SELECT count(*) FROM " + reader + "('" + folder + "/performance_results." +
                    format + "')"),
              10)
        << format;
    EXPECT_EQ(Count("SELECT count(*) FROM " + reader + "('" + folder + "/runs." + format + "')"), 2)
        << format;
  }
  // Only the final folders are left, no temporaries.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_.path())) ++entries;
  EXPECT_EQ(entries, 4);  // the database and three exports
}

TEST_F(MaintenanceTest, ExportOfATableOrAQueryIsOneFile) {
  const std::string table = dir_.File("runs.csv");
  ExportDatabase(db_, {.format = "csv", .output = table, .table = "runs"});
  EXPECT_EQ(Count("SELECT count(*) FROM read_csv('" + table + "')"), 2);
  const std::string query = dir_.File("fast.parquet");
  ExportDatabase(db_, {.format = "parquet",
                       .output = query,
                       .query = "SELECT * FROM performance_results WHERE latency_p50_ms < 2"});
  EXPECT_EQ(Count("SELECT count(*) FROM read_parquet('" + query + "')"), 4);
}

TEST_F(MaintenanceTest, ExportFailuresLeaveNoFile) {
  const std::string missing = dir_.File("no/such/out.parquet");
  const core::Error e = CatchError(
      [&] { ExportDatabase(db_, {.format = "parquet", .output = missing, .table = "runs"}); });
  EXPECT_EQ(e.kind(), ErrorKind::kIo);
  EXPECT_THAT(e.what(), HasSubstr(missing));
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);

  const std::string bad_sql = dir_.File("bad.csv");
  EXPECT_EQ(CatchError([&] {
              ExportDatabase(db_, {.format = "csv", .output = bad_sql, .query = "SELEC 1"});
            }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_FALSE(fs::exists(bad_sql));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_.path())) ++entries;
  EXPECT_EQ(entries, 1);  // the database only

  const std::string existing = dir_.File("results.duckdb");
  EXPECT_EQ(CatchError([&] { ExportDatabase(db_, {.format = "csv", .output = existing}); }).kind(),
            ErrorKind::kIo);
  EXPECT_EQ(CatchError([&] { ExportDatabase(db_, {.format = "xml", .output = "x"}); }).kind(),
            ErrorKind::kInvalidArgument);
}

TEST_F(MaintenanceTest, VacuumKeepsEveryRow) {
  const VacuumReport r = VacuumDatabase(db_);
  EXPECT_GT(r.bytes_before, 0u);
  EXPECT_GT(r.bytes_after, 0u);
  EXPECT_EQ(Count("SELECT count(*) FROM performance_results"), 10);
}

}  // namespace
}  // namespace ipfs_accel::store
