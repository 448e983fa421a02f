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
// checkpoint prefix ("model.", "transformer.", "gpt_neox.") is the template's, and the LM head's
// own name ("lm_head.weight", "embed_out.weight") is tried bare. Tied embeddings reuse the
// embedding weight.

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"
#include "rotary.h"

namespace ipfs_accel::models {

// `config` is resolved by its template (templates.h, ApplyTemplate), whose pieces say how this
// member differs (docs/templates.md: layout, norm, biases, qk-norm, sliding window, rope, ...).
// Throws core::Error: kCorrupt (inconsistent sizes, an unknown piece value), kUnsupported
// (config options this builder lacks, e.g. dynamic RoPE).
void BuildDecoder(const HfConfig& config, GraphBuilder& g);

// The longest sequence the model's positions cover (n_positions for GPT-2).
int64_t DecoderMaxPositions(const HfConfig& config);
int64_t DecoderVocabSize(const HfConfig& config);

// The sizes BuildDecoder reads from `config`.
struct DecoderSizes {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int64_t max_positions = 0;
  RopeSpec rope;
};
DecoderSizes ReadDecoderSizes(const HfConfig& config);

// A composite model's text config (LLaVA's text_config) resolved by the template of its
// model_type, which must be a decoder's. Throws core::Error(kUnsupported) otherwise.
HfConfig DecoderTextConfig(const HfConfig& text);
// Whether the resolved `config`'s decoder can be fed input embeddings (its layout is "llama").
bool DecoderTakesEmbeddings(const HfConfig& config);

// ---- The language model of a composite model (LLaVA, Qwen2-VL) ----
// For the members with layout "llama" (the others throw core::Error(kUnsupported)); `config` is
// resolved (DecoderTextConfig): the caller looks tokens up, merges its own features into the
// embeddings (image features at image-token places), and hands them to the decoder layers.
// Weight names are BuildDecoder's ("embed_tokens.weight", "layers.N...", "norm.weight",
// "lm_head.weight"), under the builder's weight prefix.

// HF's inputs_embeds for `input_ids` (int64 [batch, sequence], a graph tensor the caller made):
// float32 [batch, sequence, hidden], and the table, which a tied LM head reuses.
struct DecoderTokens {
  std::string embeddings, table;
};
DecoderTokens DecoderTokenEmbeddings(const HfConfig& config, GraphBuilder& g,
                                     const std::string& input_ids);

struct DecoderEmbeddingsInput {
  // float32 [batch, sequence, hidden]: HF's inputs_embeds (Gemma's sqrt(hidden) scale is applied
  // here, as HF applies it to inputs_embeds).
  std::string embeddings;
  // DecoderTokens::table when the caller looked tokens up; empty: a tied head asks for
  // "embed_tokens.weight" itself (a weight must be asked for once per graph).
  std::string embedding_table;
  // Rotation of q and k, at most one of:
  //  - rope: cos and sin the caller computed, each float32 [P, 1, sequence, rotary_dim] with P
  //    1 or the batch (RopeCosSin's layout; attention scaling already in), e.g. Qwen2-VL's
  //    multimodal sections;
  //  - position_ids: int64 [P, sequence] positions, turned into cos/sin with the config's rope;
  //  - neither: HF's cache positions past_sequence + arange(sequence), as BuildDecoder does.
  RopeTables rope;
  std::string position_ids;
  // true: `embeddings` already carry the model's embedding scale where it has one (Gemma 3 scales
  // in its embedding module, so the image features merged in are not scaled; see
  // DecoderScaleTokenEmbeddings); false: the scale is applied here, to every row.
  bool scaled = false;
  // int64 [batch, sequence] or "": a group id per new token, -1 for none. While nothing is cached
  // (HF's first iteration) a token also sees every token of its group, later ones included: HF's
  // or_mask_function for PaliGemma's prefix and Gemma 3's images; the padding mask still applies.
  std::string bidirectional_groups;
  // The graph output the logits become; "": none (a head of the caller's reads them, ShieldGemma
  // 2's yes/no scores).
  std::string logits_output = "logits";
};

// RMSNorm over the last axis as the decoders compute it: x / sqrt(mean(x^2) + eps) times
// `prefix.weight` [size] (plus one: Gemma's (1 + weight)). For composites' projectors (Gemma 3's
// mm_soft_emb_norm).
std::string DecoderRmsNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                           int64_t size, double eps, bool plus_one);

// `token_embeddings` times the model's embedding scale (Gemma's sqrt(hidden) in float32), or
// unchanged for a model without one; for callers that pass DecoderEmbeddingsInput::scaled.
std::string DecoderScaleTokenEmbeddings(const HfConfig& config, GraphBuilder& g,
                                        const std::string& token_embeddings);

// Adds BuildDecoder's cache inputs (attention_mask, past_key_values.*) and outputs (logits,
// present.*) with the same names, shapes and masking, but not input_ids: the caller declares
// its own inputs. The layers are the plain ones: GraphBuilder::fused() is not used here.
// Returns the logits tensor [batch, sequence, vocab].
std::string BuildDecoderFromEmbeddings(const HfConfig& config, GraphBuilder& g,
                                       const DecoderEmbeddingsInput& in);

}  // namespace ipfs_accel::models
