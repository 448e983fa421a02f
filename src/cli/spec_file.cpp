#include "cli/spec_file.h"

#include <fmt/format.h>

#include "ipfs_accel/core/json.h"

namespace ipfs_accel::cli {

namespace {

// A JSON value as the text a command line would hold.
std::string AsArgument(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:g}", v.get<double>());
  return v.dump();
}

std::vector<std::string> AsArguments(const nlohmann::json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return {AsArgument(v)};
  for (const auto& item : v) out.push_back(AsArgument(item));
  return out;
}

}  // namespace

nlohmann::json MakeSpec(const std::string& command, nlohmann::json options, nlohmann::json about) {
  return {{"command", command}, {"options", std::move(options)}, {"about", std::move(about)}};
}

void ApplySpecFile(CLI::App* cmd, const std::string& path) {
  const nlohmann::json spec = core::ReadJsonFile(path);
  const std::string where = fmt::format("spec '{}'", path);
  if (!spec.is_object() || spec.value("command", "") != cmd->get_name() ||
      !spec.contains("options") || !spec["options"].is_object())
    throw CLI::ValidationError("--spec", fmt::format("{} is not a {} spec (an object with "
                                                     "\"command\": \"{}\" and \"options\")",
                                                     where, cmd->get_name(), cmd->get_name()));
  for (const auto& [key, value] : spec["options"].items()) {
    CLI::Option* option = cmd->get_option_no_throw("--" + key);
    if (option == nullptr || key == "spec")
      throw CLI::ValidationError("--spec", fmt::format("{} sets '{}', which `{}` has no option for",
                                                       where, key, cmd->get_name()));
    if (option->count() > 0) continue;  // typed on the command line: it wins
    option->clear();
    option->add_result(AsArguments(value));
    try {
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw CLI::ValidationError("--spec", fmt::format("{}: {}", where, e.what()));
    }
  }
}

}  // namespace ipfs_accel::cli
