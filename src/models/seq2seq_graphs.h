#pragma once
// An encoder-decoder's graphs for generation, beside the full forward that the
// architecture registry builds: the encoder alone (which also returns the decoder's
// cross-attention cache) and the decoder with a KV cache. The registry's Architecture holds
// one builder per model_type, so these are reached here until it can hold several.
// This header needs no ONNX headers: graphs come back serialized, checked by onnx::checker
// and strict shape inference as model.cpp checks the registry's graphs.

#include <string>

#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "weights.h"

namespace ipfs_accel::models {

enum class Seq2SeqGraph {
  kFullForward,      // input_ids, attention_mask, decoder_input_ids -> last_hidden_state, ...
  kEncoder,          // input_ids, attention_mask -> last_hidden_state, present.{i}.encoder.*
  kDecoderWithPast,  // input_ids, encoder_attention_mask, past_key_values.* ->
                     // last_hidden_state, present.{i}.decoder.*
};
// Whisper's graphs take input_features where the encoder takes input_ids (and no
// attention_mask or encoder_attention_mask); see whisper_builder.h.

// The serialized ModelProto of `graph` for a "t5", "bart" or "whisper" config. Throws core::Error:
// kUnsupported for another model_type or a config option the builders lack, kCorrupt for
// missing or misshapen checkpoint weights, kInternal when the graph fails ONNX checks.
std::string BuildSeq2SeqGraph(const HfConfig& config, WeightProvider& weights, Seq2SeqGraph graph);

// What the decoder-with-past graph's symbolic dimensions mean: the harness's batch,
// sequence (new tokens), past_sequence and total_sequence. "encoder_sequence" has no role.
DimRoles Seq2SeqDecoderDimRoles();

}  // namespace ipfs_accel::models
