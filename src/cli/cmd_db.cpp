// `db`: direct access to the results database.

#include <iostream>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/table_printer.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

namespace {

struct QueryOptions {
  DatabaseOption db;
  std::string sql;
  std::string format = "table";
};

int RunQuery(const QueryOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  auto store = o.db.Open(/*read_only=*/true);
  const store::QueryResult r = store->Query(o.sql);
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
  query->add_option("--sql", o->sql, "the SQL to run")->required();
  query->add_option("--format", o->format, "table, md, csv or json")->capture_default_str();
  query->callback([selected, o] { *selected = [o] { return RunQuery(*o); }; });
  AddDbImportCommand(*db, selected);
  AddDbMaintenanceCommands(*db, selected);
}

}  // namespace ipfs_accel::cli
