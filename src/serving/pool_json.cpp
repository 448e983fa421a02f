#include <nlohmann/json.hpp>

#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/serving/resource_pool.h"

namespace ipfs_accel::serving {

namespace {

nlohmann::json Bytes(int64_t bytes) {
  return {{"bytes", bytes}, {"readable", bytes < 0 ? "none" : analysis::DescribeBytes(bytes)}};
}

nlohmann::json TrafficJson(const BatcherStats& t) {
  return {{"requests", t.requests},
          {"batches", t.batches},
          {"rows", t.rows},
          {"mean_batch_rows", t.batches > 0 ? static_cast<double>(t.rows) / t.batches : 0.0},
          {"failed", t.failed},
          {"queue_full", t.queue_full},
          {"deadline_exceeded", t.deadline_exceeded},
          {"stopped", t.stopped},
          {"queued", t.queued},
          {"running", t.running},
          {"run_ms_total", t.run_ms_total},
          {"mean_request_ms", t.requests > 0 ? t.request_ms_total / t.requests : 0.0}};
}

}  // namespace

nlohmann::json ToJson(const PoolSnapshot& s) {
  nlohmann::json entries = nlohmann::json::array();
  for (const PoolEntrySnapshot& e : s.entries)
    entries.push_back({{"model", e.model},
                       {"platform", e.platform},
                       {"precision", e.precision},
                       {"device", e.device},
                       {"execution_provider", e.execution_provider},
                       {"placement", e.placement},
                       {"estimated_memory", Bytes(e.estimated_bytes)},
                       {"batchable", e.batchable},
                       {"loaded_at", e.loaded_at},
                       {"last_used", e.last_used},
                       {"in_flight", e.in_flight},
                       {"traffic", TrafficJson(e.traffic)}});
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceSnapshot& d : s.devices)
    devices.push_back(
        {{"device", d.device}, {"budget", Bytes(d.budget_bytes)}, {"used", Bytes(d.used_bytes)}});
  return {{"entries", entries},
          {"devices", devices},
          {"batching",
           {{"max_batch", s.batching.max_batch},
            {"max_batch_delay_ms", s.batching.max_batch_delay_ms},
            {"max_queue", s.batching.max_queue}}},
          {"loads", s.loads},
          {"evictions", s.evictions},
          {"load_failures", s.load_failures},
          {"refused", {{"too_large", s.refused_too_large}, {"busy", s.refused_busy}}},
          {"memory_figure",
           "analysis::EstimateMemory total (weights + inputs + activation peak) at max_batch rows "
           "and the planning sequence length: an estimate, a lower bound"}};
}

}  // namespace ipfs_accel::serving
