#pragma once
// MobileNetV1Model and MobileNetV2Model (modeling_mobilenet_v1.py, modeling_mobilenet_v2.py) as
// ONNX graphs (docs/templates.md, builders "mobilenet_v1" and "mobilenet_v2"). V1: a 3x3 stride-2
// convolution, then 13 depthwise-separable pairs (3x3 depthwise, 1x1 pointwise), each convolution
// followed by BatchNorm (inference form, running statistics as buffers) and the activation;
// TensorFlow "SAME" padding (tf_padding) is computed from the fixed image size. V2: a stem (3x3
// stride 2, 3x3 depthwise, 1x1 reduce), 16 inverted residual layers (1x1 expand by expand_ratio,
// 3x3 depthwise, 1x1 reduce without activation, residual where the shape allows; dilated instead of
// strided past output_stride) and a 1x1 convolution to 1280. Outputs last_hidden_state [batch,
// channels, h/32, w/32] and pooler_output, its spatial mean [batch, channels].

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The template's pieces: none ({}). Throws core::Error(kCorrupt) for sizes that do not fit.
void BuildMobileNetV1(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);
void BuildMobileNetV2(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

}  // namespace ipfs_accel::models
