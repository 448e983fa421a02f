#pragma once
// The typed query layer the CLI's reports and the server's endpoints share: values travel as
// bound parameters of a prepared statement ($1, $2, ... or ?), never as text spliced into SQL,
// and a result's numbers come back as JSON numbers. Also what the server's SQL endpoint needs:
// DuckDB's own view of a statement before it runs, and a run bounded in rows and time.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::store {

struct QueryResult;  // result_store.h

// One bound value: NULL, BOOLEAN, BIGINT, DOUBLE, VARCHAR, or VARCHAR[] (for `= ANY($n)` or
// list_contains($n, x)).
using QueryParam =
    std::variant<std::nullptr_t, bool, int64_t, double, std::string, std::vector<std::string>>;

// The values of a query built in pieces (a model filter here, a run there): Bind(v) keeps v
// and answers the placeholder to write where the value goes ("$1", "$2", ...); run the text
// with ResultStore::Query(sql, params.values()). A placeholder may be written more than once;
// every bound value must be used, so bind only what goes into the text.
class QueryParams {
 public:
  std::string Bind(QueryParam value) {
    values_.push_back(std::move(value));
    return "$" + std::to_string(values_.size());
  }
  const std::vector<QueryParam>& values() const { return values_; }

 private:
  std::vector<QueryParam> values_;
};

// What DuckDB's parser makes of a text. Nothing is bound or run to find out. (A text starting
// with IMPORT is not parsed: DuckDB's parser reads the imported folder's schema.sql.)
struct StatementShape {
  size_t statements = 0;  // how many statements the text holds
  // The one statement is a query (SELECT, WITH ... SELECT, VALUES, FROM ..., DESCRIBE, SHOW,
  // SUMMARIZE, PIVOT): DuckDB serialises its parse tree (json_serialize_sql), which it does for
  // query statements only.
  bool is_query = false;
  std::string first_keyword;  // upper case, for messages: "INSERT", "ATTACH", "COPY", ...
  // From the parse tree of a query: every function named (scalar, aggregate, window, table
  // function), lower case, and every table reference by name (a file path in FROM 'x.csv' is
  // one: DuckDB reads it by replacement scan).
  std::vector<std::string> functions;
  std::vector<std::string> tables;
};

struct QueryLimits {
  size_t max_rows = 1000;
  double timeout_s = 5;
};

struct LimitedQueryResult;  // result_store.h

// The statement ran past QueryLimits::timeout_s and was interrupted (kind kUnavailable).
class QueryTimedOut : public core::Error {
 public:
  explicit QueryTimedOut(const std::string& message)
      : core::Error(core::ErrorKind::kUnavailable, message) {}
};

// Whether a column of this DuckDB type name (QueryResult::column_types) holds numbers.
bool IsNumericColumnType(std::string_view type);

// The rows as a JSON array of objects, keys in column order: numbers as JSON numbers (text
// DuckDB gives for inf and nan stays text), BOOLEAN as true/false, JSON columns as their values,
// lists of numbers as arrays, NULL as null, everything else as text.
nlohmann::ordered_json QueryRowsToJson(const QueryResult& result);
// One cell as QueryRowsToJson writes it.
nlohmann::ordered_json CellToJson(const std::optional<std::string>& cell, std::string_view type);

}  // namespace ipfs_accel::store
