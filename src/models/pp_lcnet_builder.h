#pragma once
// PPLCNetBackbone and PPLCNetV3Backbone (modeling_pp_lcnet.py, modeling_pp_lcnet_v3.py) as ONNX
// graphs (docs/templates.md, builder "pp_lcnet"): a 3x3 conv-BatchNorm stem from 3 channels,
// then stages of depthwise-separable layers (depthwise k x k, optional squeeze-and-excitation
// with ReLU and hardsigmoid, pointwise 1x1) from `block_configs` ([kernel, in, out, stride, se]
// per layer, channels times `scale` made divisible by `divisor`). Layer `conv`: each conv is
// conv-BatchNorm-activation; `learnable_rep` (V3): each is a LearnableRepLayer (an identity
// BatchNorm where shapes allow, a 1x1 branch where k > 1 and `conv_kxk_num` k x k branches, all
// with BatchNorm, summed, a learnable affine block, then unless strided the activation and a
// second affine block), and the stem has no activation. BatchNorm is the eval form.
// Input pixel_values [batch, 3, height, width] (fixed with image_size, else symbolic); outputs
// feature_maps.K: the K-th selected stage (out_features / out_indices; default the last).

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Pieces: `layer` (`conv` default, `learnable_rep`). Throws core::Error: kCorrupt for a
// block_configs entry that is not [kernel, in, out, stride, se] or out_features naming no stage;
// kUnsupported for another layer.
void BuildPpLcNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// PPLCNetV3LearnableRepLayer under `prefix` over x [batch, in, h, w] (see above). Exposed for
// tests.
std::string LearnableRepLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                              int64_t in, int64_t out, int64_t kernel, int64_t stride,
                              int64_t groups, int64_t branches, const std::string& act);

}  // namespace ipfs_accel::models
