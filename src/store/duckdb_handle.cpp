#include "store/duckdb_handle.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace ipfs_accel::store {
namespace {

using core::Error;
using core::ErrorKind;

// Owners for the values and logical types the C API hands out.
class LogicalType {
 public:
  explicit LogicalType(duckdb_logical_type type) : type_(type) {}
  ~LogicalType() { duckdb_destroy_logical_type(&type_); }
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;
  duckdb_logical_type get() const { return type_; }

 private:
  duckdb_logical_type type_;
};

class ValueList {
 public:
  ~ValueList() {
    for (duckdb_value& value : values_) duckdb_destroy_value(&value);
  }
  void Add(duckdb_value value) { values_.push_back(value); }
  // duckdb_create_list_value(type, nullptr, 0) returns nullptr: never hand out a null array.
  duckdb_value* data() { return values_.empty() ? &placeholder_ : values_.data(); }
  idx_t size() const { return values_.size(); }

 private:
  std::vector<duckdb_value> values_;
  duckdb_value placeholder_ = nullptr;
};

std::string TakeString(char* text) {
  std::string out = text ? text : "";
  duckdb_free(text);
  return out;
}

bool IsSimpleIdentifier(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string FieldName(char* name) {
  std::string text = TakeString(name);
  return IsSimpleIdentifier(text) ? text : fmt::format("\"{}\"", text);
}

// The name DuckDB's typeof() gives the type.
std::string TypeName(duckdb_logical_type type) {
  if (std::string alias = TakeString(duckdb_logical_type_get_alias(type)); !alias.empty()) {
    return alias;
  }
  switch (duckdb_get_type_id(type)) {
    case DUCKDB_TYPE_BOOLEAN:
      return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
      return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
      return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
      return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
      return "BIGINT";
    case DUCKDB_TYPE_UTINYINT:
      return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT:
      return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER:
      return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT:
      return "UBIGINT";
    case DUCKDB_TYPE_HUGEINT:
      return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT:
      return "UHUGEINT";
    case DUCKDB_TYPE_FLOAT:
      return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
      return "DOUBLE";
    case DUCKDB_TYPE_DATE:
      return "DATE";
    case DUCKDB_TYPE_TIME:
      return "TIME";
    case DUCKDB_TYPE_TIME_NS:
      return "TIME_NS";
    case DUCKDB_TYPE_TIME_TZ:
      return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP:
      return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_S:
      return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return "TIMESTAMP_NS";
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_INTERVAL:
      return "INTERVAL";
    case DUCKDB_TYPE_VARCHAR:
      return "VARCHAR";
    case DUCKDB_TYPE_BLOB:
      return "BLOB";
    case DUCKDB_TYPE_UUID:
      return "UUID";
    case DUCKDB_TYPE_BIT:
      return "BIT";
    case DUCKDB_TYPE_BIGNUM:
      return "BIGNUM";
    case DUCKDB_TYPE_SQLNULL:
      return "\"NULL\"";
    case DUCKDB_TYPE_DECIMAL:
      return fmt::format("DECIMAL({},{})", duckdb_decimal_width(type), duckdb_decimal_scale(type));
    case DUCKDB_TYPE_ENUM: {
      std::vector<std::string> labels;
      for (uint32_t i = 0; i < duckdb_enum_dictionary_size(type); ++i) {
        labels.push_back(fmt::format("'{}'", TakeString(duckdb_enum_dictionary_value(type, i))));
      }
      return fmt::format("ENUM({})", fmt::join(labels, ", "));
    }
    case DUCKDB_TYPE_LIST: {
      LogicalType child(duckdb_list_type_child_type(type));
      return TypeName(child.get()) + "[]";
    }
    case DUCKDB_TYPE_ARRAY: {
      LogicalType child(duckdb_array_type_child_type(type));
      return fmt::format("{}[{}]", TypeName(child.get()), duckdb_array_type_array_size(type));
    }
    case DUCKDB_TYPE_MAP: {
      LogicalType key(duckdb_map_type_key_type(type));
      LogicalType value(duckdb_map_type_value_type(type));
      return fmt::format("MAP({}, {})", TypeName(key.get()), TypeName(value.get()));
    }
    case DUCKDB_TYPE_STRUCT: {
      std::vector<std::string> fields;
      for (idx_t i = 0; i < duckdb_struct_type_child_count(type); ++i) {
        LogicalType child(duckdb_struct_type_child_type(type, i));
        fields.push_back(FieldName(duckdb_struct_type_child_name(type, i)) + " " +
                         TypeName(child.get()));
      }
      return fmt::format("STRUCT({})", fmt::join(fields, ", "));
    }
    case DUCKDB_TYPE_UNION: {
      std::vector<std::string> members;
      for (idx_t i = 0; i < duckdb_union_type_member_count(type); ++i) {
        LogicalType member(duckdb_union_type_member_type(type, i));
        members.push_back(FieldName(duckdb_union_type_member_name(type, i)) + " " +
                          TypeName(member.get()));
      }
      return fmt::format("UNION({})", fmt::join(members, ", "));
    }
    default:
      return fmt::format("TYPE#{}", static_cast<int>(duckdb_get_type_id(type)));
  }
}

template <typename T>
T At(duckdb_vector vector, idx_t row) {
  return static_cast<const T*>(duckdb_vector_get_data(vector))[row];
}

bool IsValid(duckdb_vector vector, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(vector);
  return validity == nullptr || duckdb_validity_row_is_valid(validity, row);
}

duckdb_hugeint Widen(int64_t value) { return {static_cast<uint64_t>(value), value < 0 ? -1 : 0}; }

// Reads a fixed-width integer whose width DuckDB picks per type (DECIMAL, ENUM storage).
duckdb_hugeint StoredInteger(duckdb_vector vector, duckdb_type storage, idx_t row) {
  switch (storage) {
    case DUCKDB_TYPE_SMALLINT:
      return Widen(At<int16_t>(vector, row));
    case DUCKDB_TYPE_INTEGER:
      return Widen(At<int32_t>(vector, row));
    case DUCKDB_TYPE_BIGINT:
      return Widen(At<int64_t>(vector, row));
    case DUCKDB_TYPE_HUGEINT:
      return At<duckdb_hugeint>(vector, row);
    case DUCKDB_TYPE_UTINYINT:
      return Widen(At<uint8_t>(vector, row));
    case DUCKDB_TYPE_USMALLINT:
      return Widen(At<uint16_t>(vector, row));
    case DUCKDB_TYPE_UINTEGER:
      return Widen(At<uint32_t>(vector, row));
    default:
      return Widen(0);
  }
}

// A new duckdb_value holding one cell of `vector`, so that DuckDB itself renders it as CAST(x AS
// VARCHAR) would. One known difference: the json extension prints a JSON[] list without the
// quotes DuckDB puts around its text items; the schema has no JSON[] column.
duckdb_value CellValue(duckdb_vector vector, duckdb_logical_type type, idx_t row,
                       const std::string& column) {
  if (!IsValid(vector, row)) return duckdb_create_null_value();
  const duckdb_type id = duckdb_get_type_id(type);
  switch (id) {
    case DUCKDB_TYPE_SQLNULL:
      return duckdb_create_null_value();
    case DUCKDB_TYPE_BOOLEAN:
      return duckdb_create_bool(At<bool>(vector, row));
    case DUCKDB_TYPE_TINYINT:
      return duckdb_create_int8(At<int8_t>(vector, row));
    case DUCKDB_TYPE_SMALLINT:
      return duckdb_create_int16(At<int16_t>(vector, row));
    case DUCKDB_TYPE_INTEGER:
      return duckdb_create_int32(At<int32_t>(vector, row));
    case DUCKDB_TYPE_BIGINT:
      return duckdb_create_int64(At<int64_t>(vector, row));
    case DUCKDB_TYPE_UTINYINT:
      return duckdb_create_uint8(At<uint8_t>(vector, row));
    case DUCKDB_TYPE_USMALLINT:
      return duckdb_create_uint16(At<uint16_t>(vector, row));
    case DUCKDB_TYPE_UINTEGER:
      return duckdb_create_uint32(At<uint32_t>(vector, row));
    case DUCKDB_TYPE_UBIGINT:
      return duckdb_create_uint64(At<uint64_t>(vector, row));
    case DUCKDB_TYPE_HUGEINT:
      return duckdb_create_hugeint(At<duckdb_hugeint>(vector, row));
    case DUCKDB_TYPE_UHUGEINT:
      return duckdb_create_uhugeint(At<duckdb_uhugeint>(vector, row));
    case DUCKDB_TYPE_FLOAT:
      return duckdb_create_float(At<float>(vector, row));
    case DUCKDB_TYPE_DOUBLE:
      return duckdb_create_double(At<double>(vector, row));
    case DUCKDB_TYPE_DATE:
      return duckdb_create_date(At<duckdb_date>(vector, row));
    case DUCKDB_TYPE_TIME:
      return duckdb_create_time(At<duckdb_time>(vector, row));
    case DUCKDB_TYPE_TIME_NS:
      return duckdb_create_time_ns(At<duckdb_time_ns>(vector, row));
    case DUCKDB_TYPE_TIME_TZ:
      return duckdb_create_time_tz_value(At<duckdb_time_tz>(vector, row));
    case DUCKDB_TYPE_TIMESTAMP:
      return duckdb_create_timestamp(At<duckdb_timestamp>(vector, row));
    case DUCKDB_TYPE_TIMESTAMP_S:
      return duckdb_create_timestamp_s(At<duckdb_timestamp_s>(vector, row));
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return duckdb_create_timestamp_ms(At<duckdb_timestamp_ms>(vector, row));
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return duckdb_create_timestamp_ns(At<duckdb_timestamp_ns>(vector, row));
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return duckdb_create_timestamp_tz(At<duckdb_timestamp>(vector, row));
    case DUCKDB_TYPE_INTERVAL:
      return duckdb_create_interval(At<duckdb_interval>(vector, row));
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_BIT: {  // all three are stored as strings
      duckdb_string_t text = At<duckdb_string_t>(vector, row);
      const char* data = duckdb_string_t_data(&text);
      const idx_t length = duckdb_string_t_length(text);
      auto* bytes = reinterpret_cast<const uint8_t*>(data);
      if (id == DUCKDB_TYPE_BLOB) return duckdb_create_blob(bytes, length);
      if (id == DUCKDB_TYPE_BIT) return duckdb_create_bit({const_cast<uint8_t*>(bytes), length});
      return duckdb_create_varchar_length(data, length);
    }
    case DUCKDB_TYPE_UUID: {
      // Stored with the top bit flipped (so that it sorts as signed); the API wants the value.
      duckdb_hugeint stored = At<duckdb_hugeint>(vector, row);
      duckdb_uhugeint uuid{stored.lower, static_cast<uint64_t>(stored.upper) ^ (1ULL << 63)};
      return duckdb_create_uuid(uuid);
    }
    case DUCKDB_TYPE_DECIMAL: {
      duckdb_decimal decimal{duckdb_decimal_width(type), duckdb_decimal_scale(type),
                             StoredInteger(vector, duckdb_decimal_internal_type(type), row)};
      return duckdb_create_decimal(decimal);
    }
    case DUCKDB_TYPE_ENUM: {
      duckdb_hugeint index = StoredInteger(vector, duckdb_enum_internal_type(type), row);
      return duckdb_create_enum_value(type, index.lower);
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_MAP: {
      const auto entry = At<duckdb_list_entry>(vector, row);
      duckdb_vector child = duckdb_list_vector_get_child(vector);
      if (id == DUCKDB_TYPE_MAP) {  // a list of STRUCT(key, value)
        LogicalType key_type(duckdb_map_type_key_type(type));
        LogicalType value_type(duckdb_map_type_value_type(type));
        duckdb_vector key_vector = duckdb_struct_vector_get_child(child, 0);
        duckdb_vector value_vector = duckdb_struct_vector_get_child(child, 1);
        ValueList keys, values;
        for (idx_t i = entry.offset; i < entry.offset + entry.length; ++i) {
          keys.Add(CellValue(key_vector, key_type.get(), i, column));
          values.Add(CellValue(value_vector, value_type.get(), i, column));
        }
        return duckdb_create_map_value(type, keys.data(), values.data(), keys.size());
      }
      LogicalType child_type(duckdb_list_type_child_type(type));
      ValueList items;
      for (idx_t i = entry.offset; i < entry.offset + entry.length; ++i) {
        items.Add(CellValue(child, child_type.get(), i, column));
      }
      return duckdb_create_list_value(child_type.get(), items.data(), items.size());
    }
    case DUCKDB_TYPE_ARRAY: {
      const idx_t size = duckdb_array_type_array_size(type);
      LogicalType child_type(duckdb_array_type_child_type(type));
      duckdb_vector child = duckdb_array_vector_get_child(vector);
      ValueList items;
      for (idx_t i = row * size; i < (row + 1) * size; ++i) {
        items.Add(CellValue(child, child_type.get(), i, column));
      }
      return duckdb_create_array_value(child_type.get(), items.data(), items.size());
    }
    case DUCKDB_TYPE_STRUCT: {
      ValueList fields;
      for (idx_t i = 0; i < duckdb_struct_type_child_count(type); ++i) {
        LogicalType field_type(duckdb_struct_type_child_type(type, i));
        fields.Add(
            CellValue(duckdb_struct_vector_get_child(vector, i), field_type.get(), row, column));
      }
      return duckdb_create_struct_value(type, fields.data());
    }
    case DUCKDB_TYPE_UNION: {  // a STRUCT(tag, member...)
      const uint8_t tag = At<uint8_t>(duckdb_struct_vector_get_child(vector, 0), row);
      LogicalType member_type(duckdb_union_type_member_type(type, tag));
      ValueList member;
      member.Add(CellValue(duckdb_struct_vector_get_child(vector, tag + 1), member_type.get(), row,
                           column));
      return duckdb_create_union_value(type, tag, member.data()[0]);
    }
    default:
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("column '{}' holds {} values, which this tool cannot print; CAST the "
                              "column to VARCHAR in the query",
                              column, TypeName(type)));
  }
}

std::optional<std::string> CellText(duckdb_vector vector, duckdb_logical_type type, idx_t row,
                                    const std::string& column) {
  if (!IsValid(vector, row)) return std::nullopt;
  duckdb_value value = CellValue(vector, type, row, column);
  if (value == nullptr) {
    throw Error(ErrorKind::kInternal,
                fmt::format("DuckDB could not rebuild a {} value of column '{}'; CAST the column "
                            "to VARCHAR in the query and report this",
                            TypeName(type), column));
  }
  std::string text = TakeString(duckdb_get_varchar(value));
  duckdb_destroy_value(&value);
  return text;
}

}  // namespace

std::string Literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string OneLine(std::string_view duckdb_message) {
  // DuckDB marks the place in a query with a line of carets under it: dropped, the rest joined.
  std::string kept;
  while (!duckdb_message.empty()) {
    const size_t end = duckdb_message.find('\n');
    const std::string_view line = duckdb_message.substr(0, end);
    duckdb_message = end == std::string_view::npos ? "" : duckdb_message.substr(end + 1);
    if (line.find_first_not_of("^ \t\r") == std::string_view::npos) continue;
    kept.append(line).push_back('\n');
  }
  return core::OneLine(kept, std::string::npos);
}

void ThrowDuckDbError(const OnError& on_error, std::string_view duckdb_message,
                      duckdb_error_type type) {
  const ErrorKind kind = type == DUCKDB_ERROR_IO ? ErrorKind::kIo : on_error.kind;
  std::string message = fmt::format("{} (DuckDB: {})", on_error.what, OneLine(duckdb_message));
  if (!on_error.hint.empty()) message += "; " + on_error.hint;
  throw Error(kind, message);
}

Connection::Connection(const Database& db, const std::string& path) {
  if (duckdb_connect(db.get(), &con_) == DuckDBError) {
    throw Error(ErrorKind::kDatabase,
                fmt::format("cannot connect to database '{}'; check free memory and retry", path));
  }
}

Result::Result(Result&& other) noexcept : result_(other.result_) { other.result_ = {}; }

int64_t Result::FirstInt64() { return duckdb_value_int64(&result_, 0, 0); }

Result Run(duckdb_connection con, const std::string& sql, const OnError& on_error) {
  Result result;
  if (duckdb_query(con, sql.c_str(), result.get()) == DuckDBError) {
    const char* message = duckdb_result_error(result.get());
    ThrowDuckDbError(on_error, message ? message : "unknown error",
                     duckdb_result_error_type(result.get()));
  }
  return result;
}

void RollbackQuietly(duckdb_connection con) {
  Result ignored;  // fails harmlessly when DuckDB already ended the transaction
  duckdb_query(con, "ROLLBACK", ignored.get());
}

Statement::Statement(duckdb_connection con, const std::string& sql, const OnError& on_error) {
  if (duckdb_prepare(con, sql.c_str(), &statement_) == DuckDBError) {
    const char* error = duckdb_prepare_error(statement_);
    std::string message = error ? error : "unknown error";
    duckdb_destroy_prepare(&statement_);
    ThrowDuckDbError(on_error, message, DUCKDB_ERROR_INVALID);
  }
}

void Statement::Check(duckdb_state state, std::string_view what) {
  if (state == DuckDBError && bind_error_.empty()) {
    bind_error_ =
        next_ > duckdb_nparams(statement_)
            ? fmt::format("bug: the statement has only {} parameters", duckdb_nparams(statement_))
            : fmt::format("DuckDB refused {} as parameter ${}", what, next_);
  }
  ++next_;
}

Statement& Statement::AddText(std::string_view text) {
  Check(duckdb_bind_varchar_length(statement_, next_, text.data(), text.size()),
        "the text (not valid UTF-8?)");
  return *this;
}

Statement& Statement::AddInt(int64_t value) {
  Check(duckdb_bind_int64(statement_, next_, value), "an integer");
  return *this;
}

Statement& Statement::AddUInt(uint64_t value) {
  Check(duckdb_bind_uint64(statement_, next_, value), "an unsigned integer");
  return *this;
}

Statement& Statement::AddDouble(double value) {
  Check(duckdb_bind_double(statement_, next_, value), "a double");
  return *this;
}

Statement& Statement::AddDoubleList(const std::vector<double>& values) {
  LogicalType type(duckdb_create_logical_type(DUCKDB_TYPE_DOUBLE));
  ValueList items;
  for (double value : values) items.Add(duckdb_create_double(value));
  duckdb_value list = duckdb_create_list_value(type.get(), items.data(), items.size());
  Check(list ? duckdb_bind_value(statement_, next_, list) : DuckDBError, "a list of doubles");
  duckdb_destroy_value(&list);
  return *this;
}

Statement& Statement::AddBool(bool value) {
  Check(duckdb_bind_boolean(statement_, next_, value), "a boolean");
  return *this;
}

Statement& Statement::AddTextList(const std::vector<std::string>& values) {
  LogicalType type(duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR));
  ValueList items;
  for (const std::string& value : values)
    items.Add(duckdb_create_varchar_length(value.data(), value.size()));
  duckdb_value list = duckdb_create_list_value(type.get(), items.data(), items.size());
  Check(list ? duckdb_bind_value(statement_, next_, list) : DuckDBError, "a list of texts");
  duckdb_destroy_value(&list);
  return *this;
}

