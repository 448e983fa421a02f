#include "ipfs_accel/store/maintenance.h"
#include "ipfs_accel/store/postgres_store.h"
#include "ipfs_accel/store/run_ref.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <system_error>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/display_time.h"
#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/result_store.h"
#include "store/duckdb_handle.h"
#include "store/migrations.h"

namespace ipfs_accel::store {
namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

std::string Identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

int64_t CountOf(ResultStore& store, const std::string& sql) {
  const QueryResult r = store.Query(sql);
  if (r.rows.empty() || r.rows[0].empty() || !r.rows[0][0]) return 0;
  return std::stoll(*r.rows[0][0]);
}

uint64_t SizeOrZero(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  return ec ? 0 : size;
}

uint64_t DatabaseBytes(const std::string& path) {
  return SizeOrZero(path) + SizeOrZero(path + ".wal");
}

uint64_t TreeBytes(const fs::path& p) {
  if (!fs::is_directory(p)) return SizeOrZero(p);
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file()) total += e.file_size();
  return total;
}

// A name beside `destination` (same folder, so the final rename stays on one file system).
fs::path TemporaryBeside(const fs::path& destination) {
  const fs::path parent = destination.has_parent_path() ? destination.parent_path() : ".";
  return parent / fmt::format(".{}.partial-{}", destination.filename().string(), ::getpid());
}

void RefuseExisting(const fs::path& destination, const std::string& what) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(destination, ec))) {
    throw Error(ErrorKind::kIo, fmt::format("{} '{}' already exists; remove it or choose another "
                                            "path (it is never overwritten)",
                                            what, destination.string()));
  }
}

