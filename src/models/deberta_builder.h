#pragma once
// DebertaModel and DebertaV2Model (DeBERTa-v3 too) as ONNX graphs, as transformers 5.x defines
// them: embeddings (word [+ absolute positions when position_biased_input] [+ token types when
// type_vocab_size > 0], embed_proj without bias when embedding_size != hidden_size, LayerNorm,
// times the padding mask), post-norm BERT layers (attention.output.dense/LayerNorm,
// intermediate.dense, output.dense/LayerNorm) whose attention is disentangled_attention.h's, the
// relative embeddings encoder.rel_embeddings (v2: through encoder.LayerNorm with norm_rel_ebd
// "layer_norm") and, in v2 with conv_kernel_size > 0, encoder.conv (ConvLayer: a Conv1d over the
// embeddings, masked, conv_act, added to the first layer's output, LayerNorm, masked) after the
// first layer. No pooler: DebertaModel has none.
// Inputs input_ids, attention_mask [, token_type_ids] int64 [batch, sequence]; output
// last_hidden_state [batch, sequence, hidden].

#include <cstdint>
#include <string>

#include "disentangled_attention.h"
#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct DebertaShape {
  DisentangledSpec attention;
  int64_t vocab = 0, embedding = 0, layers = 0, intermediate = 0, max_positions = 0;
  int64_t type_vocab = 0;  // 0: no token types
  bool position_biased_input = true;
  double eps = 1e-7;
  std::string act;
  int64_t conv_kernel = 0, conv_groups = 1;  // v2's ConvLayer; 0: none
  std::string conv_act;
};

// `v1`: DeBERTa's names (in_proj, no buckets, no conv); else DeBERTa-v2's. Throws core::Error:
// kCorrupt (sizes that do not fit together), kUnsupported (see ReadDisentangledSpec).
DebertaShape ReadDebertaShape(const HfConfig& config, bool v1);

// DebertaV2Encoder (SEWDTransformerEncoder) on x [batch, S, hidden], the embeddings' output:
// weights under the builder's prefix ("layer.N.", "rel_embeddings", "LayerNorm", "conv.").
// `attention_mask` int64 [batch, S], or "" for none (every position attended). `zero_masked_rows`:
// XSoftmax's zero probabilities for padded queries (SEW-D) instead of masked_fill's uniform ones.
std::string DebertaEncoder(GraphBuilder& g, const DebertaShape& s, const std::string& x,
                           const std::string& attention_mask, bool zero_masked_rows);

// The template piece `layout` ("deberta" or "deberta_v2") decides v1.
void BuildDeberta(const HfConfig& config, GraphBuilder& g);
DebertaShape ReadDebertaShapeOf(const HfConfig& config);

}  // namespace ipfs_accel::models
