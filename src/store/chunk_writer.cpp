#include "store/chunk_writer.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::store {

ChunkWriter::ChunkWriter(const std::vector<Type>& types, duckdb_data_chunk chunk)
    : types_(types), chunk_(chunk), list_sizes_(types.size(), 0), capacity_(duckdb_vector_size()) {
  for (idx_t c = 0; c < types_.size(); ++c) {
    duckdb_vector v = duckdb_data_chunk_get_vector(chunk_, c);
    duckdb_vector_ensure_validity_writable(v);
    vectors_.push_back(v);
    data_.push_back(duckdb_vector_get_data(v));
  }
}

void ChunkWriter::Int(size_t column, int64_t value) {
  switch (types_[column]) {
    case Type::kInteger:
      static_cast<int32_t*>(data_[column])[row_] = static_cast<int32_t>(value);
      break;
    case Type::kUBigInt:
      static_cast<uint64_t*>(data_[column])[row_] = static_cast<uint64_t>(value);
      break;
    default:
      static_cast<int64_t*>(data_[column])[row_] = value;
  }
  ++set_;
}

void ChunkWriter::Double(size_t column, double value) {
  static_cast<double*>(data_[column])[row_] = value;
  ++set_;
}

void ChunkWriter::Text(size_t column, std::string_view value) {
  auto* strings = static_cast<duckdb_string_t*>(data_[column]);
  // Rows of a column mostly repeat their text (the run id, the provider, the options): the
  // row above's entry is reused, pointing into the same vector's storage, instead of copying
  // and validating the text again.
  if (row_ > 0 &&
      duckdb_validity_row_is_valid(duckdb_vector_get_validity(vectors_[column]), row_ - 1)) {
    duckdb_string_t& above = strings[row_ - 1];
    const uint32_t length = duckdb_string_t_length(above);
    if (length == value.size() &&
        std::memcmp(duckdb_string_t_data(&above), value.data(), length) == 0) {
      strings[row_] = above;
      ++set_;
      return;
    }
  }
  duckdb_vector_assign_string_element_len(vectors_[column], row_, value.data(), value.size());
  ++set_;
}

void ChunkWriter::Doubles(size_t column, const std::vector<double>& values) {
  duckdb_vector v = vectors_[column];
  const idx_t offset = list_sizes_[column];
  const idx_t size = offset + values.size();
  duckdb_list_vector_reserve(v, size);
  duckdb_list_vector_set_size(v, size);
  double* child = static_cast<double*>(duckdb_vector_get_data(duckdb_list_vector_get_child(v)));
  std::copy(values.begin(), values.end(), child + offset);
  static_cast<duckdb_list_entry*>(data_[column])[row_] = {offset, values.size()};
  list_sizes_[column] = size;
  ++set_;
}

void ChunkWriter::Null(size_t column) {
  duckdb_validity_set_row_invalid(duckdb_vector_get_validity(vectors_[column]), row_);
  ++set_;
}

void ChunkWriter::EndRow() {
  if (set_ != types_.size())
    throw core::Error(
        core::ErrorKind::kInternal,
        fmt::format("a row of {} columns was ended with {} of them set", types_.size(), set_));
  set_ = 0;
  duckdb_data_chunk_set_size(chunk_, ++row_);
}

bool TypeMatches(ChunkWriter::Type t, duckdb_logical_type logical) {
  const duckdb_type id = duckdb_get_type_id(logical);
  switch (t) {
    case ChunkWriter::Type::kBigInt:
      return id == DUCKDB_TYPE_BIGINT;
    case ChunkWriter::Type::kUBigInt:
      return id == DUCKDB_TYPE_UBIGINT;
    case ChunkWriter::Type::kInteger:
      return id == DUCKDB_TYPE_INTEGER;
    case ChunkWriter::Type::kDouble:
      return id == DUCKDB_TYPE_DOUBLE;
    case ChunkWriter::Type::kVarchar:
      return id == DUCKDB_TYPE_VARCHAR;
    case ChunkWriter::Type::kTimestamp:
      return id == DUCKDB_TYPE_TIMESTAMP;
    case ChunkWriter::Type::kDoubleList: {
      if (id != DUCKDB_TYPE_LIST) return false;
      duckdb_logical_type child = duckdb_list_type_child_type(logical);
      const bool is_double = duckdb_get_type_id(child) == DUCKDB_TYPE_DOUBLE;
      duckdb_destroy_logical_type(&child);
      return is_double;
    }
  }
  return false;
}

}  // namespace ipfs_accel::store
