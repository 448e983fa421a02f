#pragma once
// T5 (Hugging Face T5Model) as an ONNX graph: the shared token embedding feeds a
// pre-norm encoder and decoder (T5LayerNorm: RMS, no mean, no bias), attention with
// relative position buckets (bias table in the first layer of each stack, shared by
// the others; bidirectional in the encoder, causal in the decoder) and no score scaling,
// linears without biases, a ReLU (v1.0) or gated-GELU (v1.1) feed-forward.
// Inputs input_ids, attention_mask [batch, sequence] and decoder_input_ids
// [batch, decoder_sequence], int64; outputs last_hidden_state (decoder)
// [batch, decoder_sequence, d_model] and encoder_last_hidden_state [batch, sequence, d_model].

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Weight names are T5Model's ("shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
// ...). Throws core::Error: kUnsupported for a feed_forward_proj activation or bucket layout
// this builder lacks, kCorrupt for a malformed feed_forward_proj.
void BuildT5(const HfConfig& config, GraphBuilder& g);

// The encoder alone, for generation. Inputs input_ids, attention_mask [batch, sequence];
// outputs last_hidden_state [batch, sequence, d_model] and every decoder layer's
// cross-attention keys and values, present.{i}.encoder.{key,value} [batch, heads, sequence,
// d_kv], which BuildT5DecoderWithPast takes as past_key_values.{i}.encoder.*.
void BuildT5Encoder(const HfConfig& config, GraphBuilder& g);

// Decoding with a KV cache (seq2seq_cache.h names). Inputs input_ids [batch, sequence] (the
// new decoder tokens), encoder_attention_mask [batch, encoder_sequence], past_key_values.*;
// outputs last_hidden_state [batch, sequence, d_model] and present.{i}.decoder.{key,value}
// [batch, heads, total_sequence, d_kv]. An empty past (length 0) is the first step.
void BuildT5DecoderWithPast(const HfConfig& config, GraphBuilder& g);

// T5LayerNorm (also Pix2Struct's and Kosmos-2.5's vision norms): weight * x / sqrt(mean(x^2) +
// eps) over the last axis, the weight `prefix`.weight [size]; no mean subtraction, no bias.
std::string T5LayerNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                        int64_t size, double eps);

// HF's T5Attention._relative_position_bucket for one relative position (key - query),
// with the float32 arithmetic PyTorch uses, so bucket edges agree exactly.
int64_t T5RelativePositionBucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                 int64_t max_distance);

// The bucket of each (query, key) pair as a graph, [query, key] int64, from 1-D int64 positions:
// T5RelativePositionBucket(key - query, ...) looked up in a constant table named `table_name`
// (unique in the graph). WavLM's gated relative position bias uses the same buckets.
std::string RelativePositionBuckets(GraphBuilder& g, const std::string& query_pos,
                                    const std::string& key_pos, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance,
                                    const std::string& table_name);

}  // namespace ipfs_accel::models
