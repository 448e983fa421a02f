#pragma once
// The one way a stored timestamp is shown to a user, for SQL that selects it.

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "ipfs_accel/store/records.h"

namespace ipfs_accel::store {

// SQL for a TIMESTAMP expression (stored UTC) in kDisplayTimestampFormat,
// "2026-12-06 19:57:36Z".
inline std::string DisplayTimestampSql(std::string_view expression) {
  return fmt::format("strftime({}, '{}')", expression, kDisplayTimestampFormat);
}

}  // namespace ipfs_accel::store
