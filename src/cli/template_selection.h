#pragma once
// Which architecture templates a command is asked for: all of them, those of a legacy model
// family, or those of one builder (`generate`, `benchmark --all-models`).

#include <string>
#include <vector>

#include "ipfs_accel/models/templates.h"

namespace ipfs_accel::cli {

// Every template that is a model type (abstract roots left out), by model type; with `family`,
// those whose legacy family ("text_generation", "embedding", "vision", "audio", "multimodal")
// or builder ("decoder", "bert", ...) it is. Throws core::Error(kInvalidArgument) naming the
// families and builders for one that selects nothing.
std::vector<const models::ArchitectureTemplate*> SelectTemplates(const std::string& family = "");

}  // namespace ipfs_accel::cli
