// store_ingest: how fast results go into the DuckDB file, against DuckDB's raw appender on a
// narrow table in the same process; how fast the reports read them back; and how big the file
// is against the same results as JSON.
//
// Usage: store_ingest [ROWS=1000000] [SAMPLES_PER_ROW=10] [KEEP_DB_AS]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <duckdb.h>

#include "ipfs_accel/analysis/compatibility_matrix.h"
#include "ipfs_accel/analysis/performance_report.h"
#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/result_store.h"

using namespace ipfs_accel;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

store::RunResults MakeRun(int64_t rows, int samples) {
  store::RunResults run;
  run.run.run_id = store::NewRunId();
  run.run.started_at = "2026-11-26T12:00:00Z";
  run.run.finished_at = "2026-11-26T12:00:01Z";
  run.run.tool_version = "0.1.0";
  run.run.git_commit = "bench";
  run.run.command_line = "store_ingest";
  run.run.hostname = "bench";
  run.run.os = "Linux";
  store::RunResults::Entry e;
  e.model = {"bert-tiny", "bert", "text", "catalog", "", 4385920, "seed:42"};
  e.hardware = {"cpu", "bench cpu", "bench", "{}"};
  e.performance.reserve(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    store::PerformanceRecord p;
    p.execution_provider = "CPUExecutionProvider";
    p.runtime_version = "onnxruntime 1.29.0";
    p.batch_size = 1 + i % 64;
    p.seq_len = 128;
    p.input_shapes_json = R"({"input_ids":[1,128]})";
    p.iterations = samples;
    const double base = 1.0 + static_cast<double>(i % 1000) / 100.0;
    for (int s = 0; s < samples; ++s) p.samples_ms.push_back(base + s * 0.01);
    p.latency_mean_ms = p.latency_p50_ms = p.latency_p90_ms = p.latency_p95_ms = p.latency_p99_ms =
        base;
    p.latency_min_ms = base;
    p.latency_max_ms = base + samples * 0.01;
    p.throughput_items_per_s = 1000.0 / base;
    p.peak_rss_bytes = 100 << 20;
    e.performance.push_back(std::move(p));
  }
  e.compatibility.push_back({"CPUExecutionProvider", "ok", "", "", std::nullopt});
  run.entries.push_back(std::move(e));
  return run;
}

