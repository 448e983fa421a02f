#pragma once
// Rows into a table through DuckDB's appender a data chunk (2048 rows) at a time, written
// column-wise (store/chunk_writer.h): about what DuckDB's own appender costs, from one thread.
// Every column of the table is filled, by position: the caller names the types it will write,
// and the constructor refuses a table whose columns differ (a JSON column is kVarchar; its
// text is not validated here). DuckDB checks NOT NULL and CHECK constraints as chunks go in;
// column defaults do not apply.

#include <duckdb.h>

#include <memory>
#include <string>
#include <vector>

#include "store/chunk_writer.h"
#include "store/duckdb_handle.h"

namespace ipfs_accel::store {

class ChunkAppender {
 public:
  using Type = ChunkWriter::Type;

  // Throws core::Error per `on_error` when DuckDB refuses the appender, and kInternal when
  // the table's columns are not `columns`.
  ChunkAppender(duckdb_connection con, const std::string& table, std::vector<Type> columns,
                const OnError& on_error);
  ~ChunkAppender();
  ChunkAppender(const ChunkAppender&) = delete;
  ChunkAppender& operator=(const ChunkAppender&) = delete;

  // The current row, to set its columns on; then EndRow().
  ChunkWriter& row() { return *writer_; }
  void EndRow();
  // Appends what is buffered and closes the appender (errors surface here).
  void Close();

 private:
  void StartChunk();
  void Flush();

  duckdb_appender appender_ = nullptr;
  duckdb_data_chunk chunk_ = nullptr;
  std::vector<Type> types_;
  std::vector<duckdb_logical_type> logical_;  // the table's column types, owned
  std::unique_ptr<ChunkWriter> writer_;
  OnError on_error_;
  bool closed_ = false;
};

}  // namespace ipfs_accel::store
