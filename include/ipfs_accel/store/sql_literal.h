#pragma once
// SQL text for queries built from values (the store's, analysis', the commands').

#include <string>
#include <string_view>

namespace ipfs_accel::store {

// A value as an SQL string literal; quotes are doubled so no value can break out.
inline std::string SqlLiteral(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace ipfs_accel::store
