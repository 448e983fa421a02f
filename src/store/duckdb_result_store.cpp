#include "store/duckdb_result_store.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "ipfs_accel/store/postgres_store.h"
#include "store/chunk_writer.h"
#include "store/migrations.h"
#include "store/parallel_insert.h"

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
  if (Contains(reason, "Corrupt database file") ||
      Contains(reason, "Could not read enough bytes") || Contains(reason, "checksum")) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("database '{}' is damaged: a block of it is truncated or does not "
                            "match its checksum (DuckDB: {}); restore it from a backup (`db "
                            "backup`) or pass --db with another path",
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

// Opens the database, or returns nullptr with DuckDB's message in `locked` when another
// process holds the file's lock.
std::unique_ptr<Database> OpenDatabase(const std::string& path, bool read_only,
                                       std::string* locked) {
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
    if (Contains(message, "Could not set lock")) {
      *locked = OneLine(message);
      return nullptr;
    }
    ThrowOpenError(path, read_only, message);
  }
  return std::make_unique<Database>(db);
}

// The performance_results columns a run writes, in order, with their values: one list for
// the prepared row-by-row insert and the bulk append, so they cannot drift.
template <typename F>
void ForEachPerformanceField(const std::string& run_id, int64_t model_id, int64_t hardware_id,
                             const PerformanceRecord& p, const std::string& written_at, F&& f) {
  f("run_id", run_id);
  f("model_id", model_id);
  f("hardware_id", hardware_id);
  ForEachField(p, f);
  f("created_at", written_at);  // text, cast to TIMESTAMP on the way in
}

struct Column {
  std::string name;
  ChunkWriter::Type type;
};

template <typename T>
ChunkWriter::Type TypeOf() {
  if constexpr (std::is_same_v<T, std::vector<double>>)
    return ChunkWriter::Type::kDoubleList;
  else if constexpr (std::is_same_v<T, std::string>)
    return ChunkWriter::Type::kVarchar;
  else if constexpr (std::is_floating_point_v<T>)
    return ChunkWriter::Type::kDouble;
  else if constexpr (std::is_same_v<T, int>)
    return ChunkWriter::Type::kInteger;
  else
    return ChunkWriter::Type::kBigInt;
}
template <typename T>
struct Unwrap {
  using type = T;
};
template <typename T>
struct Unwrap<std::optional<T>> {
  using type = T;
};

std::vector<Column> PerformanceColumns() {
  std::vector<Column> out;
  ForEachPerformanceField("", 0, 0, PerformanceRecord{}, "", [&](const char* name, const auto& v) {
    using T = typename Unwrap<std::decay_t<decltype(v)>>::type;
    out.push_back({name, TypeOf<T>()});
  });
  return out;
}

// The types of performance_results' columns as the bulk writer fills them: the result id and
// the fields of the row-by-row insert (created_at as a TIMESTAMP). The configuration key, the
// last column, DuckDB computes (kConfigurationKeySql).
std::vector<ChunkWriter::Type> AppendTypes(const std::vector<Column>& columns) {
  std::vector<ChunkWriter::Type> out{ChunkWriter::Type::kBigInt};
  for (const auto& c : columns)
    out.push_back(c.name == std::string("created_at") ? ChunkWriter::Type::kTimestamp : c.type);
  return out;
}

// "INSERT INTO performance_results (...) SELECT ..., <configuration key> FROM (SELECT ? AS
// run_id, ...)" for one row; created_at is cast from its text.
std::string InsertPerformanceSql(const std::vector<Column>& columns) {
  std::string names, values;
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string& n = columns[i].name;
    names += (i ? ", " : "") + n;
    values += fmt::format("{}{} AS {}", i ? ", " : "",
                          n == "created_at" ? "CAST(? AS TIMESTAMP)" : "?", n);
  }
  return fmt::format(
      "INSERT INTO performance_results ({0}, configuration_key) SELECT {0}, {1} FROM (SELECT {2})",
      names, kConfigurationKeySql, values);
}

void Bind(Statement& s, const std::string& v) { s.AddText(v); }
void Bind(Statement& s, int64_t v) { s.AddInt(v); }
void Bind(Statement& s, int v) { s.AddInt(v); }
void Bind(Statement& s, const std::vector<double>& v) { s.AddDoubleList(v); }
template <typename T>
void Bind(Statement& s, const std::optional<T>& v) {
  s.AddOptional(v);
}

