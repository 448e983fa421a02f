#pragma once
// Spec files: what a command line would say, as JSON, so that `generate` can write benchmarks
// and verifications that `benchmark --spec FILE` and `verify --spec FILE` run later.
//   {"command": "benchmark",
//    "options": {"model": "template:mistral", "hardware": ["cpu"], "batch-sizes": [1], ...},
//    "about": {"model_type": "mistral", ...}}
// "options" are the command's own long option names (without "--") with their values (a list
// for a list option, true for a flag); "about" says where the spec came from and is not read.

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace ipfs_accel::cli {

// A spec of `command` with these options (and notes under "about").
nlohmann::json MakeSpec(const std::string& command, nlohmann::json options, nlohmann::json about);

// Sets `cmd`'s options from the spec at `path` as if they had been typed, except those the
// command line gives (typed options win). Call from the command's parse callback. Throws
// CLI::ValidationError (a usage error) for a spec of another command, an option the command
// lacks, or a value its check refuses, and core::Error as core::ReadJsonFile for the file.
void ApplySpecFile(CLI::App* cmd, const std::string& path);

}  // namespace ipfs_accel::cli
