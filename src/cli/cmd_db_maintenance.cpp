// `db stats|check|vacuum|purge|backup|restore|export`: maintenance of the results database. The
// work is in store/maintenance.h; this file parses options and prints.

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_units.h"
#include "ipfs_accel/store/maintenance.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {
namespace {

struct DbOnly {
  DatabaseOption db;
  bool json = false;
};

int RunStats(const DbOnly& o) {
  const store::DatabaseStats s = store::ReadStats(o.db.Path(), o.db.Options());
  if (o.json) {
    nlohmann::ordered_json j;
    for (const auto& [table, rows] : s.rows_per_table) j["rows"][table] = rows;
    j["runs_by_origin"] = nlohmann::ordered_json::object();
    for (const auto& [origin, runs] : s.runs_by_origin) j["runs_by_origin"][origin] = runs;
    j["distinct_models"] = s.distinct_models;
    j["distinct_hardware"] = s.distinct_hardware;
    j["first_run_started_at"] = s.first_run_started_at ? *s.first_run_started_at : nullptr;
    j["last_run_started_at"] = s.last_run_started_at ? *s.last_run_started_at : nullptr;
    j["file_bytes"] = s.file_bytes;
    j["schema_version"] = s.schema_version;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("database        {} ({}, schema version {})\n", o.db.Path(),
                           HumanBytes(s.file_bytes), s.schema_version);
  for (const auto& [table, rows] : s.rows_per_table)
    std::cout << fmt::format("{:<22}  {:>10} rows\n", table, rows);
  std::string origins;
  for (const auto& [origin, runs] : s.runs_by_origin)
    origins += fmt::format("{}{} {}", origins.empty() ? "" : ", ", runs, origin);
  std::cout << fmt::format("runs by origin  {}\n", origins.empty() ? "none" : origins);
  std::cout << fmt::format("results cover   {} models, {} hardware platforms\n", s.distinct_models,
                           s.distinct_hardware);
  std::cout << fmt::format("runs started    {} .. {}\n", s.first_run_started_at.value_or("-"),
                           s.last_run_started_at.value_or("-"));
  return kExitOk;
}

int RunCheck(const DbOnly& o) {
  const std::vector<store::CheckFinding> findings =
      store::CheckDatabase(o.db.Path(), o.db.Options());
  int problems = 0;
  for (const auto& f : findings) problems += f.is_problem ? 1 : 0;
  const int warnings = static_cast<int>(findings.size()) - problems;
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& f : findings) {
      j.push_back({{"severity", f.is_problem ? "problem" : "warning"},
                   {"table", f.table},
                   {"id", f.id},
                   {"message", f.message}});
    }
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& f : findings) {
      std::cout << fmt::format("{}  {} {}: {}\n", f.is_problem ? "problem" : "warning", f.table,
                               f.id, f.message);
    }
    std::cout << fmt::format("{}: {} problems, {} warnings\n", o.db.Path(), problems, warnings);
  }
  return problems > 0 ? kExitCheckFailed : kExitOk;
}

int RunVacuum(const DbOnly& o) {
  const store::VacuumReport r = store::VacuumDatabase(o.db.Path(), o.db.Options());
  std::cout << fmt::format("vacuumed {}: {} -> {}\n", o.db.Path(), HumanBytes(r.bytes_before),
                           HumanBytes(r.bytes_after));
  return kExitOk;
}

struct PurgeOptions {
  DatabaseOption db;
  std::string older_than;
  bool dry_run = false;
};

int RunPurge(const PurgeOptions& o) {
  const std::string cutoff = store::ParsePurgeCutoff(o.older_than);
  const store::PurgeReport r =
      store::PurgeRunsBefore(o.db.Path(), cutoff, o.dry_run, o.db.Options());
  std::cout << fmt::format(
      "{} runs started before {} UTC: {} runs, {} performance results, {} compatibility "
      "results, {} models and {} hardware platforms no other result refers to\n",
      o.dry_run ? "would delete" : "deleted", r.cutoff, r.runs, r.performance_results,
      r.compatibility_results, r.models, r.hardware);
  return kExitOk;
}

struct BackupOptions {
  DatabaseOption db;
  std::string destination;
  bool compress = false;
};

int RunBackup(const BackupOptions& o) {
  const store::BackupReport r =
      store::BackupDatabase(o.db.Path(), o.destination, o.compress, o.db.Options());
  std::cout << fmt::format("backed up to {} ({}{})\n", r.destination, HumanBytes(r.bytes),
                           r.compressed ? ", Parquet with zstd" : "");
  return kExitOk;
}

struct RestoreOptions {
  DatabaseOption db;
  std::string backup;
  bool force = false;
};

int RunRestore(const RestoreOptions& o) {
  const store::RestoreReport r = store::RestoreDatabase(o.backup, o.db.Path(), o.force);
  std::string rows;
  for (const auto& [table, count] : r.rows_per_table)
    rows += fmt::format("{}{} {}", rows.empty() ? "" : ", ", count, table);
  std::cout << fmt::format("restored {} into {}{}: {}\n", o.backup, r.database,
                           r.replaced ? " (replacing it)" : "", rows);
  return kExitOk;
}

