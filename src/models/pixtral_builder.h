#pragma once
// PixtralVisionModel (Pixtral's and Mistral 3's vision encoder) as an ONNX graph, for images of
// image_size x image_size pixels, one per batch row: a patch convolution without bias, ln_pre
// (RMS), pre-norm layers of RMS norms (attention_norm, ffn_norm, eps 1e-5), bias-free
// attention q/k/v/o_proj with q and k rotated by Pixtral's 2-D rope, a gated MLP
// gate_proj/up_proj/down_proj; no final norm.
//   input  pixel_values float32 [batch, num_channels, image_size, image_size]
//   output last_hidden_state [batch, patches, hidden]
// HF concatenates the patches of every image into one row [1, batch * patches, hidden] whose
// attention is block-diagonal, one block per image: with images of one size that is each
// row attending within itself, as here. The rope angles of patch (r, c) are r times the even
// frequencies of head_dim, then c times the odd ones, repeated twice (PixtralRotaryEmbedding at
// position r * (image_size / patch_size) + c).
// Weight names are PixtralVisionModel's ("patch_conv.weight", "ln_pre.weight",
// "transformer.layers.N.attention.q_proj.weight", "transformer.layers.N.feed_forward.gate_proj
// .weight").

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Sizes from PixtralVisionConfig's keys (hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_channels, image_size, patch_size, hidden_act, rope_parameters or
// rope_theta, head_dim). Throws core::Error: kCorrupt (sizes that do not fit), kUnsupported (a
// head_dim unlike hidden_size / num_attention_heads, a rope type other than default).
void BuildPixtralVision(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
