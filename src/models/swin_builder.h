#pragma once
// SwinModel and DonutSwinModel (modeling_swin.py, modeling_donut_swin.py) as ONNX graphs
// (docs/templates.md, builder "swin"): a patch_size convolution and LayerNorm, stages of Swin
// blocks (window attention with relative position bias, shifted windows on odd blocks) with patch
// merging between stages, the blocks written once with CLAP's HTSAT (htsat_builder.h), then the
// final layernorm (Swin; DonutSwin has none) and the mean over tokens as the pooled output.
// Input pixel_values [batch, num_channels, image_size, image_size]; outputs last_hidden_state
// [batch, tokens of the last stage, embed_dim * 2^(stages - 1)] and pooler_output [batch, that].

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The template's pieces: {"final_norm": true|false}. Throws core::Error(kCorrupt) for others.
// Throws core::Error: kCorrupt for sizes that do not fit together, kUnsupported for what HF pads
// or resizes (image sides not a multiple of patch_size, odd stage sides, a stage smaller than a
// window, absolute position embeddings).
void BuildSwin(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

}  // namespace ipfs_accel::models
