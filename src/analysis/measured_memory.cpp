#include "ipfs_accel/analysis/measured_memory.h"

namespace ipfs_accel::analysis {

namespace {

std::optional<int64_t> AsBytes(const std::optional<std::string>& cell) {
  if (!cell) return std::nullopt;
  return std::stoll(*cell);
}

}  // namespace

std::vector<MeasuredMemory> LatestMeasuredMemory(store::ResultStore& store, const MemoryQuery& q) {
  const store::QueryResult result = store.Query(
      "SELECT r.run_id, CAST(r.started_at AS VARCHAR), h.platform, p.execution_provider, "
      "p.peak_rss_bytes, p.device_memory_process_bytes, p.memory_estimate_bytes "
      "FROM performance_results p JOIN runs r USING (run_id) JOIN models m USING (model_id) "
      "JOIN hardware_platforms h USING (hardware_id) "
      "WHERE COALESCE(r.origin, 'measured') = 'measured' AND p.scenario <> 'generate' "
      "AND m.name = $1 AND m.content_hash = $2 AND p.precision = $3 AND p.graph_variant = $4 "
      "AND p.batch_size = $5 AND p.seq_len = $6 "
      "QUALIFY row_number() OVER (PARTITION BY h.platform ORDER BY r.started_at DESC, "
      "p.result_id DESC) = 1 ORDER BY r.started_at DESC, h.platform",
      {q.model_name, q.content_hash, q.precision, q.graph_variant, q.batch_size, q.seq_len});
  std::vector<MeasuredMemory> out;
  for (const auto& row : result.rows) {
    out.push_back({.run_id = row[0].value_or(""),
                   .started_at = row[1].value_or(""),
                   .platform = row[2].value_or(""),
                   .execution_provider = row[3].value_or(""),
                   .peak_rss_bytes = AsBytes(row[4]),
                   .device_memory_process_bytes = AsBytes(row[5]),
                   .memory_estimate_bytes = AsBytes(row[6])});
  }
  return out;
}

}  // namespace ipfs_accel::analysis
