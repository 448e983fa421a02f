#pragma once
// BART (Hugging Face BartModel) as an ONNX graph: the shared token embedding (times
// sqrt(d_model) when scale_embedding) plus learned positions read at offset 2 (each table
// has max_position_embeddings + 2 rows), layernorm_embedding, then post-norm encoder and
// decoder layers with biases everywhere, attention scaled by head_dim^-0.5, LayerNorm eps 1e-5.
// Inputs input_ids, attention_mask [batch, sequence] and decoder_input_ids
// [batch, decoder_sequence], int64; outputs last_hidden_state (decoder)
// [batch, decoder_sequence, d_model] and encoder_last_hidden_state [batch, sequence, d_model].

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Weight names are BartModel's ("shared.weight", "encoder.layers.0.self_attn.q_proj.weight",
// ...). Throws core::Error: kCorrupt for sizes that do not divide into heads, kUnsupported
// for an activation this build lacks.
void BuildBart(const HfConfig& config, GraphBuilder& g);

// Speech2Text (Hugging Face Speech2TextModel) on the pieces above: input_features float
// [batch, frames, input_feat_per_channel * input_channels] and attention_mask [batch, frames]
// through Conv1dSubsampler (encoder.conv.conv_layers.N: stride-2 convs, each with a GLU), the
// pre-norm encoder over fairseq sinusoids (max_source_positions + 2 rows, a buffer), and the
// decoder on decoder_input_ids with its own decoder.embed_tokens; its cross-attention sees the
// subsampled frames. Outputs last_hidden_state [batch, decoder_sequence, d_model] and
// encoder_last_hidden_state [batch, encoder_sequence, d_model]. Throws as BuildBart, and
// kCorrupt when conv_kernel_sizes does not have num_conv_layers entries.
void BuildSpeech2Text(const HfConfig& config, GraphBuilder& g);

// The encoder alone, for generation. Inputs input_ids, attention_mask [batch, sequence];
// outputs last_hidden_state [batch, sequence, d_model] and every decoder layer's
// cross-attention keys and values, present.{i}.encoder.{key,value} [batch, heads, sequence,
// head_dim], which BuildBartDecoderWithPast takes as past_key_values.{i}.encoder.*.
void BuildBartEncoder(const HfConfig& config, GraphBuilder& g);

// Decoding with a KV cache (seq2seq_cache.h names). Inputs input_ids [batch, sequence] (the
// new decoder tokens), encoder_attention_mask [batch, encoder_sequence], past_key_values.*;
// outputs last_hidden_state [batch, sequence, d_model] and present.{i}.decoder.{key,value}
// [batch, heads, total_sequence, head_dim]. Positions continue after the past (offset 2).
void BuildBartDecoderWithPast(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
