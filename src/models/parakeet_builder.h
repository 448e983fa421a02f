#pragma once
// Parakeet (HF ParakeetEncoder, FastConformer) and ParakeetForCTC as ONNX graphs: input_features
// [batch, frames, num_mel_bins] through ParakeetEncoderSubsamplingConv2D (a Conv2d, then
// log2(subsampling_factor) - 1 depthwise + pointwise Conv2d pairs, ReLUs, `linear` over channels
// x the remaining mel bins), times sqrt(hidden_size) with scale_input, then conformer blocks
// (half-step feed_forward1, Transformer-XL relative self-attention with bias_u / bias_v and
// relative_k_proj over interleaved sin/cos positions (conformer_layer.h), a convolution module
// with a depthwise conv and BatchNorm, half-step feed_forward2, norm_out). No attention_mask: every
// frame is attended, HF's default. Output last_hidden_state [batch, frames', hidden]; the CTC
// model adds ctc_head (a 1x1 Conv1d) and outputs logits [batch, frames', vocab_size].

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Weight names are ParakeetEncoder's ("subsampling.layers.0.weight",
// "layers.0.self_attn.relative_k_proj.weight", ...). Throws core::Error(kCorrupt) for sizes that
// do not fit (heads, a subsampling_factor that is not a power of 2).
void BuildParakeetEncoder(const HfConfig& config, GraphBuilder& g);

// ParakeetForCTC from a ParakeetCTCConfig: the encoder (its encoder_config, weights under
// "encoder.") and ctc_head.
void BuildParakeetCtc(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
