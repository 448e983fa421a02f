// Database maintenance on files filled through ResultStore::WriteRun: stats, planted integrity
// problems, purge by cutoff, backups that reopen, exports DuckDB reads back, and failures that
// leave no half-written file.

#include "ipfs_accel/store/maintenance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/result_store.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::store {
namespace maintenance_test {

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
  EXPECT_EQ(s.first_run_started_at, "2025-01-01 00:00:00Z");  // the one display format
  EXPECT_EQ(s.last_run_started_at, "2026-06-01 00:00:00Z");
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

// No latency is measured as 0: a 0 is a value the source did not have, stored wrongly (NULL
// since v8); db check names it, and passes the NULL.
TEST_F(MaintenanceTest, CheckReportsALatencyOfZeroAndPassesAMissingOne) {
  {
    auto store = ResultStore::Open(db_);
    store->Query("UPDATE performance_results SET latency_p50_ms = 0 WHERE result_id = 2");
    store->Query("UPDATE performance_results SET latency_p90_ms = NULL WHERE result_id = 3");
  }
  std::vector<std::string> problems;
  for (const CheckFinding& f : CheckDatabase(db_))
    problems.push_back(f.table + " " + f.id + ": " + f.message);
  EXPECT_THAT(problems, ::testing::ElementsAre("performance_results 2: latency_p50_ms is 0.0"));
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
      "DROP TABLE predictions; DROP TABLE prediction_models; "
      "DROP VIEW latest_performance_by_cid; DROP VIEW latest_performance; "
      "DROP VIEW model_hardware_compatibility; "
      "DROP TABLE performance_results; DROP TABLE compatibility_results; "
      "DROP TABLE runs; DROP TABLE models; DROP TABLE hardware_platforms; "
      "DROP TABLE schema_version; DROP SEQUENCE hardware_id_seq; "
      "DROP SEQUENCE model_id_seq; DROP SEQUENCE performance_result_id_seq; "
      "DROP SEQUENCE compatibility_result_id_seq; DROP TABLE templates; "
      "DROP TABLE template_versions; DROP TABLE template_variables; DROP TABLE template_helpers; "
      "DROP TABLE template_dependencies; DROP TABLE template_validations; "
      "DROP SEQUENCE template_validation_id_seq; DROP TABLE fleet_jobs; DROP TABLE fleet_workers");
  restored->Query("IMPORT DATABASE '" + folder + "'");
  EXPECT_EQ(*restored->Query("SELECT count(*) FROM performance_results").rows[0][0], "10");
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every table's rows, in a fixed order, as one text: equal texts are equal databases.
std::string Rows(const std::string& path) {
  auto store = ResultStore::Open(path, {.read_only = true});
  std::string out;
  for (const std::string& table : ResultTables()) {
    if (table == "schema_version") continue;  // applied_at differs by the migration's time
    for (const auto& row : store->Query("SELECT * FROM " + table + " ORDER BY ALL").rows)
      for (const auto& cell : row) out += cell.value_or("NULL") + "|";
  }
  return out;
}

TEST_F(MaintenanceTest, RestoreOfEitherBackupGivesTheSameRows) {
  for (const bool compress : {true, false}) {
    const std::string backup = dir_.File(compress ? "backup-folder" : "backup.duckdb");
    BackupDatabase(db_, backup, compress);
    const std::string target = dir_.File(compress ? "from-folder.duckdb" : "from-file.duckdb");
    const RestoreReport r = RestoreDatabase(backup, target, false);
    EXPECT_FALSE(r.replaced);
    EXPECT_EQ(r.rows_per_table.at(3), (std::pair<std::string, int64_t>{"performance_results", 10}));
    EXPECT_EQ(Rows(target), Rows(db_)) << backup;
    EXPECT_EQ(Count("SELECT count(*) FROM latest_performance", target),
              Count("SELECT count(*) FROM latest_performance"));
  }
  for (const auto& entry : fs::directory_iterator(dir_.path()))
    EXPECT_EQ(entry.path().filename().string().find(".partial"), std::string::npos);
}

TEST_F(MaintenanceTest, RestoreReplacesAnExistingDatabaseOnlyWithForce) {
  const std::string backup = dir_.File("backup");
  BackupDatabase(db_, backup, true);
  const std::string target = dir_.File("other.duckdb");
  ResultStore::Open(target)->WriteRun(MakeRun("other", "2026-07-01T00:00:00Z", {"m"}));
  const core::Error refused = CatchError([&] { RestoreDatabase(backup, target, false); });
  EXPECT_EQ(refused.kind(), ErrorKind::kIo);
  EXPECT_THAT(refused.what(), HasSubstr("--force"));
  EXPECT_EQ(Count("SELECT count(*) FROM runs", target), 1);
  EXPECT_TRUE(RestoreDatabase(backup, target, true).replaced);
  EXPECT_EQ(Rows(target), Rows(db_));
}

// A backup missing a table's rows or with a truncated file is refused in one line naming it,
// and the database it was to replace is byte for byte what it was.
TEST_F(MaintenanceTest, ADamagedBackupIsRefusedAndTheDatabaseKept) {
  const std::string backup = dir_.File("backup");
  BackupDatabase(db_, backup, true);
  const std::string target = dir_.File("kept.duckdb");
  RestoreDatabase(backup, target, false);
  const std::string before = ReadBytes(target);
  for (const auto& damage :
       {std::function<void()>(
            [&] { fs::resize_file(fs::path(backup) / "performance_results.parquet", 100); }),
        std::function<void()>([&] { fs::remove(fs::path(backup) / "runs.parquet"); })}) {
    damage();
    const core::Error e = CatchError([&] { RestoreDatabase(backup, target, true); });
    EXPECT_THAT(e.what(), HasSubstr("incomplete or damaged"));
    EXPECT_THAT(e.what(), HasSubstr("unchanged"));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    EXPECT_EQ(ReadBytes(target), before);
  }
  const core::Error not_a_backup =
      CatchError([&] { RestoreDatabase(dir_.path().string(), target, true); });
  EXPECT_EQ(not_a_backup.kind(), ErrorKind::kCorrupt);
  EXPECT_EQ(ReadBytes(target), before);
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

// Every stored value of a database with its own ids, write times and import marks left out:
// what a run export must carry from one database to another.
std::vector<std::string> Portable(const std::string& path) {
  auto store = ResultStore::Open(path, {.read_only = true});
  std::vector<std::string> out;
  for (const char* sql :
       {"SELECT * EXCLUDE (origin, imported_from) FROM runs",
        "SELECT * EXCLUDE (model_id) FROM models",
        "SELECT * EXCLUDE (hardware_id) FROM hardware_platforms",
        "SELECT p.* EXCLUDE (result_id, model_id, hardware_id, created_at), m.name, h.device_name "
        "FROM performance_results p JOIN models m USING (model_id) JOIN hardware_platforms h "
        "USING (hardware_id)",
        "SELECT c.* EXCLUDE (id, model_id, hardware_id, created_at), m.name, h.device_name FROM "
        "compatibility_results c JOIN models m USING (model_id) JOIN hardware_platforms h USING "
        "(hardware_id)"}) {
    for (const auto& row : store->Query(std::string(sql) + " ORDER BY ALL").rows) {
      std::string line = sql;
      for (const auto& cell : row) line += " | " + cell.value_or("NULL");
      out.push_back(line);
    }
  }
  return out;
}

TEST_F(MaintenanceTest, RunJsonExportImportsIntoAFreshDatabaseWithTheSameRows) {
  {
    // Every optional field set once, so none is lost on the way.
    RunResults rich = MakeRun("rich", "2026-07-01T12:30:45Z", {"gen"}, 1);
    rich.run.branch = "main";
    rich.run.metadata_json = R"({"note": "it's \"quoted\"", "n": [1, 2]})";
    rich.entries[0].model.family = "text_generation";
    rich.entries[0].hardware.details_json = R"({"cores": 2})";
    PerformanceRecord& p = rich.entries[0].performance[0];
    p.scenario = "generate";
    p.prompt_len = 16;
    p.new_tokens = 8;
    p.time_to_first_token_ms = 12.25;
    p.graph_optimization_level = 99;
    p.tail_percentile = 90;
    p.tail_early_stopping_ms = 1.0 / 3;
    p.tail_confidence = 0.99;
    p.tail_ci_low_ms = 0.1;
    p.tail_ci_high_ms = 2.2;
    p.tail_ci_level = 0.95;
    p.target_qps = 12.5;
    p.achieved_qps = 12.4;
    p.latency_bound_ms = 50;
    p.memory_estimate_bytes = 1 << 20;
    p.device_memory_process_bytes = 123;
    p.device_memory_gpu_used_bytes = 456;
    p.peak_rss_bytes = 789;
    rich.entries[0].compatibility[0].scenario = "generate";
    rich.entries[0].compatibility[0].batch_size = 1;
    rich.entries[0].compatibility[0].top1_agreement = 0.5;
    ResultStore::Open(db_)->WriteRun(rich);
  }
  const std::string file = dir_.File("runs.json");
  const ExportReport report = ExportDatabase(db_, {.format = "run-json", .output = file});
  ASSERT_EQ(report.files.size(), 1u);
  EXPECT_GT(report.files[0].second, 0u);

  const ImportResult imported = ParseResultFile(file);
  EXPECT_EQ(imported.shape, kShapeRunExport);
  ASSERT_EQ(imported.runs.size(), 3u);
  EXPECT_EQ(imported.runs[0].run.run_id, "old");  // oldest first
  const std::string fresh = dir_.File("fresh.duckdb");
  {
    auto store = ResultStore::Open(fresh);
    for (const RunResults& run : imported.runs) store->WriteRun(run);
  }
  EXPECT_EQ(Portable(fresh), Portable(db_));
  EXPECT_TRUE(CheckDatabase(fresh).empty());

  // One run by id: its export object alone.
  const std::string one = dir_.File("one.json");
  ExportDatabase(db_, {.format = "run-json", .output = one, .run_id = "new"});
  const ImportResult single = ParseResultFile(one);
  ASSERT_EQ(single.runs.size(), 1u);
  EXPECT_EQ(single.runs[0].run.run_id, "new");
  EXPECT_EQ(single.runs[0].entries.size(), 2u);
  EXPECT_EQ(single.runs[0].entries[1].performance.size(), 3u);

  EXPECT_EQ(CatchError([&] {
              ExportDatabase(
                  db_, {.format = "run-json", .output = dir_.File("x.json"), .run_id = "ghost"});
            }).kind(),
            ErrorKind::kNotFound);
  EXPECT_FALSE(fs::exists(dir_.File("x.json")));
  EXPECT_EQ(CatchError([&] {
              ExportDatabase(
                  db_, {.format = "run-json", .output = dir_.File("y.json"), .table = "runs"});
            }).kind(),
            ErrorKind::kInvalidArgument);
}

// A run bigger than the exporter's page of performance results comes out whole, in written
// order, as the same text as the whole run's document.
TEST_F(MaintenanceTest, RunJsonExportOfARunOfManyPagesKeepsEveryResultInOrder) {
  RunResults big = MakeRun("big", "2026-08-01T00:00:00Z", {"wide", "second"}, 2);
  auto& rows = big.entries[0].performance;
  rows.clear();
  for (int i = 0; i < 45000; ++i) {  // three pages
    rows.push_back(Performance(1.0 + i % 100));
    rows.back().batch_size = 1 + i;
  }
  ResultStore::Open(db_)->WriteRun(big);
  const std::string file = dir_.File("big.json");
  ExportDatabase(db_, {.format = "run-json", .output = file, .run_id = "big"});
  const ImportResult back = ParseResultFile(file);
  ASSERT_EQ(back.runs.size(), 1u);
  ASSERT_EQ(back.runs[0].entries.size(), 2u);
  const auto& read = back.runs[0].entries[0].performance;
  ASSERT_EQ(read.size(), 45000u);
  for (size_t i = 0; i < read.size(); ++i) ASSERT_EQ(read[i].batch_size, 1 + int64_t(i)) << i;
  EXPECT_EQ(back.runs[0].entries[1].performance.size(), 2u);

  auto store = ResultStore::Open(db_, {.read_only = true});
  std::ifstream in(file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, RunResultsToJson(ReadStoredRun(*store, "big")).dump());
}

// A full disk during an export: the write fails with kIo, no partial file is left, and the
// database still passes `db check`. The file system here is not full, so the temporary name the
// exporter writes first is made a link to /dev/full (every write: ENOSPC).
TEST_F(MaintenanceTest, ExportOntoAFullDiskLeavesNoFileAndAnIntactDatabase) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  for (const char* format : {"run-json", "csv"}) {
    const std::string output = dir_.File(std::string("out.") + format);
    const fs::path partial =
        fs::path(dir_.path()) / fmt::format(".out.{}.partial-{}", format, ::getpid());
    fs::create_symlink("/dev/full", partial);
    ExportRequest request{.format = format, .output = output};
    if (std::string(format) == "csv") request.table = "performance_results";
    const core::Error e = CatchError([&] { ExportDatabase(db_, request); });
    EXPECT_EQ(e.kind(), ErrorKind::kIo) << format << ": " << e.what();
    EXPECT_THAT(e.what(), HasSubstr(output));
    EXPECT_FALSE(fs::exists(output)) << format;
    EXPECT_FALSE(fs::exists(fs::symlink_status(partial))) << format;
  }
  EXPECT_TRUE(CheckDatabase(db_).empty());
  EXPECT_EQ(Count("SELECT count(*) FROM performance_results"), 10);
}

}  // namespace maintenance_test
}  // namespace ipfs_accel::store
