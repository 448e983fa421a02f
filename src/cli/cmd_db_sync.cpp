// `db push URL` / `db pull URL`: runs between this machine's results database and the fleet's
// store, either direction through the same ResultStore interface. A run the destination
// already holds is skipped; the rest land in one transaction.

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "ipfs_accel/store/maintenance.h"
#include "ipfs_accel/store/postgres_store.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::cli {
namespace {

struct SyncOptions {
  DatabaseOption db;
  std::string remote;
  std::vector<std::string> runs;  // run refs; empty: every run
  bool json = false;
};

struct Transferred {
  std::vector<std::string> copied, skipped;
};

Transferred Transfer(store::ResultStore& from, store::ResultStore& to,
                     const std::vector<std::string>& refs) {
  std::vector<std::string> ids;
  if (refs.empty()) {
    for (const auto& row : from.Query("SELECT run_id FROM runs ORDER BY started_at, run_id").rows)
      ids.push_back(*row[0]);
  } else {
    for (const auto& ref : refs) ids.push_back(store::ResolveRunRef(from, ref));
  }
  Transferred t;
  std::vector<store::RunResults> runs;
  for (const auto& id : ids) {
    if (store::RunIsStored(to, id)) {
      t.skipped.push_back(id);
      continue;
    }
    runs.push_back(store::ReadStoredRun(from, id));
    t.copied.push_back(id);
  }
  std::vector<const store::RunResults*> pointers;
  for (const auto& r : runs) pointers.push_back(&r);
  to.WriteRuns(pointers);
  return t;
}

int RunSync(const SyncOptions& o, bool push) {
  const std::string local = o.db.Path();
  auto here = o.db.Open(/*read_only=*/push);
  auto there = store::ResultStore::Open(o.remote, {.read_only = !push});
  const Transferred t = push ? Transfer(*here, *there, o.runs) : Transfer(*there, *here, o.runs);
  const std::string remote =
      store::IsPostgresUrl(o.remote) ? store::RedactedUrl(o.remote) : o.remote;
  if (o.json) {
    std::cout << nlohmann::ordered_json{{push ? "pushed" : "pulled", t.copied},
                                        {"already_there", t.skipped},
                                        {"from", push ? local : remote},
                                        {"to", push ? remote : local}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("{} {} runs from {} to {} ({} already there)\n",
                             push ? "pushed" : "pulled", t.copied.size(), push ? local : remote,
                             push ? remote : local, t.skipped.size());
  }
  return kExitOk;
}

void AddSync(CLI::App& db, CommandFn* selected, bool push) {
  auto* cmd = db.add_subcommand(
      push ? "push" : "pull",
      push ? "Copy runs from the results database (--db) to another store, e.g. the fleet's\n"
             "postgresql://... store. Runs it holds already are skipped; the rest land in one\n"
             "transaction."
           : "Copy runs from another store (e.g. the fleet's postgresql://... store) into the\n"
             "results database (--db). Runs it holds already are skipped; the rest land in one\n"
             "transaction.");
  auto o = std::make_shared<SyncOptions>();
  o->db.Add(cmd);
  cmd->add_option("STORE", o->remote, "the other store: postgresql://... or a DuckDB file")
      ->required();
  cmd->add_option("--run", o->runs, "a run (id, prefix, latest, latest~N); default: every run");
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o, push] { *selected = [o, push] { return RunSync(*o, push); }; });
}

}  // namespace

void AddDbSyncCommands(CLI::App& db, CommandFn* selected) {
  AddSync(db, selected, /*push=*/true);
  AddSync(db, selected, /*push=*/false);
}

}  // namespace ipfs_accel::cli
