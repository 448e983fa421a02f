#pragma once
// Hardware selection: a configuration's latency on each hardware the database knows, measured
// where a result is stored and otherwise predicted by the latest stored predictor (labelled,
// with its interval), ranked by latency, throughput or memory. What `predict --model`,
// `select` and the server's /api/select give, so the command and the endpoint cannot disagree.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

struct SelectionQuery {
  std::string model_spec;  // as the user gave it; named in the "measure it with" hint
  int64_t batch_size = 1;
  int64_t seq_len = 128;
  std::string precision = "fp32";
  std::string graph = "plain";
  std::string platform;  // only hardware of this platform ("cpu", "cuda", ...); empty: all
  // A training step (benchmark --mode training: scenario 'training', micro-batch batch_size,
  // no gradient accumulation) with this optimizer ("adamw", "sgd-momentum") instead of
  // inference. Training figures are measured only: no predictor learns them yet.
  bool training = false;
  std::string optimizer = "adamw";
};

struct HardwareFigure {
  std::string hardware;  // HardwareKey
  std::string origin;    // "measured" or "predicted"
  double latency_ms = 0;
  std::optional<double> low_ms, high_ms;  // predicted: the 80 % interval
  std::string source;                     // the run id, or the predictor id
  std::optional<int64_t> peak_rss_bytes;  // measured only
};

struct HardwareFigures {
  std::string model_name, content_hash;
  int64_t parameters = 0;
  // EstimateMemory's total at the query's shapes; training: PlanTrainingMemory's (fp32,
  // one worker, every activation kept)
  int64_t memory_estimate_bytes = 0;
  std::vector<HardwareFigure> figures;  // by hardware key
  std::vector<std::string> notes;       // why a hardware has no figure
};

// The figures of `model` (loaded at the query's precision and graph) whose inputs have
// `shapes`. Predictions made are written to the predictions table when `record_predictions`.
// Throws core::Error kNotFound when no hardware has a figure, naming the command that
// would measure one.
HardwareFigures FigureHardware(store::ResultStore& store, const models::Model& model,
                               const std::map<std::string, core::Shape>& shapes,
                               const SelectionQuery& q, bool record_predictions);

enum class SelectionMetric { kLatency, kThroughput, kMemory };
// "latency", "throughput" or "memory"; throws core::Error kInvalidArgument otherwise.
SelectionMetric ParseSelectionMetric(const std::string& name);
const char* SelectionMetricName(SelectionMetric metric);

struct RankedHardware {
  HardwareFigure figure;
  double throughput_items_per_s = 0;
  int64_t memory_bytes = 0;  // measured peak RSS, else the estimate
  bool memory_measured = false;
};

struct Selection {
  std::vector<RankedHardware> ranked;  // best first
  std::vector<std::string> excluded;   // hardware left out, with the reason
};

// Ranks `f` by `metric`; with max_memory_gb > 0, hardware where the model needs more is left
// out with the figure and where it came from.
Selection RankHardware(const HardwareFigures& f, const SelectionQuery& q, SelectionMetric metric,
                       double max_memory_gb);

// The JSON both `select --json` and /api/select give: model, metric, the query, `ranked`
// (each marked measured or predicted), `excluded`, `notes`.
nlohmann::ordered_json SelectionJson(const HardwareFigures& f, const SelectionQuery& q,
                                     SelectionMetric metric, const Selection& s);

}  // namespace ipfs_accel::analysis
