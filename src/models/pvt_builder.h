#pragma once
// PvtModel (modeling_pvt.py, PVT v1) as an ONNX graph (docs/templates.md, builder "pvt"): per
// stage a patch embedding (a conv of kernel strides[i] and stride patch_sizes[i], as HF swaps
// them, a LayerNorm, learned position embeddings, and in the last stage a class token before the
// patches), then pre-norm layers of efficient self-attention (the Mix Transformer's, keys and
// values from an sr-strided conv) and an MLP (dense, activation, dense); the tokens go back to a
// map between stages and a final LayerNorm ends the encoder. HF interpolates the position
// embeddings to the patch grid, which at image_size is the identity: the graph is built for
// image_size only.
// Input pixel_values [batch, num_channels, image_size, image_size]; output last_hidden_state
// [batch, 1 + h w, hidden_sizes[-1]].

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error(kCorrupt) for per-stage lists shorter than
// num_encoder_blocks, a patch grid other than HF's position table, or a last stage with
// sequence reduction (its class token cannot be reshaped to a map, in HF either).
void BuildPvt(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// PvtLayer under `prefix` over tokens x [batch, side^2, c]: x + attention(layer_norm_1(x)),
// then h + mlp.dense2(act(mlp.dense1(layer_norm_2(h)))); the attention reduces keys and values by
// `sr` (EfficientSelfAttention). Exposed for tests.
struct PvtLayerSpec {
  int64_t c = 0, heads = 1, sr = 1, side = 0, inner = 0;
  double eps = 1e-6;
  std::string act = "gelu";
  bool qkv_bias = true;
};
std::string PvtLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                     const PvtLayerSpec& spec);

}  // namespace ipfs_accel::models
