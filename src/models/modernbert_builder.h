#pragma once
// HF's ModernBertModel as one ONNX graph (eager attention): token embeddings and a LayerNorm,
// pre-norm layers (the first without its attention norm) of fused-QKV rotary attention and a
// GLU MLP, bias-free by default, every global_attn_every_n_layers-th layer attending globally
// and the others within a sliding window of local_attention tokens, then a final LayerNorm.
// Inputs input_ids, attention_mask [batch, sequence] int64; output last_hidden_state.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct ModernBertShape {
  int64_t vocab, hidden, layers, heads, intermediate, max_positions;
  int64_t window;  // local_attention: keys within window / 2 of the query
  double eps;
  bool norm_bias, attention_bias, mlp_bias;
  std::string act;
  std::vector<bool> local;           // per layer: sliding-window attention
  std::vector<bool> sliding_rope;    // per layer: the sliding_attention rope (layer_types)
  double global_theta, local_theta;  // rope_theta of full and sliding attention layers
};

// Throws core::Error: kCorrupt (sizes that do not fit), kUnsupported (rope types other than
// default, layer types other than full and sliding attention).
ModernBertShape ReadModernBertShape(const HfConfig& config);

// Weight names are ModernBertModel's ("embeddings.tok_embeddings.weight",
// "layers.0.attn.Wqkv.weight",
// ...).
void BuildModernBert(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
