#pragma once
// The table `benchmark` prints (and --json returns): one row per stored performance record,
// with the columns that matter for its scenario.

#include <string>

#include "cli/sweep.h"
#include "cli/table_printer.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::cli {

Table ResultsTable(const std::string& scenario);
// `note`: e.g. "best batch" for the offline scenario's best row, "meets" for a server trial.
// `for_terminal`: input shapes summarised (ShapesSummary) rather than listed in full.
std::vector<std::optional<std::string>> ResultRow(const Configuration& c,
                                                  const store::PerformanceRecord& r,
                                                  const std::string& note,
                                                  bool for_terminal = false);

// Samples too spread to trust one figure: p90 above harness::kUnstableTailRatio x p50.
bool IsUnstable(const store::PerformanceRecord& r);

// Input shapes for a screen: inputs of one shape together, the shape first (a narrow terminal
// cuts the names, not the shape), a family of inputs named PREFIX.N... counted:
// {"input_ids":[1,8],"attention_mask":[1,8],"past_key_values.0.key":...}
// -> "1x8 attention_mask,input_ids (+24 past_key_values)".
std::string ShapesSummary(const std::string& input_shapes_json);

// The settings that are not defaults ("threads 2, opt 1, device_id=1"), or "-".
std::string SettingsText(const Configuration& c);

}  // namespace ipfs_accel::cli
