#pragma once
// One benchmark configuration (MLPerf LoadGen's single-stream scenario): open a session,
// time the first inference, warm up, then time runs one after another until the iteration
// count and the minimum time are met and, with early stopping, there are enough runs for
// the early-stopping estimate of the tail percentile (see stopping_rule.h) -- or until
// max_time_s, whichever comes first.
// Each timed query is the session's RunBoundTimed(): natively a bare RunBound() between two
// steady_clock reads, in a browser the page's own performance.now() figure;
// bench/harness_overhead checks that the native loop costs no more than a bare loop.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/given_inputs.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/harness/stopping_rule.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct BenchmarkConfig {
  runtime::SessionOptions session;
  ShapeRequest shape;
  int warmup = 5;
  int iterations = 20;      // at least this many timed runs ...
  double min_time_s = 1.0;  // ... and at least this long ...
  // ... and, when set, at least MinQueriesForEarlyStopping(tail_percentile, tail_confidence)
  // runs (44 for the 90th percentile at 0.99), so that the estimate exists.
  bool early_stopping = true;
  double tail_percentile = 90;    // of the reported estimate (LoadGen single-stream: 90)
  double tail_confidence = 0.99;  // of its early-stopping upper bound
  double tail_ci_level = 0.95;    // of its two-sided interval
  double max_time_s = 0;          // > 0: stop timing here even if the counts are not met
  uint64_t seed = 42;             // of the generated inputs
  // Inputs whose values the user gave (--input, --inputs): they replace the generated ones.
  std::vector<GivenInput> given_inputs = {};
};

struct BenchmarkResult {
  std::string execution_provider;
  std::string session_options_json;
  std::map<std::string, core::Shape> input_shapes;
  int64_t batch_size = 0;  // as run (a fixed graph's own size where it has one)
  int64_t seq_len = 0;     // 0 when the inputs have no sequence axis
  double load_ms = 0;
  double first_inference_ms = 0;
  std::vector<double> samples_ms;
  LatencyStats latency;
  PercentileEstimate tail;    // at config.tail_percentile, from samples_ms
  bool hit_max_time = false;  // max_time_s ended the runs before the counts were met
  std::string tail_note;      // why tail.early_stopping_ms is absent; empty when present
  double throughput_items_per_s = 0;
  int64_t peak_rss_bytes = 0;
  // GPU platforms (NVML, after the timed runs, session alive): this process's device memory
  // and the whole GPU's use; -1 where unknown, with the reason in device_memory_note.
  int64_t device_memory_process_bytes = -1;
  int64_t device_memory_gpu_used_bytes = -1;
  std::string device_memory_note;
};

// Called after each timed run with (runs done, seconds elapsed); for progress display.
using ProgressFn = std::function<void(int, double)>;

// A session made ready to time: inputs generated for the resolved shapes and bound, the
// first inference timed (cold), the warm-up runs done.
struct PreparedSession {
  std::string execution_provider;
  std::string session_options_json;
  std::map<std::string, core::Shape> input_shapes;
  int64_t batch_size = 0;  // as run (a fixed graph's own size where it has one)
  int64_t seq_len = 0;     // 0 when the inputs have no sequence axis
  double first_inference_ms = 0;
};

// Uses config.shape, seed, given_inputs and warmup (config.session is not used). Throws like
// ResolveShapes, ApplyGivenInputs and the session's RunBound().
PreparedSession PrepareSession(runtime::Session& session, const models::Model& model,
                               const BenchmarkConfig& config);

// GPU platforms' device memory now (NVML): this process's, the whole GPU's used and total; -1
// where unknown (with the reason in `note`). On platforms that are not NVIDIA GPUs nothing is
// sampled and `device` stays empty.
struct DeviceMemory {
  int64_t process_bytes = -1;
  int64_t gpu_used_bytes = -1;
  int64_t gpu_total_bytes = -1;
  std::string note;
  std::string device;  // "GPU 0": the device the session's options name
};
DeviceMemory SampleDeviceMemory(const runtime::SessionOptions& session);

// Throws core::Error from the runtime (unavailable provider, model rejected, a run
// failing) and kInvalidArgument for shapes that do not fit or tail settings out of range
// (percentile not in (0, 100), confidence or level not in (0, 1), max_time_s < 0).
BenchmarkResult RunBenchmark(const models::Model& model, const BenchmarkConfig& config,
                             const ProgressFn& progress = nullptr);

// Resolves the input shapes of every configuration without measuring, so a shape
// that cannot fit, or a given input that does not fit it, is reported before anything runs.
// Throws like ResolveShapes and ApplyGivenInputs.
// Returns the shapes of `requests` in order (what a memory estimate needs).
std::vector<std::map<std::string, core::Shape>> CheckShapes(
    const models::Model& model, const std::vector<ShapeRequest>& requests,
    const std::vector<GivenInput>& given = {});

// The timed part of every one-after-another scenario (single-stream, offline, training):
// calls `run` (which returns one run's latency in ms) until config.iterations and
// config.min_time_s are met and, with config.early_stopping, there are enough runs for the
// tail estimate -- or until config.max_time_s. Throws core::Error(kInvalidArgument) for tail
// settings out of range or max_time_s < 0, before anything runs (CheckTimedRuns).
struct TimedRuns {
  std::vector<double> samples_ms;
  LatencyStats latency;
  PercentileEstimate tail;
  bool hit_max_time = false;
  std::string tail_note;  // why tail.early_stopping_ms is absent
};
void CheckTimedRuns(const BenchmarkConfig& config);
TimedRuns TimeRuns(const BenchmarkConfig& config, const std::function<double()>& run,
                   const ProgressFn& progress);

// The measuring part of RunBenchmark on a session already open (load_ms stays 0;
// config.session is not used). For comparing the harness with other loops.
BenchmarkResult MeasureSession(runtime::Session& session, const models::Model& model,
                               const BenchmarkConfig& config, const ProgressFn& progress = nullptr);

}  // namespace ipfs_accel::harness