void SetAppended(ChunkWriter& a, size_t column, const std::string& v) { a.Text(column, v); }
void SetAppended(ChunkWriter& a, size_t column, int64_t v) { a.Int(column, v); }
void SetAppended(ChunkWriter& a, size_t column, int v) { a.Int(column, v); }
void SetAppended(ChunkWriter& a, size_t column, const std::vector<double>& v) {
  a.Doubles(column, v);
}
template <typename T>
void SetAppended(ChunkWriter& a, size_t column, const std::optional<T>& v) {
  a.Optional(column, v);
}

// The fields that make a configuration (kConfigurationKeySql's), of one row, by reference.
// DuckDB's JSON columns refuse text that is not JSON; appended chunks skip that check, so the
// writer makes it, once per distinct text (rows mostly repeat theirs).
class JsonChecker {
 public:
  bool Valid(const std::string& text) {
    if (text == last_valid_) return true;
    if (!nlohmann::json::accept(text)) return false;
    last_valid_ = text;
    return true;
  }

 private:
  std::string last_valid_;
};

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
  if (IsPostgresUrl(path)) return PostgresResultStore::Open(path, options);
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
  // Another process holding the file (a writer storing a configuration, a reader) is waited
  // for, up to lock_wait_s: writers hold the lock only while they write.
  using Clock = std::chrono::steady_clock;
  const auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(options.lock_wait_s));
  auto pause = std::chrono::milliseconds(5);
  std::unique_lock lock(OpenMutex());
  std::unique_ptr<Database> db;
  for (bool told = false;;) {
    std::string locked;
    db = OpenDatabase(path, options.read_only, &locked);
    if (db) break;
    if (Clock::now() >= give_up)
      throw Error(ErrorKind::kDatabase,
                  fmt::format("database '{}' is locked by another process{} (DuckDB: {}); wait "
                              "for it to finish, raise --lock-wait, or use --db to pick another "
                              "file",
                              path,
                              options.lock_wait_s > 0 ? fmt::format(" and stayed locked for {:g} s",
                                                                    options.lock_wait_s)
                                                      : "",
                              locked));
    if (!told && options.on_lock_wait) {
      options.on_lock_wait(
          fmt::format("database '{}' is locked by another process; waiting up "
                      "to {:g} s (DuckDB: {})",
                      path, options.lock_wait_s, locked));
      told = true;
    }
    lock.unlock();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
    lock.lock();
  }
  std::unique_ptr<DuckDbResultStore> store(
      new DuckDbResultStore(path, options.read_only, std::move(db)));
  duckdb_connection con = store->con_->get();
  if (options.read_only) {
    CheckNotNewer(ReadSchemaVersion(con, path), path);  // an older schema is fine to query
  } else {
    Migrate(con, path);
    RegisterParallelInsert(con, {ErrorKind::kDatabase, fmt::format("opening '{}'", path),
                                 "retry; report it if it persists"});
  }
  return store;
}

std::unique_ptr<DuckDbResultStore> DuckDbResultStore::OpenInMemoryAt(int version) {
  const std::string path = ":memory:";
  std::string locked;
  std::unique_ptr<DuckDbResultStore> store(
      new DuckDbResultStore(path, false, OpenDatabase(path, false, &locked)));
  Migrate(store->con_->get(), path, version);
  RegisterParallelInsert(store->con_->get(), {ErrorKind::kDatabase, "opening an in-memory copy",
                                              "retry; report it if it persists"});
  return store;
}

void DuckDbResultStore::MigrateToCurrent() { Migrate(con_->get(), path_); }

DuckDbResultStore::DuckDbResultStore(std::string path, bool read_only, std::unique_ptr<Database> db)
    : path_(std::move(path)), read_only_(read_only), db_(std::move(db)) {
  con_ = std::make_unique<Connection>(*db_, path_);
}

int DuckDbResultStore::SchemaVersion() { return ReadSchemaVersion(con_->get(), path_); }

void DuckDbResultStore::RequireWritable(const std::string& label) const {
  if (read_only_)
    throw Error(ErrorKind::kDatabase,
                fmt::format("{} failed: the database was opened read-only; open it read-write "
                            "to store results",
                            label));
}

