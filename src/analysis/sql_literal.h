#pragma once
// SQL text for the analysis queries.

#include <string>

namespace ipfs_accel::analysis {

// A value as an SQL string literal; quotes are doubled so no value can break out.
inline std::string SqlLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace ipfs_accel::analysis
