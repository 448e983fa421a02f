#pragma once
// Prints rows of cells as an aligned text table, Markdown, CSV, or JSON. One
// printer for every command that shows tabular data, so formats stay consistent.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/terminal.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

enum class TableFormat { kText, kMarkdown, kCsv, kJson };

// Parses "table", "md", "csv", "json"; throws core::Error(kInvalidArgument).
TableFormat ParseTableFormat(const std::string& name);

struct Table {
  std::vector<std::string> headers;
  std::vector<bool> numeric;  // per column: JSON writes numbers unquoted, text right-aligns
  std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt: NULL
  std::vector<bool> json = {};  // per column: cells are JSON text, written into JSON as values
};

// A query's rows as a table; columns of DuckDB's number types are numeric, JSON ones json.
Table TableFromQuery(const store::QueryResult& result);

// Text fits `width` columns (kUnlimitedWidth: no limit): past it, columns blank in every row
// are hidden first, then headers are abbreviated, then the least telling columns are hidden
// (a note under the table names them), then the widest text column is cut with "…". Text and
// Markdown show NULL as blank, CSV as an empty field, JSON as null; CSV, Markdown and JSON
// keep every column.
void PrintTable(std::ostream& out, const Table& table, TableFormat format,
                std::size_t width = TerminalWidth());
// The rows as a JSON array of objects, keys in column order (numeric columns as numbers, json
// columns as their values, NULL as null).
nlohmann::ordered_json TableToJson(const Table& table);

}  // namespace ipfs_accel::cli
