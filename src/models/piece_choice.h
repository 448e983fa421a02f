#pragma once
// A template piece whose value picks one of a builder's alternatives (norm_position "post" or
// "pre", ...), read once so every builder refuses an unknown value the same way.

#include <cstdint>
#include <initializer_list>
#include <string>

#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The index in `values` of the piece's value; 0 (the first value, the builder's original
// structure) when the template does not set the piece. Throws core::Error(kUnsupported) naming
// the piece, the value and `builder` for a value not in `values`.
size_t PieceChoice(const HfConfig& config, const std::string& piece, const std::string& builder,
                   std::initializer_list<const char*> values);

// An integer piece, `fallback` when the template does not set it.
int64_t PieceInt(const HfConfig& config, const std::string& piece, int64_t fallback);

}  // namespace ipfs_accel::models
