#pragma once
// BitModel (modeling_bit.py, BiT / ResNetV2) as an ONNX graph (docs/templates.md, builder
// "bit"): a weight-standardized 7x7 stride-2 stem, zero padding and a 3x3 stride-2 max pool, then
// stages of pre-activation (GroupNorm + activation before each weight-standardized conv) or
// post-activation bottleneck layers, each stage's first layer with a 1x1 projection shortcut,
// and for pre-activation a final GroupNorm + activation.
// Input pixel_values [batch, num_channels, height, width] (fixed with image_size, else
// symbolic); outputs last_hidden_state [batch, C, h/32, w/32] and pooler_output [batch, C, 1, 1].

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error: kCorrupt for sizes that do not fit together (channels not
// divisible by num_groups), kUnsupported for what is not built: global_padding "SAME" (dynamic
// padding), embedding_dynamic_padding, width_factor other than 1, a dilated bottleneck stage.
void BuildBit(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// WeightStandardizedConv2d: prefix.weight [out, in, k, k], standardized per output channel
// ((w - mean) / sqrt(biased var + eps)) before the bias-free convolution. Exposed for tests.
std::string WeightStandardizedConv2d(GraphBuilder& g, const std::string& x,
                                     const std::string& prefix, int64_t in, int64_t out,
                                     int64_t kernel, int64_t stride, double eps);

}  // namespace ipfs_accel::models
