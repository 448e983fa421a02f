#pragma once
// EfficientNetModel (modeling_efficientnet.py) and AlignVisionModel (modeling_align.py, the same
// network without the top convolution) as ONNX graphs (docs/templates.md, builder
// "efficientnet"): a zero-padded (0, 1, 0, 1) 3x3 stride-2 stem with BatchNorm and activation,
// then MBConv blocks (1x1 expansion, depthwise conv padded TF-style when strided, squeeze-and-
// excitation, 1x1 projection; a residual only on the repeats of a stage), widths and repeats
// scaled by width_coefficient / depth_coefficient, and for EfficientNet a 1x1 top conv to
// round_filters(1280) with BatchNorm and activation. BatchNorm is the eval form (running stats
// are buffers). pooler_output is AvgPool2d / MaxPool2d(hidden_dim, ceil_mode=True), which is the
// global mean / max of a map no larger than hidden_dim: the only case built.
// Input pixel_values [batch, num_channels, image_size, image_size]; outputs last_hidden_state
// [batch, C, h, w] and pooler_output [batch, C].

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Pieces: `top_conv` (bool, default true; false: AlignVision's encoder, which has none).
// Throws core::Error: kCorrupt for lists of different lengths, a top_conv width other than
// hidden_dim (HF's top_bn would not fit it); kUnsupported for a pooling_type other than mean or
// max, or a final map larger than hidden_dim (the ceil-mode pool would have several cells).
void BuildEfficientNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// EfficientNetDepthwiseLayer's convolution (no norm): a bias-free depthwise k x k conv under
// `prefix` ([channels, 1, k, k]); stride 2 pads (k/2 - 1 top and left, k/2 bottom and right)
// when `adjust`, k/2 on every side otherwise; stride 1 pads "same". Exposed for tests.
std::string EfficientNetDepthwiseConv(GraphBuilder& g, const std::string& x,
                                      const std::string& prefix, int64_t channels, int64_t kernel,
                                      int64_t stride, bool adjust);

}  // namespace ipfs_accel::models
