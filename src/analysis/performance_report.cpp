#include "ipfs_accel/analysis/performance_report.h"

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "analysis/sql_literal.h"

namespace ipfs_accel::analysis {

store::QueryResult PerformanceReport(store::ResultStore& store, const ReportFilter& filter) {
  std::string where = "TRUE";
  if (filter.run_id) {
    std::string run = *filter.run_id;
    if (run == "latest") {
      const auto latest = store.Query("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1");
      if (latest.rows.empty() || !latest.rows[0][0])
        throw core::Error(core::ErrorKind::kNotFound,
                          "the database holds no runs yet; run `ipfs-accelerate benchmark` first");
      run = *latest.rows[0][0];
    }
    where += " AND p.run_id = " + SqlLiteral(run);
  }
  if (filter.model) where += " AND m.name = " + SqlLiteral(*filter.model);
  if (filter.hardware) where += " AND h.platform = " + SqlLiteral(*filter.hardware);
  return store.Query(fmt::format(
      "SELECT r.started_at, m.name AS model, h.platform AS hardware, h.device_name AS device, "
      "p.execution_provider AS ep, p.graph_variant AS graph, p.precision, p.scenario, "
      "p.batch_size AS batch, p.seq_len, "
      "round(p.latency_p50_ms, 3) AS p50_ms, round(p.latency_p90_ms, 3) AS p90_ms, "
      "round(p.latency_p99_ms, 3) AS p99_ms, round(p.throughput_items_per_s, 2) AS items_per_s, "
      "round(p.peak_rss_bytes / 1048576.0, 1) AS peak_rss_mb, p.run_id "
      "FROM performance_results p JOIN runs r USING (run_id) "
      "JOIN models m USING (model_id) JOIN hardware_platforms h USING (hardware_id) "
      "WHERE {} ORDER BY r.started_at DESC, m.name, h.platform, p.scenario, p.graph_variant, "
      "p.precision, p.batch_size, p.seq_len",
      where));
}

}  // namespace ipfs_accel::analysis
