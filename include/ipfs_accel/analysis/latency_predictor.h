#pragma once
// Predicted single-stream latency of configurations nobody measured, learned only from
// measured ones (issue 17). Two stages:
//   roofline  per hardware, latency = fixed + a·GFLOPs + b·GB moved + c·thousand nodes, the
//             coefficients >= 0 fitted to that hardware's measurements by least squares on the
//             relative error (a bound-by-compute-and-memory baseline with a per-operator cost);
//   trees     gradient-boosted trees (boosted_trees.h) on the configuration's features learn
//             the log of measured / roofline, and the prediction is roofline · e^correction.
// A model measured at several shapes on a hardware (same precision, graph and threads) is
// predicted at its other shapes from its own roofline (fixed + a·GFLOPs + b·GB + c·samples,
// fitted to those measurements alone): its fixed cost and its speed per FLOP are its own, which a
// roofline shared across models and trees over coarse features only approximate. An 80 % interval
// comes from the 10th and 90th percentiles of the out-of-fold log errors of the training rows (5
// folds). Which stages a model uses is its `kind`.

#include <array>
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
  std::string model;  // PredictorModelKey: for the unseen batch/sequence splits, own rooflines
  int64_t batch_size = 1;
  int64_t seq_len = 0;
  int threads = 0;
  bool fused = false;
  std::string precision = "fp32";
  GraphCost cost;
  // The platform's measured main-memory bandwidth (hw/memory_bandwidth.h), 0 where unknown.
  double memory_bandwidth_gb_per_s = 0;
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

// A model's own roofline: one graph of one model on one hardware, latency over batch and
// sequence as fixed + a·GFLOPs (+ b·GB from four shapes on, + c·samples from five), fitted
// non-negatively on the relative error to that graph's measurements alone
// (src/analysis/model_roofline.h fits it). The per-sample term is the work a runtime does per
// batch item whatever its size (kernels looping over samples and heads): without it, latency
// measured over batch and sequence on this CPU was fitted within ±10 % in 87 % of
// configurations, with it in 93 %.
// It remembers the GFLOPs range it was fitted over, so a prediction knows how far it
// extrapolates.
struct ModelRoofline {
  double fixed_ms = 0, ms_per_gflop = 0, ms_per_gb = 0, ms_per_sample = 0;
  double min_gflops = 0, max_gflops = 0;  // the measured range

  double Ms(const PredictorRow& row) const;
  // log(GFLOPs / max) and log(GFLOPs / min): both <= 0 below the range, both >= 0 above it.
  std::array<double, 2> Position(const PredictorRow& row) const;
  nlohmann::json ToJson() const;
  static ModelRoofline FromJson(const nlohmann::json& j);
};

// How a row names its model (PredictorRow::model): its name and the content hash of its weights.
std::string PredictorModelKey(const std::string& name, const std::string& content_hash);

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
  // there), naming it. A row without a memory bandwidth takes its hardware's training rows'.
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
  // The model's own roofline where it has one, else nullptr.
  const ModelRoofline* LocalRoofline(const PredictorRow& row) const;
  // Fits every model's own roofline and, when `correct`, trees that learn its error at shapes
  // it was not fitted on (each shape held out in turn).
  void FitLocalRooflines(const std::vector<PredictorRow>& rows, bool correct);
  // The row with its hardware's memory bandwidth where it has none.
  PredictorRow WithBandwidth(const PredictorRow& row) const;

  PredictorKind kind_ = PredictorKind::kRoofline;
  std::map<std::string, Roofline> rooflines_;
  std::map<std::string, ModelRoofline> local_;  // by ModelRooflineKey
  std::optional<BoostedTrees> model_trees_;     // corrects local_ away from its measured shapes
  std::vector<std::string> hardware_;
  std::map<std::string, int> threads_;
  std::map<std::string, double> bandwidth_;  // GB/s by hardware, where the rows had it
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
