#pragma once
// RAII owners for DuckDB C API handles, and the one place that turns a DuckDB failure
// into a core::Error. duckdb.h stays inside src/store/.

#include <duckdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::store {

// How to report a failed DuckDB call: "<what> (DuckDB: <message>); <hint>". DuckDB IO errors
// (disk full, permissions) become kIo whatever `kind` says.
struct OnError {
  core::ErrorKind kind;
  std::string what;
  std::string hint;
};

// DuckDB's error text on one line: "LINE 1: ..." context is kept, caret lines are dropped.
std::string OneLine(std::string_view duckdb_message);

// A text literal for SQL: single quotes doubled, so no value can break out.
std::string Literal(const std::string& text);

[[noreturn]] void ThrowDuckDbError(const OnError& on_error, std::string_view duckdb_message,
                                   duckdb_error_type type);

class Database {
 public:
  explicit Database(duckdb_database db) : db_(db) {}
  ~Database() { duckdb_close(&db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  duckdb_database get() const { return db_; }

 private:
  duckdb_database db_;
};

class Connection {
 public:
  // Throws kDatabase naming `path` when DuckDB refuses a connection.
  Connection(const Database& db, const std::string& path);
  ~Connection() { duckdb_disconnect(&con_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  duckdb_connection get() const { return con_; }

 private:
  duckdb_connection con_ = nullptr;
};

// A materialized result (or the error of the statement that produced it).
class Result {
 public:
  Result() = default;
  ~Result() { duckdb_destroy_result(&result_); }
  Result(Result&& other) noexcept;
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  duckdb_result* get() { return &result_; }
  // The BIGINT-compatible value in the first column of the first row.
  int64_t FirstInt64();
  idx_t RowCount() { return duckdb_row_count(&result_); }

 private:
  duckdb_result result_{};
};

// Runs `sql` (one or more statements) and returns the last statement's result.
Result Run(duckdb_connection con, const std::string& sql, const OnError& on_error);

// Ends the open transaction, if any; for cleanup paths, so it never throws.
void RollbackQuietly(duckdb_connection con);

// A prepared statement whose parameters are bound in order: Add*() fills $1, $2, ...
class Statement {
 public:
  Statement(duckdb_connection con, const std::string& sql, const OnError& on_error);
  ~Statement() { duckdb_destroy_prepare(&statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& AddText(std::string_view text);
  Statement& AddInt(int64_t value);
  Statement& AddUInt(uint64_t value);
  Statement& AddDouble(double value);
  Statement& AddDoubleList(const std::vector<double>& values);
  Statement& AddBool(bool value);
  Statement& AddTextList(const std::vector<std::string>& values);
  Statement& AddNull();
  // The value, or NULL when unset.
  Statement& AddOptional(const std::optional<int64_t>& value) {
    return value ? AddInt(*value) : AddNull();
  }
  Statement& AddOptional(const std::optional<int>& value) {
    return value ? AddInt(*value) : AddNull();
  }
  Statement& AddOptional(const std::optional<double>& value) {
    return value ? AddDouble(*value) : AddNull();
  }
  Statement& AddOptional(const std::optional<std::string>& value) {
    return value ? AddText(*value) : AddNull();
  }
  // Runs with the bound parameters, then clears them for the next row.
  Result Execute(const OnError& on_error);
  // Runs as Execute does with a streaming result: rows are computed as they are fetched.
  Result ExecuteStreaming(const OnError& on_error);
  duckdb_prepared_statement get() const { return statement_; }

 private:
  // Remembers the first refused binding; Execute() reports it with the caller's context.
  void Check(duckdb_state state, std::string_view what);
  // Throws the first refused binding, if any, and resets the parameter counter.
  void ThrowBindError(const OnError& on_error);

  duckdb_prepared_statement statement_ = nullptr;
  idx_t next_ = 1;
  std::string bind_error_;
};

// Every column's name and DuckDB type name (as typeof() gives it), and every cell as DuckDB
// renders it (the text of CAST(x AS VARCHAR)); nullopt for NULL. Throws kUnsupported for a type
// it cannot rebuild (BIGNUM), naming the column.
QueryResult ReadAsText(Result& result);
// The same, fetching at most `max_rows` rows; *truncated says whether more were there.
QueryResult ReadAsText(Result& result, size_t max_rows, bool* truncated);

}  // namespace ipfs_accel::store
