#pragma once
// HF's ClapModel as one ONNX graph: the RoBERTa-like text tower (BuildEncoderOn) pooled by its
// tanh pooler, the HTSAT audio tower (htsat_builder.h) pooled by the mean over patches, each
// through its ClapProjectionLayer (linear, activation, linear) and L2-normalised, and the
// similarity logits scaled by exp(logit_scale_t) / exp(logit_scale_a).
// Inputs: input_ids, attention_mask [batch, sequence] int64; input_features
// [batch, channels, time, num_mel_bins] float (channels 1, or 4 with enable_fusion); with fusion,
// is_longer [batch, 1] bool. Outputs: logits_per_audio, logits_per_text [batch, batch];
// text_embeds, audio_embeds [batch, projection_dim].

#include <cstdint>
#include <string>

#include "encoder_builder.h"
#include "graph_builder.h"
#include "htsat_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The sub-configs as HF's ClapConfig makes them (defaults for missing keys, the top-level
// projection_dim and projection_hidden_act taking precedence over the towers').
struct ClapShape {
  EncoderShape text;
  HtsatShape audio;
  int64_t projection_dim = 512;
  std::string projection_act = "relu";
};

// ClapTextConfig's defaults on RoBERTa's embeddings and layers.
const EncoderVariant& ClapTextVariant();

// text_config or audio_config as a config of its own ({} when absent), named
// "<origin>:<key>" in errors.
HfConfig ClapSubConfig(const HfConfig& config, const std::string& key);

// Throws core::Error like ReadEncoderShape and ReadHtsatShape, naming the sub-config.
ClapShape ReadClapShape(const HfConfig& config);

// The frames of input_features: spec_size, the spectrogram size ClapAudioConfig names as the
// model's input. HF also takes shorter or longer-up-to-spec_size*freq_ratio spectrograms, which it
// resizes; the graph does too, but the axis is fixed because the harness sizes only batch and
// sequence axes.
int64_t ClapInputFrames(const ClapShape& s);

// `time`: the time axis of input_features (ClapInputFrames, or a symbolic name).
void BuildClap(const HfConfig& config, GraphBuilder& g, const Dim& time);

// HF's ClapAudioModel from a ClapAudioConfig: the HTSAT encoder alone (weights under
// "audio_encoder."), input_features [batch, channels, spec_size, num_mel_bins] (and is_longer
// with fusion). Outputs last_hidden_state [batch, C, F / freq_ratio, freq_ratio * T], the last
// stage's F x T grid regrouped as HF's "group 2D CNN" reshape does, and pooler_output [batch, C].
void BuildClapAudioModel(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
