// The command line as typed, recorded by main for the run record (commands.h).

#include <string>

#include "cli/commands.h"

namespace ipfs_accel::cli {

namespace {

std::string g_command_line;

std::string ShellQuoted(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$`") == std::string::npos) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

void RecordCommandLine(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + ShellQuoted(argv[i]);
}

const std::string& CommandLine() { return g_command_line; }

}  // namespace ipfs_accel::cli