// DuckDB's own appender, row by row, into a narrow table: the yardstick.
double RawAppenderRowsPerSecond(const std::string& path, int64_t rows) {
  duckdb_database db;
  duckdb_connection con;
  if (duckdb_open(path.c_str(), &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess)
    std::abort();
  duckdb_query(con, "CREATE TABLE narrow (id BIGINT, batch BIGINT, p50 DOUBLE, ep VARCHAR)",
               nullptr);
  const auto t0 = Clock::now();
  duckdb_appender app;
  duckdb_appender_create(con, nullptr, "narrow", &app);
  for (int64_t i = 0; i < rows; ++i) {
    duckdb_append_int64(app, i);
    duckdb_append_int64(app, 1 + i % 64);
    duckdb_append_double(app, 1.0 + static_cast<double>(i % 1000) / 100.0);
    duckdb_append_varchar(app, "CPUExecutionProvider");
    duckdb_appender_end_row(app);
  }
  duckdb_appender_destroy(&app);  // flushes
  duckdb_query(con, "CHECKPOINT", nullptr);
  const double s = SecondsSince(t0);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return static_cast<double>(rows) / s;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int samples = argc > 2 ? std::atoi(argv[2]) : 10;
  char templ[] = "/tmp/store_ingest_XXXXXX";
  const fs::path dir = mkdtemp(templ);

  const store::RunResults run = MakeRun(rows, samples);
  const double raw = RawAppenderRowsPerSecond((dir / "raw.duckdb").string(), rows);

  const std::string db = (dir / "results.duckdb").string();
  double ours = 0;
  {
    auto store = store::ResultStore::Open(db);
    const auto t0 = Clock::now();
    store->WriteRun(run);
    store->Query("CHECKPOINT");
    ours = static_cast<double>(rows) / SecondsSince(t0);
  }
  std::printf("ingest  rows %lld (%d samples each)\n", static_cast<long long>(rows), samples);
  std::printf("ingest  raw appender, narrow table  %12.0f rows/s\n", raw);
  std::printf("ingest  ResultStore::WriteRun        %12.0f rows/s  (target >= 2000000)\n", ours);
  std::printf("ingest  ratio ours/raw               %12.3f\n", ours / raw);

  {
    auto store = store::ResultStore::Open(db, {.read_only = true});
    for (int i = 0; i < 3; ++i) {
      auto t0 = Clock::now();
      const auto latest = store->Query("SELECT * FROM latest_performance");
      std::printf("query   latest_performance (%zu configurations) %8.1f ms\n", latest.rows.size(),
                  SecondsSince(t0) * 1000);
      t0 = Clock::now();
      const auto latest_rows = analysis::PerformanceReport(*store, {}).rows.size();
      const double perf_ms = SecondsSince(t0) * 1000;
      t0 = Clock::now();
      const auto run_rows = analysis::PerformanceReport(*store, {.run_id = "latest"}).rows.size();
      const double run_ms = SecondsSince(t0) * 1000;
      t0 = Clock::now();
      analysis::BuildCompatibilityMatrix(*store, {});
      const double compat_ms = SecondsSince(t0) * 1000;
      std::printf(
          "query   performance report (latest per configuration: all runs %zu rows %8.1f ms, "
          "latest run %zu rows %8.1f ms), compatibility matrix %8.1f ms (target <= 100 ms over "
          "1M results)\n",
          latest_rows, perf_ms, run_rows, run_ms, compat_ms);
    }
  }

  {
    // Every row as text, once: what `report performance --all` prints.
    auto store = store::ResultStore::Open(db, {.read_only = true});
    auto t0 = Clock::now();
    const auto every = analysis::PerformanceReport(*store, {.every_result = true}).rows.size();
    const double every_ms = SecondsSince(t0) * 1000;
    t0 = Clock::now();
    const auto limited =
        analysis::PerformanceReport(*store, {.every_result = true, .limit = 100}).rows.size();
    std::printf(
        "query   performance report --all: %zu rows %8.1f ms; --all --limit 100: %zu "
        "rows %8.1f ms\n",
        every, every_ms, limited, SecondsSince(t0) * 1000);
  }

  // The same results as JSON (one object per record, as our exports write them).
  uint64_t json_bytes = 0;
  for (const auto& p : run.entries[0].performance)
    json_bytes += store::PerformanceRecordToJson(p).dump().size() + 2;
  const auto file_bytes = fs::file_size(db);
  std::printf("size    duckdb file %.1f MiB, JSON %.1f MiB, ratio %.3f (target <= 0.30)\n",
              file_bytes / 1048576.0, json_bytes / 1048576.0,
              static_cast<double>(file_bytes) / static_cast<double>(json_bytes));
  // `db import` of the same results from this tool's run export: parse + bulk write.
  {
    const fs::path json_file = dir / "run.json";
    {
      std::ofstream out(json_file);
      out << store::RunResultsToJson(run).dump();
    }
    const auto t0 = Clock::now();
    const store::ImportResult imported = store::ParseResultFile(json_file.string());
    const double parse_s = SecondsSince(t0);
    auto store = store::ResultStore::Open((dir / "imported.duckdb").string());
    store->WriteRun(imported.runs.at(0));
    store->Query("CHECKPOINT");
    const double total_s = SecondsSince(t0);
    std::printf("import  %.1f MiB of JSON: parse %.2f s, write %.2f s, %12.0f rows/s\n",
                fs::file_size(json_file) / 1048576.0, parse_s, total_s - parse_s,
                static_cast<double>(rows) / total_s);
  }
  if (argc > 3) fs::copy_file(db, argv[3], fs::copy_options::overwrite_existing);
  fs::remove_all(dir);
  return 0;
}