void RemoveQuietly(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

// The caller's open options (lock wait, notice) with this function's access.
OpenOptions WithAccess(OpenOptions open, bool read_only) {
  open.read_only = read_only;
  return open;
}

// Runs `write` on a temporary path beside `destination`, then renames it into place; on any
// failure removes the temporary and throws kIo naming `destination`.
template <typename Write>
void WriteThenRename(const fs::path& destination, const std::string& what, Write write) {
  const fs::path temporary = TemporaryBeside(destination);
  try {
    write(temporary);
    fs::rename(temporary, destination);
  } catch (const Error& e) {
    RemoveQuietly(temporary);
    throw Error(e.kind() == ErrorKind::kInvalidArgument ? e.kind() : ErrorKind::kIo,
                fmt::format("cannot write {} '{}': {}", what, destination.string(), e.what()));
  } catch (const std::exception& e) {
    RemoveQuietly(temporary);
    throw Error(ErrorKind::kIo, fmt::format("cannot write {} '{}' ({}); check that its folder "
                                            "exists, is writable and has free space",
                                            what, destination.string(), e.what()));
  }
}

std::string FormatUtc(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

// A query cell (DuckDB's text of the value) into a record's field.
void FromCell(const std::optional<std::string>& cell, std::string& v) { v = cell.value_or(""); }
void FromCell(const std::optional<std::string>& cell, int64_t& v) { v = std::stoll(cell.value()); }
void FromCell(const std::optional<std::string>& cell, int& v) { v = std::stoi(cell.value()); }
void FromCell(const std::optional<std::string>& cell, uint64_t& v) {
  v = std::stoull(cell.value());
}
void FromCell(const std::optional<std::string>& cell, double& v) {
  v = std::strtod(cell.value().c_str(), nullptr);  // DuckDB writes the shortest exact text
}
void FromCell(const std::optional<std::string>& cell, std::vector<double>& v) {
  v = nlohmann::json::parse(cell.value()).get<std::vector<double>>();  // "[2.5, 3.0]"
}
template <typename T>
void FromCell(const std::optional<std::string>& cell, std::optional<T>& v) {
  if (!cell) {
    v.reset();
    return;
  }
  T value{};
  FromCell(cell, value);
  v = value;
}

// An ISO-8601 UTC text of a TIMESTAMP column, as the records hold it.
std::string IsoSql(const std::string& column) {
  return fmt::format(
      "CASE WHEN microsecond({0}) % 1000000 = 0 THEN strftime({0}, '%Y-%m-%dT%H:%M:%SZ') ELSE "
      "strftime({0}, '%Y-%m-%dT%H:%M:%S.%fZ') END",
      column);
}

// The rows of `table` WHERE `where` as records of type Record, one column per field (a field
// whose column differs is read through `columns`' expression).
template <typename Record>
std::vector<Record> ReadRecords(ResultStore& store, const std::string& table,
                                const std::string& where, const std::string& order,
                                const std::map<std::string, std::string>& columns = {}) {
  std::string select;
  Record probe;
  ForEachField(probe, [&](const char* name, const auto&) {
    const auto it = columns.find(name);
    select += fmt::format("{}{} AS {}", select.empty() ? "" : ", ",
                          it == columns.end() ? name : it->second, name);
  });
  const QueryResult rows = store.Query(
      fmt::format("SELECT {} FROM {} WHERE {} ORDER BY {}", select, table, where, order));
  std::vector<Record> out;
  for (const auto& row : rows.rows) {
    Record r;
    size_t i = 0;
    ForEachField(r, [&](const char*, auto& v) { FromCell(row[i++], v); });
    out.push_back(std::move(r));
  }
  return out;
}

// Performance results are read by ranges of this many result ids, so that a run of millions
// is never all in memory. (A range, not ORDER BY … LIMIT: DuckDB's top-N held every column of
// every remaining row, 650 MB for a million results.)
constexpr int64_t kPerformancePage = 20000;

// Walks a stored run: on_entry(model, hardware, compatibility) per model x hardware in the
// order their first result was written, then on_performance(page) for its performance
// results in pages, in written order. Returns the run record; kNotFound for an unknown id.
template <typename OnEntry, typename OnPerformance>
RunRecord VisitStoredRun(ResultStore& store, const std::string& run_id, OnEntry&& on_entry,
                         OnPerformance&& on_performance) {
  const std::string of_run = "run_id = " + Literal(run_id);
  auto runs = ReadRecords<RunRecord>(store, "runs", of_run, "run_id",
                                     {{"started_at", IsoSql("started_at")},
                                      {"finished_at", IsoSql("finished_at")},
                                      {"metadata_json", "CAST(metadata AS VARCHAR)"}});
  if (runs.empty()) {
    throw Error(
        ErrorKind::kNotFound,
        fmt::format("run '{}' is not stored; `db stats` or `report trend` list the runs", run_id));
  }
  const QueryResult pairs = store.Query(fmt::format(
      "SELECT model_id, hardware_id FROM (SELECT model_id, hardware_id, 0 AS kind, result_id AS "
      "id FROM performance_results WHERE {0} UNION ALL SELECT model_id, hardware_id, 1, id FROM "
      "compatibility_results WHERE {0}) GROUP BY model_id, hardware_id ORDER BY min(kind), "
      "min(id)",
      of_run));
  for (const auto& pair : pairs.rows) {
    const std::string model_id = pair[0].value(), hardware_id = pair[1].value();
    const std::string of_entry =
        fmt::format("{} AND model_id = {} AND hardware_id = {}", of_run, model_id, hardware_id);
    on_entry(ReadRecords<ModelRecord>(store, "models", "model_id = " + model_id, "model_id").at(0),
             ReadRecords<HardwarePlatformRecord>(store, "hardware_platforms",
                                                 "hardware_id = " + hardware_id, "hardware_id",
                                                 {{"details_json", "CAST(details AS VARCHAR)"}})
                 .at(0),
             ReadRecords<CompatibilityRecord>(store, "compatibility_results", of_entry, "id"));
    const QueryResult span = store.Query(
        "SELECT min(result_id), max(result_id) FROM performance_results WHERE " + of_entry);
    const auto& low = span.rows.at(0).at(0);
    const int64_t first = low ? std::stoll(*low) : 0;
    const int64_t last = low ? std::stoll(span.rows[0][1].value()) : -1;
    for (int64_t from = first; from <= last; from += kPerformancePage) {
      auto page =
          ReadRecords<PerformanceRecord>(store, "performance_results",
                                         fmt::format("{} AND result_id BETWEEN {} AND {}", of_entry,
                                                     from, from + kPerformancePage - 1),
                                         "result_id");
      if (!page.empty()) on_performance(std::move(page));
    }
  }
  return std::move(runs[0]);
}

}  // namespace

RunResults ReadStoredRun(ResultStore& store, const std::string& run_id) {
  RunResults out;
  out.run = VisitStoredRun(
      store, run_id,
      [&](ModelRecord model, HardwarePlatformRecord hardware,
          std::vector<CompatibilityRecord> compatibility) {
        out.entries.push_back(
            {std::move(model), std::move(hardware), {}, std::move(compatibility)});
      },
      [&](std::vector<PerformanceRecord> page) {
        auto& performance = out.entries.back().performance;
        std::move(page.begin(), page.end(), std::back_inserter(performance));
      });
  return out;
}

void WriteStoredRun(ResultStore& store, const std::string& run_id, RunExportWriter& writer) {
  writer.BeginRun();
  const RunRecord run = VisitStoredRun(
      store, run_id,
      [&](const ModelRecord& model, const HardwarePlatformRecord& hardware,
          const std::vector<CompatibilityRecord>& compatibility) {
        writer.BeginEntry(model, hardware, compatibility);
      },
      [&](const std::vector<PerformanceRecord>& page) {
        for (const auto& p : page) writer.Add(p);
      });
  writer.EndRun(run);
}

const std::vector<std::string>& ResultTables() {
  static const std::vector<std::string> tables = {"runs",
                                                  "hardware_platforms",
                                                  "models",
                                                  "performance_results",
                                                  "compatibility_results",
                                                  "schema_version"};
  return tables;
}

DatabaseStats ReadStats(const std::string& path, const OpenOptions& open) {
  DatabaseStats stats;
  {
    auto store = ResultStore::Open(path, WithAccess(open, true));
    for (const std::string& table : ResultTables())
      stats.rows_per_table.emplace_back(table, CountOf(*store, "SELECT count(*) FROM " + table));
    const QueryResult origins = store->Query(
        "SELECT COALESCE(origin, 'measured'), count(*) FROM runs GROUP BY 1 ORDER BY 1");
    for (const auto& row : origins.rows)
      stats.runs_by_origin.emplace_back(row[0].value_or(""), std::stoll(row[1].value_or("0")));
    stats.distinct_models =
        CountOf(*store,
                "SELECT count(DISTINCT model_id) FROM (SELECT model_id FROM performance_results "
                "UNION ALL SELECT model_id FROM compatibility_results)");
    stats.distinct_hardware =
        CountOf(*store,
                "SELECT count(DISTINCT hardware_id) FROM (SELECT hardware_id FROM "
                "performance_results UNION ALL SELECT hardware_id FROM compatibility_results)");
    const QueryResult span =
        store->Query(fmt::format("SELECT {}, {} FROM runs", DisplayTimestampSql("min(started_at)"),
                                 DisplayTimestampSql("max(started_at)")));
    stats.first_run_started_at = span.rows.at(0).at(0);
    stats.last_run_started_at = span.rows.at(0).at(1);
    stats.schema_version = store->SchemaVersion();
  }
  stats.file_bytes = DatabaseBytes(path);
  return stats;
}

std::vector<CheckFinding> CheckDatabase(const std::string& path, const OpenOptions& open) {
  auto store = ResultStore::Open(path, WithAccess(open, true));
  std::vector<CheckFinding> problems, warnings;
  const auto collect = [&](const std::string& sql, bool is_problem) {
    // Every check query yields (table, id, message).
    for (const auto& row : store->Query(sql + " ORDER BY 1, 2").rows) {
      (is_problem ? problems : warnings)
          .push_back({is_problem, row[0].value_or(""), row[1].value_or(""), row[2].value_or("")});
    }
  };

  const int version = store->SchemaVersion();
  if (version != CurrentSchemaVersion()) {
    problems.push_back({true, "schema_version", std::to_string(version),
                        fmt::format("schema version {} differs from this tool's {}; open it "
                                    "read-write once (e.g. db vacuum) to migrate",
                                    version, CurrentSchemaVersion())});
  }

  // References: the schema has no foreign keys since v6 (WriteRun resolves every id itself),
  // and another tool may have edited the tables.
  std::string references;
  for (const auto& [table, key] :
       {std::pair{"performance_results", "result_id"}, std::pair{"compatibility_results", "id"}}) {
    for (const auto& [column, parent, parent_key] :
         {std::tuple{"run_id", "runs", "run_id"}, std::tuple{"model_id", "models", "model_id"},
          std::tuple{"hardware_id", "hardware_platforms", "hardware_id"}}) {
      if (!references.empty()) references += " UNION ALL ";
      references += fmt::format(
          "SELECT '{0}', CAST(c.{1} AS VARCHAR), '{2} ' || COALESCE(CAST(c.{2} AS VARCHAR), "
          "'NULL') || ' does not exist in {3}' FROM {0} c WHERE NOT EXISTS (SELECT 1 FROM {3} p "
          "WHERE p.{4} = c.{2})",
          table, key, column, parent, parent_key);
    }
  }
  collect("SELECT * FROM (" + references + ")", true);
  // Result ids come from a sequence; v6 keeps no primary-key index over them.
  collect(
      "SELECT 'performance_results', CAST(result_id AS VARCHAR), 'result_id is used by ' || "
      "count(*) || ' rows' FROM performance_results GROUP BY result_id HAVING count(*) > 1",
      true);

  // Impossible values of measurements: a latency's mean or percentile is never 0 or less (a
  // value the source did not have is NULL since v8, not 0). The others may be 0: a stdev of
  // equal samples, a minimum on a browser's coarse clock (100 us without isolation).
  struct Measurement {
    const char* column;
    bool positive;
  };
  constexpr Measurement kMeasurements[] = {{"load_ms", false},
                                           {"first_inference_ms", true},
                                           {"latency_mean_ms", true},
                                           {"latency_stdev_ms", false},
                                           {"latency_min_ms", false},
                                           {"latency_max_ms", true},
                                           {"latency_p50_ms", true},
                                           {"latency_p90_ms", true},
                                           {"latency_p95_ms", true},
                                           {"latency_p99_ms", true},
                                           {"throughput_items_per_s", false},
                                           {"time_to_first_token_ms", true},
                                           {"tail_early_stopping_ms", true},
                                           {"tail_ci_low_ms", false},
                                           {"tail_ci_high_ms", true},
                                           {"achieved_qps", false}};
  std::string values;
  for (const auto& [column, positive] : kMeasurements) {
    values += fmt::format(
        "SELECT 'performance_results', CAST(result_id AS VARCHAR), '{0} is ' || "
        "CAST({0} AS VARCHAR) FROM performance_results WHERE {0} {1} 0 OR isnan({0}) OR "
        "isinf({0}) UNION ALL ",
        column, positive ? "<=" : "<");
  }
  values +=
      "SELECT 'performance_results', CAST(result_id AS VARCHAR), 'latency_min_ms ' || "
      "latency_min_ms || ' > latency_max_ms ' || latency_max_ms FROM performance_results WHERE "
      "latency_min_ms > latency_max_ms "
      "UNION ALL SELECT 'performance_results', CAST(result_id AS VARCHAR), 'latency_p50_ms ' || "
      "latency_p50_ms || ' > latency_p99_ms ' || latency_p99_ms FROM performance_results WHERE "
      "latency_p50_ms > latency_p99_ms "
      "UNION ALL SELECT 'performance_results', CAST(result_id AS VARCHAR), 'iterations is 0 "
      "but there are ' || len(samples_ms) || ' samples' FROM performance_results WHERE "
      "iterations = 0 AND len(samples_ms) > 0 "
      "UNION ALL SELECT 'compatibility_results', CAST(id AS VARCHAR), 'max_abs_error is ' || "
      "CAST(max_abs_error AS VARCHAR) FROM compatibility_results WHERE max_abs_error < 0 OR "
      "isnan(max_abs_error) OR isinf(max_abs_error)";
  collect("SELECT * FROM (" + values + ")", true);

  collect(
      "SELECT * FROM (SELECT 'models', CAST(model_id AS VARCHAR), 'model ''' || name || ''' is "
      "referred to by no result' FROM models m WHERE NOT EXISTS (SELECT 1 FROM "
      "performance_results p WHERE p.model_id = m.model_id) AND NOT EXISTS (SELECT 1 FROM "
      "compatibility_results c WHERE c.model_id = m.model_id) UNION ALL SELECT "
      "'hardware_platforms', CAST(hardware_id AS VARCHAR), platform || ' ''' || device_name || "
      "''' is referred to by no result' FROM hardware_platforms h WHERE NOT EXISTS (SELECT 1 "
      "FROM performance_results p WHERE p.hardware_id = h.hardware_id) AND NOT EXISTS (SELECT 1 "
      "FROM compatibility_results c WHERE c.hardware_id = h.hardware_id))",
      false);

  problems.insert(problems.end(), warnings.begin(), warnings.end());
  return problems;
}

// The file maintenance commands work on a DuckDB file; a PostgreSQL store has its server's own.
static void RequireDuckDbFile(const std::string& path, const char* command, const char* instead) {
  if (IsPostgresUrl(path))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{} works on a DuckDB file, not the PostgreSQL store '{}'; {}", command,
                            RedactedUrl(path), instead));
}

