#pragma once
// RTDetrResNetBackbone (modeling_rt_detr_resnet.py, ResNet-D as RT-DETR uses it) as an ONNX graph
// (docs/templates.md, builder "rt_detr_resnet"): a deep stem of three 3x3 conv-BatchNorm-
// activation layers (the first stride 2) and a 3x3 stride-2 max pool, then ResNet stages whose
// strided shortcuts average-pool 2x2 (ceil mode) before a stride-1 1x1 projection; basic layers
// always project the first layer of a stage. Inner convs use ReLU, the residual sum hidden_act.
// BatchNorm is the eval form (running stats are buffers).
// Input pixel_values [batch, num_channels, height, width] (fixed with image_size, else
// symbolic); outputs feature_maps.K: the K-th selected stage (out_features / out_indices;
// default the last).

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error: kCorrupt for hidden_sizes and depths of different lengths
// or a first basic stage whose pooled shortcut would not match its unstrided path (HF fails
// there too); kUnsupported for a layer_type other than basic or bottleneck.
void BuildRtDetrResNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// One RTDetrResNetBottleNeckLayer / RTDetrResNetBasicLayer under `prefix` (`layer.N`,
// `shortcut` or, pooled, `shortcut.1`): ReLU inside, `act` after the residual sum. `first`: the
// stage's first layer (a basic layer's only one with a shortcut). Exposed for tests.
struct RtDetrResNetLayerSpec {
  int64_t in = 0, out = 0, stride = 1;
  bool first = false, bottleneck = true, downsample_in_bottleneck = false;
};
std::string RtDetrResNetLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                              const RtDetrResNetLayerSpec& l, const std::string& act);

}  // namespace ipfs_accel::models
