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
std::vector<std::optional<std::string>> ResultRow(const Configuration& c,
                                                  const store::PerformanceRecord& r,
                                                  const std::string& note);

// The settings that are not defaults ("threads 2, opt 1, device_id=1"), or "-".
std::string SettingsText(const Configuration& c);

}  // namespace ipfs_accel::cli
