// Trained predictors and their predictions (schema v10). See
// ipfs_accel/store/prediction_records.h.

#include <fmt/format.h>

#include "ipfs_accel/store/prediction_records.h"
#include "store/duckdb_result_store.h"

namespace ipfs_accel::store {

using core::ErrorKind;

void DuckDbResultStore::WritePredictionModel(const PredictionModelRecord& m) {
  const std::string label =
      fmt::format("storing predictor {} in database '{}'", m.id.substr(0, 12), path_);
  WriteInTransaction(label, [&](bool) {
    const OnError on_error{ErrorKind::kDatabase, label + " failed",
                           "nothing was written (the database is unchanged)"};
    Statement(con_->get(),
              "INSERT INTO prediction_models (id, created_at, target, kind, library, git_commit, "
              "training_rows, training_range, validation, model) VALUES (?, CAST(? AS "
              "TIMESTAMP), ?, ?, ?, ?, ?, CAST(? AS JSON), CAST(? AS JSON), CAST(? AS JSON)) "
              "ON CONFLICT (id) DO NOTHING",
              on_error)
        .AddText(m.id)
        .AddText(m.created_at)
        .AddText(m.target)
        .AddText(m.kind)
        .AddText(m.library)
        .AddText(m.git_commit)
        .AddInt(m.training_rows)
        .AddText(m.training_range_json)
        .AddText(m.validation_json)
        .AddText(m.model_json)
        .Execute(on_error);
  });
}

void DuckDbResultStore::WritePredictions(const std::vector<PredictionRecord>& predictions) {
  const std::string label =
      fmt::format("storing {} predictions in database '{}'", predictions.size(), path_);
  WriteInTransaction(label, [&](bool) {
    const OnError on_error{ErrorKind::kDatabase, label + " failed",
                           "nothing was written (the database is unchanged)"};
    Statement insert(con_->get(),
                     "INSERT INTO predictions (prediction_model_id, created_at, model_name, "
                     "content_hash, hardware, precision, graph_variant, batch_size, seq_len, "
                     "predicted, low, high) VALUES (?, CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?, ?, ?, "
                     "?, ?, ?)",
                     on_error);
    for (const auto& p : predictions)
      insert.AddText(p.prediction_model_id)
          .AddText(p.created_at)
          .AddText(p.model_name)
          .AddText(p.content_hash)
          .AddText(p.hardware)
          .AddText(p.precision)
          .AddText(p.graph_variant)
          .AddInt(p.batch_size)
          .AddInt(p.seq_len)
          .AddDouble(p.predicted)
          .AddDouble(p.low)
          .AddDouble(p.high)
          .Execute(on_error);
  });
}

std::optional<PredictionModelRecord> LatestPredictionModel(ResultStore& store,
                                                           const std::string& target) {
  const QueryResult q = store.Query(
      "SELECT id, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ'), target, kind, library, git_commit, "
      "training_rows, CAST(training_range AS VARCHAR), CAST(validation AS VARCHAR), "
      "CAST(model AS VARCHAR) FROM prediction_models WHERE target = $1 "
      "ORDER BY created_at DESC, id LIMIT 1",
      {target});
  if (q.rows.empty()) return std::nullopt;
  const auto& r = q.rows[0];
  return PredictionModelRecord{.id = *r[0],
                               .created_at = *r[1],
                               .target = *r[2],
                               .kind = *r[3],
                               .library = *r[4],
                               .git_commit = *r[5],
                               .training_rows = std::stoll(*r[6]),
                               .training_range_json = *r[7],
                               .validation_json = *r[8],
                               .model_json = *r[9]};
}

}  // namespace ipfs_accel::store
