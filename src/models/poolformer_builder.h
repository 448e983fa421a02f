#pragma once
// PoolFormerModel (modeling_poolformer.py) as an ONNX graph (docs/templates.md, builder
// "poolformer"): per stage a strided patch convolution, then blocks that mix tokens by pooling
// (3x3 average pool minus the input, after a one-group GroupNorm) and run a 1x1-convolution MLP,
// each branch scaled by its layer scale. No final norm: the classifier owns it.
// Input pixel_values [batch, num_channels, height, width] (fixed when the config has image_size,
// else symbolic); output last_hidden_state [batch, hidden_sizes[-1], h/32, w/32].

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The template's pieces: none yet ({}). Throws core::Error(kCorrupt) for sizes that do not fit
// together or a piece it does not know.
void BuildPoolFormer(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

}  // namespace ipfs_accel::models
