#pragma once
// --help that fits the terminal: CLI11 2.1 prints every description on one line however long.

#include <cstddef>
#include <memory>

#include <CLI/CLI.hpp>

namespace ipfs_accel::cli {

// A formatter that wraps descriptions, footers and option texts at `width` columns
// (kUnlimitedWidth: as written). Set it on the app before adding subcommands: they copy it.
std::shared_ptr<CLI::Formatter> WrappingHelpFormatter(std::size_t width);

}  // namespace ipfs_accel::cli
