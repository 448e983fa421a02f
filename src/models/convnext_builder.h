#pragma once
// ConvNeXt (modeling_convnext.py), ConvNeXt V2 (modeling_convnextv2.py) and DINOv3's ConvNeXt
// (modeling_dinov3_convnext.py) as ONNX graphs, from one builder (docs/templates.md, builder
// "convnext"): a 4x4 stride-4 patchify convolution and a channels-first LayerNorm, then stages
// (a channels-first LayerNorm and a 2x2 stride-2 convolution before every stage but the first) of
// blocks: depthwise 7x7 convolution, LayerNorm, Linear to 4x, activation, [V2: global response
// normalisation], Linear back, [layer scale], residual.
// Input pixel_values [batch, num_channels, height, width]. ConvNextModel / ConvNextV2Model output
// last_hidden_state [batch, hidden_sizes[-1], h/32, w/32] and pooler_output = layernorm(mean over
// the map) [batch, hidden_sizes[-1]]; DINOv3ConvNextModel outputs last_hidden_state
// layer_norm([mean, map tokens]) [batch, 1 + h/32 * w/32, hidden_sizes[-1]] and pooler_output its
// token 0.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The template's pieces for builder "convnext".
struct ConvNextVariant {
  std::string names = "convnext";     // "convnext" (ConvNext, V2) or "dinov3"
  std::string block = "layer_scale";  // "layer_scale" (when layer_scale_init_value > 0) or "grn"
};
// Throws core::Error(kCorrupt) naming a piece it does not know.
ConvNextVariant ReadConvNextVariant(const nlohmann::json& pieces, const HfConfig& config);

// A ConvNextConfig's sizes (V2's and DINOv3's have the same keys), defaults filled in, checked.
struct ConvNextShape {
  int64_t num_channels = 3, patch_size = 4;
  std::vector<int64_t> hidden_sizes = {96, 192, 384, 768};
  std::vector<int64_t> depths = {3, 3, 9, 3};
  std::string act = "gelu";
  double eps = 1e-12;       // the final layernorm's (DINOv3: every norm's)
  bool layer_scale = true;  // layer_scale_init_value > 0
};
// Throws core::Error(kCorrupt) for sizes that do not fit together.
ConvNextShape ReadConvNextShape(const HfConfig& config, const ConvNextVariant& variant);

void BuildConvNext(const HfConfig& config, const ConvNextVariant& variant, GraphBuilder& g);

}  // namespace ipfs_accel::models
