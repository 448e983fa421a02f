#include "ipfs_accel/analysis/runs.h"

#include <fmt/format.h>

#include "analysis/sql_literal.h"
#include "ipfs_accel/analysis/labels.h"
#include "ipfs_accel/store/display_time.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::analysis {

namespace {

std::string Where(const RunsFilter& filter) {
  if (!filter.run_ids) return "TRUE";
  std::string in;
  for (const auto& id : *filter.run_ids) in += (in.empty() ? "" : ", ") + SqlLiteral(id);
  return in.empty() ? "FALSE" : "r.run_id IN (" + in + ")";
}

}  // namespace

store::QueryResult RunsTable(store::ResultStore& store, const RunsFilter& filter) {
  // Models and platforms of both kinds of results (a run may hold only failures).
  return store.Query(fmt::format(
      "WITH results AS (SELECT run_id, model_id, hardware_id, runtime_version, 1 AS measured "
      "FROM performance_results UNION ALL SELECT run_id, model_id, hardware_id, NULL, 0 "
      "FROM compatibility_results) "
      "SELECT left(r.run_id, {}) AS id, {} AS started_at, coalesce(r.state, 'complete') AS state, "
      "string_agg(DISTINCT m.label, ', ' ORDER BY m.label) AS models, "
      "string_agg(DISTINCT h.platform, ', ' ORDER BY h.platform) AS platforms, "
      "CAST(coalesce(sum(x.measured), 0) AS BIGINT) AS results, r.git_commit AS commit, "
      "r.branch, r.hostname AS host, r.os, "
      "string_agg(DISTINCT h.device_name, ', ' ORDER BY h.device_name) AS devices, "
      "string_agg(DISTINCT x.runtime_version, ', ' ORDER BY x.runtime_version) AS runtime, "
      "r.tool_version AS tool, r.command_line AS command, r.run_id "
      "FROM runs r LEFT JOIN results x ON x.run_id = r.run_id "
      "LEFT JOIN (SELECT model_id, {} AS label FROM models m) m ON m.model_id = x.model_id "
      "LEFT JOIN hardware_platforms h ON h.hardware_id = x.hardware_id WHERE {} "
      "GROUP BY r.run_id, r.started_at, r.state, r.git_commit, r.branch, r.hostname, r.os, "
      "r.tool_version, r.command_line ORDER BY r.started_at DESC, r.run_id DESC{}",
      store::kShortRunIdLength, store::DisplayTimestampSql("r.started_at"), ModelLabelSql("m"),
      Where(filter), filter.limit ? fmt::format(" LIMIT {}", *filter.limit) : ""));
}

}  // namespace ipfs_accel::analysis