void DuckDbResultStore::WriteInTransaction(const std::string& label,
                                           const std::function<void(bool bulk)>& write) {
  RequireWritable(label);
  duckdb_connection con = con_->get();
  const OnError begin_error{ErrorKind::kDatabase, label + " could not start a transaction",
                            "nothing was written; close other writers and retry"};
  Run(con, "BEGIN TRANSACTION", begin_error);
  try {
    write(/*bulk=*/true);
    Run(con, "COMMIT",
        {ErrorKind::kDatabase, label + " failed at commit",
         "nothing was written; check free disk space and retry"});
  } catch (const Error& bulk_error) {
    RollbackQuietly(con);  // a failed COMMIT has already rolled back; this is then a no-op
    if (bulk_error.kind() != ErrorKind::kDatabase) throw;
    // The staged rows go in as one statement, whose error cannot say which row it was: write
    // them again row by row to find it, and undo that too. The bulk error stands if none fails.
    Run(con, "BEGIN TRANSACTION", begin_error);
    try {
      write(/*bulk=*/false);
    } catch (...) {
      RollbackQuietly(con);
      throw;
    }
    RollbackQuietly(con);
    throw;
  } catch (...) {
    RollbackQuietly(con);
    throw;
  }
}

void DuckDbResultStore::WriteRun(const RunResults& results) { WriteRuns({&results}); }

void DuckDbResultStore::WriteRuns(const std::vector<const RunResults*>& runs) {
  if (runs.empty()) return;
  const std::string label =
      runs.size() == 1 ? RunLabel(*runs.front(), path_)
                       : fmt::format("writing {} runs to database '{}'", runs.size(), path_);
  const std::string written_at = UtcNow();
  WriteInTransaction(label, [&](bool bulk) {
    for (const RunResults* r : runs) {
      InsertRunRecord(r->run, RunLabel(*r, path_));
      InsertEntries(*r, written_at, bulk);
    }
  });
}

void DuckDbResultStore::BeginRun(const RunRecord& run) {
  RunRecord running = run;
  running.finished_at.clear();
  running.state = "running";
  const std::string label = fmt::format("starting run '{}' in database '{}'", run.run_id, path_);
  WriteInTransaction(label, [&](bool) { InsertRunRecord(running, label); });
}

void DuckDbResultStore::AppendToRun(const RunResults& part) {
  const std::string label =
      fmt::format("storing results of run '{}' in database '{}'", part.run.run_id, path_);
  const std::string written_at = UtcNow();
  WriteInTransaction(label, [&](bool bulk) {
    Result found = Statement(con_->get(), "SELECT state FROM runs WHERE run_id = ?",
                             {ErrorKind::kDatabase, label + " failed", "nothing was written"})
                       .AddText(part.run.run_id)
                       .Execute({ErrorKind::kDatabase, label + " failed", "nothing was written"});
    if (found.RowCount() == 0)
      throw Error(ErrorKind::kInternal, fmt::format("{}: the run was never begun", label));
    InsertEntries(part, written_at, bulk);
  });
}

void DuckDbResultStore::FinishRun(const std::string& run_id, const std::string& finished_at,
                                  const std::string& state) {
  const std::string label =
      fmt::format("finishing run '{}' ({}) in database '{}'", run_id, state, path_);
  WriteInTransaction(label, [&](bool) {
    Statement(con_->get(),
              "UPDATE runs SET finished_at = CAST(? AS TIMESTAMP), state = ? WHERE run_id = ?",
              {ErrorKind::kDatabase, label + " failed preparing a statement", "nothing changed"})
        .AddText(finished_at)
        .AddText(state)
        .AddText(run_id)
        .Execute({ErrorKind::kDatabase, label + " failed", "the run keeps its stored results"});
  });
}

