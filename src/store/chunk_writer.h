#pragma once
// Rows written column-wise into a DuckDB data chunk: the fast way to hand DuckDB values (the
// parallel insert's table function fills its chunks with it, store/parallel_insert.h).
// The caller names each column's type and sets every column of every row, a NULL through
// Null() or an empty Optional().

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
  void Null(size_t column);
  template <typename T>
  void Optional(size_t column, const std::optional<T>& value) {
    if (!value) return Null(column);
    if constexpr (std::is_floating_point_v<T>)
      Double(column, *value);
    else if constexpr (std::is_integral_v<T>)
      Int(column, *value);
    else
      Text(column, *value);
  }
  // Ends the row and sets the chunk's size to the rows ended. Throws core::Error(kInternal)
  // when a column of the row was not set (it would hold whatever the chunk held).
  void EndRow();

  idx_t rows() const { return row_; }
  bool full() const { return row_ == capacity_; }

 private:
  const std::vector<Type>& types_;
  duckdb_data_chunk chunk_;
  std::vector<duckdb_vector> vectors_;
  std::vector<void*> data_;        // each vector's values (a list's entries)
  std::vector<idx_t> list_sizes_;  // children used per list column in this chunk
  size_t set_ = 0;                 // columns set in the current row
  idx_t row_ = 0;
  idx_t capacity_;
};

// Whether DuckDB's column type `logical` is what a writer means by `t` (a JSON column is
// kVarchar).
bool TypeMatches(ChunkWriter::Type t, duckdb_logical_type logical);

}  // namespace ipfs_accel::store
