#pragma once
// Stored runs as a table: what `runs list` prints and what a report says about the runs its
// rows came from (machine, runtime, command).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

struct RunsFilter {
  std::optional<std::vector<std::string>> run_ids = std::nullopt;  // only these (full ids)
  std::optional<int64_t> limit = std::nullopt;                     // the newest this many
};

// One row per run, newest first: id (store::kShortRunIdLength characters), started_at
// (store::DisplayTimestampSql), state, models (labels), platforms, results, commit, branch, host,
// os, devices, runtime (versions of its results), tool, command, run_id (whole).
store::QueryResult RunsTable(store::ResultStore& store, const RunsFilter& filter);

}  // namespace ipfs_accel::analysis
