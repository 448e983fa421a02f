// `_configuration`: the worker side of `benchmark --isolate` (hidden from --help). It runs one
// planned configuration from a job file and writes its outcome to a result file; the parent
// process stores it. A crash here ends this process only.

#include "cli/commands.h"
#include "cli/configuration_run.h"

namespace ipfs_accel::cli {

void AddConfigurationWorkerCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand("_configuration", "run one benchmark configuration (internal)");
  cmd->group("");  // not listed in --help
  auto job = std::make_shared<std::string>();
  auto result = std::make_shared<std::string>();
  cmd->add_option("--job", *job, "job file (JSON)")->required();
  cmd->add_option("--result", *result, "where the outcome goes (JSON)")->required();
  cmd->callback([selected, job, result] {
    *selected = [job, result] { return RunConfigurationJob(*job, *result); };
  });
}

}  // namespace ipfs_accel::cli
