#pragma once
// TimesformerModel (divided space-time attention over video) as an ONNX graph (docs/
// templates.md, builder "timesformer"): each frame's patches (a Conv2d per frame) with the class
// token and the position table, then time_embeddings per frame; tokens are the class token and
// the patches patch-major, frame-minor (index n * frames + t). Each layer: temporal attention
// (temporal_layernorm, a fused qkv, output.dense) among the frames of each patch, temporal_dense,
// added to the patches; spatial attention (layernorm_before) among each frame's patches with the
// class token repeated per frame, the class token's result averaged over the frames; the two
// residuals summed, then the pre-norm MLP (layernorm_after, intermediate.dense, output.dense);
// a final layernorm.
//   input  pixel_values float32 [batch, num_frames, num_channels, image_size, image_size]
//   output last_hidden_state [batch, 1 + patches * num_frames, hidden]

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Sizes from TimesformerConfig's keys (hidden_size, num_hidden_layers, num_attention_heads,
// intermediate_size, num_channels, image_size, patch_size, num_frames, hidden_act,
// layer_norm_eps, qkv_bias). Throws core::Error: kCorrupt (sizes that do not fit), kUnsupported
// (attention_type other than divided_space_time).
void BuildTimesformer(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
