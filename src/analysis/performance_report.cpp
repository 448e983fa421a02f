#include "ipfs_accel/analysis/performance_report.h"

#include <fmt/format.h>

#include "analysis/sql_literal.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

store::QueryResult PerformanceReport(store::ResultStore& store, const ReportFilter& filter) {
  std::string run_condition = "TRUE";
  if (filter.run_id) {
    std::string run = *filter.run_id;
    if (run == "latest") {
      const auto latest = store.Query("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1");
      if (latest.rows.empty() || !latest.rows[0][0])
        throw core::Error(core::ErrorKind::kNotFound,
                          "the database holds no runs yet; run `ipfs-accelerate benchmark` first");
      run = *latest.rows[0][0];
    }
    run_condition = "run_id = " + SqlLiteral(run);
  }
  std::string where = "TRUE";
  if (filter.model) where += " AND m.name = " + SqlLiteral(*filter.model);
  if (filter.hardware) where += " AND h.platform = " + SqlLiteral(*filter.hardware);
  if (filter.limit && *filter.limit < 0)
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("--limit {} is negative; give 0 or more rows", *filter.limit));

  // The rows to show, as a relation of result ids. Latest of each configuration: over every
  // run, latest_performance's ids (its per-run aggregate, not a window over a million rows);
  // within one run, the highest id of each configuration key.
  std::string source = "performance_results p";
  if (filter.every_result) {
    if (filter.run_id) where += " AND p." + run_condition;
  } else {
    const std::string rows =
        filter.run_id ? fmt::format(
                            "SELECT max(result_id) AS result_id FROM performance_results "
                            "WHERE {} GROUP BY configuration_key",
                            run_condition)
                      : "SELECT result_id FROM latest_performance";
    source = fmt::format("({}) shown JOIN performance_results p USING (result_id)", rows);
  }
  return store.Query(fmt::format(
      "SELECT r.started_at, m.name AS model, h.platform AS hardware, h.device_name AS device, "
      "p.execution_provider AS ep, p.graph_variant AS graph, p.precision, p.scenario, "
      // What else tells configurations apart: threads and provider options (a browser's
      // warm-up, a load scenario's way of loading).
      "concat_ws(', ', CASE WHEN p.threads > 0 THEN 'threads ' || p.threads END, "
      "CASE WHEN p.provider_options_json <> '{{}}' THEN "
      "regexp_replace(p.provider_options_json, '[{{}}\"]', '', 'g') END) AS settings, "
      "p.batch_size AS batch, p.seq_len, round(p.first_inference_ms, 3) AS first_ms, "
      "round(p.latency_p50_ms, 3) AS p50_ms, round(p.latency_p90_ms, 3) AS p90_ms, "
      "round(p.latency_p99_ms, 3) AS p99_ms, round(p.throughput_items_per_s, 2) AS items_per_s, "
      "round(p.peak_rss_bytes / 1048576.0, 1) AS peak_rss_mb, p.run_id "
      "FROM {} JOIN runs r USING (run_id) "
      "JOIN models m USING (model_id) JOIN hardware_platforms h USING (hardware_id) "
      "WHERE {} ORDER BY r.started_at DESC, m.name, h.platform, p.scenario, p.graph_variant, "
      "p.precision, p.batch_size, p.seq_len, p.result_id DESC{}",
      source, where, filter.limit ? fmt::format(" LIMIT {}", *filter.limit) : ""));
}

}  // namespace ipfs_accel::analysis
