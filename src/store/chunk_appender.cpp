#include "store/chunk_appender.h"

#include <fmt/format.h>

namespace ipfs_accel::store {

namespace {

// Whether DuckDB's column type is what the writer means by `t`.
bool Matches(ChunkAppender::Type t, duckdb_logical_type logical) {
  const duckdb_type id = duckdb_get_type_id(logical);
  switch (t) {
    case ChunkAppender::Type::kBigInt:
      return id == DUCKDB_TYPE_BIGINT;
    case ChunkAppender::Type::kUBigInt:
      return id == DUCKDB_TYPE_UBIGINT;
    case ChunkAppender::Type::kInteger:
      return id == DUCKDB_TYPE_INTEGER;
    case ChunkAppender::Type::kDouble:
      return id == DUCKDB_TYPE_DOUBLE;
    case ChunkAppender::Type::kVarchar:
      return id == DUCKDB_TYPE_VARCHAR;
    case ChunkAppender::Type::kTimestamp:
      return id == DUCKDB_TYPE_TIMESTAMP;
    case ChunkAppender::Type::kDoubleList: {
      if (id != DUCKDB_TYPE_LIST) return false;
      duckdb_logical_type child = duckdb_list_type_child_type(logical);
      const bool is_double = duckdb_get_type_id(child) == DUCKDB_TYPE_DOUBLE;
      duckdb_destroy_logical_type(&child);
      return is_double;
    }
  }
  return false;
}

}  // namespace

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
  for (idx_t c = 0; same && c < count; ++c) same = Matches(types_[c], logical_[c]);
  if (!same) {
    for (auto& l : logical_) duckdb_destroy_logical_type(&l);
    duckdb_appender_destroy(&appender_);
    throw core::Error(core::ErrorKind::kInternal,
                      fmt::format("{}: table '{}' does not have the {} columns of the types this "
                                  "writer appends (it has {}); the schema and the writer differ",
                                  on_error_.what, table, types_.size(), count));
  }
  capacity_ = duckdb_vector_size();
  StartChunk();
}

ChunkAppender::~ChunkAppender() {
  if (chunk_) duckdb_destroy_data_chunk(&chunk_);
  if (appender_) duckdb_appender_destroy(&appender_);
  for (auto& l : logical_) duckdb_destroy_logical_type(&l);
}

void ChunkAppender::StartChunk() {
  chunk_ = duckdb_create_data_chunk(logical_.data(), logical_.size());
  vectors_.clear();
  for (idx_t c = 0; c < types_.size(); ++c) {
    duckdb_vector v = duckdb_data_chunk_get_vector(chunk_, c);
    duckdb_vector_ensure_validity_writable(v);
    vectors_.push_back(v);
  }
  list_sizes_.assign(types_.size(), 0);
  set_.assign(types_.size(), false);
  row_ = 0;
}

void ChunkAppender::MarkSet(size_t column) { set_[column] = true; }

void ChunkAppender::Int(size_t column, int64_t value) {
  if (types_[column] == Type::kInteger)
    static_cast<int32_t*>(duckdb_vector_get_data(vectors_[column]))[row_] =
        static_cast<int32_t>(value);
  else if (types_[column] == Type::kUBigInt)
    static_cast<uint64_t*>(duckdb_vector_get_data(vectors_[column]))[row_] =
        static_cast<uint64_t>(value);
  else
    static_cast<int64_t*>(duckdb_vector_get_data(vectors_[column]))[row_] = value;
  MarkSet(column);
}

void ChunkAppender::Double(size_t column, double value) {
  static_cast<double*>(duckdb_vector_get_data(vectors_[column]))[row_] = value;
  MarkSet(column);
}

void ChunkAppender::Text(size_t column, std::string_view value) {
  duckdb_vector_assign_string_element_len(vectors_[column], row_, value.data(), value.size());
  MarkSet(column);
}

void ChunkAppender::Doubles(size_t column, const std::vector<double>& values) {
  duckdb_vector v = vectors_[column];
  const idx_t offset = list_sizes_[column];
  const idx_t size = offset + values.size();
  duckdb_list_vector_reserve(v, size);
  duckdb_list_vector_set_size(v, size);
  double* child = static_cast<double*>(duckdb_vector_get_data(duckdb_list_vector_get_child(v)));
  std::copy(values.begin(), values.end(), child + offset);
  auto* entries = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(v));
  entries[row_] = {offset, values.size()};
  list_sizes_[column] = size;
  MarkSet(column);
}

void ChunkAppender::EndRow() {
  for (size_t c = 0; c < set_.size(); ++c) {
    if (!set_[c]) duckdb_validity_set_row_invalid(duckdb_vector_get_validity(vectors_[c]), row_);
    set_[c] = false;
  }
  if (++row_ == capacity_) {
    Flush();
    StartChunk();
  }
}

void ChunkAppender::Flush() {
  duckdb_data_chunk_set_size(chunk_, row_);
  const bool ok = row_ == 0 || duckdb_append_data_chunk(appender_, chunk_) == DuckDBSuccess;
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
