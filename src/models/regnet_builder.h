#pragma once
// RegNetModel (modeling_regnet.py) as an ONNX graph (docs/templates.md, builder "regnet"): a 3x3
// stride-2 stem, then stages of X or Y layers (1x1 conv, 3x3 grouped conv of groups_width
// channels per group, [Y: squeeze-and-excitation], 1x1 conv, projection shortcut where the shape
// changes, activation after the sum), each convolution with inference BatchNorm.
// Input pixel_values [batch, num_channels, height, width] (fixed with image_size, else
// symbolic); outputs last_hidden_state [batch, hidden_sizes[-1], h/32, w/32] and pooler_output
// [batch, hidden_sizes[-1], 1, 1] (AdaptiveAvgPool2d).

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error: kCorrupt for sizes that do not fit together,
// kUnsupported for a layer_type other than "x" and "y".
void BuildRegNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

}  // namespace ipfs_accel::models
