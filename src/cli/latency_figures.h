#pragma once
// The configuration options `predict --model` and `select` share, and the figures they print
// (analysis/hardware_selection.h) for a model loaded here.

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "ipfs_accel/analysis/hardware_selection.h"
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

// The sweep whose results the predictor is meant to learn from (docs/design.md).
inline constexpr const char* kPredictorSweepCommand =
    "ipfs-accelerate benchmark --all-models --hardware cpu --batch-sizes 1,2,4,8 "
    "--seq-lens 8,16,32 --iterations 20 --warmup 2 --min-time 0 --rounds 3";

// The results database of `db`, which must exist: predicting or selecting from nothing is
// refused (core::Error kNotFound, with the command that measures) before a file is made.
std::unique_ptr<store::ResultStore> OpenMeasuredDatabase(const DatabaseOption& db);

// --model, --batch-size, --seq-len, --precision, --graph, --seed and --hardware into `q`.
void AddQueryOptions(CLI::App* cmd, ConfigurationQuery& q);

// The query as analysis::FigureHardware takes it.
analysis::SelectionQuery SelectionQueryOf(const ConfigurationQuery& q);

// Loads the model here, checks the query's shapes fit it, and gives each hardware its figure
// (analysis::FigureHardware); predictions made are stored. Throws as FigureHardware does.
// `selection` is SelectionQueryOf(q), possibly asking for training steps.
analysis::HardwareFigures FigureLatency(store::ResultStore& store, const ConfigurationQuery& q,
                                        const analysis::SelectionQuery& selection);

}  // namespace ipfs_accel::cli
