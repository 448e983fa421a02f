#include "ipfs_accel/analysis/labels.h"

#include <fmt/format.h>

#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::analysis {

// " cfg 0c25ab8c" where another model has this one's name and weights but another config
// (schema v8's config_hash): only then is the config what tells them apart.
std::string ConfigSuffixSql(std::string_view a) {
  return fmt::format(
      "CASE WHEN {0}.config_hash IS NOT NULL AND EXISTS (SELECT 1 FROM models other WHERE "
      "other.name = {0}.name AND other.content_hash = {0}.content_hash AND other.config_hash IS "
      "DISTINCT FROM {0}.config_hash) THEN ' cfg ' || substr({0}.config_hash, 8, 8) ELSE '' END",
      a);
}

std::string ModelLabelSql(std::string_view a) {
  // The suffix as data: one WHEN per kind of weights identity, then the config where needed.
  return fmt::format(
      "({0}.name || CASE "
      "WHEN {0}.content_hash LIKE 'sha256:%' THEN ' @' || substr({0}.content_hash, 8, 8) "
      "WHEN {0}.content_hash LIKE 'seed:%' THEN ' (' || CASE WHEN {0}.source = 'catalog' THEN '' "
      "ELSE {0}.source || ', ' END || 'seed ' || substr({0}.content_hash, 6) || ')' "
      "WHEN {0}.content_hash <> '' THEN ' @' || left({0}.content_hash, 8) "
      "WHEN {0}.source <> 'catalog' THEN ' (' || {0}.source || ')' "
      "ELSE '' END || {1})",
      a, ConfigSuffixSql(a));
}

std::string ModelFilterSql(const std::string& model, std::string_view alias,
                           store::QueryParams& params) {
  const std::string lit = params.Bind(model);
  return fmt::format("({0}.name = {1} OR {2} = {1} OR {0}.content_cid = {1})", alias, lit,
                     ModelLabelSql(alias));
}

std::string ModelSourceSql(std::string_view a) {
  return fmt::format("coalesce(nullif({0}.source_path, ''), {0}.source)", a);
}

std::string NoiseSql(std::string_view a) {
  return fmt::format(
      "CASE WHEN {0}.latency_p50_ms > 0 AND {0}.latency_p90_ms > {1} * {0}.latency_p50_ms "
      "THEN 'unstable: p90 ' || round({0}.latency_p90_ms / {0}.latency_p50_ms, 1) || 'x p50' END",
      a, harness::kUnstableTailRatio);
}

std::string DisplayTimestamp(std::string_view iso) {
  std::string out(iso);
  if (out.size() > 10 && out[10] == 'T') out[10] = ' ';
  if (!out.empty() && out.back() != 'Z') out += 'Z';
  return out;
}

}  // namespace ipfs_accel::analysis
