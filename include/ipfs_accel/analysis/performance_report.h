#pragma once
// The performance report: stored measurements as a table, newest run first.

#include <cstdint>
#include <optional>
#include <string>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

struct ReportFilter {
  std::optional<std::string> run_id = std::nullopt;    // "latest" or a run id; nullopt: all runs
  std::optional<std::string> model = std::nullopt;     // model name
  std::optional<std::string> hardware = std::nullopt;  // platform
  // Performance: every stored result instead of the latest result of each configuration.
  bool every_result = false;
  std::optional<int64_t> limit = std::nullopt;  // performance: at most this many rows
};

// One row per configuration (model x platform x EP x precision x graph x scenario x batch x
// sequence x threads x ... as latest_performance keys them): its latest result among the
// filtered runs (or every result, with every_result): run, model, platform, device, EP,
// precision, batch, sequence, latencies, throughput, peak RSS. Throws core::Error(kNotFound)
// when the filter names a run that is not stored.
store::QueryResult PerformanceReport(store::ResultStore& store, const ReportFilter& filter);

}  // namespace ipfs_accel::analysis