void DuckDbResultStore::InsertRunRecord(const RunRecord& run, const std::string& label) {
  const std::string unchanged = "nothing was written (the database is unchanged)";
  Statement insert_run(con_->get(),
                       "INSERT INTO runs (run_id, started_at, finished_at, tool_version, "
                       "git_commit, command_line, hostname, os, seed, metadata, branch, origin, "
                       "imported_from, state) VALUES (?, CAST(? AS TIMESTAMP), CAST(? AS "
                       "TIMESTAMP), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       {ErrorKind::kDatabase, label + " failed preparing a statement", unchanged});
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
      .AddText(run.state.value_or(run.finished_at.empty() ? "running" : "complete"))
      .Execute({ErrorKind::kDatabase, label + " failed at the run record", unchanged});
}

void DuckDbResultStore::InsertEntries(const RunResults& results, const std::string& written_at,
                                      bool bulk) {
  duckdb_connection con = con_->get();
  const std::string label = RunLabel(results, path_);
  const std::string unchanged = "nothing was written (the database is unchanged)";
  const OnError prepare_error{ErrorKind::kDatabase, label + " failed preparing a statement",
                              unchanged};
  const RunRecord& run = results.run;

  // Hardware and models are found by their unique keys; a known one keeps its first details.
  // A model's key includes its config hash, unset (NULL) for an .onnx file. A row stored before
  // v8 has none: the first config measured with its name, source and weights claims it, so a
  // catalog model's earlier results stay its own.
  Statement find_hardware(con,
                          "SELECT hardware_id FROM hardware_platforms "
                          "WHERE platform = ? AND device_name = ? AND hostname = ?",
                          prepare_error);
  Statement insert_hardware(con,
                            "INSERT INTO hardware_platforms (platform, device_name, hostname, "
                            "details) VALUES (?, ?, ?, ?) RETURNING hardware_id",
                            prepare_error);
  // A known row keeps its details, but gains what a later run knows and it lacks (the memory
  // bandwidth probe's figure, stored once per machine).
  Statement add_hardware_details(
      con,
      "UPDATE hardware_platforms SET details = json_merge_patch(CAST(? AS JSON), details) "
      "WHERE hardware_id = ? AND NOT list_has_all(json_keys(details), json_keys(CAST(? AS JSON)))",
      prepare_error);
  Statement find_model(con,
                       "SELECT model_id, config_hash IS NULL AND ? IS NOT NULL FROM models "
                       "WHERE name = ? AND source = ? AND content_hash = ? "
                       "AND (config_hash IS NOT DISTINCT FROM ? OR config_hash IS NULL) "
                       "ORDER BY config_hash IS NULL LIMIT 1",
                       prepare_error);
  Statement claim_model(con, "UPDATE models SET config_hash = ? WHERE model_id = ?", prepare_error);
  // A model stored without a CID (before schema v11, or imported) gains the one this run knows.
  Statement add_model_cid(
      con, "UPDATE models SET content_cid = ? WHERE model_id = ? AND content_cid IS NULL",
      prepare_error);
  Statement insert_model(con,
                         "INSERT INTO models (name, architecture, modality, source, source_path, "
                         "parameters, content_hash, family, config_hash, content_cid) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "RETURNING model_id",
                         prepare_error);
  const std::vector<Column> columns = PerformanceColumns();
  std::optional<Statement> insert_performance;
  if (!bulk) insert_performance.emplace(con, InsertPerformanceSql(columns), prepare_error);
  std::vector<EntryIds> entry_ids;
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
    if (found_hw.RowCount() > 0)
      add_hardware_details.AddText(hw.details_json)
          .AddInt(hardware_id)
          .AddText(hw.details_json)
          .Execute(hardware_error);

    const OnError model_error{ErrorKind::kDatabase, where + " storing the model", unchanged};
    Result found_model = find_model.AddOptional(model.config_hash)
                             .AddText(model.name)
                             .AddText(model.source)
                             .AddText(model.content_hash)
                             .AddOptional(model.config_hash)
                             .Execute(model_error);
    if (found_model.RowCount() > 0 && duckdb_value_boolean(found_model.get(), 1, 0))
      claim_model.AddOptional(model.config_hash)
          .AddInt(found_model.FirstInt64())
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
                                                              .AddOptional(model.config_hash)
                                                              .AddOptional(model.content_cid)
                                                              .Execute(model_error)
                                                              .FirstInt64();
    if (found_model.RowCount() > 0 && model.content_cid)
      add_model_cid.AddOptional(model.content_cid).AddInt(model_id).Execute(model_error);

    entry_ids.push_back({model_id, hardware_id});
    for (size_t i = 0; !bulk && i < entry.performance.size(); ++i) {
      const PerformanceRecord& p = entry.performance[i];
      ForEachPerformanceField(
          run.run_id, model_id, hardware_id, p, written_at,
          [&](const char*, const auto& value) { Bind(*insert_performance, value); });
      insert_performance->Execute(
          {ErrorKind::kDatabase,
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
  if (bulk) AppendPerformance(results, entry_ids, written_at);
}

void DuckDbResultStore::AppendPerformance(const RunResults& results,
                                          const std::vector<EntryIds>& ids,
                                          const std::string& written_at) {
  duckdb_connection con = con_->get();
  const std::string label = RunLabel(results, path_);
  const OnError on_error{ErrorKind::kDatabase, label + " failed storing its performance results",
                         "nothing was written (the database is unchanged)"};
  size_t rows = 0;
  for (const auto& entry : results.entries) rows += entry.performance.size();
  if (rows == 0) return;

  // One pass over the rows: each row's entry, and its JSON texts checked before anything is
  // written (DuckDB's threads fill the rows later and must not fail halfway). The configuration
  // key is DuckDB's own hash (kConfigurationKeySql, every writer's), computed in the insert.
  JsonChecker provider_options, session_options, input_shapes;
  struct Row {
    size_t entry;
    const PerformanceRecord* record;
  };
  std::vector<Row> flat;
  flat.reserve(rows);
  for (size_t e = 0; e < results.entries.size(); ++e) {
    for (const PerformanceRecord& p : results.entries[e].performance) {
      if (!provider_options.Valid(p.provider_options_json) ||
          !session_options.Valid(p.session_options_json) ||
          !input_shapes.Valid(p.input_shapes_json)) {
        throw Error(ErrorKind::kDatabase,
                    fmt::format("{}: performance result {} of entry {} has an option or shape "
                                "field that is not JSON; nothing was written",
                                label, flat.size() + 1, e + 1));
      }
      flat.push_back({e, &p});
    }
  }

  // Result ids: a block from the sequence, in row order (latest_performance takes the highest
  // id of a configuration in a run as the row written last). Reserved under a process-wide lock
  // so that the block is contiguous unless a row-by-row writer took one in between.
  static std::mutex id_mutex;
  std::vector<int64_t> fallback_ids;
  int64_t first_id = 0;
  {
    std::lock_guard lock(id_mutex);
    const std::string take =
        fmt::format("SELECT nextval('performance_result_id_seq') AS id FROM range({})", rows);
    Result block = Run(con, "SELECT min(id), max(id) FROM (" + take + ")", on_error);
    first_id = duckdb_value_int64(block.get(), 0, 0);
    if (duckdb_value_int64(block.get(), 1, 0) - first_id + 1 != static_cast<int64_t>(rows)) {
      Result all = Run(con, take + " ORDER BY id", on_error);
      for (idx_t row = 0; row < all.RowCount(); ++row)
        fallback_ids.push_back(duckdb_value_int64(all.get(), 0, row));
    }
  }
  const int64_t created_us = Statement(con, "SELECT epoch_us(CAST(? AS TIMESTAMP))", on_error)
                                 .AddText(written_at)
                                 .Execute(on_error)
                                 .FirstInt64();

  const std::vector<Column> columns = PerformanceColumns();
  const size_t created_at =
      static_cast<size_t>(std::find_if(columns.begin(), columns.end(),
                                       [](const Column& c) { return c.name == "created_at"; }) -
                          columns.begin() + 1);  // after the result id
  const RowFiller fill = [&](size_t first, size_t count, ChunkWriter& out) {
    for (size_t row = first; row < first + count; ++row) {
      const auto [e, p] = flat[row];
      size_t column = 0;
      out.Int(column++,
              fallback_ids.empty() ? first_id + static_cast<int64_t>(row) : fallback_ids[row]);
      ForEachPerformanceField(results.run.run_id, ids[e].model_id, ids[e].hardware_id, *p,
                              written_at, [&](const char*, const auto& value) {
                                if (column == created_at)
                                  out.Int(column++, created_us);
                                else
                                  SetAppended(out, column++, value);
                              });
      out.EndRow();
    }
  };
  ParallelInsert(con, "performance_results", AppendTypes(columns), rows, fill, on_error,
                 {kConfigurationKeySql});
}

void DuckDbResultStore::InsertTextRows(
    const std::string& table, size_t columns,
    const std::vector<std::vector<std::optional<std::string>>>& rows) {
  if (rows.empty()) return;
  const std::vector<ChunkWriter::Type> types(columns, ChunkWriter::Type::kVarchar);
  const RowFiller fill = [&](size_t first, size_t count, ChunkWriter& out) {
    for (size_t r = first; r < first + count; ++r) {
      for (size_t c = 0; c < columns; ++c) out.Optional(c, rows[r][c]);
      out.EndRow();
    }
  };
  ParallelInsert(con_->get(), table, types, rows.size(), fill,
                 {ErrorKind::kDatabase, fmt::format("loading rows into '{}' failed", table),
                  "report it: the rows came from this tool's own store"});
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
