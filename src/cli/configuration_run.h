#pragma once
// Runs one configuration of a sweep — in this process, or in a worker process of its own
// (--isolate) — and says what happened as plain data: the stored records it measured, its
// accuracy against the CPU fp32 reference when asked, or the error that stopped it.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cli/sweep.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::cli {

struct ConfigurationOutcome {
  // One record per measurement (a peak-QPS search stores every trial); empty on failure.
  std::vector<store::PerformanceRecord> records;
  std::optional<harness::AccuracyResult> accuracy;  // set when compared
  std::string summary;                              // the headline, for the progress line
  // Failure: the error's class (core::ErrorKindName, or "crash" for a worker that died) and
  // its one line. invalid_argument: the user's own shape error, which ends the sweep.
  bool failed = false;
  bool invalid_argument = false;
  std::string error_class, error_message;
};

// Called while a configuration runs: (timed runs so far, seconds into the timed part).
using ConfigurationProgress = std::function<void(int, double)>;

// Measures `c` on `variant` (the graph at c's graph and precision). With `compare`, also runs
// the variant against `reference` (the plain fp32 graph) on the CPU on the same inputs.
// core::Error from the run becomes a failed outcome; nothing else is caught.
ConfigurationOutcome RunConfiguration(const Configuration& c, const models::Model& variant,
                                      const models::Model& reference, bool compare,
                                      const ConfigurationProgress& progress);

// The same in a worker process (this program's hidden `_configuration` command, whose job
// file is named configuration-<index>.json), so a crash or a hang ends that process only: it
// comes back as a failed outcome ("crash": the signal; "timeout" after timeout_s > 0). `tick`
// gets the seconds waited, about ten times a second. Throws core::Error(kIo) when the worker
// cannot be started.
ConfigurationOutcome RunConfigurationIsolated(const Configuration& c, int index, bool compare,
                                              double timeout_s,
                                              const std::function<void(double)>& tick);

// The worker's side: reads the job, runs it, writes the outcome (atomically) to `result_path`.
// Returns the process's exit status (0 when an outcome was written, failed or not).
int RunConfigurationJob(const std::string& job_path, const std::string& result_path);

// "SIGKILL", "SIGINT", ... ("signal 64" for one without a name).
std::string SignalName(int sig);

nlohmann::json OutcomeToJson(const ConfigurationOutcome& outcome);
ConfigurationOutcome OutcomeFromJson(const nlohmann::json& json);

}  // namespace ipfs_accel::cli
