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

}  // namespace ipfs_accel::models