Statement& Statement::AddNull() {
  Check(duckdb_bind_null(statement_, next_), "NULL");
  return *this;
}

void Statement::ThrowBindError(const OnError& on_error) {
  next_ = 1;
  if (!bind_error_.empty()) {
    std::string error = std::exchange(bind_error_, {});
    duckdb_clear_bindings(statement_);
    ThrowDuckDbError(on_error, error, DUCKDB_ERROR_INVALID);
  }
}

Result Statement::ExecuteStreaming(const OnError& on_error) {
  ThrowBindError(on_error);
  Result result;
  duckdb_pending_result pending = nullptr;
  std::string message;
  duckdb_error_type type = DUCKDB_ERROR_INVALID;
  if (duckdb_pending_prepared_streaming(statement_, &pending) == DuckDBError) {
    const char* error = duckdb_pending_error(pending);
    message = error ? error : "unknown error";
  } else if (duckdb_execute_pending(pending, result.get()) == DuckDBError) {
    const char* error = duckdb_result_error(result.get());
    message = error ? error : "unknown error";
    type = duckdb_result_error_type(result.get());
  }
  duckdb_destroy_pending(&pending);
  duckdb_clear_bindings(statement_);
  if (!message.empty()) ThrowDuckDbError(on_error, message, type);
  return result;
}

