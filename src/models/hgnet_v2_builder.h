#pragma once
// HGNetV2Backbone (modeling_hgnet_v2.py) as an ONNX graph (docs/templates.md, builder
// "hgnet_v2"): a stem of conv-BatchNorm-activation layers (stem1 stride 2; a zero-padded 2x2
// branch stem2a/stem2b beside a 2x2 max pool of the same padded map, concatenated; stem3 stride 2;
// stem4 1x1), then stages of an optional depthwise stride-2 downsample and HG blocks: a chain of
// `stage_numb_of_layers` conv layers (light: 1x1 then depthwise k x k) whose outputs are
// concatenated with the block's input and aggregated by two 1x1 conv layers, with a residual on
// every block but a stage's first. With use_learnable_affine_block each activated conv layer
// ends in `lab.scale * x + lab.bias`. BatchNorm is the eval form (running stats are buffers).
// Input pixel_values [batch, num_channels, height, width] (fixed with image_size, else
// symbolic); outputs feature_maps.K [batch, C, h, w]: the K-th selected stage (out_features /
// out_indices; default the last stage).

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error(kCorrupt) for stage lists of different lengths, a stem
// whose first entry is not num_channels, or out_features naming no stage.
void BuildHgNetV2(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// HGNetV2ConvLayer under `prefix` (`prefix.convolution`, `prefix.normalization`, `prefix.lab`):
// a bias-free k x k conv padded (k - 1) / 2, eval BatchNorm (eps 1e-5), then `act` ("" none) and,
// when `lab` and an activation is set, the learnable affine block. Exposed for tests.
std::string HgNetV2ConvLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                             int64_t in, int64_t out, int64_t kernel, int64_t stride,
                             int64_t groups, const std::string& act, bool lab);

}  // namespace ipfs_accel::models
