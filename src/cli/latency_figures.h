#pragma once
// A configuration's latency on each piece of hardware the database knows: measured where a
// result is stored, else predicted by the latest stored predictor (labelled, with its
// interval). What `predict --model` and `select` print.

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "ipfs_accel/analysis/latency_predictor.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

struct ConfigurationQuery {
  std::string model;
  int64_t batch_size = 1;
  int64_t seq_len = 128;
  std::string precision = "fp32";
  std::string graph = "plain";
  uint64_t seed = 42;
  std::string platform;  // only hardware of this platform ("cpu", "cuda", ...); empty: all
};

struct LatencyFigure {
  std::string hardware;  // analysis::HardwareKey
  std::string origin;    // "measured" or "predicted"
  double latency_ms = 0;
  std::optional<double> low_ms, high_ms;  // predicted: the 80 % interval
  std::string source;                     // the run id, or the predictor id
  std::optional<int64_t> peak_rss_bytes;  // measured only
};

struct LatencyFigures {
  std::string model_name, content_hash;
  int64_t parameters = 0;
  int64_t memory_estimate_bytes = 0;   // analysis::EstimateMemory's total
  std::vector<LatencyFigure> figures;  // by hardware key
  std::vector<std::string> notes;      // why a hardware has no figure
};

// The sweep whose results the predictor is meant to learn from (docs/design.md).
inline constexpr const char* kPredictorSweepCommand =
    "ipfs-accelerate benchmark --all-models --hardware cpu --batch-sizes 1,2,4,8 "
    "--seq-lens 8,16,32 --iterations 20 --warmup 2 --min-time 0";

// The results database of `db`, which must exist: predicting or selecting from nothing is
// refused (core::Error kNotFound, with the command that measures) before a file is made.
std::unique_ptr<store::ResultStore> OpenMeasuredDatabase(const DatabaseOption& db);

// --model, --batch-size, --seq-len, --precision, --graph, --seed and --hardware into `q`.
void AddQueryOptions(CLI::App* cmd, ConfigurationQuery& q);

// Loads the model, works out its cost and memory at the query's shapes, and gives each
// hardware its figure. Predictions made are stored (the predictions table). Throws
// core::Error kNotFound when there is neither a measurement nor a predictor, saying which
// command would make one.
LatencyFigures FigureLatency(store::ResultStore& store, const ConfigurationQuery& q);

}  // namespace ipfs_accel::cli
