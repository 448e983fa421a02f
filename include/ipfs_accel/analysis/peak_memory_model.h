#pragma once
// Peak resident memory of a configuration predicted from its memory estimate
// (memory_estimate.h), learned only from the peaks measured with it: per hardware,
//   peak RSS = base + a·weights + b·activation peak + c·inputs + d·serialized graph,
// the coefficients >= 0 fitted on the relative error (nonnegative_fit.h). `base` is what the
// process holds besides the graph (libraries, the runtime's threads and arenas); `a` is the
// runtime's initializers, `d` this tool's own serialized copy of a graph it hands over in
// memory (none for a graph read from a file). A
// prediction, labelled as one, with its leave-one-model-out error.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/analysis/latency_predictor.h"

namespace ipfs_accel::analysis {

class PeakMemoryModel {
 public:
  // From the rows with a measured peak (peak_rss_bytes > 0); hardware with fewer than 3 such
  // rows gets no fit. Throws core::Error kInvalidArgument when no hardware has enough.
  static PeakMemoryModel Train(const std::vector<PredictorRow>& rows);
  // nullopt when the row's hardware has no fit.
  std::optional<double> Predict(const PredictorRow& row) const;

  nlohmann::json ToJson() const;
  static PeakMemoryModel FromJson(const nlohmann::json& j);  // throws kCorrupt

 private:
  std::map<std::string, std::vector<double>> coefficients_;  // base, weights, activations,
                                                             // inputs, serialized graph
};

struct ModelMemoryError {
  std::string model, hardware;
  int rows = 0;
  double mean_abs_error = 0;  // mean |predicted - measured| / measured over its rows
  double worst_error = 0;     // the largest signed error (predicted / measured - 1) by size
};

// Leave-one-model-out: each model's peaks predicted by a model trained on the others' rows.
// A model whose hardware has too few other rows is left out.
std::vector<ModelMemoryError> EvaluatePeakMemory(const std::vector<PredictorRow>& rows);

}  // namespace ipfs_accel::analysis
