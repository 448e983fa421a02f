#pragma once
// The performance report: stored measurements as a table, newest run first.

#include <optional>
#include <string>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

struct ReportFilter {
  std::optional<std::string> run_id;    // "latest" or a run id; nullopt: all runs
  std::optional<std::string> model;     // model name
  std::optional<std::string> hardware;  // platform
};

// One row per stored configuration: run, model, platform, device, EP, precision,
// batch, sequence, latencies, throughput, peak RSS. Throws core::Error(kNotFound)
// when the filter names a run that is not stored.
store::QueryResult PerformanceReport(store::ResultStore& store, const ReportFilter& filter);

}  // namespace ipfs_accel::analysis