VacuumReport VacuumDatabase(const std::string& path, const OpenOptions& open) {
  RequireDuckDbFile(path, "db vacuum", "PostgreSQL vacuums itself (autovacuum)");
  if (!fs::exists(path)) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("database '{}' does not exist; pass --db with an existing file", path));
  }
  VacuumReport report;
  report.bytes_before = DatabaseBytes(path);
  {
    auto store = ResultStore::Open(path, WithAccess(open, false));
    store->Query("CHECKPOINT");
    store->Query("VACUUM ANALYZE");
    store->Query("CHECKPOINT");
  }
  report.bytes_after = DatabaseBytes(path);
  return report;
}

std::string ParsePurgeCutoff(const std::string& text) {
  static const std::regex kDuration(R"(([0-9]+)([dhw]))");
  static const std::regex kDate(R"((\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}:\d{2})Z?)?)");
  std::smatch m;
  if (std::regex_match(text, m, kDuration)) {
    const long amount = std::stol(m[1].str());
    const long hours = m[2] == "h" ? 1 : m[2] == "d" ? 24 : 24 * 7;
    return FormatUtc(std::chrono::system_clock::now() - std::chrono::hours(amount * hours));
  }
  if (std::regex_match(text, m, kDate)) {
    return m[1].str() + " " + (m[2].matched ? m[2].str() : "00:00:00");
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("--older-than '{}' is neither a duration (90d, 12h, 2w) nor a UTC date "
                          "(2026-01-01 or 2026-01-01T10:00:00Z)",
                          text));
}

