#pragma once
// Whisper (Hugging Face WhisperModel / WhisperForConditionalGeneration) as ONNX graphs.
//
// Encoder: input_features float32 [batch, num_mel_bins, 2 * max_source_positions] (the
// length is a fixed dimension: HF refuses any other, and so does the runtime here), two
// Conv1d (kernel 3, padding 1; stride 1 then 2) each followed by exact GELU, plus
// encoder.embed_positions (sinusoids stored in the checkpoint), pre-norm layers, layer_norm.
// Decoder: decoder.embed_tokens + learned decoder.embed_positions read from the cache
// position on, pre-norm causal self-attention, cross-attention on the encoder, FFN,
// layer_norm. In attention q, v and out_proj have biases, k_proj has none; q k^T is scaled
// by head_dim^-0.5. LayerNorm eps 1e-5 (nn.LayerNorm's default; WhisperConfig has no key).
// HF never applies scale_embedding in Whisper (embed_scale is unused), so neither do these.
//
// The full forward takes input_features, decoder_input_ids int64 [batch, decoder_sequence]
// and decoder_attention_mask int64 [batch, decoder_sequence] (1 = attend; HF's default when
// absent is all ones, which the harness generates) and returns last_hidden_state (decoder)
// [batch, decoder_sequence, d_model] and encoder_last_hidden_state [batch,
// max_source_positions, d_model]. When config "architectures" names
// WhisperForConditionalGeneration it returns logits [batch, decoder_sequence, vocab]
// (proj_out, tied to decoder.embed_tokens unless tie_word_embeddings is false) in place of
// last_hidden_state, as HF's Seq2SeqLMOutput does.
//
// Weight names are WhisperModel's ("encoder.conv1.weight", "decoder.layers.0.fc1.bias");
// WhisperForConditionalGeneration checkpoints hold them under "model." (the registry's
// checkpoint prefix) and proj_out.weight bare.

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Throws core::Error: kCorrupt for d_model not divisible by a head count, kUnsupported for
// an activation this build lacks or an "architectures" entry other than WhisperModel and
// WhisperForConditionalGeneration.
void BuildWhisper(const HfConfig& config, GraphBuilder& g);

// The encoder alone, for generation: input_features -> last_hidden_state [batch,
// max_source_positions, d_model] and every decoder layer's cross-attention keys and values,
// present.{i}.encoder.{key,value} [batch, heads, encoder_sequence, head_dim] (seq2seq_cache.h),
// which BuildWhisperDecoderWithPast takes as past_key_values.{i}.encoder.*.
void BuildWhisperEncoder(const HfConfig& config, GraphBuilder& g);

// Decoding with a KV cache: input_ids [batch, sequence] (the new decoder tokens) and
// past_key_values.{i}.{decoder,encoder}.{key,value} -> last_hidden_state [batch, sequence,
// d_model] (logits [batch, sequence, vocab] for WhisperForConditionalGeneration) and
// present.{i}.decoder.{key,value} [batch, heads, total_sequence, head_dim]. Positions
// continue after the past; there is no decoder padding mask (as BART's cached decoder).
void BuildWhisperDecoderWithPast(const HfConfig& config, GraphBuilder& g);

// A Whisper-style audio encoder alone (Qwen2AudioEncoder, VoxtralEncoder,
// AudioFlamingo3Encoder): input_features -> last_hidden_state [batch, positions, d_model]
// from the encoder layers with their names unprefixed (conv1, layers.N, layer_norm). Pieces:
// `pooling` "none" | "average_pairs" (AvgPool1d(2, 2) before layer_norm: positions / 2);
// `frame_mask` "none" | "features_mask" (an input_features_mask [batch, frames] int64 input
// hiding the padded positions' keys). Throws as BuildWhisper, and kUnsupported for an unknown
// piece value.
void BuildWhisperAudioEncoder(const HfConfig& config, GraphBuilder& g);

// The same encoder on `features` [batch, mel, 2 * max_source_positions], a tensor the caller
// made, for a composite model (Qwen2-Audio, Voxtral): `config` is the tower's, resolved by its
// template. `features_mask` names the int64 [batch, frames] mask when WhisperAudioTowerMasked
// (frame_mask features_mask), else it is ignored. Throws as BuildWhisperAudioEncoder.
struct WhisperAudioTower {
  std::string hidden;     // last_hidden_state [batch, positions, d_model]
  int64_t positions = 0;  // max_source_positions, halved by average_pairs pooling
  int64_t d_model = 0;
};
WhisperAudioTower WhisperAudioTowerOn(const HfConfig& config, GraphBuilder& g,
                                      const std::string& features,
                                      const std::string& features_mask);
// Whether the tower hides padded frames from an input_features_mask (frame_mask features_mask).
bool WhisperAudioTowerMasked(const HfConfig& config);

}  // namespace ipfs_accel::models
