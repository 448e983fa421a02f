#pragma once
// Rows into a table through DuckDB's appender a data chunk (2048 rows) at a time, written
// column-wise into the chunk's vectors: the fast way into DuckDB, about what its own appender
// costs. Every column of the table is filled, by position: the caller names the types it
// will write, and the constructor refuses a table whose columns differ (a JSON column is
// kVarchar; its text is not validated here). DuckDB checks NOT NULL and CHECK constraints as
// chunks go in; column defaults do not apply.

#include <duckdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/duckdb_handle.h"

namespace ipfs_accel::store {

class ChunkAppender {
 public:
  enum class Type { kBigInt, kUBigInt, kInteger, kDouble, kVarchar, kDoubleList, kTimestamp };

  // Throws core::Error per `on_error` when DuckDB refuses the appender, and kInternal when
  // the table's columns are not `columns`.
  ChunkAppender(duckdb_connection con, const std::string& table, std::vector<Type> columns,
                const OnError& on_error);
  ~ChunkAppender();
  ChunkAppender(const ChunkAppender&) = delete;
  ChunkAppender& operator=(const ChunkAppender&) = delete;

  // The current row's columns, each set once, in any order; unset columns are NULL.
  // kBigInt, kInteger, kUBigInt (the bits of `value`), kTimestamp (microseconds since 1970).
  void Int(size_t column, int64_t value);
  void Double(size_t column, double value);
  void Text(size_t column, std::string_view value);
  void Doubles(size_t column, const std::vector<double>& values);
  template <typename T>
  void Optional(size_t column, const std::optional<T>& value) {
    if (!value) return;
    if constexpr (std::is_floating_point_v<T>)
      Double(column, *value);
    else if constexpr (std::is_integral_v<T>)
      Int(column, *value);
    else
      Text(column, *value);
  }
  void EndRow();
  // Appends what is buffered and closes the appender (errors surface here).
  void Close();

 private:
  void StartChunk();
  void Flush();
  void MarkSet(size_t column);

  duckdb_appender appender_ = nullptr;
  duckdb_data_chunk chunk_ = nullptr;
  std::vector<Type> types_;
  std::vector<duckdb_logical_type> logical_;  // the table's column types, owned
  std::vector<duckdb_vector> vectors_;
  std::vector<idx_t> list_sizes_;  // children used per list column in this chunk
  std::vector<bool> set_;          // columns set in the current row
  idx_t row_ = 0;
  idx_t capacity_ = 0;
  OnError on_error_;
  bool closed_ = false;
};

}  // namespace ipfs_accel::store
