// store_ingest: how fast results go into the DuckDB file, against DuckDB's raw appender on a
// narrow table and on the same columns, and against DuckDB copying the stored rows on all its
// threads (its own cost for this row, the floor for any writer), in the same process; how fast the
// reports read them back; and how big the file is against the same results as JSON.
//
// Usage: store_ingest [ROWS=1000000] [SAMPLES_PER_ROW=10] [IMPORT_ROWS=200000] [INSERT_ROWS=20000]
//                    [KEEP_DB_AS]
// The import is timed on IMPORT_ROWS of the rows (its JSON is ~1 KiB a row and parsed whole),
// against INSERT_ROWS of them written row by row with a prepared INSERT.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <duckdb.h>
#include <fmt/format.h>

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

// The SQL type a record field is stored as.
template <typename T>
const char* SqlType() {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::optional<std::string>>)
    return "VARCHAR";
  else if constexpr (std::is_same_v<T, std::vector<double>>)
    return "DOUBLE[]";
  else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, std::optional<int64_t>>)
    return "BIGINT";
  else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, std::optional<int>>)
    return "INTEGER";
  else
    return "DOUBLE";
}

void Append(duckdb_appender a, const std::string& v) {
  duckdb_append_varchar_length(a, v.data(), v.size());
}
void Append(duckdb_appender a, int64_t v) { duckdb_append_int64(a, v); }
void Append(duckdb_appender a, int v) { duckdb_append_int32(a, v); }
void Append(duckdb_appender a, double v) { duckdb_append_double(a, v); }
void Append(duckdb_appender a, const std::vector<double>& v) {
  std::vector<duckdb_value> items;
  for (const double d : v) items.push_back(duckdb_create_double(d));
  duckdb_logical_type type = duckdb_create_logical_type(DUCKDB_TYPE_DOUBLE);
  duckdb_value list = duckdb_create_list_value(type, items.data(), items.size());
  duckdb_append_value(a, list);
  duckdb_destroy_value(&list);
  for (auto& item : items) duckdb_destroy_value(&item);
  duckdb_destroy_logical_type(&type);
}
template <typename T>
void Append(duckdb_appender a, const std::optional<T>& v) {
  if (v)
    Append(a, *v);
  else
    duckdb_append_null(a);
}

