#pragma once
// A performance record as JSON, field for field, so an isolated worker process can hand its
// measurement to the parent that stores the run. Doubles survive exactly (nlohmann writes
// the shortest text that reads back to the same value).

#include <nlohmann/json.hpp>

#include "ipfs_accel/store/records.h"

namespace ipfs_accel::cli {

nlohmann::json RecordToJson(const store::PerformanceRecord& record);
// Throws nlohmann::json::exception for a document that is not one RecordToJson wrote.
store::PerformanceRecord RecordFromJson(const nlohmann::json& json);

}  // namespace ipfs_accel::cli
