#pragma once
// The entry every BERT-like text encoder shares (ConvBERT, MobileBERT, Nystromformer): int64
// inputs input_ids, attention_mask and token_type_ids [batch, sequence], the caller's embeddings,
// HF's padding mask bias, the caller's layer for each of `layers` layers, and last_hidden_state
// [batch, sequence, hidden]. Nodes come in that order, so a builder that used to write it out
// builds the same graph.

#include <cstdint>
#include <functional>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// `embeddings()` reads the inputs and returns [batch, sequence, hidden]; `layer(index, x, mask)`
// returns one layer's output from x and the additive mask. Returns the last hidden state.
std::string BertLikeEncoder(
    GraphBuilder& g, const Dim& sequence, int64_t layers, int64_t hidden,
    const std::function<std::string()>& embeddings,
    const std::function<std::string(int64_t, const std::string&, const std::string&)>& layer);

}  // namespace ipfs_accel::models
