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
  int64_t offset = 0;                                              // after skipping this many
  std::optional<std::string> branch = std::nullopt;
  std::optional<std::string> commit = std::nullopt;  // a prefix of the stored commit
  std::optional<std::string> state = std::nullopt;   // running, interrupted, complete
  std::optional<std::string> host = std::nullopt;
  // Start times from and to (inclusive), as ISO-8601 dates or UTC times; a date alone as `to`
  // means the whole of that day.
  std::optional<std::string> started_from = std::nullopt, started_to = std::nullopt;
};

// One row per run, newest first: id (store::kShortRunIdLength characters), started_at
// (store::DisplayTimestampSql), state, models (labels), platforms, results, commit, branch, host,
// os, devices, runtime (versions of its results), tool, command, run_id (whole). The filter's
// values are bound parameters (store::ResultStore::Query with params). Throws
// core::Error(kInvalidArgument) for a time DuckDB cannot read.
store::QueryResult RunsTable(store::ResultStore& store, const RunsFilter& filter);
// How many runs the filter keeps, before limit and offset.
int64_t CountRuns(store::ResultStore& store, const RunsFilter& filter);

}  // namespace ipfs_accel::analysis
