#pragma once
// The resource pool: one session per (model, platform, precision), shared by every request,
// each with its own DynamicBatcher (a worker thread that alone runs the session, so runs on a
// session never overlap). Sessions are opened when a request first needs them, within a
// memory budget per device:
//   - the figure per session is analysis::EstimateMemory's total (weights + inputs + activation
//     peak) at the batcher's max_batch rows and options.planning_seq_len tokens: a lower bound
//     made from the graph before anything is allocated (docs/design.md says why not the
//     peak-memory model);
//   - a session that does not fit evicts the least recently used idle sessions of its device
//     (idle: no request queued or running); if the busy ones leave too little, the request is
//     refused with ServingError kBusy; a model whose figure exceeds the budget alone is refused
//     with core::Error(kUnavailable) naming the model, its figure and the budget.
// A request that names no platform is placed by placement.h (best stored result, else cpu);
// the decision is made once per (model, precision) and kept. Thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/runtime/session.h"
#include "ipfs_accel/serving/dynamic_batcher.h"
#include "ipfs_accel/serving/model_registry.h"
#include "ipfs_accel/serving/placement.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::serving {

struct PoolOptions {
  // Bytes the sessions of each device may hold, by device: "cpu" (host memory: every platform
  // that is not a GPU) and "gpu" (cuda, tensorrt, rocm). A device left out gets, when the pool
  // is made: cpu, MemAvailable (/proc/meminfo); gpu, GPU 0's free memory as NVML reports it,
  // or no budget where NVML cannot tell (its sessions are then refused, saying so).
  std::map<std::string, int64_t> memory_budget_bytes = {};
  BatcherOptions batching = {};          // every session's batcher
  int64_t planning_seq_len = 128;        // the sequence length the memory figure is made at
  runtime::SessionOptions session = {};  // threads, optimisation level (platform: per session)
  // Platforms automatic placement chooses from; empty: AvailableServingPlatforms().
  std::vector<std::string> platforms = {};
  // Results that place models (not owned; may be null). The pool queries it from one thread
  // at a time, and only while it loads a model; the caller must not use it concurrently.
  store::ResultStore* results = nullptr;
  std::string hostname = {};  // whose stored results count; empty: this machine's
};

struct InferRequest {
  std::string model = {};     // a registered name
  std::string platform = {};  // empty: placed automatically
  std::string precision = "fp32";
  // Some or all graph inputs, batch on axis 0 (1 or more rows). Numeric dtypes are converted to
  // the graph's; inputs left out take Hugging Face's default (attention_mask ones, ...).
  std::map<std::string, core::Tensor> inputs = {};
  std::optional<Clock::time_point> deadline = std::nullopt;
};

struct InferResult {
  std::map<std::string, core::Tensor> outputs = {};  // this request's rows only
  std::string model = {}, platform = {}, precision = {}, execution_provider = {};
  std::string placement = {};  // why this platform ("requested", or the figures)
  std::vector<std::string> defaulted_inputs = {};  // "attention_mask (ones)", ...
  int batch_requests = 1;                          // requests that shared the run
  int64_t batch_rows = 1;
  double queue_ms = 0, run_ms = 0;
};

// One loaded session, for /api/pool.
struct PoolEntrySnapshot {
  std::string model = {}, platform = {}, precision = {}, device = {}, execution_provider = {},
              placement = {};
  int64_t estimated_bytes = 0;
  bool batchable = true;      // false: every output is not per row, so max_batch is 1
  BatcherStats traffic = {};  // since it was loaded
  std::string loaded_at = {}, last_used = {};  // ISO-8601 UTC
  int in_flight = 0;                           // requests queued or running
};

struct DeviceSnapshot {
  std::string device = {};
  int64_t budget_bytes = 0;  // -1: none (NVML could not tell)
  int64_t used_bytes = 0;    // loaded sessions' figures and the one being loaded
};

// Totals since the pool was made, evicted sessions' traffic included (counters never go back).
struct TrafficTotals {
  std::string model = {}, platform = {}, precision = {};
  BatcherStats traffic = {};
  bool loaded = false;
};

