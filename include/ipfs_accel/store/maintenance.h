#pragma once
// Maintenance of a results database file: statistics, an integrity check, vacuum, purge of old
// runs, backup and export. Each function opens the file itself (by path) and closes it before
// returning, so the caller must not hold a ResultStore open on it in another mode.
// Errors are core::Error: kNotFound (no database), kDatabase (DuckDB refused), kIo (a file could
// not be written; nothing half-written is left), kInvalidArgument (bad option).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::store {

struct DatabaseStats {
  std::vector<std::pair<std::string, int64_t>> rows_per_table;  // in schema order
  std::vector<std::pair<std::string, int64_t>> runs_by_origin;  // "measured", "imported", ...
  int64_t distinct_models = 0;                                  // models some result refers to
  int64_t distinct_hardware = 0;                    // hardware platforms some result refers to
  std::optional<std::string> first_run_started_at;  // kDisplayTimestampFormat; none: no runs
  std::optional<std::string> last_run_started_at;
  uint64_t file_bytes = 0;  // the database file plus its write-ahead log
  int schema_version = 0;
};

// Each function opens the database itself with `open` (its lock wait and notice; read_only is
// set by the function as it says).

// Opens read-only.
DatabaseStats ReadStats(const std::string& path, const OpenOptions& open = {});

struct CheckFinding {
  bool is_problem = true;  // false: a warning (e.g. a model no result refers to)
  std::string table;
  std::string id;  // the row's key (run_id, result_id, id, model_id, hardware_id)
  std::string message;
};

// Integrity: every result's run, model and hardware exist; models and hardware no result refers
// to (warnings); impossible values (negative, NaN or infinite measurements, min > max,
// p50 > p99, samples with zero iterations); schema version equal to this tool's. Opens
// read-only. Problems first, then warnings, each in table then id order.
std::vector<CheckFinding> CheckDatabase(const std::string& path, const OpenOptions& open = {});

struct VacuumReport {
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
};

// CHECKPOINT, then VACUUM ANALYZE. Opens read-write.
VacuumReport VacuumDatabase(const std::string& path, const OpenOptions& open = {});

// "90d", "12h", "2w" (before now, UTC) or "2026-01-01" / "2026-01-01T10:00:00Z" to the
// timestamp text DuckDB compares runs.started_at with ("YYYY-MM-DD HH:MM:SS", UTC).
// Throws kInvalidArgument naming the text.
std::string ParsePurgeCutoff(const std::string& text);

struct PurgeReport {
  std::string cutoff;  // as ParsePurgeCutoff gave it
  int64_t runs = 0;
  int64_t performance_results = 0;
  int64_t compatibility_results = 0;
  // Models and hardware that only the purged runs' results referred to; they are deleted too.
  // Ones that were already unreferenced before the purge are kept (db check warns about them).
  int64_t models = 0;
  int64_t hardware = 0;
  bool dry_run = false;
};

// Deletes runs that started before `cutoff` (ParsePurgeCutoff's text), their results, and the
// models/hardware only they referred to: the results in one transaction, then the runs, models
// and hardware in a second (DuckDB cannot delete a referenced key in the transaction that
// deleted its references); after a failure in the second, the database is consistent and a
// second purge finishes. With dry_run, counts and changes nothing. Opens read-write.
PurgeReport PurgeRunsBefore(const std::string& path, const std::string& cutoff, bool dry_run,
                            const OpenOptions& open = {});

struct BackupReport {
  std::string destination;
  uint64_t bytes = 0;  // size of the file, or of all files in the folder when compressed
  bool compressed = false;
};

// A consistent copy: opens read-write (so no other process writes meanwhile), CHECKPOINTs and
// copies the file to `destination`. With `compress`, EXPORT DATABASE into the folder
// `destination` instead (Parquet with zstd; restore with IMPORT DATABASE). Never overwrites:
// kIo when `destination` exists. Written under a temporary name beside `destination` and
// renamed, so a failure leaves nothing behind.
BackupReport BackupDatabase(const std::string& path, const std::string& destination, bool compress,
                            const OpenOptions& open = {});

struct RestoreReport {
  std::string database;
  std::vector<std::pair<std::string, int64_t>> rows_per_table;  // ResultTables() order
  bool replaced = false;  // an existing database was replaced (--force)
};

// Restores what BackupDatabase wrote (the folder of `compress`, or the plain copy) into the
// database file `path`. Refuses (kIo) to replace an existing non-empty file unless `force`; a
// database another process has open stays (kDatabase). The backup is
// restored into a temporary file beside `path` and checked there (every table read back, a
// results database with a schema version this tool knows), then renamed over `path`, so a
// backup that is incomplete or damaged (kCorrupt or kIo, naming it) leaves `path` as it was.
RestoreReport RestoreDatabase(const std::string& backup, const std::string& path, bool force);

struct ExportRequest {
  // "parquet", "csv" or "json" (one JSON object per line): tables through DuckDB's COPY.
  // "run-json": runs as this tool's run export (RunResultsToJson), which `db import` reads.
  std::string format;
  std::string output;  // a folder (all tables) or a file (--table / --query, run-json)
  std::optional<std::string> table = std::nullopt;
  std::optional<std::string> query = std::nullopt;
  // run-json: this run only (a run ref: ResolveRunRef), else every run.
  std::optional<std::string> run_id = std::nullopt;
};

struct ExportReport {
  std::vector<std::pair<std::string, uint64_t>> files;  // path and size
};

// COPY ... TO in DuckDB. Without table or query: every table into the folder `output`, one file
// per table (<table>.<format>). run-json: the file `output` holds one run's export (run_id
// given, or the database holds one run) or an array of every run's, oldest first; kNotFound
// for a run that is not stored. Never overwrites `output`; written under a temporary name in
// the same folder and renamed, so a failure (a full disk included) leaves no half file (kIo
// naming the path). Opens read-only.
ExportReport ExportDatabase(const std::string& path, const ExportRequest& request,
                            const OpenOptions& open = {});

// A stored run as the records WriteRun took: the run, and per model x hardware its performance
// and compatibility results in the order they were written. Throws kNotFound for an unknown
// run id.
RunResults ReadStoredRun(ResultStore& store, const std::string& run_id);
// The same run written as its export (RunResultsToJson's bytes) through `writer`, reading its
// performance results a page at a time. Throws kNotFound for an unknown run id.
void WriteStoredRun(ResultStore& store, const std::string& run_id, RunExportWriter& writer);

// The tables export and stats cover, in schema order.
const std::vector<std::string>& ResultTables();

}  // namespace ipfs_accel::store
