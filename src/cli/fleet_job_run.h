#pragma once
// How this tool runs a fleet job (fleet/worker.h): the model found by its CID (the path the job
// names when its bytes have that CID, else the models folder, else fetched from a gateway),
// then `benchmark` in a child process writing to a scratch database, whose run is handed back.

#include <map>
#include <string>

#include "ipfs_accel/fleet/worker.h"

namespace ipfs_accel::cli {

struct FleetJobRunnerOptions {
  std::string models_dir;  // empty: $XDG_CACHE_HOME (or ~/.cache)/ipfs-accelerate/models
  std::string gateway;     // empty: models this machine lacks fail their job
  double timeout_s = 3600;
};

class FleetJobRunner {
 public:
  explicit FleetJobRunner(FleetJobRunnerOptions options);
  // Never throws for a job's own failure: that comes back as JobOutcome::error.
  fleet::JobOutcome Run(const fleet::Job& job) const;

 private:
  std::string LocalModel(const fleet::JobSpec& spec) const;

  FleetJobRunnerOptions options_;
  mutable std::map<std::string, std::string> path_cids_;  // paths already hashed
};

}  // namespace ipfs_accel::cli
