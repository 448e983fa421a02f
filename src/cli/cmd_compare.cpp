// Stub: filled in by its own change.

#include "cli/commands.h"

namespace ipfs_accel::cli {

void AddCompareCommand(CLI::App& app, CommandFn* selected) {
  (void)app;
  (void)selected;
}

}  // namespace ipfs_accel::cli
