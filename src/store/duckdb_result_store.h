#pragma once
// ResultStore on an embedded DuckDB file.

#include <memory>
#include <string>

#include "ipfs_accel/store/result_store.h"
#include "store/duckdb_handle.h"

namespace ipfs_accel::store {

class DuckDbResultStore final : public ResultStore {
 public:
  // See ResultStore::Open.
  static std::unique_ptr<DuckDbResultStore> Open(const std::string& path, OpenOptions options);

  int SchemaVersion() override;
  void WriteRun(const RunResults& results) override;
  QueryResult Query(const std::string& sql) override;

 private:
  DuckDbResultStore(std::string path, bool read_only, std::unique_ptr<Database> db);

  // The inserts of WriteRun, run inside its transaction.
  // `bulk`: performance rows through a staging table (ChunkAppender) and one INSERT ... SELECT;
  // otherwise one prepared INSERT per row, whose errors name the row.
  void InsertRun(const RunResults& results, const std::string& written_at, bool bulk);

  std::string path_;
  bool read_only_;
  std::unique_ptr<Database> db_;  // declared before con_: the connection closes first
  std::unique_ptr<Connection> con_;
};

}  // namespace ipfs_accel::store
