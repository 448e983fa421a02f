#pragma once
// Versioned schema migrations of the results database. The schema_version table records
// every step applied; Migrate() applies the missing ones, all in one transaction.

#include <duckdb.h>

#include <string>
#include <vector>

namespace ipfs_accel::store {

struct MigrationStep {
  int version;  // 1, 2, 3, ... without gaps
  std::string description;
  std::string sql;  // one or more statements
};

// The SQL expression of a performance result's configuration key (schema v5): a hash of every
// field that makes a configuration (as latest_performance groups them), over columns of these
// names in any table with them, each cast to a fixed type so the staging table and
// performance_results hash alike.
extern const char* const kConfigurationKeySql;

// Every step, oldest first. CurrentSchemaVersion() is the last one's version.
const std::vector<MigrationStep>& MigrationSteps();

// The highest version recorded in schema_version; 0 when that table does not exist.
int ReadSchemaVersion(duckdb_connection con, const std::string& path);

// Throws kDatabase when `version` is newer than this tool's schema.
void CheckNotNewer(int version, const std::string& path);

// Brings the database at `path` to CurrentSchemaVersion(), or to `target_version` when that is
// not 0 (the PostgreSQL store rebuilds an older store's schema to migrate it). Throws kDatabase
// (or kIo) when the schema is newer than this tool's or a step fails; then the database is
// unchanged.
void Migrate(duckdb_connection con, const std::string& path, int target_version = 0);

}  // namespace ipfs_accel::store
