#include "store/duckdb_result_store.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <utility>

#include "store/migrations.h"

namespace ipfs_accel::store {
namespace {

using core::Error;
using core::ErrorKind;

bool IsInMemory(const std::string& path) { return path == ":memory:"; }

// One DuckDB instance per file in this process: two instances writing one file corrupt it,
// and DuckDB's file lock only guards against other processes.
duckdb_instance_cache InstanceCache() {
  struct Holder {
    duckdb_instance_cache cache = duckdb_create_instance_cache();
    ~Holder() { duckdb_destroy_instance_cache(&cache); }
  };
  static Holder holder;
  return holder.cache;
}

// Opening and migrating are serialized so that two stores opened at once on one file do not
// race to migrate it.
std::mutex& OpenMutex() {
  static std::mutex mutex;
  return mutex;
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// DuckDB reports every open failure as text; its wording is the only way to tell them apart.
[[noreturn]] void ThrowOpenError(const std::string& path, bool read_only,
                                 const std::string& duckdb_message) {
  const std::string reason = OneLine(duckdb_message);
  if (Contains(reason, "not a valid DuckDB database")) {
    throw Error(ErrorKind::kDatabase,
                fmt::format("'{}' is not a DuckDB database (DuckDB: {}); pass --db with a "
                            "results database or a path that does not exist yet",
                            path, reason));
  }
  if (Contains(reason, "Could not set lock")) {
    throw Error(ErrorKind::kDatabase,
                fmt::format("database '{}' is locked by another process (DuckDB: {}); close the "
                            "other writer or use --db to pick another file",
                            path, reason));
  }
  if (Contains(reason, "different configuration")) {
    throw Error(ErrorKind::kDatabase,
                fmt::format("database '{}' is already open in this process in {} mode (DuckDB: "
                            "{}); close that store first or open this one the same way",
                            path, read_only ? "read-write" : "read-only", reason));
  }
  if (read_only && !std::filesystem::exists(path)) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("database '{}' does not exist; run a benchmark to create it or pass "
                            "--db with an existing file",
                            path));
  }
  if (Contains(reason, "version number")) {
    throw Error(ErrorKind::kDatabase,
                fmt::format("database '{}' was written by an incompatible DuckDB version "
                            "(DuckDB: {}); export it with that version or pass --db with a "
                            "new file",
                            path, reason));
  }
  if (reason.starts_with("IO Error")) {
    throw Error(ErrorKind::kIo,
                fmt::format("cannot open database '{}' (DuckDB: {}); check that its folder "
                            "exists and is writable, or pass --db with another path",
                            path, reason));
  }
  throw Error(ErrorKind::kDatabase,
              fmt::format("cannot open database '{}' (DuckDB: {}); pass --db with another path",
                          path, reason));
}

std::unique_ptr<Database> OpenDatabase(const std::string& path, bool read_only) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) {
    throw Error(ErrorKind::kInternal, "DuckDB could not create a configuration object");
  }
  if (read_only && duckdb_set_config(config, "access_mode", "READ_ONLY") == DuckDBError) {
    duckdb_destroy_config(&config);
    throw Error(ErrorKind::kInternal, "DuckDB refused access_mode=READ_ONLY");
  }
  duckdb_database db = nullptr;
  char* error = nullptr;
  // An in-memory database is private to its store; the cache would share it.
  const duckdb_state state =
      IsInMemory(path)
          ? duckdb_open_ext(path.c_str(), &db, config, &error)
          : duckdb_get_or_create_from_cache(InstanceCache(), path.c_str(), &db, config, &error);
  duckdb_destroy_config(&config);
  if (state == DuckDBError) {
    std::string message = error ? error : "unknown error";
    duckdb_free(error);
    duckdb_close(&db);  // a failed open may still have allocated the handle
    ThrowOpenError(path, read_only, message);
  }
  return std::make_unique<Database>(db);
}

