#include "store/table_shapes.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::store {
namespace {

// DuckDB renders a list of names as "[a, b]".
std::vector<std::string> NameList(const std::string& text) {
  std::vector<std::string> names;
  std::string current;
  for (char c : text) {
    if (c == '[' || c == ']' || c == ' ') continue;
    if (c == ',') {
      names.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) names.push_back(current);
  return names;
}

bool IsStructured(const std::string& type) {
  return type.ends_with("]") || type.starts_with("MAP(") || type.starts_with("STRUCT(");
}

}  // namespace

std::vector<TableShape> ReadTableShapes(ResultStore& duckdb) {
  std::map<std::string, TableShape> tables;
  const QueryResult columns = duckdb.Query(
      "SELECT c.table_name, c.column_name, c.data_type, c.column_default "
      "FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_name, schema_name, "
      "table_name) WHERE c.schema_name = 'main' AND NOT t.temporary "
      "ORDER BY c.table_name, c.column_index");
  for (const auto& row : columns.rows) {
    TableShape& table = tables[*row[0]];
    table.name = *row[0];
    table.columns.push_back({*row[1], *row[2], IsStructured(*row[2])});
    const std::string fill = row[3].value_or("");
    if (fill.starts_with("nextval('")) {
      const size_t end = fill.find('\'', 9);
      table.sequences.emplace_back(*row[1], fill.substr(9, end - 9));
    }
  }
  const QueryResult keys = duckdb.Query(
      "SELECT table_name, constraint_type, CAST(constraint_column_names AS VARCHAR) "
      "FROM duckdb_constraints() WHERE schema_name = 'main' "
      "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY table_name, constraint_index");
  for (const auto& row : keys.rows) {
    auto found = tables.find(*row[0]);
    if (found == tables.end()) continue;
    if (*row[1] == "PRIMARY KEY")
      found->second.key = NameList(*row[2]);
    else
      found->second.unique.push_back(NameList(*row[2]));
  }
  std::vector<TableShape> shapes;
  for (auto& [name, table] : tables) {
    if (table.key.empty() && table.sequences.size() == 1) table.key = {table.sequences[0].first};
    shapes.push_back(std::move(table));
  }
  return shapes;
}

std::string QuoteIdent(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string PostgresType(const ColumnShape& column) {
  if (column.structured) return "text";  // JSON text
  static const std::map<std::string, std::string> kTypes = {
      {"BIGINT", "bigint"},
      {"INTEGER", "integer"},
      {"SMALLINT", "smallint"},
      {"UBIGINT", "numeric(20, 0)"},
      {"UINTEGER", "bigint"},
      {"HUGEINT", "numeric(39, 0)"},
      {"DOUBLE", "double precision"},
      {"FLOAT", "real"},
      {"BOOLEAN", "boolean"},
      {"VARCHAR", "text"},
      {"JSON", "text"},  // text, not jsonb: the bytes stay as written (hashes cover them)
      {"TIMESTAMP", "timestamp"},
      {"TIMESTAMP WITH TIME ZONE", "timestamptz"},
      {"DATE", "date"},
      {"BLOB", "bytea"},
  };
  const auto found = kTypes.find(column.duckdb_type);
  return found == kTypes.end() ? "text" : found->second;
}

std::string PostgresCreateTable(const TableShape& table) {
  std::vector<std::string> parts;
  for (const ColumnShape& c : table.columns)
    parts.push_back(fmt::format("{} {}", QuoteIdent(c.name), PostgresType(c)));
  const auto list = [](const std::vector<std::string>& names) {
    std::vector<std::string> quoted;
    for (const auto& n : names) quoted.push_back(QuoteIdent(n));
    return fmt::format("({})", fmt::join(quoted, ", "));
  };
  if (!table.key.empty()) parts.push_back("PRIMARY KEY " + list(table.key));
  for (const auto& u : table.unique) parts.push_back("UNIQUE " + list(u));
  return fmt::format("CREATE TABLE {} ({})", QuoteIdent(table.name), fmt::join(parts, ", "));
}

std::string ColumnAsText(const ColumnShape& column) {
  const std::string name = QuoteIdent(column.name);
  return column.structured ? fmt::format("CAST(to_json({}) AS VARCHAR)", name)
                           : fmt::format("CAST({} AS VARCHAR)", name);
}

std::string TextAsColumn(const ColumnShape& column, const std::string& source) {
  return column.structured ? fmt::format("CAST(CAST({} AS JSON) AS {})", source, column.duckdb_type)
                           : fmt::format("CAST({} AS {})", source, column.duckdb_type);
}

}  // namespace ipfs_accel::store