PurgeReport PurgeRunsBefore(const std::string& path, const std::string& cutoff, bool dry_run,
                            const OpenOptions& open) {
  RequireDuckDbFile(path, "db purge",
                    "delete runs there with psql, or db pull what to keep into a file");
  if (!fs::exists(path)) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("database '{}' does not exist; pass --db with an existing file", path));
  }
  PurgeReport report;
  report.cutoff = cutoff;
  report.dry_run = dry_run;
  auto store = ResultStore::Open(path, WithAccess(open, dry_run));
  const std::string old_runs =
      "SELECT run_id FROM runs WHERE started_at < CAST(" + Literal(cutoff) + " AS TIMESTAMP)";
  store->Query("BEGIN TRANSACTION");
  try {
    // What the purged results refer to, taken before they go.
    store->Query(
        "CREATE TEMP TABLE purge_models AS SELECT model_id FROM performance_results "
        "WHERE run_id IN (" +
        old_runs +
        ") UNION SELECT model_id FROM "
        "compatibility_results WHERE run_id IN (" +
        old_runs + ")");
    store->Query(
        "CREATE TEMP TABLE purge_hardware AS SELECT hardware_id FROM "
        "performance_results WHERE run_id IN (" +
        old_runs +
        ") UNION SELECT "
        "hardware_id FROM compatibility_results WHERE run_id IN (" +
        old_runs + ")");
    const std::string unreferenced_models =
        "FROM models WHERE model_id IN (SELECT model_id FROM purge_models) AND model_id NOT IN "
        "(SELECT model_id FROM performance_results WHERE run_id NOT IN (" +
        old_runs +
        ")) AND "
        "model_id NOT IN (SELECT model_id FROM compatibility_results WHERE run_id NOT IN (" +
        old_runs + "))";
    const std::string unreferenced_hardware =
        "FROM hardware_platforms WHERE hardware_id IN (SELECT hardware_id FROM purge_hardware) "
        "AND hardware_id NOT IN (SELECT hardware_id FROM performance_results WHERE run_id NOT "
        "IN (" +
        old_runs +
        ")) AND hardware_id NOT IN (SELECT hardware_id FROM "
        "compatibility_results WHERE run_id NOT IN (" +
        old_runs + "))";
    report.runs = CountOf(*store, "SELECT count(*) FROM (" + old_runs + ")");
    report.performance_results = CountOf(
        *store, "SELECT count(*) FROM performance_results WHERE run_id IN (" + old_runs + ")");
    report.compatibility_results = CountOf(
        *store, "SELECT count(*) FROM compatibility_results WHERE run_id IN (" + old_runs + ")");
    report.models = CountOf(*store, "SELECT count(*) " + unreferenced_models);
    report.hardware = CountOf(*store, "SELECT count(*) " + unreferenced_hardware);
    if (dry_run) {
      store->Query("ROLLBACK");
      return report;
    }
    store->Query("DELETE FROM performance_results WHERE run_id IN (" + old_runs + ")");
    store->Query("DELETE FROM compatibility_results WHERE run_id IN (" + old_runs + ")");
    // DuckDB refuses to delete a key whose referencing rows were deleted in the same
    // transaction (its foreign-key limitation), so the parents go in a second one. Should that
    // fail, the old runs stay without results and a second purge removes them.
    store->Query("COMMIT");
    store->Query("BEGIN TRANSACTION");
    store->Query("DELETE " + unreferenced_models);
    store->Query("DELETE " + unreferenced_hardware);
    store->Query("DELETE FROM runs WHERE run_id IN (" + old_runs + ")");
    store->Query("DROP TABLE purge_models; DROP TABLE purge_hardware");
    store->Query("COMMIT");
  } catch (const Error& e) {
    try {
      store->Query("ROLLBACK");
    } catch (const Error&) {  // a failed COMMIT has already rolled back
    }
    throw Error(e.kind() == ErrorKind::kInvalidArgument ? ErrorKind::kDatabase : e.kind(),
                fmt::format("purging runs before {} from '{}' failed, nothing was deleted: {}",
                            cutoff, path, e.what()));
  }
  return report;
}