struct DbExportOptions {
  DatabaseOption db;
  store::ExportRequest request;
};

int RunDbExport(const DbExportOptions& o) {
  const store::ExportReport r = store::ExportDatabase(o.db.Path(), o.request, o.db.Options());
  for (const auto& [file, bytes] : r.files)
    std::cout << fmt::format("{}  {}\n", file, HumanBytes(bytes));
  return kExitOk;
}

}  // namespace

void AddDbMaintenanceCommands(CLI::App& db, CommandFn* selected) {
  const auto add_db_only = [&](const char* name, const char* help, int (*run)(const DbOnly&),
                               bool with_json) {
    auto* cmd = db.add_subcommand(name, help);
    auto o = std::make_shared<DbOnly>();
    o->db.Add(cmd);
    if (with_json) AddFormatOption(cmd, &o->json);
    cmd->callback([selected, o, run] { *selected = [o, run] { return run(*o); }; });
  };
  add_db_only("stats",
              "Rows per table, runs by origin, models and hardware covered, first and last run,\n"
              "file size and schema version.",
              RunStats, true);
  add_db_only("check",
              "Integrity: results whose run, model or hardware is missing; impossible values\n"
              "(negative or non-finite, min > max, p50 > p99, samples with 0 iterations); schema\n"
              "version. Models and hardware no result refers to are warnings. Exit status 1\n"
              "when a problem is found.",
              RunCheck, true);
  add_db_only("vacuum", "CHECKPOINT and VACUUM ANALYZE; prints the file size before and after.",
              RunVacuum, false);

  auto* purge = db.add_subcommand(
      "purge",
      "Delete runs that started before a cutoff, with their results, and the models and\n"
      "hardware platforms that only those results referred to.");
  auto p = std::make_shared<PurgeOptions>();
  p->db.Add(purge);
  purge
      ->add_option("--older-than", p->older_than,
                   "a duration before now (90d, 12h, 2w) or a UTC date (2026-01-01)")
      ->required();
  purge->add_flag("--dry-run", p->dry_run, "count what would be deleted, delete nothing");
  purge->callback([selected, p] { *selected = [p] { return RunPurge(*p); }; });

  auto* backup = db.add_subcommand(
      "backup",
      "A consistent copy of the database file (taken with the database locked, after a\n"
      "CHECKPOINT). With --compress: a folder of zstd-compressed Parquet files made by DuckDB's\n"
      "EXPORT DATABASE. `db restore DEST` restores either. DEST is never overwritten.");
  auto b = std::make_shared<BackupOptions>();
  b->db.Add(backup);
  backup->add_option("DEST", b->destination, "the new file (or folder with --compress)")
      ->required();
  backup->add_flag("--compress", b->compress, "Parquet (zstd) export into the folder DEST");
  backup->callback([selected, b] { *selected = [b] { return RunBackup(*b); }; });

  auto* restore = db.add_subcommand(
      "restore",
      "Restore what `db backup` wrote (the file, or the --compress folder) into --db. The\n"
      "backup is restored beside it and read back whole before it replaces anything; an\n"
      "existing non-empty database is replaced only with --force.");
  auto r = std::make_shared<RestoreOptions>();
  r->db.Add(restore);
  restore->add_option("BACKUP", r->backup, "the backup file or folder")->required();
  restore->add_flag("--force", r->force, "replace an existing non-empty database");
  restore->callback([selected, r] { *selected = [r] { return RunRestore(*r); }; });

  auto* exp = db.add_subcommand(
      "export",
      "Write tables with DuckDB's COPY ... TO: every table into the folder --output, one file\n"
      "per table, or one --table / --query into the file --output. JSON is one object per\n"
      "line. --format run-json writes runs (--run ID, or every run) as this tool's run export,\n"
      "which `db import` reads into another database. Written under a temporary name and\n"
      "renamed; never overwrites --output.");
  auto e = std::make_shared<DbExportOptions>();
  e->db.Add(exp);
  AddFormatOption(exp, &e->request.format, {"parquet", "csv", "json", "run-json"});
  exp->add_option(kOutputOptionName, e->request.output, "folder (all tables) or file")->required();
  auto* table = exp->add_option("--table", e->request.table, "one table or view");
  auto* query =
      exp->add_option("--query", e->request.query, "the rows of one SQL query")->excludes(table);
  exp->add_option("--run", e->request.run_id,
                  "run-json: only this run (its id or a unique prefix, latest, latest~N)")
      ->excludes(table)
      ->excludes(query);
  exp->callback([selected, e] {
    if (e->request.format.empty())
      throw CLI::RequiredError("--format (parquet, csv, json or run-json) or --json");
    *selected = [e] { return RunDbExport(*e); };
  });
}

}  // namespace ipfs_accel::cli
