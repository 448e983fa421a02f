// `db`: direct access to the results database.

#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/table_printer.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

namespace {

struct QueryOptions {
  DatabaseOption db;
  std::string sql;
  std::string format = "table";
};

bool HasNestedColumn(const store::QueryResult& r) {
  return std::any_of(r.column_types.begin(), r.column_types.end(), [](const std::string& type) {
    return type.find('[') != std::string::npos || type.rfind("STRUCT", 0) == 0 ||
           type.rfind("MAP", 0) == 0 || type.rfind("UNION", 0) == 0;
  });
}

// The query again with every value as JSON (DuckDB's to_json), so that LIST, STRUCT and MAP
// values print as JSON arrays and objects rather than DuckDB's text for them. The rows are
// all taken from this run, so they stay consistent without an ORDER BY. A statement that
// cannot be a subquery keeps `text`.
store::QueryResult AsJsonValues(store::ResultStore& store, std::string sql,
                                store::QueryResult text) {
  while (!sql.empty() &&
         (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';'))
    sql.pop_back();
  try {
    store::QueryResult json =
        store.Query("SELECT to_json(COLUMNS(*)) FROM (" + sql + "\n) AS query");
    json.column_names = text.column_names;
    return json;
  } catch (const core::Error&) {
    return text;
  }
}

int RunQuery(const QueryOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  auto store = o.db.Open(/*read_only=*/true);
  store::QueryResult r = store->Query(o.sql);
  if (format == TableFormat::kJson && HasNestedColumn(r))
    r = AsJsonValues(*store, o.sql, std::move(r));
  PrintTable(std::cout, TableFromQuery(r), format);
  return kExitOk;
}

}  // namespace

void AddDbCommand(CLI::App& app, CommandFn* selected) {
  auto* db = app.add_subcommand("db", "Work with the results database directly.");
  db->require_subcommand(1);
  auto* query = db->add_subcommand(
      "query",
      "Run SQL on the results database (opened read-only). Tables: runs, hardware_platforms,\n"
      "models, performance_results, compatibility_results, schema_version; view "
      "latest_performance.");
  auto o = std::make_shared<QueryOptions>();
  o->db.Add(query);
  query->add_option("SQL,--sql", o->sql, "the SQL to run")->required();
  AddFormatOption(query, &o->format, {"table", "md", "csv", "json"});
  query->callback([selected, o] { *selected = [o] { return RunQuery(*o); }; });
  AddDbImportCommand(*db, selected);
  AddDbMaintenanceCommands(*db, selected);
  AddDbSyncCommands(*db, selected);
}

}  // namespace ipfs_accel::cli
