#pragma once
// BLIP-2's Q-Former as AutoModel builds it (Blip2QFormerModel, use_qformer_text_input false): the
// query embeddings through `layernorm`, then BERT post-norm layers over the queries: self-attention
// (encoder.layer.N.attention.attention.query/key/value, attention.output.dense/LayerNorm), on every
// cross_attention_frequency-th layer (N % frequency == 0) cross-attention to the image features
// (crossattention.attention.query from hidden_size, key/value from encoder_hidden_size,
// crossattention.output.*), and the queries' feed-forward (intermediate_query.dense,
// output_query.dense/LayerNorm). Every query and image feature is attended: HF's masks default to
// ones. Inputs query_embeds [batch, sequence (the queries), hidden] and encoder_hidden_states
// [batch, image, encoder_hidden_size] float; outputs last_hidden_state [batch, sequence, hidden]
// and pooler_output [batch, hidden], the first query's state.
// Piece `text_input` true: InstructBlipQFormerModel: no top-level layernorm; embeddings
// (word_embeddings and position_embeddings of input_ids [batch, sequence], after query_embeds
// [batch, query, hidden], embeddings.layernorm), a self-attention over queries and text under
// attention_mask [batch, sequence] (the queries always attended), cross-attention and the query
// feed-forward for the queries only, the text's feed-forward (intermediate, output) for the rest;
// last_hidden_state [batch, query + sequence, hidden].

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Throws core::Error: kCorrupt (sizes that do not fit together).
void BuildQFormer(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
