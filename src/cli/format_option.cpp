#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"

namespace ipfs_accel::cli {

namespace {

// --format's help and check, one text for every command.
CLI::Option* Described(CLI::Option* format, const std::vector<std::string>& allowed) {
  return format->description(fmt::format("output format: {}", fmt::join(allowed, ", ")))
      ->check(CLI::IsMember(allowed));
}

void AddJsonAlias(CLI::App* cmd, CLI::Option* format, std::function<void()> set_json) {
  cmd->add_flag_callback("--json", std::move(set_json), "same as --format json")->excludes(format);
}

}  // namespace

void AddFormatOption(CLI::App* cmd, std::string* format, const std::vector<std::string>& allowed) {
  auto* option = Described(cmd->add_option("--format", *format), allowed)->capture_default_str();
  if (std::find(allowed.begin(), allowed.end(), "json") != allowed.end())
    AddJsonAlias(cmd, option, [format] { *format = "json"; });
}

void AddFormatOption(CLI::App* cmd, bool* json) {
  auto* option = Described(cmd->add_option_function<std::string>(
                               "--format", [json](const std::string& v) { *json = v == "json"; }),
                           {"table", "json"})
                     ->default_str("table");
  AddJsonAlias(cmd, option, [json] { *json = true; });
}

}  // namespace ipfs_accel::cli
