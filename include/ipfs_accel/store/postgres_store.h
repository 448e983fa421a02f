#pragma once
// The fleet's result store on a PostgreSQL server (`--db postgresql://...`), and a native SQL
// session on that server for the job queue (fleet/).
//
// PostgreSQL holds the tables of the results schema (the DuckDB schema at the same version, its
// column types mapped, its primary and unique keys kept) and is where every write lands.
// DuckDB stays the engine every report, query and write runs on: the store keeps a working
// copy in an in-memory DuckDB database (the schema built by the same migrations), loaded from
// PostgreSQL in one REPEATABLE READ snapshot and loaded again only when another writer changed
// the store (a generation counter every write bumps; then only the rows appended to the result
// tables, unless a statement or migration rewrote rows). A write runs on the copy through the
// DuckDB writer, inside one PostgreSQL transaction holding the store's advisory lock; the rows
// it added, changed or removed are then applied to PostgreSQL in that transaction. Either all
// of a write lands or none of it. Schema versions: a store older than this tool is migrated
// (through the copy, by the same migration steps) when opened read-write; a newer one is
// refused.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::store {

// Whether `db` names a PostgreSQL store (postgresql://... or postgres://...).
bool IsPostgresUrl(std::string_view db);
// The URL with any password replaced by "***", for messages and output.
std::string RedactedUrl(std::string_view url);

// Parameters of a native statement, as text ($1, $2, ...; std::nullopt for NULL). PostgreSQL
// infers each one's type from where it is used.
using TextParams = std::vector<std::optional<std::string>>;

// A native SQL session on the server. Thread-compatible.
class PostgresSession {
 public:
  // Throws core::Error(kUnavailable) naming the redacted URL when the server cannot be reached.
  static std::unique_ptr<PostgresSession> Connect(const std::string& url);
  virtual ~PostgresSession() = default;

  // One statement, committed on its own (autocommit). Rows as text; column_types hold PostgreSQL's
  // type names. Throws core::Error(kDatabase) with PostgreSQL's message, or kUnavailable when the
  // connection was lost (a caller may connect again).
  virtual QueryResult Execute(const std::string& sql, const TextParams& params = {}) = 0;
  // The server's process id of this session (pg_terminate_backend cuts it).
  virtual int BackendPid() = 0;
};

// A statement run in the write's transaction, after its rows are applied: the write commits
// only when it changes exactly one row (a fleet job that is still this worker's).
struct CommitCondition {
  std::string sql;
  TextParams params;
  std::string refused;  // the message when it changes no row
};

class PostgresResultStore : public ResultStore {
 public:
  // See ResultStore::Open (which calls this for a PostgreSQL URL). Throws core::Error:
  //  kUnavailable  the server cannot be reached (the message names the redacted URL)
  //  kNotFound     read-only and the server holds no results schema
  //  kDatabase     the schema is newer than this tool; a statement failed
  static std::unique_ptr<PostgresResultStore> Open(const std::string& url, OpenOptions options);

  // WriteRun whose transaction also runs `condition`; when that changes no row, nothing is
  // written and core::Error(kInvalidArgument, condition.refused) is thrown.
  virtual void WriteRunIf(const RunResults& results, const CommitCondition& condition) = 0;
  // The working copy was loaded again this many times (for tests and figures).
  virtual int64_t Reloads() const = 0;
  // Notes on ResultStore's calls: DisableExternalAccess covers this store's working copy only
  // (each store has its own). A statement through Query that is not a query commits on the
  // server on its own, so one that leaves a transaction open (BEGIN without its COMMIT in the
  // same text) is refused with core::Error(kUnsupported); QueryLimited runs such a statement
  // as Query does.
};

}  // namespace ipfs_accel::store
