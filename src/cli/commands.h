#pragma once
// Each subcommand lives in its own file and registers itself here: its options,
// its --help text, and the function that runs it. Commands return an exit status
// and throw core::Error for anything that ends them early; main() prints that as
// one line and maps it to the status (exit_codes.h).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

using CommandFn = std::function<int()>;

// Options every command that touches the results database shares.
struct DatabaseOption {
  std::optional<std::string> path;
  double lock_wait_s = 60;
  void Add(CLI::App* cmd);
  // The database this command uses: --db, else $BENCHMARK_DB_PATH, else the default file.
  std::string Path() const;
  // How it is opened: waiting up to --lock-wait seconds (and saying so on stderr) while
  // another process writes to it.
  store::OpenOptions Options(bool read_only = false) const;
  std::unique_ptr<store::ResultStore> Open(bool read_only = false) const;
};

// The names of the options several commands take, spelled here once so that every command
// reads the same (a test compares their --help lines).
inline constexpr const char* kModelOptionName = "-m,--model";
inline constexpr const char* kOutputOptionName = "-o,--output";
inline constexpr const char* kThreadsOptionName = "-t,--threads";

// The output format every command that prints results shares: --format NAME, checked against
// `allowed` while the command line is parsed (a usage error, exit 2), and --json, the same as
// --format json. `format` holds the default until the command line replaces it.
void AddFormatOption(CLI::App* cmd, std::string* format, const std::vector<std::string>& allowed);
// The same for a command that prints text or JSON: --format table|json and --json set *json.
void AddFormatOption(CLI::App* cmd, bool* json);

// `options` limited to this machine: a model whose fp32 weights need more than the memory
// available now (MemAvailable) is refused before any weight is made or read.
models::LoadOptions WithMemoryLimit(models::LoadOptions options);
// models::LoadModel(spec, WithMemoryLimit(options)).
models::Model LoadModelHere(const std::string& spec, models::LoadOptions options = {});

// The command line as typed (each argument shell-quoted where it needs it), for the run record:
// main records it once; empty in programs that never do (the tests).
void RecordCommandLine(int argc, char** argv);
const std::string& CommandLine();

void AddDetectCommand(CLI::App& app, CommandFn* selected);
void AddVerifyCommand(CLI::App& app, CommandFn* selected);
void AddBenchmarkCommand(CLI::App& app, CommandFn* selected);
void AddDbCommand(CLI::App& app, CommandFn* selected);
void AddReportCommand(CLI::App& app, CommandFn* selected);
void AddModelsCommand(CLI::App& app, CommandFn* selected);
// `models cid` (cmd_models_cid.cpp), a subcommand of `models`.
void AddModelsCidCommand(CLI::App& models, CommandFn* selected);
// `models fetch` (cmd_models_fetch.cpp), a subcommand of `models`.
void AddModelsFetchCommand(CLI::App& models, CommandFn* selected);
void AddExportCommand(CLI::App& app, CommandFn* selected);
void AddRunCommand(CLI::App& app, CommandFn* selected);
void AddMatrixCommand(CLI::App& app, CommandFn* selected);
void AddConfigurationWorkerCommand(CLI::App& app, CommandFn* selected);
void AddCompareCommand(CLI::App& app, CommandFn* selected);      // cmd_compare.cpp
void AddRunsCommand(CLI::App& app, CommandFn* selected);         // cmd_runs.cpp
void AddGenerateCommand(CLI::App& app, CommandFn* selected);     // cmd_generate.cpp
void AddMemoryCommand(CLI::App& app, CommandFn* selected);       // cmd_memory.cpp
void AddPredictCommand(CLI::App& app, CommandFn* selected);      // cmd_predict.cpp
void AddSelectCommand(CLI::App& app, CommandFn* selected);       // cmd_select.cpp
void AddTrainConfigCommand(CLI::App& app, CommandFn* selected);  // cmd_train_config.cpp
void AddTokenizeCommand(CLI::App& app, CommandFn* selected);     // cmd_tokenize.cpp
void AddServeCommand(CLI::App& app, CommandFn* selected);        // cmd_serve.cpp
void AddBundleCommand(CLI::App& app, CommandFn* selected);       // cmd_bundle.cpp
// cmd_templates.cpp (validate and add: template_validation_run.cpp)
void AddTemplatesCommand(CLI::App& app, CommandFn* selected);
// Subcommands of `db`: `import` (cmd_db_import.cpp); backup, check, vacuum, purge, stats and
// export (cmd_db_maintenance.cpp).
void AddDbImportCommand(CLI::App& db, CommandFn* selected);
void AddDbMaintenanceCommands(CLI::App& db, CommandFn* selected);
void AddDbSyncCommands(CLI::App& db, CommandFn* selected);  // cmd_db_sync.cpp
void AddFleetCommand(CLI::App& app, CommandFn* selected);   // cmd_fleet.cpp

}  // namespace ipfs_accel::cli
