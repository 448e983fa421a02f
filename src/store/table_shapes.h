#pragma once
// The base tables of a results database as its DuckDB catalog describes them, and how each
// travels to and from PostgreSQL as text (the PostgreSQL store's copy, postgres_store.h).

#include <string>
#include <vector>

namespace ipfs_accel::store {

class ResultStore;

struct ColumnShape {
  std::string name;
  std::string duckdb_type;  // "BIGINT", "DOUBLE[]", "MAP(VARCHAR, VARCHAR)", ...
  // Lists, maps and structs travel as JSON text (to_json), and are stored in PostgreSQL as text.
  bool structured = false;
};

struct TableShape {
  std::string name;
  std::vector<ColumnShape> columns;
  // The primary key; else the column a sequence fills (unique by construction); else empty:
  // the table is compared and replaced whole.
  std::vector<std::string> key;
  std::vector<std::vector<std::string>> unique;  // UNIQUE constraints
  // Columns filled from a sequence: (column, sequence).
  std::vector<std::pair<std::string, std::string>> sequences;
};

// The base tables of schema main, in name order. Throws as ResultStore::Query does.
std::vector<TableShape> ReadTableShapes(ResultStore& duckdb);

// A double-quoted identifier.
std::string QuoteIdent(const std::string& name);
// The PostgreSQL type that holds a DuckDB type's values.
std::string PostgresType(const ColumnShape& column);
// CREATE TABLE for PostgreSQL, with the primary key and unique constraints.
std::string PostgresCreateTable(const TableShape& table);
// DuckDB expressions: a column as text (`SELECT` list for PostgreSQL), and text named `source`
// back into the column's type.
std::string ColumnAsText(const ColumnShape& column);
std::string TextAsColumn(const ColumnShape& column, const std::string& source);

}  // namespace ipfs_accel::store
