#pragma once
// MobileBertModel as an ONNX graph, as transformers 5.x defines it: embeddings (word_embeddings of
// embedding_size; with trigram_input each token's [next, own, previous] embeddings concatenated,
// zero past the ends; embedding_transformation to hidden_size when trigram_input or the sizes
// differ, else counted and unused; position and token type embeddings of hidden_size; the norm),
// then layers that narrow to true_hidden_size (intra_bottleneck_size with use_bottleneck): the
// bottleneck (bottleneck.input, and bottleneck.attention for key_query_shared_bottleneck, each a
// dense and a norm) feeding attention (query/key from the shared bottleneck, value from the layer
// input, the bottleneck input as the residual), num_feedforward_networks - 1 stacked FFNs
// (ffn.N.intermediate/output), the last FFN (intermediate, output) and output.bottleneck back to
// hidden_size with the layer input as its residual; a tanh pooler when classifier_activation.
// normalization_type "no_norm" is NoNorm (x * weight + bias), "layer_norm" LayerNorm (the
// embeddings' and output.LayerNorm at PyTorch's eps 1e-5, the others at layer_norm_eps).
// Inputs input_ids, attention_mask, token_type_ids [batch, sequence]; outputs last_hidden_state
// [batch, sequence, hidden] and pooler_output [batch, hidden].

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Throws core::Error: kCorrupt (sizes that do not fit together, an unknown normalization_type),
// kUnsupported (an attention without bottleneck whose query width differs from its input).
void BuildMobileBert(const HfConfig& config, GraphBuilder& g);

// vocab_size and type_vocab_size, for the input hints.
int64_t MobileBertVocab(const HfConfig& config);
int64_t MobileBertTypeVocab(const HfConfig& config);

}  // namespace ipfs_accel::models
