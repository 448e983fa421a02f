#pragma once
// SamVisionModel (Segment Anything's image encoder; SAM-HQ's is the same with its global layers'
// outputs) as an ONNX graph (docs/templates.md, builder "sam_vision"): a patch convolution,
// absolute positions over the patch grid, pre-norm ViT layers whose attention (a fused qkv,
// proj) adds decomposed relative positions (rel_pos_h, rel_pos_w, indexed by the query's minus
// the key's row and column) and runs within window_size x window_size windows of the grid (zero
// padded to a multiple, HF's window_partition) except on global_attn_indexes' layers, an MLP
// lin1/lin2; then the neck: a 1x1 and a padded 3x3 convolution without bias, each followed by a
// LayerNorm over channels (eps 1e-6).
//   input  pixel_values float32 [batch, num_channels, image_size, image_size]
//   output last_hidden_state [batch, output_channels, grid, grid]
//          (piece intermediate_embeddings, SAM-HQ) intermediate_embeddings.K [batch, grid, grid,
//          hidden]: the K-th global layer's output
// Weight names are SamVisionModel's ("vision_encoder.patch_embed.projection.weight",
// "vision_encoder.pos_embed", "vision_encoder.layers.N.attn.qkv.weight",
// "vision_encoder.layers.N.attn.rel_pos_h", "vision_encoder.neck.conv1.weight").

#include <nlohmann/json.hpp>
#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Sizes from SamVisionConfig's keys (hidden_size, output_channels, num_hidden_layers,
// num_attention_heads, num_channels, image_size, patch_size, hidden_act, layer_norm_eps,
// qkv_bias, mlp_dim or mlp_ratio, use_abs_pos, use_rel_pos, window_size, global_attn_indexes);
// `pieces` may hold intermediate_embeddings (boolean). Throws core::Error(kCorrupt) for sizes
// that do not fit.
void BuildSamVision(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

}  // namespace ipfs_accel::models
