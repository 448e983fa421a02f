// ipfs-accelerate: measure Hugging Face architectures on the hardware of this
// machine and keep every result in a DuckDB database.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/help_formatter.h"
#include "cli/terminal.h"
#include "ipfs_accel/build_info.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

namespace {
// CLI11's parse error as our one line: the prefix, its message on one line, and where help is.
std::string UsageErrorLine(const CLI::App& app, const CLI::ParseError& e) {
  std::string command = "ipfs-accelerate";
  for (const CLI::App* at = &app;;) {
    const auto parsed = at->get_subcommands();
    if (parsed.empty()) break;
    at = parsed.front();
    command += " " + at->get_name();
  }
  std::string message = e.what();
  std::replace(message.begin(), message.end(), '\n', ' ');
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return fmt::format("ipfs-accelerate: error: {}; see `{} --help`", message, command);
}

}  // namespace

int Main(int argc, char** argv) {
  RecordCommandLine(argc, argv);
  // ONNX Runtime 1.29/1.30 crash creating their environment past ~35 KB of command line.
  if (CommandLine().size() > 30000) {
    std::cerr << fmt::format(
        "ipfs-accelerate: error: the command line is {} bytes, over the 30000 that ONNX Runtime "
        "tolerates; pass long lists through files\n",
        CommandLine().size());
    return kExitUsage;
  }

  CLI::App app{
      "ipfs-accelerate: benchmark Hugging Face architectures on every backend of this machine,\n"
      "keep every measurement in DuckDB, and report on it. Every figure is measured here: a "
      "backend that\n"
      "is not here is reported as unavailable, with the reason.",
      "ipfs-accelerate"};
  app.set_version_flag("--version", fmt::format("ipfs-accelerate {} (commit {})",
                                                build_info::kToolVersion, build_info::kGitCommit));
  app.formatter(WrappingHelpFormatter(TerminalWidth()));
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 ok, 1 a check failed, 2 usage, 3 not found, 4 corrupt input, 5 unsupported,\n"
      "6 unavailable here, 7 database, 8 I/O, 9 runtime failure, 10 internal error.");
  CommandFn selected;
  AddDetectCommand(app, &selected);
  AddModelsCommand(app, &selected);
  AddVerifyCommand(app, &selected);
  AddExportCommand(app, &selected);
  AddRunCommand(app, &selected);
  AddBenchmarkCommand(app, &selected);
  AddDbCommand(app, &selected);
  AddReportCommand(app, &selected);
  AddMatrixCommand(app, &selected);
  AddConfigurationWorkerCommand(app, &selected);
  AddCompareCommand(app, &selected);
  AddRunsCommand(app, &selected);
  AddGenerateCommand(app, &selected);
  AddTemplatesCommand(app, &selected);
  AddMemoryCommand(app, &selected);
  AddPredictCommand(app, &selected);
  AddSelectCommand(app, &selected);
  AddTrainConfigCommand(app, &selected);
  AddTokenizeCommand(app, &selected);
  AddServeCommand(app, &selected);
  AddBundleCommand(app, &selected);
  AddFleetCommand(app, &selected);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << UsageErrorLine(app, e) << "\n";
    return kExitUsage;
  }
  try {
    return selected ? selected() : kExitUsage;
  } catch (const core::Error& e) {
    std::cerr << "ipfs-accelerate: error: " << e.what() << "\n";
    return ExitCodeFor(e.kind());
  } catch (const std::bad_alloc&) {
    // Sizes are checked against the memory here before anything big is made; this is the
    // allocation that got past them (another process took the memory meanwhile, say).
    std::cerr << "ipfs-accelerate: error: ran out of memory; use a smaller model, batch or "
                 "sequence, or free memory and retry\n";
    return kExitUnsupported;
  } catch (const std::exception& e) {
    std::cerr << "ipfs-accelerate: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}

}  // namespace ipfs_accel::cli

int main(int argc, char** argv) { return ipfs_accel::cli::Main(argc, argv); }