// DuckDB's own appender, row by row, on the same rows into a table of performance_results'
// columns and types without constraints: what DuckDB itself costs for this row shape.
double RawWideAppenderRowsPerSecond(const std::string& path, const store::RunResults& run) {
  duckdb_database db;
  duckdb_connection con;
  if (duckdb_open(path.c_str(), &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess)
    std::abort();
  std::string columns = "result_id BIGINT, run_id VARCHAR, model_id BIGINT, hardware_id BIGINT";
  store::ForEachField(run.entries[0].performance[0], [&](const char* name, const auto& v) {
    columns += fmt::format(", {} {}", name, SqlType<std::decay_t<decltype(v)>>());
  });
  duckdb_query(
      con,
      ("CREATE TABLE wide (" + columns + ", created_at TIMESTAMP, configuration_key UBIGINT)")
          .c_str(),
      nullptr);
  const auto t0 = Clock::now();
  duckdb_query(con, "BEGIN TRANSACTION", nullptr);
  duckdb_appender app;
  duckdb_appender_create(con, nullptr, "wide", &app);
  int64_t id = 0;
  for (const auto& p : run.entries[0].performance) {
    duckdb_append_int64(app, ++id);
    Append(app, run.run.run_id);
    duckdb_append_int64(app, 1);
    duckdb_append_int64(app, 1);
    store::ForEachField(p, [&](const char*, const auto& v) { Append(app, v); });
    duckdb_append_timestamp(app, {1764158401000000});
    duckdb_append_uint64(app, 42);
    duckdb_appender_end_row(app);
  }
  if (duckdb_appender_destroy(&app) != DuckDBSuccess) std::abort();  // flushes
  duckdb_query(con, "COMMIT", nullptr);
  duckdb_query(con, "CHECKPOINT", nullptr);
  const double s = SecondsSince(t0);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return static_cast<double>(run.entries[0].performance.size()) / s;
}

void Bind(duckdb_prepared_statement s, idx_t& i, const std::string& v) {
  duckdb_bind_varchar_length(s, i++, v.data(), v.size());
}
void Bind(duckdb_prepared_statement s, idx_t& i, int64_t v) { duckdb_bind_int64(s, i++, v); }
void Bind(duckdb_prepared_statement s, idx_t& i, int v) { duckdb_bind_int32(s, i++, v); }
void Bind(duckdb_prepared_statement s, idx_t& i, double v) { duckdb_bind_double(s, i++, v); }
void Bind(duckdb_prepared_statement s, idx_t& i, const std::vector<double>& v) {
  std::vector<duckdb_value> items;
  for (const double d : v) items.push_back(duckdb_create_double(d));
  duckdb_logical_type type = duckdb_create_logical_type(DUCKDB_TYPE_DOUBLE);
  duckdb_value list = duckdb_create_list_value(type, items.data(), items.size());
  duckdb_bind_value(s, i++, list);
  duckdb_destroy_value(&list);
  for (auto& item : items) duckdb_destroy_value(&item);
  duckdb_destroy_logical_type(&type);
}
template <typename T>
void Bind(duckdb_prepared_statement s, idx_t& i, const std::optional<T>& v) {
  if (v)
    Bind(s, i, *v);
  else
    duckdb_bind_null(s, i++);
}

// The first `rows` performance rows of `run` written one prepared INSERT each (every column
// bound, in one transaction) into a database made by ResultStore: what `db import` is
// measured against.
double InsertRowsPerSecond(const std::string& path, const store::RunResults& run, int64_t rows) {
  {
    store::RunResults header = run;
    header.entries[0].performance.clear();
    store::ResultStore::Open(path)->WriteRun(header);  // the run, model and hardware rows
  }
  duckdb_database db;
  duckdb_connection con;
  if (duckdb_open(path.c_str(), &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess)
    std::abort();
  // Every parameter typed, so DuckDB need not bind the statement again for a NULL.
  std::string names = "run_id, model_id, hardware_id", values = "CAST(? AS VARCHAR), 1, 1";
  store::ForEachField(run.entries[0].performance[0], [&](const char* name, const auto& v) {
    names += std::string(", ") + name;
    values += fmt::format(", CAST(? AS {})", SqlType<std::decay_t<decltype(v)>>());
  });
  const std::string sql = "INSERT INTO performance_results (" + names +
                          ", created_at, configuration_key) VALUES (" + values +
                          ", TIMESTAMP '2026-11-26 12:00:01', 0)";
  duckdb_prepared_statement insert;
  if (duckdb_prepare(con, sql.c_str(), &insert) != DuckDBSuccess) {
    std::fprintf(stderr, "%s\n", duckdb_prepare_error(insert));
    std::abort();
  }
  const auto t0 = Clock::now();
  duckdb_query(con, "BEGIN TRANSACTION", nullptr);
  for (int64_t r = 0; r < rows; ++r) {
    idx_t i = 1;
    Bind(insert, i, run.run.run_id);
    store::ForEachField(run.entries[0].performance[static_cast<size_t>(r)],
                        [&](const char*, const auto& v) { Bind(insert, i, v); });
    duckdb_result result;
    if (duckdb_execute_prepared(insert, &result) != DuckDBSuccess) {
      std::fprintf(stderr, "%s\n", duckdb_result_error(&result));
      std::abort();
    }
    duckdb_destroy_result(&result);
  }
  duckdb_query(con, "COMMIT", nullptr);
  duckdb_query(con, "CHECKPOINT", nullptr);
  const double s = SecondsSince(t0);
  duckdb_destroy_prepare(&insert);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return static_cast<double>(rows) / s;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int samples = argc > 2 ? std::atoi(argv[2]) : 10;
  const int64_t import_rows = std::min<int64_t>(rows, argc > 3 ? std::atoll(argv[3]) : 200000);
  const int64_t insert_rows = std::min<int64_t>(rows, argc > 4 ? std::atoll(argv[4]) : 20000);
  char templ[] = "/tmp/store_ingest_XXXXXX";
  const fs::path dir = mkdtemp(templ);

  const store::RunResults run = MakeRun(rows, samples);
  const double raw = RawAppenderRowsPerSecond((dir / "raw.duckdb").string(), rows);
  const double raw_wide = RawWideAppenderRowsPerSecond((dir / "wide.duckdb").string(), run);

  const std::string db = (dir / "results.duckdb").string();
  double ours = 0;
  {
    auto store = store::ResultStore::Open(db);
    const auto t0 = Clock::now();
    store->WriteRun(run);
    store->Query("CHECKPOINT");
    ours = static_cast<double>(rows) / SecondsSince(t0);
  }
  // Measured before the copies below: DuckDB keeps a dropped table's blocks in the file.
  const auto file_bytes = fs::file_size(db);
  // DuckDB alone on the very rows WriteRun stored, on all its threads: INSERT … SELECT into a
  // copy of the table without constraints. What any writer of these rows pays DuckDB. Then the
  // same into narrower rows: what DuckDB would cost if a result row held only its measurements
  // (the configuration in a table of its own), with and without the samples.
  const std::string measurements =
      "result_id, run_id, configuration_key, iterations, load_ms, first_inference_ms, "
      "latency_mean_ms, latency_stdev_ms, latency_min_ms, latency_max_ms, latency_p50_ms, "
      "latency_p90_ms, latency_p95_ms, latency_p99_ms, throughput_items_per_s, peak_rss_bytes, "
      "created_at";
  double copy = 0, copy_measurements = 0, copy_measurements_samples = 0;
  {
    auto store = store::ResultStore::Open(db);
    const auto copy_rate = [&](const std::string& columns) {
      store->Query("CREATE TABLE copy AS SELECT " + columns + " FROM performance_results LIMIT 0");
      const auto t0 = Clock::now();
      store->Query("INSERT INTO copy SELECT " + columns + " FROM performance_results");
      store->Query("CHECKPOINT");
      const double rate = static_cast<double>(rows) / SecondsSince(t0);
      store->Query("DROP TABLE copy");
      store->Query("CHECKPOINT");
      return rate;
    };
    copy = copy_rate("*");
    copy_measurements_samples = copy_rate(measurements + ", samples_ms");
    copy_measurements = copy_rate(measurements);
  }
  std::printf("ingest  rows %lld (%d samples each)\n", static_cast<long long>(rows), samples);
  std::printf("ingest  raw appender, narrow table  %12.0f rows/s\n", raw);
  std::printf("ingest  raw appender, same 46 columns %12.0f rows/s  (no constraints)\n", raw_wide);
  std::printf("ingest  ResultStore::WriteRun        %12.0f rows/s\n", ours);
  std::printf("ingest  ratio ours/raw narrow        %12.3f\n", ours / raw);
  std::printf("ingest  ratio ours/raw same columns  %12.3f\n", ours / raw_wide);
  std::printf(
      "ingest  DuckDB INSERT ... SELECT of the stored rows into a copy, all threads %12.0f "
      "rows/s\n",
      copy);
  std::printf("ingest  ratio ours/DuckDB's own parallel insert %12.3f (goal >= 0.85)\n", ours / copy);
  std::printf("ingest  the same copy of 17 measurement columns + samples  %12.0f rows/s\n",
              copy_measurements_samples);
  std::printf("ingest  the same copy of 17 measurement columns, no samples %12.0f rows/s\n",
              copy_measurements);

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
  std::printf("size    duckdb file %.1f MiB, JSON %.1f MiB, ratio %.3f (target <= 0.30)\n",
              file_bytes / 1048576.0, json_bytes / 1048576.0,
              static_cast<double>(file_bytes) / static_cast<double>(json_bytes));
  // `db import` of the same results from this tool's run export (parse + bulk write), against
  // writing them row by row with INSERT.
  {
    const double insert = InsertRowsPerSecond((dir / "insert.duckdb").string(), run, insert_rows);
    store::RunResults part = run;
    part.entries[0].performance.resize(static_cast<size_t>(import_rows));
    const fs::path json_file = dir / "run.json";
    {
      std::ofstream out(json_file);
      out << store::RunResultsToJson(part).dump();
    }
    part = {};
    const auto t0 = Clock::now();
    store::ImportResult imported = store::ParseResultFile(json_file.string());
    const double parse_s = SecondsSince(t0);
    auto store = store::ResultStore::Open((dir / "imported.duckdb").string());
    store->WriteRun(imported.runs.at(0));
    store->Query("CHECKPOINT");
    const double total_s = SecondsSince(t0);
    const double import = static_cast<double>(import_rows) / total_s;
    std::printf("import  row-by-row prepared INSERT (%lld rows)  %12.0f rows/s\n",
                static_cast<long long>(insert_rows), insert);
    std::printf(
        "import  db import of %.1f MiB run export (%lld rows): parse %.2f s, write %.2f s, "
        "%12.0f rows/s\n",
        fs::file_size(json_file) / 1048576.0, static_cast<long long>(import_rows), parse_s,
        total_s - parse_s, import);
    std::printf("import  ratio import/INSERT               %12.1f (target >= 10)\n",
                import / insert);
  }
  if (argc > 5) fs::copy_file(db, argv[5], fs::copy_options::overwrite_existing);
  fs::remove_all(dir);
  return 0;
}
