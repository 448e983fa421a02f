#pragma once
// ResultStore on an embedded DuckDB file.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/store/result_store.h"
#include "store/duckdb_handle.h"

namespace ipfs_accel::store {

class DuckDbResultStore final : public ResultStore {
 public:
  // See ResultStore::Open.
  static std::unique_ptr<DuckDbResultStore> Open(const std::string& path, OpenOptions options);
  // A private in-memory database at schema `version` (the PostgreSQL store's copy of an older
  // store, before MigrateToCurrent()).
  static std::unique_ptr<DuckDbResultStore> OpenInMemoryAt(int version);
  void MigrateToCurrent();

  int SchemaVersion() override;
  void WriteRun(const RunResults& results) override;
  void WriteRuns(const std::vector<const RunResults*>& runs) override;
  void BeginRun(const RunRecord& run) override;
  void AppendToRun(const RunResults& part) override;
  void FinishRun(const std::string& run_id, const std::string& finished_at,
                 const std::string& state) override;
  void WriteTemplates(const std::vector<TemplateRecord>& templates,
                      const std::string& git_commit) override;  // template_store.cpp
  void WriteTemplateValidations(const std::vector<TemplateValidationRecord>& outcomes) override;
  void WritePredictionModel(const PredictionModelRecord& model) override;
  void WritePredictions(const std::vector<PredictionRecord>& predictions) override;
  QueryResult Query(const std::string& sql) override;
  // query_layer.cpp:
  QueryResult Query(const std::string& sql, const std::vector<QueryParam>& params) override;
  StatementShape Inspect(const std::string& sql) override;
  LimitedQueryResult QueryLimited(const std::string& sql, const QueryLimits& limits) override;
  void DisableExternalAccess() override;

  // Rows of text (std::nullopt for NULL) into `table`, whose first `columns` columns are all
  // VARCHAR, in one statement in the caller's transaction (the PostgreSQL store loads its copy
  // through it). Throws core::Error(kDatabase).
  void InsertTextRows(const std::string& table, size_t columns,
                      const std::vector<std::vector<std::optional<std::string>>>& rows);

 private:
  DuckDbResultStore(std::string path, bool read_only, std::unique_ptr<Database> db);

  // The stored ids of an entry's model and hardware.
  struct EntryIds {
    int64_t model_id;
    int64_t hardware_id;
  };

  void RequireWritable(const std::string& label) const;
  // One template's rows (template_store.cpp), inside WriteTemplates' transaction.
  void InsertTemplate(const TemplateRecord& t, const std::string& git_commit,
                      const std::string& loaded_at);
  // Runs `write` in one transaction, first with bulk inserts; when that fails with a database
  // error, once more row by row (then rolled back) so the error names the row. Either way the
  // database is as it was unless `write` committed whole.
  void WriteInTransaction(const std::string& label, const std::function<void(bool bulk)>& write);
  // The inserts of the writes, run inside their transaction.
  void InsertRunRecord(const RunRecord& run, const std::string& label);
  // Models, hardware, compatibility and performance rows of `results` for results.run.run_id.
  // `bulk`: performance rows in one parallel insert (AppendPerformance); otherwise one prepared
  // INSERT per row, whose errors name the row.
  void InsertEntries(const RunResults& results, const std::string& written_at, bool bulk);
  // Every performance row of `results` through one INSERT filled on DuckDB's threads
  // (store/parallel_insert.h), with result ids reserved from the sequence and configuration
  // keys computed by DuckDB once per distinct configuration. Errors cannot name the row;
  // WriteRun then retries row by row.
  void AppendPerformance(const RunResults& results, const std::vector<EntryIds>& ids,
                         const std::string& written_at);

  std::string path_;
  bool read_only_;
  std::unique_ptr<Database> db_;  // declared before con_: the connection closes first
  std::unique_ptr<Connection> con_;
};

}  // namespace ipfs_accel::store
