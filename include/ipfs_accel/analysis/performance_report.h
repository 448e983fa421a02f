#pragma once
// The performance report: stored measurements as a table, newest run first.

#include <cstdint>
#include <optional>
#include <string>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

struct ReportFilter {
  // A run ref (store::ResolveRunRef: id, unique prefix, latest, latest~N); nullopt: all runs.
  std::optional<std::string> run_id = std::nullopt;
  std::optional<std::string> model = std::nullopt;     // model name, or one model's label
  std::optional<std::string> hardware = std::nullopt;  // platform
  // Performance: every stored result instead of the latest result of each configuration.
  bool every_result = false;
  std::optional<int64_t> limit = std::nullopt;  // performance: at most this many rows
};

// One row per configuration (model x platform x EP x precision x graph x scenario x batch x
// sequence x threads x ... as latest_performance keys them): its latest result among the
// filtered runs (or every result, with every_result): run, model (its label: models of one
// name are apart), platform, device, EP, precision, batch, and every scenario's figures, NULL
// where they mean nothing for the row's scenario (a generate row has prompt, new_tokens,
// ttft_ms, decode_* and tokens_per_s, and no seq_len, p50_ms or items_per_s); mean beside p50,
// the noise flag (NoiseSql), peak RSS, source. Throws what store::ResolveRunRef throws for the
// filter's run.
store::QueryResult PerformanceReport(store::ResultStore& store, const ReportFilter& filter);

}  // namespace ipfs_accel::analysis
