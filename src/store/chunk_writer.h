#pragma once
// Rows written column-wise into a DuckDB data chunk: the fast way to hand DuckDB values, shared
// by the appender (store/chunk_appender.h) and the parallel insert (store/parallel_insert.h).
// The caller names each column's type; a column not set in a row is NULL in it.

#include <duckdb.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ipfs_accel::store {

class ChunkWriter {
 public:
  enum class Type { kBigInt, kUBigInt, kInteger, kDouble, kVarchar, kDoubleList, kTimestamp };

  // Writes into `chunk` (not owned; empty; its columns of `types`, which must outlive this
  // writer) from its first row.
  ChunkWriter(const std::vector<Type>& types, duckdb_data_chunk chunk);

  // The current row's columns, each set once, in any order.
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
  // Ends the row (its unset columns become NULL) and sets the chunk's size to the rows ended.
  void EndRow();

  idx_t rows() const { return row_; }
  bool full() const { return row_ == capacity_; }

 private:
  const std::vector<Type>& types_;
  duckdb_data_chunk chunk_;
  std::vector<duckdb_vector> vectors_;
  std::vector<idx_t> list_sizes_;  // children used per list column in this chunk
  std::vector<bool> set_;          // columns set in the current row
  idx_t row_ = 0;
  idx_t capacity_;
};

// Whether DuckDB's column type `logical` is what a writer means by `t` (a JSON column is
// kVarchar).
bool TypeMatches(ChunkWriter::Type t, duckdb_logical_type logical);

}  // namespace ipfs_accel::store
