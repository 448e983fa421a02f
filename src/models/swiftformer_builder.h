#pragma once
// SwiftFormerModel (modeling_swiftformer.py) as an ONNX graph (docs/templates.md, builder
// "swiftformer"): a two-conv stride-4 patch embedding (conv, BatchNorm, ReLU twice), then stages
// of conv encoders (depthwise 3x3, BatchNorm, 1x1 up, GELU, 1x1 down, times a layer scale, plus
// the input) ending in one encoder block (the same local representation, then efficient additive
// attention and a BatchNorm + 1x1-conv MLP, each times a layer scale when use_layer_scale), with a
// conv + BatchNorm downsampling between stages. BatchNorm is the eval form.
// Input pixel_values [batch, num_channels, image_size, image_size]; output last_hidden_state
// [batch, embed_dims[-1], h, w].

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error(kCorrupt) for depths, embed_dims and downsamples that do not
// fit together.
void BuildSwiftFormer(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// SwiftFormerEfficientAdditiveAttention under `prefix` over x [batch, tokens, dim]: q, k =
// L2-normalised to_query(x), to_key(x); global = sum over tokens of softmax over the last axis
// (of size 1, as HF writes it: every weight 1) of (q w_g / sqrt(dim)) times q; then
// final(proj(global * k) + q). Exposed for tests.
std::string SwiftFormerAttention(GraphBuilder& g, const std::string& x, const std::string& prefix,
                                 int64_t dim);

}  // namespace ipfs_accel::models