std::string RunLabel(const RunResults& results, const std::string& path) {
  return fmt::format("writing run '{}' to database '{}'", results.run.run_id, path);
}

}  // namespace

std::string ResolveDatabasePath(const std::optional<std::string>& explicit_path) {
  if (explicit_path && !explicit_path->empty()) return *explicit_path;
  if (const char* env = std::getenv("BENCHMARK_DB_PATH"); env != nullptr && *env != '\0') {
    return env;
  }
  return "./benchmark_db.duckdb";
}

std::unique_ptr<ResultStore> ResultStore::Open(const std::string& path, OpenOptions options) {
  return DuckDbResultStore::Open(path, options);
}

std::unique_ptr<DuckDbResultStore> DuckDbResultStore::Open(const std::string& path,
                                                           OpenOptions options) {
  if (path.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "the database path is empty; pass --db with a file path");
  }
  // Checked here too so that no DuckDB version ever creates the file in read-only mode.
  if (options.read_only && !IsInMemory(path) && !std::filesystem::exists(path)) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("database '{}' does not exist; run a benchmark to create it or pass "
                            "--db with an existing file",
                            path));
  }
  std::lock_guard lock(OpenMutex());
  std::unique_ptr<DuckDbResultStore> store(
      new DuckDbResultStore(path, options.read_only, OpenDatabase(path, options.read_only)));
  duckdb_connection con = store->con_->get();
  if (options.read_only) {
    CheckNotNewer(ReadSchemaVersion(con, path), path);  // an older schema is fine to query
  } else {
    Migrate(con, path);
  }
  return store;
}

DuckDbResultStore::DuckDbResultStore(std::string path, bool read_only, std::unique_ptr<Database> db)
    : path_(std::move(path)), read_only_(read_only), db_(std::move(db)) {
  con_ = std::make_unique<Connection>(*db_, path_);
}

int DuckDbResultStore::SchemaVersion() { return ReadSchemaVersion(con_->get(), path_); }

void DuckDbResultStore::WriteRun(const RunResults& results) {
  if (read_only_) {
    throw Error(ErrorKind::kDatabase,
                fmt::format("{} failed: the database was opened read-only; open it read-write "
                            "to store results",
                            RunLabel(results, path_)));
  }
  duckdb_connection con = con_->get();
  Run(con, "BEGIN TRANSACTION",
      {ErrorKind::kDatabase, RunLabel(results, path_) + " could not start a transaction",
       "nothing was written; close other writers and retry"});
  try {
    InsertRun(results, UtcNow());
    Run(con, "COMMIT",
        {ErrorKind::kDatabase, RunLabel(results, path_) + " failed at commit",
         "nothing was written; check free disk space and retry"});
  } catch (...) {
    RollbackQuietly(con);  // a failed COMMIT has already rolled back; this is then a no-op
    throw;
  }
}

