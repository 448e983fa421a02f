#pragma once
// Llama4VisionModel (Llama 4's vision encoder with its pixel-shuffle adapter) as an ONNX graph
// (docs/templates.md, builder "llama4_vision"): unfolded patches through a bias-free Linear (a
// Conv2d of its weight), the class embedding appended after the patches, positional_embedding_vlm,
// layernorm_pre; pre-norm layers (input_layernorm, q/k/v/o_proj with biases, each adjacent pair of
// q and k rotated by the patch's column + 1, then row + 1, times rope_theta frequencies, the
// class token unrotated; post_attention_layernorm, mlp.fc1/fc2 with exact GELU); layernorm_post,
// the class token dropped, the pixel shuffle (pixel_shuffle_ratio) and vision_adapter.mlp
// (fc1, GELU, fc2, GELU, bias-free).
//   input  pixel_values float32 [batch, num_channels, image_size, image_size]
//   output last_hidden_state [batch, (side * ratio)^2, projector_output_dim]

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Sizes from Llama4VisionConfig's keys (hidden_size, num_hidden_layers, num_attention_heads,
// intermediate_size, num_channels, image_size, patch_size, rope_theta, pixel_shuffle_ratio,
// projector_input_dim, projector_output_dim). Throws core::Error(kCorrupt) for sizes that do not
// fit. HF's own default (intermediate_size unlike the shuffled width) builds, to be counted, but
// its graph cannot run, as HF's cannot.
void BuildLlama4Vision(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
