#pragma once
// Decoder-only causal language models as Hugging Face builds them (*ForCausalLM,
// GPT2LMHeadModel), with a KV cache, as one ONNX graph:
//   inputs  input_ids int64 [batch, sequence]
//           attention_mask int64 [batch, total_sequence] (past + current; 1 = attend)
//           past_key_values.{i}.key / .value float32 [batch, kv_heads, past_sequence, head_dim]
//   outputs logits float32 [batch, sequence, vocab]
//           present.{i}.key / .value float32 [batch, kv_heads, total_sequence, head_dim]
//           (past then new, keys after RoPE and before any grouped-query repeat).
// Position ids are what HF derives when the caller passes none: past_length + arange
// for most families, the attention mask's running count for OPT. The causal mask
// is combined with the padding mask as HF's eager path does (additive float32 min).
//
// Weight names are the base model's ("layers.0.self_attn.q_proj.weight"); the
// checkpoint prefix ("model.", "transformer.", "gpt_neox.") comes from
// DecoderCheckpointPrefix, and the LM head's own name ("lm_head.weight",
// "embed_out.weight") is tried bare. Tied embeddings reuse the embedding weight.

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// One builder serves the family; these are the members whose differences it knows.
enum class DecoderKind { kGpt2, kOpt, kLlama, kMistral, kQwen2, kQwen3, kGemma, kPhi, kGptNeox };

// Throws core::Error: kCorrupt (inconsistent sizes), kUnsupported (config options
// this builder lacks, e.g. dynamic RoPE or cross-attention).
void BuildDecoder(DecoderKind kind, const HfConfig& config, GraphBuilder& g);

// How HF names the base model inside the causal-LM checkpoint ("model.", ...).
std::string DecoderCheckpointPrefix(DecoderKind kind);
// The longest sequence the model's positions cover (n_positions for GPT-2).
int64_t DecoderMaxPositions(DecoderKind kind, const HfConfig& config);
int64_t DecoderVocabSize(DecoderKind kind, const HfConfig& config);

}  // namespace ipfs_accel::models
