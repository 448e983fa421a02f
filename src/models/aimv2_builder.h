#pragma once
// Aimv2VisionModel (AIMv2's vision tower) as an ONNX graph: a patch convolution with bias, an
// RMS norm, learned positions; pre-norm layers of RMS norms, attention q/k/v/out_proj (biases
// when qkv_bias) and a SwiGLU MLP gate_proj/up_proj/down_proj (biases when mlp_bias); a final
// RMS norm, and with use_head the attention-pooling head (a learned cls_token query over
// k_proj/v_proj of the tokens, then output_proj).
//   input  pixel_values float32 [batch, num_channels, image_size, image_size]
//   output last_hidden_state [batch, patches, hidden] [, pooler_output [batch, hidden]]
// Weight names are Aimv2VisionModel's ("embeddings.patch_embed.weight",
// "encoder.layers.N.attention.q_proj.weight", "encoder.layers.N.ffn.gate_proj.weight",
// "rms_norm.weight", "head.cls_token").

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Sizes from Aimv2VisionConfig's keys (hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_channels, image_size, patch_size, rms_norm_eps, hidden_act, qkv_bias,
// mlp_bias, use_head). Throws core::Error: kCorrupt (sizes that do not fit), kUnsupported for
// is_native (2-D sin-cos positions, not built here).
void BuildAimv2Vision(const HfConfig& config, GraphBuilder& g);

// Aimv2TextModel: token embeddings plus learned positions (embeddings.token_embedding,
// embeddings.position_embedding), the vision tower's layers (encoder.layers.N) under a causal
// and padding mask (HF builds one whenever attention_mask is given), a final rms_norm, pooled at
// the first eos_token_id of each row (0 where a row has none).
//   inputs  input_ids, attention_mask int64 [batch, sequence]
//   outputs last_hidden_state [batch, sequence, hidden], pooler_output [batch, hidden]
// Sizes from Aimv2TextConfig's keys (vocab_size, max_position_embeddings, eos_token_id and the
// vision tower's). Throws core::Error(kCorrupt) for sizes that do not fit.
void BuildAimv2Text(const HfConfig& config, GraphBuilder& g);
// The text config's vocab_size and max_position_embeddings (input hints).
int64_t Aimv2TextVocab(const HfConfig& config);
int64_t Aimv2TextMaxPositions(const HfConfig& config);

}  // namespace ipfs_accel::models