Result Statement::Execute(const OnError& on_error) {
  ThrowBindError(on_error);
  Result result;
  const duckdb_state state = duckdb_execute_prepared(statement_, result.get());
  duckdb_clear_bindings(statement_);
  if (state == DuckDBError) {
    const char* message = duckdb_result_error(result.get());
    ThrowDuckDbError(on_error, message ? message : "unknown error",
                     duckdb_result_error_type(result.get()));
  }
  return result;
}

QueryResult ReadAsText(Result& result) {
  bool truncated = false;
  return ReadAsText(result, SIZE_MAX, &truncated);
}

QueryResult ReadAsText(Result& result, size_t max_rows, bool* truncated) {
  *truncated = false;
  duckdb_result* raw = result.get();
  QueryResult out;
  const idx_t columns = duckdb_column_count(raw);
  for (idx_t c = 0; c < columns; ++c) {
    out.column_names.emplace_back(duckdb_column_name(raw, c));
    LogicalType type(duckdb_column_logical_type(raw, c));
    out.column_types.push_back(TypeName(type.get()));
  }
  // Data chunks, not duckdb_value_varchar: that returns "" for TIMESTAMP_S/_MS/_NS,
  // TIMESTAMPTZ and TIMETZ, and nullptr for LIST and STRUCT.
  while (duckdb_data_chunk chunk = duckdb_fetch_chunk(*raw)) {
    const idx_t size = duckdb_data_chunk_get_size(chunk);
    std::vector<duckdb_vector> vectors;
    std::vector<std::unique_ptr<LogicalType>> types;
    for (idx_t c = 0; c < columns; ++c) {
      vectors.push_back(duckdb_data_chunk_get_vector(chunk, c));
      types.push_back(std::make_unique<LogicalType>(duckdb_vector_get_column_type(vectors[c])));
    }
    try {
      for (idx_t r = 0; r < size; ++r) {
        if (out.rows.size() == max_rows) {
          *truncated = true;
          break;
        }
        auto& row = out.rows.emplace_back();
        for (idx_t c = 0; c < columns; ++c) {
          row.push_back(CellText(vectors[c], types[c]->get(), r, out.column_names[c]));
        }
      }
    } catch (...) {
      duckdb_destroy_data_chunk(&chunk);
      throw;
    }
    duckdb_destroy_data_chunk(&chunk);
    if (*truncated) break;
  }
  return out;
}

}  // namespace ipfs_accel::store
