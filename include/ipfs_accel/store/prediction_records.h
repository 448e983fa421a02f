#pragma once
// Trained performance predictors and the predictions made with them (schema v10), so every
// predicted figure traces to the model that made it, its training rows and its validation.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ipfs_accel::store {

class ResultStore;

// One trained predictor (the `prediction_models` table).
struct PredictionModelRecord {
  std::string id = {};          // content hash of model_json: the same training, the same id
  std::string created_at = {};  // ISO-8601 UTC
  std::string target = {};      // what it predicts: "latency_p50_ms"
  std::string kind = {};        // "roofline" or "roofline+trees"
  std::string library = {};     // "xgboost 1.7.4"
  std::string git_commit = {};  // of the tool that trained it
  int64_t training_rows = 0;
  std::string training_range_json = "{}";  // per axis: the values the training rows span
  std::string validation_json = "[]";      // predict --evaluate's splits
  std::string model_json = "{}";           // coefficients and trees, as the predictor reads them
};

// One prediction (the `predictions` table).
struct PredictionRecord {
  std::string prediction_model_id = {};
  std::string created_at = {};
  std::string model_name = {};
  std::string content_hash = {};
  std::string hardware = {};  // the predictor's hardware key
  std::string precision = "fp32";
  std::string graph_variant = "plain";
  int64_t batch_size = 1;
  int64_t seq_len = 0;
  double predicted = 0;  // in the target's unit
  double low = 0, high = 0;
};

// The newest stored predictor for `target`; nullopt when none was trained.
std::optional<PredictionModelRecord> LatestPredictionModel(ResultStore& store,
                                                           const std::string& target);

}  // namespace ipfs_accel::store