struct PoolSnapshot {
  std::vector<PoolEntrySnapshot> entries = {};  // by model, platform, precision
  std::vector<DeviceSnapshot> devices = {};
  std::vector<TrafficTotals> totals = {};
  int64_t loads = 0, evictions = 0, refused_too_large = 0, refused_busy = 0;
  int64_t load_failures = 0;
  BatcherOptions batching = {};
};

// The snapshot as /api/pool answers it (bytes as numbers, with a readable form beside them).
nlohmann::json ToJson(const PoolSnapshot& snapshot);

class ResourcePool {
 public:
  // `registry` must outlive the pool. Throws core::Error(kInvalidArgument) for batching
  // options out of range, a negative budget or planning_seq_len < 1.
  ResourcePool(const ModelRegistry& registry, PoolOptions options);
  ~ResourcePool();  // Stop(StopMode::kFail)
  ResourcePool(const ResourcePool&) = delete;
  ResourcePool& operator=(const ResourcePool&) = delete;

  // Runs one request; blocks until its outputs are ready. Throws core::Error: kNotFound (model
  // not registered), kInvalidArgument (an unknown precision or platform, inputs the graph does
  // not have, a wrong rank or fixed dimension, token ids outside the vocabulary, an input with
  // no default left out), kUnavailable (the model cannot fit its device's budget alone, or the
  // platform is not here), ServingError (queue full, deadline, stopped, busy), and what
  // loading and running the model throw.
  InferResult Infer(const InferRequest& request);

  // Opens the session a request with these fields would use, without running it (a server
  // warming up at start). Returns its snapshot. Throws as Infer does.
  PoolEntrySnapshot Load(const std::string& model, const std::string& platform = "",
                         const std::string& precision = "fp32");

  // The graph inputs the session for these fields takes (loading it if needed): what a server
  // says a model expects. Throws as Load does.
  std::vector<runtime::TensorSpec> Inputs(const std::string& model,
                                          const std::string& platform = "",
                                          const std::string& precision = "fp32");

  // Stops every batcher (kDrain runs what is queued first) and refuses requests from then on
  // with ServingError kStopped. Idempotent.
  void Stop(StopMode mode);

  PoolSnapshot Snapshot() const;

 private:
  struct Entry;
  class Lease;
  // A lease on the loaded session for these fields; nullopt when none is loaded (or, with no
  // platform, none was placed yet). Throws ServingError kStopped after Stop().
  std::optional<Lease> FindLoaded(const std::string& model, const std::string& platform,
                                  const std::string& precision);
  Lease Acquire(const ModelSource& source, const std::string& platform,
                const std::string& precision);
  Lease Open(const ModelSource& source, const std::string& platform, const std::string& precision,
             models::Model built, const std::string& placement);
  // Under mutex_: evicts idle sessions of the entry's device, least recently used first, until
  // it fits, and reserves its bytes. Returns the evicted (destroyed by the caller, unlocked).
  std::vector<std::shared_ptr<Entry>> MakeRoom(const Entry& incoming);
  void ForgetReservation(const Entry& entry);
  int64_t BudgetOf(const std::string& device) const;  // -1: none

  const ModelRegistry& registry_;
  PoolOptions options_;
  mutable std::mutex mutex_;  // everything below
  std::mutex load_mutex_;     // one model loads at a time (and the store is queried by one)
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // by EntryKey()
  std::map<std::string, Placement> placements_;            // by model + precision
  std::map<std::string, int64_t> budgets_;                 // by device; -1: none
  std::map<std::string, int64_t> used_;                    // by device
  std::vector<std::string> candidates_;                    // automatic placement's platforms
  std::map<std::string, TrafficTotals> retired_;           // evicted sessions' traffic
  int64_t loads_ = 0, evictions_ = 0, refused_too_large_ = 0, refused_busy_ = 0;
  int64_t load_failures_ = 0;
  bool stopped_ = false;
};

}  // namespace ipfs_accel::serving
