#pragma once
// SQL columns the analysis queries share.

#include <string>

#include <fmt/format.h>

namespace ipfs_accel::analysis {

// `expression` AS `name` where the row of performance_results `p` is (or, with `generate`
// false, is not) of the generate scenario; NULL elsewhere. A generate row's latencies are per
// decoded token and its throughput tokens/s: they get columns of their own, never the
// single-stream ones.
inline std::string ScenarioOnly(bool generate, const std::string& expression,
                                const std::string& name) {
  return fmt::format("CASE WHEN p.scenario {} 'generate' THEN {} END AS {}", generate ? "=" : "<>",
                     expression, name);
}

}  // namespace ipfs_accel::analysis
