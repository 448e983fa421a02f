#pragma once
// ConvBertModel as an ONNX graph, as transformers 5.x defines it: BERT's embeddings at
// embedding_size (word, position, token type, LayerNorm) and embeddings_project to hidden_size
// when the sizes differ; post-norm layers whose attention is ConvBERT's mixed attention:
// num_attention_heads / head_ratio heads of hidden / heads / 2 features do softmax attention
// (attention.self.query/key/value), and as many span-based dynamic convolutions: a kernel of
// conv_kernel_size taps per token and head, softmax(conv_kernel_layer(query * key_conv_attn_layer
// (x))) (key_conv_attn_layer a depthwise then pointwise Conv1d plus bias), applied to
// conv_out_layer(x) over the taps around the token (zero past the ends); the two halves
// concatenated per token (attention heads, then convolution heads) into attention.output;
// intermediate/output (GroupedLinearLayer's [groups, in / groups, out / groups] weights when
// num_groups > 1). No pooler: ConvBertModel has none.
// Inputs input_ids, attention_mask, token_type_ids [batch, sequence]; output last_hidden_state.

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Throws core::Error: kCorrupt (sizes that do not fit together), kUnsupported (a head_ratio
// other than 2, whose concatenation HF cannot reshape either).
void BuildConvBert(const HfConfig& config, GraphBuilder& g);

// vocab_size and type_vocab_size, for the input hints.
int64_t ConvBertVocab(const HfConfig& config);
int64_t ConvBertTypeVocab(const HfConfig& config);

}  // namespace ipfs_accel::models
