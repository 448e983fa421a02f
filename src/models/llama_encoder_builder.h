#pragma once
// A bidirectional LLaMA (EuroBertModel) as one ONNX graph: LLaMA's blocks without causality or
// a cache. Token embeddings `embed_tokens`; per layer `layers.N.`: RMSNorm `input_layernorm`,
// self_attn.q/k/v/o_proj (attention_bias; num_key_value_heads grouped, each kv head serving
// heads / kv_heads query heads), rotate-half rope at positions 0..S-1 from the config's rope
// keys, scores q k^T * head_dim^-0.5 plus the padding mask only, RMSNorm
// `post_attention_layernorm`, the gated MLP mlp.gate/up/down_proj (mlp_bias); a final `norm`.
//   inputs  input_ids, attention_mask int64 [batch, sequence]
//   output  last_hidden_state [batch, sequence, hidden]

#include <cstdint>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct LlamaEncoderShape {
  int64_t vocab, hidden, layers, heads, kv_heads, head_dim, intermediate, max_positions;
  double eps;
  std::string act;
  bool attention_bias, mlp_bias;
};

// From vocab_size, hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads
// (null: the heads), head_dim (null: hidden / heads), intermediate_size,
// max_position_embeddings, rms_norm_eps, hidden_act, attention_bias, mlp_bias. Throws
// core::Error(kCorrupt) for sizes that do not fit.
LlamaEncoderShape ReadLlamaEncoderShape(const HfConfig& config);

// Throws like ReadLlamaEncoderShape, and as ReadRope for rope types it does not build.
void BuildLlamaEncoder(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
