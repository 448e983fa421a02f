#pragma once
// A sweep's run in the results database, stored as it goes. The constructor stores the run
// record ("running"); Store() adds one configuration's results the moment it finishes;
// Finish() marks the run "complete" or "interrupted". A killed sweep loses at most the
// configuration it was running, and its run stays "running" with what it stored.
//
// The database is opened for each write and closed after it, so other processes (a report, a
// second sweep into the same file) wait at most for one write, never for a whole sweep.

#include <string>

#include "cli/commands.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::cli {

class StoredRun {
 public:
  // Stores `run` as running. Throws core::Error as ResultStore::Open and BeginRun do.
  StoredRun(const DatabaseOption& db, const store::RunRecord& run);

  // Adds `entry` to the run; `configuration` says that it holds a configuration's results
  // (counted), not rows about the platforms.
  void Store(store::RunResults::Entry entry, bool configuration);
  // Sets finished_at and the final state ("complete" or "interrupted"); once.
  void Finish(const std::string& state);

  const std::string& run_id() const { return run_id_; }
  const std::string& path() const { return path_; }
  int configurations() const { return configurations_; }

 private:
  const DatabaseOption& db_;
  std::string run_id_, path_;
  int configurations_ = 0;
  bool finished_ = false;
};

}  // namespace ipfs_accel::cli
