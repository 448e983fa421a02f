#include "store/chunk_appender.h"

#include <fmt/format.h>

namespace ipfs_accel::store {

ChunkAppender::ChunkAppender(duckdb_connection con, const std::string& table,
                             std::vector<Type> columns, const OnError& on_error)
    : types_(std::move(columns)), on_error_(on_error) {
  if (duckdb_appender_create(con, nullptr, table.c_str(), &appender_) != DuckDBSuccess) {
    const std::string message = appender_ ? duckdb_appender_error(appender_) : "no appender";
    duckdb_appender_destroy(&appender_);
    ThrowDuckDbError(on_error_, message, DUCKDB_ERROR_INVALID);
  }
  const idx_t count = duckdb_appender_column_count(appender_);
  for (idx_t c = 0; c < count; ++c) logical_.push_back(duckdb_appender_column_type(appender_, c));
  bool same = count == types_.size();
  for (idx_t c = 0; same && c < count; ++c) same = TypeMatches(types_[c], logical_[c]);
  if (!same) {
    for (auto& l : logical_) duckdb_destroy_logical_type(&l);
    duckdb_appender_destroy(&appender_);
    throw core::Error(core::ErrorKind::kInternal,
                      fmt::format("{}: table '{}' does not have the {} columns of the types this "
                                  "writer appends (it has {}); the schema and the writer differ",
                                  on_error_.what, table, types_.size(), count));
  }
  StartChunk();
}

ChunkAppender::~ChunkAppender() {
  writer_.reset();
  if (chunk_) duckdb_destroy_data_chunk(&chunk_);
  if (appender_) duckdb_appender_destroy(&appender_);
  for (auto& l : logical_) duckdb_destroy_logical_type(&l);
}

void ChunkAppender::StartChunk() {
  chunk_ = duckdb_create_data_chunk(logical_.data(), logical_.size());
  writer_ = std::make_unique<ChunkWriter>(types_, chunk_);
}

void ChunkAppender::EndRow() {
  writer_->EndRow();
  if (writer_->full()) {
    Flush();
    StartChunk();
  }
}

void ChunkAppender::Flush() {
  const bool ok =
      writer_->rows() == 0 || duckdb_append_data_chunk(appender_, chunk_) == DuckDBSuccess;
  writer_.reset();
  duckdb_destroy_data_chunk(&chunk_);
  chunk_ = nullptr;
  if (!ok) ThrowDuckDbError(on_error_, duckdb_appender_error(appender_), DUCKDB_ERROR_INVALID);
}

void ChunkAppender::Close() {
  if (closed_) return;
  closed_ = true;
  Flush();
  if (duckdb_appender_close(appender_) != DuckDBSuccess)
    ThrowDuckDbError(on_error_, duckdb_appender_error(appender_), DUCKDB_ERROR_INVALID);
}

}  // namespace ipfs_accel::store
