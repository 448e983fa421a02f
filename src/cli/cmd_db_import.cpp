// Stub: filled in by its own change.

#include "cli/commands.h"

namespace ipfs_accel::cli {

void AddDbImportCommand(CLI::App& db, CommandFn* selected) {
  (void)db;
  (void)selected;
}

}  // namespace ipfs_accel::cli
