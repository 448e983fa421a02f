#pragma once
// Prints rows of cells as an aligned text table, Markdown, CSV, or JSON. One
// printer for every command that shows tabular data, so formats stay consistent.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

enum class TableFormat { kText, kMarkdown, kCsv, kJson };

// Parses "table", "md", "csv", "json"; throws core::Error(kInvalidArgument).
TableFormat ParseTableFormat(const std::string& name);

struct Table {
  std::vector<std::string> headers;
  std::vector<bool> numeric;  // per column: JSON writes numbers unquoted, text right-aligns
  std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt: NULL
};

// A query's rows as a table; columns of DuckDB's number types are numeric.
Table TableFromQuery(const store::QueryResult& result);

void PrintTable(std::ostream& out, const Table& table, TableFormat format);
// The rows as a JSON array of objects (numeric columns as numbers, NULL as null).
nlohmann::json TableToJson(const Table& table);

}  // namespace ipfs_accel::cli
