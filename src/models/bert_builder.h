#pragma once
// BERT (Hugging Face BertModel) as an ONNX graph: embeddings (word + absolute
// position + token type, LayerNorm), post-norm encoder layers, and the tanh pooler.
// Inputs input_ids, attention_mask, token_type_ids [batch, sequence] int64;
// outputs last_hidden_state [batch, sequence, hidden] and pooler_output [batch, hidden].

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Weight names are BertModel's ("embeddings.word_embeddings.weight", ...).
// Throws core::Error(kUnsupported) for config options this builder lacks.
void BuildBert(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
