#pragma once
// Predicted single-stream latency of configurations nobody measured, learned only from
// measured ones (issue 17). Two stages:
//   roofline  per hardware, latency = fixed + a·GFLOPs + b·GB moved + c·thousand nodes, the
//             coefficients >= 0 fitted to that hardware's measurements by least squares on the
//             relative error (a bound-by-compute-and-memory baseline with a per-operator cost);
//   trees     gradient-boosted trees (boosted_trees.h) on the configuration's features learn
//             the log of measured / roofline, and the prediction is roofline · e^correction.
// An 80 % interval comes from the 10th and 90th percentiles of the out-of-fold log errors of
// the training rows (5 folds). Which stages a model uses is its `kind`.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/analysis/boosted_trees.h"
#include "ipfs_accel/analysis/graph_cost.h"
#include "ipfs_accel/analysis/prediction_metrics.h"

namespace ipfs_accel::analysis {

// One configuration: what the predictor reads (and, for a training row, its measurement).
struct PredictorRow {
  std::string hardware;      // a key naming one machine's platform and provider
  std::string architecture;  // HF model_type, for the leave-architecture-out split
  std::string model;         // model identity, for the unseen batch/sequence splits
  int64_t batch_size = 1;
  int64_t seq_len = 0;
  int threads = 0;
  bool fused = false;
  std::string precision = "fp32";
  GraphCost cost;
  double latency_ms = 0;  // measured (training rows) or 0
  // The memory estimate's parts (memory_estimate.h) and the measured peak RSS (0: none), for
  // the peak-memory model (peak_memory_model.h).
  int64_t activation_peak_bytes = 0;
  int64_t inputs_bytes = 0;
  // The graph's bytes this process also holds, serialized, beside the runtime's copy (0 for a
  // graph the runtime reads from a file, e.g. one over 2 GB with external weights).
  int64_t serialized_graph_bytes = 0;
  double peak_rss_bytes = 0;
};

// The names of the tree features, in the order LatencyFeatures() gives them.
const std::vector<std::string>& LatencyFeatureNames();
std::vector<float> LatencyFeatures(const PredictorRow& row);

enum class PredictorKind { kRoofline, kRooflineAndTrees };

struct LatencyPrediction {
  double latency_ms = 0;
  double low_ms = 0, high_ms = 0;  // the 80 % interval
};

class LatencyPredictor {
 public:
  // Throws core::Error kInvalidArgument when a hardware key has fewer than 4 rows.
  static LatencyPredictor Train(const std::vector<PredictorRow>& rows, PredictorKind kind,
                                bool with_interval = true);
  // Throws core::Error kNotFound when the row's hardware has no roofline (nothing measured
  // there), naming it.
  LatencyPrediction Predict(const PredictorRow& row) const;

  PredictorKind kind() const { return kind_; }
  const std::vector<std::string>& hardware() const { return hardware_; }
  // The intra-op threads most of the hardware's training rows ran with (0 if unknown): what a
  // configuration predicted there is assumed to use.
  int TypicalThreads(const std::string& hardware) const;
  nlohmann::json ToJson() const;  // coefficients, interval and the trees' JSON
  static LatencyPredictor FromJson(const nlohmann::json& j);

 private:
  struct Roofline {
    double fixed_ms = 0, ms_per_gflop = 0, ms_per_gb = 0, ms_per_knode = 0;
  };
  double RooflineMs(const PredictorRow& row) const;

  PredictorKind kind_ = PredictorKind::kRoofline;
  std::map<std::string, Roofline> rooflines_;
  std::vector<std::string> hardware_;
  std::map<std::string, int> threads_;
  std::optional<BoostedTrees> trees_;
  double log_low_ = 0, log_high_ = 0;
};

struct SplitEvaluation {
  std::string split;  // "k_fold", "unseen_batch", "unseen_seq", "unseen_architecture"
  std::string method;
  PredictionAccuracy accuracy;
  double interval_coverage = 0;  // share of measurements inside the predicted interval
};

// The four validation splits of `rows` (measured), each trained afresh on its training part:
// k_fold (5 random folds), unseen_batch and unseen_seq (each value held out in turn, tested on
// the model and hardware pairs measured at other values too), unseen_architecture (5 folds by
// architecture). A split with nothing to test is left out.
std::vector<SplitEvaluation> EvaluatePredictor(const std::vector<PredictorRow>& rows,
                                               PredictorKind kind, uint64_t seed = 42);

std::string_view PredictorKindName(PredictorKind kind);  // "roofline", "roofline+trees"

}  // namespace ipfs_accel::analysis