BackupReport BackupDatabase(const std::string& path, const std::string& destination, bool compress,
                            const OpenOptions& open) {
  RequireDuckDbFile(path, "db backup", "use pg_dump, or db pull into a DuckDB file");
  if (!fs::exists(path)) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("database '{}' does not exist; pass --db with an existing file", path));
  }
  RefuseExisting(destination, "backup");
  BackupReport report{.destination = destination, .compressed = compress};
  // Read-write: DuckDB's file lock keeps every other writer out while the copy is taken.
  auto store = ResultStore::Open(path, WithAccess(open, false));
  WriteThenRename(destination, "backup", [&](const fs::path& temporary) {
    if (compress) {
      store->Query("EXPORT DATABASE " + Literal(temporary.string()) +
                   " (FORMAT parquet, COMPRESSION zstd)");
    } else {
      store->Query("CHECKPOINT");  // everything in the main file, nothing left in the WAL
      fs::copy_file(path, temporary);
    }
  });
  report.bytes = TreeBytes(destination);
  return report;
}

namespace {

// The files EXPORT DATABASE writes beside one Parquet file per table.
bool IsExportFolder(const fs::path& p) {
  return fs::is_regular_file(p / "schema.sql") && fs::is_regular_file(p / "load.sql");
}

// Refuses to replace the database at `path` while another process holds DuckDB's lock on it
// (a read or write fcntl lock over the file), or when it has content and `force` is not set.
void CheckReplaceable(const fs::path& path, bool force) {
  std::error_code ec;
  if (!fs::exists(path, ec) || fs::file_size(path, ec) == 0) return;
  if (!force)
    throw Error(ErrorKind::kIo, fmt::format("database '{}' already exists and is not empty; pass "
                                            "--force to replace it, or restore to another --db",
                                            path.string()));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // the rename below says what is wrong
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool held = ::fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  ::close(fd);
  if (held)
    throw Error(ErrorKind::kDatabase,
                fmt::format("database '{}' is open in process {}; stop it, then restore again",
                            path.string(), lock.l_pid));
}

// Builds the database file `temporary` from `backup`: IMPORT DATABASE of an export folder, a
// copy of a plain backup.
void RestoreInto(const fs::path& backup, const fs::path& temporary) {
  if (!IsExportFolder(backup)) {
    if (!fs::is_regular_file(backup))
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("backup '{}' is neither a database file nor a folder of `db "
                              "backup --compress` (schema.sql, load.sql, Parquet files)",
                              backup.string()));
    fs::copy_file(backup, temporary);
    return;
  }
  duckdb_database raw = nullptr;
  char* error = nullptr;
  if (duckdb_open_ext(temporary.c_str(), &raw, nullptr, &error) == DuckDBError) {
    const std::string message = error ? OneLine(error) : "unknown error";
    duckdb_free(error);
    duckdb_close(&raw);
    throw Error(ErrorKind::kIo,
                fmt::format("cannot create '{}' (DuckDB: {})", temporary.string(), message));
  }
  Database db(raw);
  Connection con(db, temporary.string());
  const OnError damaged{ErrorKind::kCorrupt,
                        fmt::format("backup '{}' is incomplete or damaged", backup.string()),
                        "restore from another backup"};
  Run(con.get(), "IMPORT DATABASE " + Literal(backup.string()), damaged);
  Run(con.get(), "CHECKPOINT", damaged);
}

