#include "ipfs_accel/analysis/runs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipfs_accel/analysis/labels.h"
#include "ipfs_accel/store/display_time.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::analysis {

namespace {

// The filter as a condition over runs `r` with `?` placeholders, and their values in order.
std::string Where(const RunsFilter& filter, std::vector<store::QueryParam>* params) {
  std::vector<std::string> conditions;
  const auto add = [&](std::string condition, store::QueryParam value) {
    conditions.push_back(std::move(condition));
    params->push_back(std::move(value));
  };
  if (filter.run_ids) add("list_contains(?, r.run_id)", *filter.run_ids);
  if (filter.branch) add("r.branch = ?", *filter.branch);
  if (filter.commit) add("starts_with(r.git_commit, ?)", *filter.commit);
  if (filter.state) add("coalesce(r.state, 'complete') = ?", *filter.state);
  if (filter.host) add("r.hostname = ?", *filter.host);
  if (filter.started_from) add("r.started_at >= CAST(? AS TIMESTAMP)", *filter.started_from);
  if (filter.started_to) {
    // A date alone ends with its day.
    const bool date_only = filter.started_to->size() == 10;
    add(date_only ? "r.started_at < CAST(? AS DATE) + INTERVAL 1 DAY"
                  : "r.started_at <= CAST(? AS TIMESTAMP)",
        *filter.started_to);
  }
  return conditions.empty() ? "TRUE" : fmt::format("{}", fmt::join(conditions, " AND "));
}

}  // namespace

store::QueryResult RunsTable(store::ResultStore& store, const RunsFilter& filter) {
  std::vector<store::QueryParam> params;
  const std::string where = Where(filter, &params);
  params.emplace_back(
      filter.limit.value_or(int64_t{1} << 40));  // DuckDB caps LIMIT below INT64_MAX
  params.emplace_back(filter.offset);
  // Models and platforms of both kinds of results (a run may hold only failures).
  return store.Query(
      fmt::format(
          "WITH results AS (SELECT run_id, model_id, hardware_id, runtime_version, 1 AS measured "
          "FROM performance_results UNION ALL SELECT run_id, model_id, hardware_id, NULL, 0 "
          "FROM compatibility_results) "
          "SELECT left(r.run_id, {}) AS id, {} AS started_at, coalesce(r.state, 'complete') AS "
          "state, string_agg(DISTINCT m.label, ', ' ORDER BY m.label) AS models, "
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
          "r.tool_version, r.command_line ORDER BY r.started_at DESC, r.run_id DESC "
          "LIMIT ? OFFSET ?",
          store::kShortRunIdLength, store::DisplayTimestampSql("r.started_at"), ModelLabelSql("m"),
          where),
      params);
}

int64_t CountRuns(store::ResultStore& store, const RunsFilter& filter) {
  std::vector<store::QueryParam> params;
  const std::string where = Where(filter, &params);
  const store::QueryResult count =
      store.Query(fmt::format("SELECT count(*) FROM runs r WHERE {}", where), params);
  return std::stoll(count.rows.at(0).at(0).value_or("0"));
}

}  // namespace ipfs_accel::analysis
