#pragma once
// Moonshine (HF MoonshineModel) as one ONNX graph: the raw waveform input_values [batch, samples]
// through the encoder's convolutions (conv1 k127 s64 without bias, tanh, one-group GroupNorm,
// conv2 k7 s3 + gelu, conv3 k3 s2 + gelu), pre-norm encoder layers (bias-free LayerNorms,
// GLM's attention: q/k/v_proj with attention_bias, o_proj without, interleaved rotary over
// int(head_dim * partial_rotary_factor) features, positions 0..S-1; mlp.fc1/fc2 with
// encoder_hidden_act), the final encoder.layer_norm; the decoder on decoder_input_ids
// (embed_tokens, rotary causal self-attention, cross-attention without rotary, a gated mlp whose
// fc1 gives [value | gate] and act(gate) * value goes through fc2, decoder_hidden_act), its
// final norm. Outputs last_hidden_state [batch, decoder_sequence, hidden] and
// encoder_last_hidden_state [batch, frames, hidden]. No encoder mask: every sample is attended.

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Weight names are MoonshineModel's ("encoder.conv1.weight", "decoder.layers.0.encoder_attn.
// q_proj.weight", ...). Throws core::Error(kUnsupported) for grouped key/value heads or
// pad_head_dim_to_multiple_of, which this builder does not build, kCorrupt for sizes that do not
// divide into heads.
void BuildMoonshine(const HfConfig& config, GraphBuilder& g);

// The fewest samples the convolutions turn into one frame (895).
int64_t MoonshineMinSamples();

}  // namespace ipfs_accel::models