// Reads every row of every table of the restored file back (a damaged block fails here), and
// requires a results database whose schema this tool knows.
std::vector<std::pair<std::string, int64_t>> CheckRestored(const fs::path& temporary,
                                                           const fs::path& backup) {
  auto store = ResultStore::Open(temporary.string(), {.read_only = true});
  if (store->SchemaVersion() == 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("backup '{}' is not a results database (it has "
                                                 "no schema_version table)",
                                                 backup.string()));
  std::vector<std::pair<std::string, int64_t>> rows;
  for (const std::string& table : ResultTables())
    rows.emplace_back(
        table, CountOf(*store, fmt::format("SELECT count(hash(t)) FROM {} t", Identifier(table))));
  return rows;
}

}  // namespace

RestoreReport RestoreDatabase(const std::string& backup, const std::string& path, bool force) {
  RequireDuckDbFile(path, "db restore", "restore into a DuckDB file and db push it");
  if (!fs::exists(backup))
    throw Error(ErrorKind::kNotFound, fmt::format("backup '{}' does not exist", backup));
  RestoreReport report{.database = path, .rows_per_table = {}, .replaced = false};
  CheckReplaceable(path, force);
  report.replaced = fs::exists(path) && fs::file_size(path) > 0;
  const fs::path temporary = TemporaryBeside(path);
  RemoveQuietly(temporary);
  try {
    RestoreInto(backup, temporary);
    report.rows_per_table = CheckRestored(temporary, backup);
    fs::rename(temporary, path);
  } catch (const std::exception& e) {
    RemoveQuietly(temporary);
    RemoveQuietly(temporary.string() + ".wal");
    const auto* error = dynamic_cast<const Error*>(&e);
    throw Error(error ? error->kind() : ErrorKind::kIo,
                fmt::format("restoring '{}' into '{}' failed, the database is unchanged: {}",
                            backup, path, e.what()));
  }
  RemoveQuietly(path + ".wal");  // the replaced database's; the restored one left none
  return report;
}

