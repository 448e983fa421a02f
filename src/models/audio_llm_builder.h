#pragma once
// Audio-language models (Qwen2AudioForConditionalGeneration, VoxtralForConditionalGeneration,
// AudioFlamingo3ForConditionalGeneration, GlmAsrForConditionalGeneration) as one ONNX graph each,
// as transformers builds them: a Whisper-style audio tower (audio_config resolved by its
// whisper_audio_encoder template), its last_hidden_state optionally regrouped so that each row
// holds audio_config.intermediate_size / hidden_size consecutive frames (Voxtral, GLM-ASR: HF's
// reshape(-1, intermediate_size)), the multi_modal_projector, the projected features written over
// the language model's input embeddings at the audio-token places (masked_scatter, as LLaVA's
// image features: ScatterFeaturesAtTokens), and a LLaMA-like language model from text_config
// (decoder_builder.h) with its LM head and KV cache.
//
// Graph I/O:
//   input_ids            int64 [batch, sequence], each row with one clip's AudioLlmTokens audio
//                        tokens (the config's audio token id)
//   input_features       float32 [batch, num_mel_bins, 2 * max_source_positions]: one clip per row
//   input_features_mask  int64 [batch, 2 * max_source_positions], only where the tower masks
//                        padded frames (AudioFlamingo3): keys past each clip's frames are hidden,
//                        and only the first (frames - 1) / 2 + 1 - 2) / 2 + 1 pooled features of
//                        each clip are merged (HF's valid_mask over
//                        _get_feat_extract_output_lengths)
//   attention_mask, past_key_values.N.*, logits, present.N.*: as BuildDecoder
// Towers without that mask see every frame and merge every feature: the graph is for full-length
// clips, as HF's is when feature_attention_mask / input_features_mask is all ones (Qwen2-Audio's
// and GLM-ASR's masks are not inputs here).
//
// Pieces: `projector` "linear" (Qwen2-Audio: multi_modal_projector.linear, with bias) or "mlp"
// (linear_1, projector_hidden_act, linear_2; biases per `projector_bias`); `projector_width`
// "text" or "twice_text" (GLM-ASR: linear_1 to 2 x the text hidden size); `stack_frames` "none" or
// "intermediate" (rows of intermediate_size); `audio_token` (the id's key, e.g.
// "$audio_token_id"); `audio_model_type`, `text_model_type` (the sub-configs' model_type when
// they name none); `text_defaults` (HF's _default_text_config_kwargs, under text_config's keys).
// Weight names: the tower's under "audio_tower.", "multi_modal_projector.*", the language model's
// as BuildDecoder's; AudioLlmCheckpointPrefixes maps the checkpoints' layouts onto them.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct Architecture;

// The prototype "audio_llm" (called from multimodal_family.cpp).
void AddAudioLlmArchitectures(std::vector<Architecture>& out);

// Throws core::Error: kUnsupported for a tower that is not a whisper_audio_encoder template or a
// language model that does not take input embeddings; kCorrupt for sizes that do not regroup
// (intermediate_size not a multiple of the tower's width, or of the frames) or a null audio
// token id.
void BuildAudioLlm(const HfConfig& config, GraphBuilder& g);

// How many audio tokens one full-length clip takes in input_ids.
int64_t AudioLlmTokens(const HfConfig& config);

// The rows of `features` [batch, positions, width] kept by HF's valid mask for `frames` [batch]
// int64 (each clip's mel frames): those at positions below ((frames - 1) / 2 + 1 - 2) / 2 + 1,
// flattened in row-major order to [kept, width]. Exposed for tests.
std::string KeepValidAudioRows(GraphBuilder& g, const std::string& features,
                               const std::string& frames, int64_t positions, int64_t width);

}  // namespace ipfs_accel::models
