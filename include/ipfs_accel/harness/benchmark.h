#pragma once
// One benchmark configuration: open a session, time the first inference, warm up,
// then time runs until both the iteration count and the minimum time are met.
// The timed loop is the session's bare RunBound() between two steady_clock reads;
// bench/harness_overhead checks that it costs no more than a bare loop.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct BenchmarkConfig {
  runtime::SessionOptions session;
  ShapeRequest shape;
  int warmup = 5;
  int iterations = 20;      // at least this many timed runs ...
  double min_time_s = 1.0;  // ... and at least this long
  uint64_t seed = 42;       // of the generated inputs
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

// Throws core::Error from the runtime (unavailable provider, model rejected, a run
// failing) and kInvalidArgument for shapes that do not fit.
BenchmarkResult RunBenchmark(const models::Model& model, const BenchmarkConfig& config,
                             const ProgressFn& progress = nullptr);

// Resolves the input shapes of every configuration without measuring, so a shape
// that cannot fit is reported before anything runs. Throws like ResolveShapes.
void CheckShapes(const models::Model& model, const std::vector<BenchmarkConfig>& configs);

// The measuring part of RunBenchmark on a session already open (load_ms stays 0;
// config.session is not used). For comparing the harness with other loops.
BenchmarkResult MeasureSession(runtime::Session& session, const models::Model& model,
                               const BenchmarkConfig& config, const ProgressFn& progress = nullptr);

}  // namespace ipfs_accel::harness
