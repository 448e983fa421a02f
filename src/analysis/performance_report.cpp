#include "ipfs_accel/analysis/performance_report.h"

#include <fmt/format.h>

#include "analysis/scenario_sql.h"
#include "ipfs_accel/analysis/labels.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/display_time.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::analysis {

namespace {

// The columns, in order: every scenario's, NULL where they mean nothing for the row.
std::string SelectedColumns() {
  return fmt::format(
      "{} AS started_at, {} AS model, h.platform AS hardware, h.device_name AS device, "
      "p.execution_provider AS ep, p.graph_variant AS graph, p.precision, p.scenario, "
      // What else tells configurations apart: threads and provider options (a browser's
      // warm-up, a load scenario's way of loading).
      "concat_ws(', ', CASE WHEN p.threads > 0 THEN 'threads ' || p.threads END, "
      "CASE WHEN p.provider_options_json <> '{{}}' THEN "
      "regexp_replace(p.provider_options_json, '[{{}}\"]', '', 'g') END) AS settings, "
      "p.batch_size AS batch, {}, p.prompt_len AS prompt, p.new_tokens, "
      "round(p.time_to_first_token_ms, 3) AS ttft_ms, {}, {}, {}, {}, {}, "
      "round(p.target_qps, 2) AS target_qps, round(p.achieved_qps, 2) AS achieved_qps, "
      "{}, {}, {}, {}, {}, {}, {} AS noise, round(p.peak_rss_bytes / 1048576.0, 1) AS peak_rss_mb, "
      "{} AS source, m.content_cid AS model_cid, p.graph_cid, p.run_id, p.model_id",
      store::DisplayTimestampSql("r.started_at"), ModelLabelSql("m"),
      ScenarioOnly(false, "p.seq_len", "seq_len"),
      ScenarioOnly(false, "round(p.first_inference_ms, 3)", "first_ms"),
      ScenarioOnly(false, "round(p.latency_mean_ms, 3)", "mean_ms"),
      ScenarioOnly(false, "round(p.latency_p50_ms, 3)", "p50_ms"),
      ScenarioOnly(false, "round(p.latency_p90_ms, 3)", "p90_ms"),
      ScenarioOnly(false, "round(p.latency_p99_ms, 3)", "p99_ms"),
      ScenarioOnly(false, "round(p.throughput_items_per_s, 2)", "items_per_s"),
      ScenarioOnly(true, "round(p.latency_mean_ms, 3)", "decode_mean_ms"),
      ScenarioOnly(true, "round(p.latency_p50_ms, 3)", "decode_p50_ms"),
      ScenarioOnly(true, "round(p.latency_p90_ms, 3)", "decode_p90_ms"),
      ScenarioOnly(true, "round(p.throughput_items_per_s, 2)", "tokens_per_s"),
      ScenarioOnly(
          true,
          "round(p.batch_size * p.prompt_len * 1000.0 / nullif(p.time_to_first_token_ms, 0), 1)",
          "prefill_tok_s"),
      NoiseSql("p"), ModelSourceSql("m"));
}

// The rows to show, as a relation of result ids. Latest of each configuration: over every
// run, latest_performance's ids (its per-run aggregate, not a window over a million rows);
// within one run, the highest id of each configuration key.
std::string Source(const ReportFilter& filter, const std::string& run_condition) {
  if (filter.every_result) return "performance_results p";
  const std::string rows = filter.run_id ? fmt::format(
                                               "SELECT max(result_id) AS result_id FROM "
                                               "performance_results WHERE {} "
                                               "GROUP BY configuration_key",
                                               run_condition)
                                         : "SELECT result_id FROM latest_performance";
  return fmt::format("({}) shown JOIN performance_results p USING (result_id)", rows);
}

}  // namespace

store::QueryResult PerformanceReport(store::ResultStore& store, const ReportFilter& filter) {
  store::QueryParams params;
  // Used once: in Source, or with every_result in `where`.
  const std::string run_condition =
      filter.run_id ? "run_id = " + params.Bind(store::ResolveRunRef(store, *filter.run_id))
                    : "TRUE";
  std::string where = "TRUE";
  if (filter.model) where += " AND " + ModelFilterSql(*filter.model, "m", params);
  if (filter.hardware) where += " AND h.platform = " + params.Bind(*filter.hardware);
  if (filter.limit && *filter.limit < 0)
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("--limit {} is negative; give 0 or more rows", *filter.limit));
  if (filter.every_result && filter.run_id) where += " AND p." + run_condition;
  return store.Query(
      fmt::format(
          "SELECT {} FROM {} JOIN runs r USING (run_id) "
          "JOIN models m USING (model_id) JOIN hardware_platforms h USING (hardware_id) "
          "WHERE {} ORDER BY r.started_at DESC, m.name, p.model_id, h.platform, p.scenario, "
          "p.graph_variant, p.precision, p.batch_size, p.seq_len, p.result_id DESC{}",
          SelectedColumns(), Source(filter, run_condition), where,
          filter.limit ? fmt::format(" LIMIT {}", *filter.limit) : ""),
      params.values());
}

}  // namespace ipfs_accel::analysis
