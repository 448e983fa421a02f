#pragma once
// The pool's counters in Prometheus' text exposition format (version 0.0.4), for `/metrics`:
// per (model, platform, precision) requests, batches, rows, errors by reason, run and request
// seconds (totals since start, evicted sessions included), queue depth and estimated bytes of
// loaded sessions; per device the budget and the bytes held; pool-wide loads, evictions and
// refusals. Every metric is prefixed ipfs_accel_pool_.

#include <string>

#include "ipfs_accel/serving/resource_pool.h"

namespace ipfs_accel::serving {

// Content-Type to send with it.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string PrometheusText(const PoolSnapshot& snapshot);

}  // namespace ipfs_accel::serving
