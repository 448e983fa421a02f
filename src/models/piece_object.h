#pragma once
// Values of a template piece that is an object ({"experts": "$num_local_experts", ...}): each
// member a literal or "$key" for the config's value of key (docs/templates.md). Missing, or a
// reference to an absent or null key: the fallback. A value of the wrong type throws
// core::Error(kCorrupt) naming the config file, the member and the value.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The member resolved (null when missing or when its reference is absent or null).
nlohmann::json ObjectPiece(const HfConfig& c, const nlohmann::json& piece, const std::string& name);
// An integer from `min` to HfConfig::kMaxSize.
int64_t ObjectPieceInt(const HfConfig& c, const nlohmann::json& piece, const std::string& name,
                       int64_t fallback, int64_t min = 0);
double ObjectPieceDouble(const HfConfig& c, const nlohmann::json& piece, const std::string& name,
                         double fallback);
bool ObjectPieceBool(const HfConfig& c, const nlohmann::json& piece, const std::string& name,
                     bool fallback);
std::string ObjectPieceString(const HfConfig& c, const nlohmann::json& piece,
                              const std::string& name, const std::string& fallback);

}  // namespace ipfs_accel::models