ExportReport ExportDatabase(const std::string& path, const ExportRequest& request,
                            const OpenOptions& open) {
  if (request.format != "parquet" && request.format != "csv" && request.format != "json" &&
      request.format != "run-json") {
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("--format '{}' is not one of parquet, csv, json, run-json", request.format));
  }
  if (request.format == "run-json" && (request.table || request.query)) {
    throw Error(ErrorKind::kInvalidArgument,
                "--format run-json exports runs; pass --run ID (or nothing), not --table or "
                "--query");
  }
  if (request.run_id && request.format != "run-json") {
    throw Error(ErrorKind::kInvalidArgument, "--run goes with --format run-json only");
  }
  if (request.table && request.query) {
    throw Error(ErrorKind::kInvalidArgument, "pass either --table or --query, not both");
  }
  RefuseExisting(request.output, "export output");
  auto store = ResultStore::Open(path, WithAccess(open, true));
  ExportReport report;
  if (request.format == "run-json") {
    std::vector<std::string> ids;
    if (request.run_id) {
      ids.push_back(ResolveRunRef(*store, *request.run_id));
    } else {
      for (const auto& row :
           store->Query("SELECT run_id FROM runs ORDER BY started_at, run_id").rows)
        ids.push_back(row[0].value());
    }
    if (ids.empty()) {
      throw Error(ErrorKind::kNotFound, fmt::format("database '{}' holds no runs to export", path));
    }
    if (CountOf(*store, "SELECT count(*) FROM runs WHERE run_id = " + Literal(ids[0])) == 0) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("run '{}' is not stored; `db stats` or `report trend` list the runs",
                              ids[0]));
    }
    // Streamed run by run, page by page: a run of a million results is never one document.
    WriteThenRename(request.output, "export", [&](const fs::path& temporary) {
      std::ofstream out(temporary, std::ios::binary);
      RunExportWriter writer(out);
      if (ids.size() > 1) out << '[';  // one run: its export as is
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) out << ',';
        WriteStoredRun(*store, ids[i], writer);
      }
      if (ids.size() > 1) out << ']';
      out.close();
      if (!out) {
        throw Error(ErrorKind::kIo, fmt::format("writing '{}' failed ({}); check free disk space",
                                                temporary.string(), std::strerror(errno)));
      }
    });
    report.files.emplace_back(request.output, SizeOrZero(request.output));
    return report;
  }
  const std::string options = fmt::format(" (FORMAT {})", request.format);
  if (request.table || request.query) {
    const std::string source =
        request.table ? Identifier(*request.table) : "(" + *request.query + ")";
    WriteThenRename(request.output, "export", [&](const fs::path& temporary) {
      store->Query("COPY " + source + " TO " + Literal(temporary.string()) + options);
    });
    report.files.emplace_back(request.output, SizeOrZero(request.output));
    return report;
  }
  WriteThenRename(request.output, "export", [&](const fs::path& temporary) {
    fs::create_directory(temporary);
    for (const std::string& table : ResultTables()) {
      const fs::path file = temporary / (table + "." + request.format);
      store->Query("COPY " + table + " TO " + Literal(file.string()) + options);
    }
  });
  for (const std::string& table : ResultTables()) {
    const fs::path file = fs::path(request.output) / (table + "." + request.format);
    report.files.emplace_back(file.string(), SizeOrZero(file));
  }
  return report;
}

}  // namespace ipfs_accel::store
