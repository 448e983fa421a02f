#include <iostream>

#include "cli/commands.h"
#include "cli/option_checks.h"

namespace ipfs_accel::cli {

void DatabaseOption::Add(CLI::App* cmd) {
  cmd->add_option(
      "--db", path,
      "results database: a DuckDB file, or postgresql://... for a fleet store (default: "
      "$BENCHMARK_DB_PATH, else ./benchmark_db.duckdb)");
  cmd->add_option("--lock-wait", lock_wait_s,
                  "seconds to wait while another process holds the database (writers hold it "
                  "only while they store a configuration)")
      ->check(FiniteNumber(false, "seconds"))
      ->capture_default_str();
}

std::string DatabaseOption::Path() const { return store::ResolveDatabasePath(path); }

store::OpenOptions DatabaseOption::Options(bool read_only) const {
  return {.read_only = read_only,
          .lock_wait_s = lock_wait_s,
          .on_lock_wait = [](const std::string& why) {
            std::cerr << "ipfs-accelerate: " << why << "\n";
          }};
}

std::unique_ptr<store::ResultStore> DatabaseOption::Open(bool read_only) const {
  return store::ResultStore::Open(Path(), Options(read_only));
}

}  // namespace ipfs_accel::cli
