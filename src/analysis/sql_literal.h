#pragma once
// SQL text for the analysis queries.

#include <string>

#include <fmt/format.h>

namespace ipfs_accel::analysis {

// A value as an SQL string literal; quotes are doubled so no value can break out.
inline std::string SqlLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

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
