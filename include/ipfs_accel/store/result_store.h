#pragma once
// The results database: an embedded DuckDB file, or a PostgreSQL server a fleet shares
// (postgres_store.h; Open picks it for a postgresql:// URL).
// Thread-compatible: one ResultStore per thread. Every write is one transaction:
// it lands whole or not at all, so a failure never leaves half a run behind.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/store/prediction_records.h"
#include "ipfs_accel/store/query.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/template_records.h"

namespace ipfs_accel::store {

// Default database path: $BENCHMARK_DB_PATH if set, else ./benchmark_db.duckdb.
// An explicit --db wins over both (the caller passes it as `explicit_path`).
std::string ResolveDatabasePath(const std::optional<std::string>& explicit_path);

struct OpenOptions {
  bool read_only = false;  // read-only never creates the file or migrates
  // While another process holds the file's lock, retry for up to this many seconds (0: fail
  // at once). on_lock_wait, when set, is told once that the open is waiting, and why.
  double lock_wait_s = 60;
  std::function<void(const std::string&)> on_lock_wait = {};
};

// Tabular answer of a query: column names and types, and every cell as text
// (std::nullopt for SQL NULL).
struct QueryResult {
  std::vector<std::string> column_names;
  std::vector<std::string> column_types;  // DuckDB type names: "BIGINT", "DOUBLE", "VARCHAR", ...
  std::vector<std::vector<std::optional<std::string>>> rows;
};

struct LimitedQueryResult {
  QueryResult result;
  bool truncated = false;  // the statement had more rows than QueryLimits::max_rows
};

class ResultStore {
 public:
  // Opens (creating if absent and not read-only) and migrates to the current schema.
  // Throws core::Error:
  //  kNotFound  read-only and the file does not exist
  //  kDatabase  not a DuckDB file; locked by another process past lock_wait_s; schema newer
  //             than this tool
  //  kCorrupt   a DuckDB file whose blocks are truncated or fail their checksums
  //  kIo        the folder cannot be written
  static std::unique_ptr<ResultStore> Open(const std::string& path, OpenOptions options = {});

  virtual ~ResultStore() = default;

  // The schema version of the open database (after migration).
  virtual int SchemaVersion() = 0;

  // Writes a run, its models/hardware (deduplicated against what is stored), and
  // all its results in one transaction. Throws core::Error(kDatabase or kIo) and
  // leaves the database as it was.
  virtual void WriteRun(const RunResults& results) = 0;
  // Several runs in one transaction: all of them or none (`db import`).
  virtual void WriteRuns(const std::vector<const RunResults*>& runs) = 0;

  // A run stored as it goes, so a sweep stopped or killed keeps what it finished. BeginRun
  // stores the run record as "running" (without finished_at); AppendToRun adds the entries of
  // `part` to the run part.run.run_id (its other run fields are not used); FinishRun sets
  // finished_at and the final state, "complete" or "interrupted". Each is one transaction.
  // Throws core::Error(kDatabase) as WriteRun does; AppendToRun kInternal for a run never begun.
  virtual void BeginRun(const RunRecord& run) = 0;
  virtual void AppendToRun(const RunResults& part) = 0;
  virtual void FinishRun(const std::string& run_id, const std::string& finished_at,
                         const std::string& state) = 0;

  // Stores architecture templates (template_records.h) in one transaction, with the tool's
  // `git_commit`: a (model_type, version) already stored with the same content hash is left as
  // it is; one stored with another hash is refused with core::Error(kInvalidArgument) naming the
  // template and saying to bump its version, and nothing is written. Every history entry is
  // kept in template_versions forever.
  virtual void WriteTemplates(const std::vector<TemplateRecord>& templates,
                              const std::string& git_commit) = 0;
  // Appends validation outcomes in one transaction. Throws core::Error(kDatabase).
  virtual void WriteTemplateValidations(const std::vector<TemplateValidationRecord>& outcomes) = 0;

  // Stores a trained predictor (one already stored under the same id is left as it is), and
  // appends predictions, each in one transaction. Throws core::Error(kDatabase).
  virtual void WritePredictionModel(const PredictionModelRecord& model) = 0;
  virtual void WritePredictions(const std::vector<PredictionRecord>& predictions) = 0;

  // Runs any SQL and returns its rows. Throws core::Error(kInvalidArgument) with
  // DuckDB's message for SQL errors.
  virtual QueryResult Query(const std::string& sql) = 0;
  // One statement with `params` bound to its parameters in order ($1, $2, ... or ?): the way
  // every query built from a caller's values runs. Throws as Query does, also for a parameter
  // count or type that does not fit the statement.
  virtual QueryResult Query(const std::string& sql, const std::vector<QueryParam>& params) = 0;

  // DuckDB's parser's view of `sql` (query.h); nothing runs. Throws kInvalidArgument with
  // DuckDB's message for text that does not parse.
  virtual StatementShape Inspect(const std::string& sql) = 0;
  // Runs one statement, streaming: fetches at most limits.max_rows rows (the rest are never
  // computed where DuckDB can stop early), and interrupts it (duckdb_interrupt from a watchdog
  // thread) once it has run limits.timeout_s, throwing QueryTimedOut. Throws as Query does.
  virtual LimitedQueryResult QueryLimited(const std::string& sql, const QueryLimits& limits) = 0;
  // From now on this database (every connection of this process to the file) opens no file but
  // its own and its WAL, attaches nothing, loads and installs no extension, copies nothing in or
  // out (DuckDB's enable_external_access = false). Cannot be undone while the file stays open.
  virtual void DisableExternalAccess() = 0;
};

// The schema version this build writes.
int CurrentSchemaVersion();

}  // namespace ipfs_accel::store
