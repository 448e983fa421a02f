#pragma once
// The Mix Transformer encoders of SegFormer, GLPN (modeling_segformer.py, modeling_glpn.py) and
// PVTv2 (modeling_pvt_v2.py) as ONNX graphs (docs/templates.md, builder "segformer"): per stage an
// overlapping patch embedding (strided convolution + LayerNorm), blocks of efficient
// self-attention (keys and values from a sr_ratio-strided convolution of the tokens, normalised)
// and a Mix-FFN (dense, 3x3 depthwise convolution, activation, dense), and the stage's LayerNorm;
// the tokens go back to a [batch, channels, height, width] map between stages.
// Input pixel_values [batch, num_channels, height, width]; output last_hidden_state
// [batch, hidden_sizes[-1], h, w] (SegFormer with reshape_last_stage false: [batch, h * w, c]).

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The template's pieces: {"names": "segformer" | "pvt_v2"}. Throws core::Error: kCorrupt for a
// piece it does not know or sizes that do not fit, kUnsupported for PVTv2's linear_attention.
void BuildSegformer(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// Efficient self-attention (SegformerEfficientSelfAttention, PvtV2SelfAttention,
// PvtEfficientSelfAttention) with its output projection over tokens x [batch, h w, c]: queries
// from x; keys and values from x or, when sr > 1, from an sr x sr stride-sr convolution of its
// [c, h, w] map (`sr`, with bias) and a LayerNorm (`sr_norm`, eps); heads of c / heads.
struct EfficientAttentionNames {
  std::string query, key, value, sr, sr_norm, out;
};
std::string EfficientSelfAttention(GraphBuilder& g, const std::string& x,
                                   const EfficientAttentionNames& n, int64_t c, int64_t heads,
                                   int64_t sr, int64_t h, int64_t w, bool qkv_bias, double eps);

}  // namespace ipfs_accel::models