void DuckDbResultStore::InsertRun(const RunResults& results, const std::string& written_at) {
  duckdb_connection con = con_->get();
  const std::string label = RunLabel(results, path_);
  const std::string unchanged = "nothing was written (the database is unchanged)";
  const OnError prepare_error{ErrorKind::kDatabase, label + " failed preparing a statement",
                              unchanged};

  const RunRecord& run = results.run;
  Statement insert_run(con,
                       "INSERT INTO runs (run_id, started_at, finished_at, tool_version, "
                       "git_commit, command_line, hostname, os, seed, metadata, branch, origin, "
                       "imported_from) VALUES (?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?, "
                       "?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       prepare_error);
  insert_run.AddText(run.run_id).AddText(run.started_at);
  if (run.finished_at.empty()) {  // a run still going, or one that died
    insert_run.AddNull();
  } else {
    insert_run.AddText(run.finished_at);
  }
  insert_run.AddText(run.tool_version)
      .AddText(run.git_commit)
      .AddText(run.command_line)
      .AddText(run.hostname)
      .AddText(run.os)
      .AddUInt(run.seed)
      .AddText(run.metadata_json)
      .AddOptional(run.branch)
      .AddText(run.origin)
      .AddOptional(run.imported_from)
      .Execute({ErrorKind::kDatabase, label + " failed at the run record", unchanged});

  // Hardware and models are found by their unique keys; a known one keeps its first details.
  Statement find_hardware(con,
                          "SELECT hardware_id FROM hardware_platforms "
                          "WHERE platform = ? AND device_name = ? AND hostname = ?",
                          prepare_error);
  Statement insert_hardware(con,
                            "INSERT INTO hardware_platforms (platform, device_name, hostname, "
                            "details) VALUES (?, ?, ?, ?) RETURNING hardware_id",
                            prepare_error);
  Statement find_model(con,
                       "SELECT model_id FROM models "
                       "WHERE name = ? AND source = ? AND content_hash = ?",
                       prepare_error);
  Statement insert_model(con,
                         "INSERT INTO models (name, architecture, modality, source, source_path, "
                         "parameters, content_hash, family) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                         "RETURNING model_id",
                         prepare_error);
  Statement insert_performance(
      con,
      "INSERT INTO performance_results (run_id, model_id, hardware_id, execution_provider, "
      "provider_options_json, session_options_json, runtime_version, precision, graph_variant, "
      "batch_size, "
      "seq_len, input_shapes_json, threads, warmup_iterations, iterations, load_ms, "
      "first_inference_ms, latency_mean_ms, latency_stdev_ms, latency_min_ms, latency_max_ms, "
      "latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, throughput_items_per_s, "
      "peak_rss_bytes, samples_ms, scenario, prompt_len, new_tokens, time_to_first_token_ms, "
      "device_memory_process_bytes, device_memory_gpu_used_bytes, graph_optimization_level, "
      "tail_percentile, tail_early_stopping_ms, tail_confidence, tail_ci_low_ms, tail_ci_high_ms, "
      "tail_ci_level, target_qps, achieved_qps, latency_bound_ms, memory_estimate_bytes, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))",
      prepare_error);
  Statement insert_compatibility(
      con,
      "INSERT INTO compatibility_results (run_id, model_id, hardware_id, execution_provider, "
      "status, error_class, error_message, max_abs_error, precision, graph_variant, "
      "top1_agreement, scenario, batch_size, seq_len, configuration_json, created_at) VALUES "
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))",
      prepare_error);

  for (size_t e = 0; e < results.entries.size(); ++e) {
    const RunResults::Entry& entry = results.entries[e];
    const HardwarePlatformRecord& hw = entry.hardware;
    const ModelRecord& model = entry.model;
    const std::string where = fmt::format("{} failed at entry {} (model '{}' on {} '{}')", label,
                                          e + 1, model.name, hw.platform, hw.device_name);

    const OnError hardware_error{ErrorKind::kDatabase, where + " storing the hardware", unchanged};
    Result found_hw = find_hardware.AddText(hw.platform)
                          .AddText(hw.device_name)
                          .AddText(hw.hostname)
                          .Execute(hardware_error);
    const int64_t hardware_id = found_hw.RowCount() > 0 ? found_hw.FirstInt64()
                                                        : insert_hardware.AddText(hw.platform)
                                                              .AddText(hw.device_name)
                                                              .AddText(hw.hostname)
                                                              .AddText(hw.details_json)
                                                              .Execute(hardware_error)
                                                              .FirstInt64();

    const OnError model_error{ErrorKind::kDatabase, where + " storing the model", unchanged};
    Result found_model = find_model.AddText(model.name)
                             .AddText(model.source)
                             .AddText(model.content_hash)
                             .Execute(model_error);
    const int64_t model_id = found_model.RowCount() > 0 ? found_model.FirstInt64()
                                                        : insert_model.AddText(model.name)
                                                              .AddText(model.architecture)
                                                              .AddText(model.modality)
                                                              .AddText(model.source)
                                                              .AddText(model.source_path)
                                                              .AddInt(model.parameters)
                                                              .AddText(model.content_hash)
                                                              .AddOptional(model.family)
                                                              .Execute(model_error)
                                                              .FirstInt64();

    for (size_t i = 0; i < entry.performance.size(); ++i) {
      const PerformanceRecord& p = entry.performance[i];
      insert_performance.AddText(run.run_id)
          .AddInt(model_id)
          .AddInt(hardware_id)
          .AddText(p.execution_provider)
          .AddText(p.provider_options_json)
          .AddText(p.session_options_json)
          .AddText(p.runtime_version)
          .AddText(p.precision)
          .AddText(p.graph_variant)
          .AddInt(p.batch_size)
          .AddInt(p.seq_len)
          .AddText(p.input_shapes_json)
          .AddInt(p.threads)
          .AddInt(p.warmup_iterations)
          .AddInt(p.iterations)
          .AddDouble(p.load_ms)
          .AddDouble(p.first_inference_ms)
          .AddDouble(p.latency_mean_ms)
          .AddDouble(p.latency_stdev_ms)
          .AddDouble(p.latency_min_ms)
          .AddDouble(p.latency_max_ms)
          .AddDouble(p.latency_p50_ms)
          .AddDouble(p.latency_p90_ms)
          .AddDouble(p.latency_p95_ms)
          .AddDouble(p.latency_p99_ms)
          .AddDouble(p.throughput_items_per_s)
          .AddInt(p.peak_rss_bytes)
          .AddDoubleList(p.samples_ms)
          .AddText(p.scenario);
      insert_performance.AddOptional(p.prompt_len)
          .AddOptional(p.new_tokens)
          .AddOptional(p.time_to_first_token_ms)
          .AddOptional(p.device_memory_process_bytes)
          .AddOptional(p.device_memory_gpu_used_bytes)
          .AddOptional(p.graph_optimization_level)
          .AddOptional(p.tail_percentile)
          .AddOptional(p.tail_early_stopping_ms)
          .AddOptional(p.tail_confidence)
          .AddOptional(p.tail_ci_low_ms)
          .AddOptional(p.tail_ci_high_ms)
          .AddOptional(p.tail_ci_level)
          .AddOptional(p.target_qps)
          .AddOptional(p.achieved_qps)
          .AddOptional(p.latency_bound_ms)
          .AddOptional(p.memory_estimate_bytes)
          .AddText(written_at)
          .Execute({ErrorKind::kDatabase,
                    fmt::format("{}, performance result {} ({}, {}, batch {})", where, i + 1,
                                p.execution_provider, p.precision, p.batch_size),
                    unchanged});
    }

    for (size_t i = 0; i < entry.compatibility.size(); ++i) {
      const CompatibilityRecord& c = entry.compatibility[i];
      insert_compatibility.AddText(run.run_id)
          .AddInt(model_id)
          .AddInt(hardware_id)
          .AddText(c.execution_provider)
          .AddText(c.status)
          .AddText(c.error_class)
          .AddText(c.error_message)
          .AddOptional(c.max_abs_error)
          .AddText(c.precision)
          .AddText(c.graph_variant)
          .AddOptional(c.top1_agreement)
          .AddOptional(c.scenario)
          .AddOptional(c.batch_size)
          .AddOptional(c.seq_len)
          .AddOptional(c.configuration_json)
          .AddText(written_at)
          .Execute({ErrorKind::kDatabase,
                    fmt::format("{}, compatibility result {} ({}, status '{}')", where, i + 1,
                                c.execution_provider, c.status),
                    unchanged});
    }
  }
}

QueryResult DuckDbResultStore::Query(const std::string& sql) {
  Result result =
      Run(con_->get(), sql,
          {ErrorKind::kInvalidArgument, fmt::format("query on database '{}' failed", path_),
           "fix the SQL (tables: runs, hardware_platforms, models, "
           "performance_results, compatibility_results, latest_performance)"});
  return ReadAsText(result);
}

}  // namespace ipfs_accel::store
