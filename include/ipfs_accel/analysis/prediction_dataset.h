#pragma once
// The measured configurations the latency predictor learns from: every single-stream result
// of a run this tool measured (runs.origin = 'measured'), the latest of each configuration,
// with the cost of its graph worked out by building its model again from the stored identity
// (catalog name or template with its seed, or its folder) at the stored input shapes.

#include <functional>
#include <string>
#include <vector>

#include "ipfs_accel/analysis/latency_predictor.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

struct PredictorDataset {
  std::vector<PredictorRow> rows;
  // One line per model that could not be built again (a folder that moved, an .onnx file
  // gone): its results are left out.
  std::vector<std::string> skipped;
};

// `progress`, when given, is called with (models done, models in all) as graphs are built.
PredictorDataset LoadPredictorDataset(store::ResultStore& store,
                                      const std::function<void(int, int)>& progress = nullptr);

// How well the measurements repeat: every configuration measured more than once (the same
// selection as the dataset's), its latest p50 beside the one measured before it. A predictor's
// error against a measurement includes that measurement's own noise, which these pairs show
// (twice over: both sides of a pair are noisy).
struct RepeatedMeasurements {
  std::vector<double> latest, previous;
};
RepeatedMeasurements LoadRepeatedMeasurements(store::ResultStore& store);

// The hardware key of a stored result: "cpu: Intel(R) Xeon(R) Processor @ host
// (CPUExecutionProvider)".
std::string HardwareKey(const std::string& platform, const std::string& device_name,
                        const std::string& hostname, const std::string& execution_provider);

// The model spec that builds a stored model again: "template:NAME" and catalog names as
// stored, a folder or .onnx file by its path.
std::string RebuildSpec(const std::string& name, const std::string& source,
                        const std::string& source_path);

}  // namespace ipfs_accel::analysis
