#pragma once
// MobileNetV1Model (modeling_mobilenet_v1.py) as an ONNX graph (docs/templates.md, builder
// "mobilenet_v1"): a 3x3 stride-2 convolution, then 13 depthwise-separable pairs (3x3 depthwise,
// 1x1 pointwise), each convolution followed by BatchNorm (inference form, running statistics as
// buffers) and the activation; TensorFlow "SAME" padding (tf_padding) is computed from the fixed
// image size. Outputs last_hidden_state [batch, 1024 * depth_multiplier, h/32, w/32] and
// pooler_output, its spatial mean [batch, channels].

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The template's pieces: none ({}). Throws core::Error(kCorrupt) for sizes that do not fit.
void BuildMobileNetV1(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

}  // namespace ipfs_accel::models
