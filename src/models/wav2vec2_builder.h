#pragma once
// Wav2Vec2Model and HubertModel as ONNX graphs, from one builder, as transformers 5.x defines them:
//   feature encoder   Conv1d stack over the raw waveform (conv_dim / conv_kernel / conv_stride,
//                     conv_bias); feat_extract_norm "group" puts a per-channel GroupNorm on the
//                     first layer only, "layer" a LayerNorm over channels on every layer; each
//                     layer ends in feat_extract_activation;
//   feature projection LayerNorm (HuBERT: only when feat_proj_layer_norm) + Linear to hidden_size;
//   encoder           grouped, weight-normed positional Conv1d (the last frame dropped when
//                     num_conv_pos_embeddings is even, then feat_extract_activation) added to the
//                     projected features, then post-norm layers with the encoder LayerNorm before
//                     them (do_stable_layer_norm false) or pre-norm layers with it after them
//                     (true, wav2vec2-large-lv60 style);
//   Wav2Vec2's add_adapter (strided Conv1d + GLU layers after the encoder) and adapter_attn_dim
//   (a residual bottleneck in each pre-norm layer) are built too.
// Inputs: input_values [batch, samples] float; attention_mask [batch, samples] int64 only when
// feat_extract_norm is "layer" (1 = real sample, 0 = padding), the models whose HF feature
// extractor returns a mask; "group" models (wav2vec2-base, hubert-base) are fed zero-padded audio
// without one, as HF documents. Outputs: last_hidden_state [batch, frames, hidden] (adapter:
// [batch, adapter_frames, output_hidden_size]) and, for Wav2Vec2Model only, extract_features
// [batch, frames, conv_dim[-1]] (the feature projection's normed input); HubertModel returns no
// extract_features. The input must hold at least MinSamples() samples (one frame); shorter input
// fails in ONNX Runtime's Conv.
// Weight names are the base model's ("feature_extractor.conv_layers.0.conv.weight", ...). The
// positional conv's weight norm is read under transformers 5.x's names
// (encoder.pos_conv_embed.conv.parametrizations.weight.original0 = g [1, 1, K], original1 = v)
// or the older weight_g / weight_v, and applied in the graph: weight = g * v / ||v||, the norm
// over the output and input channels of each kernel tap (weight_norm dim=2); g and v count as
// HF counts them. masked_spec_embed (present when mask_time_prob or mask_feature_prob > 0) is
// counted as HF counts it; SpecAugment masking is training-only, so inference never reads it.
// Not built: HuBERT's conv_pos_batch_norm (kUnsupported: its running statistics are buffers, and
// every weight a WeightProvider hands out counts as a parameter). GraphBuilder::fused() changes
// nothing: the graph is plain ONNX either way.

#include <cstdint>
#include <string>
#include <vector>

#include "deberta_builder.h"
#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// How one member differs from Wav2Vec2Model.
struct Wav2Vec2Variant {
  std::string model_type;
  bool extract_features_output = true;    // HubertModel returns last_hidden_state only
  bool projection_norm_optional = false;  // HubertFeatureProjection: feat_proj_layer_norm
  bool has_adapter = true;                // HubertModel deletes Wav2Vec2Model's adapter
};

// wav2vec2, hubert.
const std::vector<Wav2Vec2Variant>& Wav2Vec2Variants();
// Throws core::Error(kInternal) for a model_type that is not in Wav2Vec2Variants().
const Wav2Vec2Variant& FindWav2Vec2Variant(const std::string& model_type);

// The sizes and options a config gives one variant, the config class's defaults filled in.
struct Wav2Vec2Shape {
  std::vector<int64_t> conv_dim, conv_kernel, conv_stride;
  bool conv_bias = false;
  bool layer_norm_convs = false;  // feat_extract_norm "layer" (else "group")
  std::string feat_act, hidden_act;
  bool projection_norm = true;
  int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0;
  int64_t pos_kernel = 0, pos_groups = 0;
  double eps = 1e-5;
  bool stable_layer_norm = false;
  bool masked_spec_embed = false;
  bool adapter = false;
  int64_t output_hidden = 0, adapter_kernel = 0, adapter_stride = 0, adapter_layers = 0;
  int64_t attn_adapter_dim = 0;  // 0: no adapter_attn_dim
  // Piece positional_conv "layers" (Data2VecAudio): num_conv_pos_embeddings plain grouped convs
  // of conv_pos_kernel_size, each with a LayerNorm without affine terms, instead of the one
  // weight-normed conv; 0 for the weight-normed conv.
  int64_t pos_conv_layers = 0;
  // Piece relative_position_bias "gated" (WavLM): a bucketed position bias from the first
  // layer's rel_attn_embed, gated per layer and head by gru_rel_pos_linear / gru_rel_pos_const.
  bool gated_position_bias = false;
  // Piece layer "conformer" (Wav2Vec2Conformer, relative positions): conformer_layer.h's layers,
  // the encoder LayerNorm after them, and the positional conv's weights counted but unused, as
  // Wav2Vec2ConformerEncoder.forward never calls it.
  bool conformer = false;
  int64_t depthwise_kernel = 0;
  // Piece layout "sew" (SEWModel): a model-level layer_norm and an optional feature_projection
  // Linear, the encoder on frames pooled by squeeze_factor (the positional conv strided by it)
  // and upsampled back (sew_encoder.h); no extract_features output, no adapter.
  bool sew = false;
  int64_t squeeze_factor = 1;
  // Piece layout "sew_d" (SEWDModel): SEW's with the layers a DeBERTa-v2 encoder under
  // encoder.encoder. (deberta_builder.h) and no encoder.layer_norm; the model-level layer_norm
  // at feature_layer_norm_eps (feature_eps; eps elsewhere).
  bool sew_d = false;
  DebertaShape deberta;
  double feature_eps = 1e-5;
  int64_t position_buckets = 0, max_bucket_distance = 0;
};
// Throws core::Error: kCorrupt (sizes that do not fit together, an unknown feat_extract_norm),
// kUnsupported (HuBERT's conv_pos_batch_norm).
Wav2Vec2Shape ReadWav2Vec2Shape(const HfConfig& config, const Wav2Vec2Variant& variant);

// Frames the feature encoder makes from `samples` (HF's _get_feat_extract_output_lengths,
// without the adapter); 0 when the input is too short for one.
int64_t Wav2Vec2Frames(const Wav2Vec2Shape& s, int64_t samples);
// The fewest samples that give one frame: the conv stack's receptive field (400 at 16 kHz for
// the standard stack).
int64_t Wav2Vec2MinSamples(const Wav2Vec2Shape& s);

void BuildWav2Vec2(const HfConfig& config, const Wav2Vec2Variant& variant, GraphBuilder& g);

// The positional conv's kernel from its weight norm (g * v / ||v||) under `prefix`.
std::string Wav2Vec2PositionalKernel(GraphBuilder& g, const Wav2Vec2Shape& s,
                                     const std::string& prefix);
// Encoder layer `index` (post-norm, or pre-norm when do_stable_layer_norm) on `x`.
std::string Wav2Vec2EncoderLayer(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                                 int64_t index, const std::string& mask);

// Wav2Vec2FeedForward on `x`: `prefix`intermediate_dense, hidden_act, `prefix`output_dense.
std::string Wav2Vec2FeedForward(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                                const std::string& prefix);

}  // namespace ipfs_accel::models
