#include "ipfs_accel/server/sql_guard.h"

#include <fmt/format.h>

#include <string_view>

namespace ipfs_accel::server {

namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Why a function may not be called, or "".
std::string FunctionRefusal(std::string_view name) {
  static constexpr std::string_view kFilePrefixes[] = {"read_",  "parquet_", "iceberg_",
                                                       "delta_", "sqlite_",  "postgres_",
                                                       "mysql_", "csv_",     "json_scan"};
  static constexpr std::string_view kFiles[] = {"glob", "sniff_csv", "getenv", "load_extension"};
  static constexpr std::string_view kSqlText[] = {"query", "query_table",
                                                  "json_execute_serialized_sql"};
  static constexpr std::string_view kStateWords[] = {"checkpoint", "secret", "logging", "write_log",
                                                     "truncate_duckdb_logs"};
  // ipfs_accel_parallel_rows: the store's bulk-insert source, fed by writes in progress.
  static constexpr std::string_view kState[] = {"nextval", "setval", "ipfs_accel_parallel_rows"};
  for (std::string_view p : kFilePrefixes)
    if (StartsWith(name, p)) return "it reads files";
  for (std::string_view f : kFiles)
    if (name == f) return "it reaches outside the database";
  for (std::string_view f : kSqlText)
    if (name == f) return "it runs SQL given as text";
  for (std::string_view f : kState)
    if (name == f) return "it changes the database";
  for (std::string_view w : kStateWords)
    if (name.find(w) != std::string_view::npos) return "it changes the database's state";
  return "";
}

}  // namespace

std::string SqlRefusal(const store::StatementShape& shape) {
  if (shape.statements == 0) return "the SQL holds no statement; send one SELECT";
  if (shape.statements > 1)
    return fmt::format("the SQL holds {} statements; send one SELECT", shape.statements);
  if (!shape.is_query)
    return fmt::format("{} statements are refused: this endpoint is read-only; send one SELECT",
                       shape.first_keyword.empty() ? "this kind of" : shape.first_keyword);
  for (const std::string& f : shape.functions)
    if (const std::string why = FunctionRefusal(f); !why.empty())
      return fmt::format("function {}() is refused: {}", f, why);
  for (const std::string& t : shape.tables)
    if (t.find_first_of("./\\:*?") != std::string::npos)
      return fmt::format(
          "table '{}' is refused: it names a file or URL, and only the results "
          "database's tables can be read",
          t);
  return "";
}

}  // namespace ipfs_accel::server
