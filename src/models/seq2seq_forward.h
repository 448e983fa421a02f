#pragma once
// The full forward graph every encoder-decoder shares: inputs input_ids, attention_mask
// [batch, sequence] and decoder_input_ids [batch, decoder_sequence]; outputs
// last_hidden_state (the decoder's) and encoder_last_hidden_state. The architecture
// supplies its encoder and decoder stacks.

#include <cstdint>
#include <functional>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// encode(embedding) -> encoder hidden states; decode(embedding, encoder hidden) -> decoder's.
using EncodeStack = std::function<std::string(const std::string& embedding)>;
using DecodeStack =
    std::function<std::string(const std::string& embedding, const std::string& encoder_hidden)>;

void BuildSeq2SeqForward(GraphBuilder& g, int64_t vocab, int64_t d_model, const EncodeStack& encode,
                         const DecodeStack& decode);

}  // namespace ipfs_accel::models
