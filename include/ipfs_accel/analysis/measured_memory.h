#pragma once
// The peak memory stored with measured results (runs.origin = 'measured'), to set beside an
// estimate: `memory` prints them together and the error between them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

// One configuration as performance_results keys it. The model is told apart by name and
// content hash (the same weights), as reports do.
struct MemoryQuery {
  std::string model_name;
  std::string content_hash;
  std::string precision = "fp32";
  std::string graph_variant = "plain";
  int64_t batch_size = 1;
  int64_t seq_len = 0;
};

struct MeasuredMemory {
  std::string run_id;
  std::string started_at;  // the run's start, as DuckDB prints a TIMESTAMP
  std::string platform;    // hardware_platforms.platform: "cpu", "cuda", ...
  std::string execution_provider;
  std::optional<int64_t> peak_rss_bytes;
  std::optional<int64_t> device_memory_process_bytes;  // NVML, GPU platforms only
  std::optional<int64_t> memory_estimate_bytes;        // the estimate stored with that run
};

// The newest measured result of `query` on each platform (generate rows excluded: their
// shapes are a prompt and a cache, not seq_len), newest first. Empty when there is none.
std::vector<MeasuredMemory> LatestMeasuredMemory(store::ResultStore& store,
                                                 const MemoryQuery& query);

}  // namespace ipfs_accel::analysis
