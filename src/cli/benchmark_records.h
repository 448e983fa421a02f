#pragma once
// How the benchmark command turns measurements (harness) into stored rows (store):
// the one place that knows both, so neither layer knows the other.

#include <string>
#include <vector>

#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/generation.h"
#include "ipfs_accel/harness/server_scenario.h"
#include "ipfs_accel/harness/training.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/session.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::cli {

store::HardwarePlatformRecord HardwareRecord(const std::string& platform,
                                             const hw::HardwareReport& hardware);
// A single-stream configuration: latencies of whole runs.
store::PerformanceRecord ToRecord(const harness::BenchmarkResult& result,
                                  const harness::BenchmarkConfig& config);
// A server run: latencies from scheduled arrival to completion, target and achieved QPS, the
// p99 estimate. A peak-QPS search stores one per trial, with its bound.
store::PerformanceRecord ToRecord(const harness::PreparedSession& prepared, double load_ms,
                                  const harness::ServerResult& server, int64_t peak_rss_bytes,
                                  const harness::DeviceMemory& device_memory,
                                  const harness::BenchmarkConfig& config);
// A generation: latencies per decoded token, throughput in tokens/s, TTFT from the prefills.
store::PerformanceRecord ToRecord(const harness::GenerationResult& result,
                                  const harness::GenerationConfig& config);

// A training configuration: latencies of whole optimizer steps, samples/s, the optimizer, loss,
// accumulation and the loss at the first and last step.
store::PerformanceRecord ToRecord(const harness::TrainingResult& result,
                                  const harness::BenchmarkConfig& config);

// A load scenario's way of loading (`concurrent` or one after the other): latencies are the
// page's load times of all `parts`, the way and the parts are in the provider options.
store::PerformanceRecord ToRecord(const runtime::LoadTiming& timing, bool concurrent,
                                  const std::vector<std::string>& parts,
                                  const runtime::SessionOptions& session);

// The template `model` was built from, on a result of it (left unset for an .onnx file).
void SetTemplate(store::PerformanceRecord& r, const models::ModelInfo& model);

// A single-stream record with `earlier` timed samples of the same configuration (earlier passes
// of benchmark --rounds) added to its own: its latency figures, tail estimate, iterations and
// throughput are those of all of them.
void PoolEarlierSamples(store::PerformanceRecord& r, const std::vector<double>& earlier);

}  // namespace ipfs_accel::cli
