#pragma once
// The BERT family as ONNX graphs, from one builder: BertModel, RobertaModel, XLMRobertaModel,
// CamembertModel, DistilBertModel, ElectraModel and AlbertModel. Each is embeddings (word +
// position [+ token type], LayerNorm [, a projection to hidden_size]), post-norm self-attention
// layers, and, where the base model has one, a tanh pooler on the first token. An EncoderVariant
// says how one member differs; the graph code is shared.
// Inputs input_ids, attention_mask [, token_type_ids] [batch, sequence] int64; outputs
// last_hidden_state [batch, sequence, hidden] [, pooler_output [batch, hidden]].

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Parameter names, where the LayerNorms sit, and how layers share them (the template piece
// `layout`; EncoderLayoutNames() has each one's names).
enum class EncoderLayout {
  kBert,        // encoder.layer.N.attention.self.query, ..., output.LayerNorm
  kDistilBert,  // transformer.layer.N.attention.q_lin, ..., output_layer_norm; eps fixed 1e-12
  kAlbert,      // encoder.albert_layer_groups.G.albert_layers.J.*, reused across layers
  // Pre-norm (x + f(LayerNorm(x))) with a LayerNorm after the last layer:
  kMegatronBert,  // attention.ln, ln, encoder.ln; no embedding LayerNorm
  kXlmRobertaXl,  // attention.self_attn_layer_norm, LayerNorm, encoder.LayerNorm; none either
  kRobertaPreLayerNorm,  // attention.LayerNorm, intermediate.LayerNorm, the model's LayerNorm
  kMpnet,                // BERT's post-norm layer as attention.attn.q/k/v/o, attention.LayerNorm
  // XLM, FlauBERT: embeddings.weight (token types index it too), attentions.N.q_lin, ...,
  // layer_norm1.N, ffns.N.lin1/lin2, layer_norm2.N; hidden states times the padding mask after
  // the embeddings and after every layer
  kXlm,
  // SqueezeBERT: encoder.layers.N.attention.query, ..., post_attention.conv1d/layernorm,
  // intermediate.conv1d, output.conv1d/layernorm: BERT's post-norm layer whose linears are
  // grouped 1x1 convolutions (Conv1d weights [out, in / groups, 1]; *_groups keys), its layer
  // LayerNorms at eps 1e-12 whatever the config says
  kSqueezeBert,
  // FNet: BERT's post-norm layer with attention replaced by the real part of the 2-D DFT over
  // (sequence, hidden), normed as fourier.output.LayerNorm; no attention mask (FNetModel takes
  // none)
  kFnet,
  // FLAVA's text model: ViT's pre-norm layer names (attention.attention.query, ...,
  // layernorm_before/after) on BERT's embeddings, a final layernorm
  kFlava,
  // TAPAS: BERT's names with one token-type table per column of token_type_ids [batch, sequence,
  // len(type_vocab_sizes)], embeddings.token_type_embeddings_N of type_vocab_sizes[N] rows
  kTapas,
  // AltCLIP's text model: XLM-RoBERTa under roberta.* without its pooler, then pre_LN and the
  // transformation to project_dim; last_hidden_state is that projection, pooler_output its first
  // token
  kAltClip,
  // DPR's encoders: BERT's names; pooler_output is the first token's hidden state, no dense
  kDpr,
  // Jina Embeddings v3 (the base model, without LoRA adapters): XLM-RoBERTa's post-norm layer as
  // layers.N.self_attn.q/k/v/o_proj, post_attention_layernorm, mlp.fc1/fc2, post_mlp_layernorm
  kJina,
  // ESM: pre-norm (attention.LayerNorm before attention, LayerNorm before the FFN) with
  // encoder.emb_layer_norm_after; embeddings.layer_norm only with the embedding_norm piece; the
  // FFN's gelu is the erf one whatever hidden_act says; contact_head.regression [1, layers x
  // heads] is a parameter that only predict_contacts reads: counted, not in the graph
  kEsm,
};

enum class EncoderPositions {
  kSequential,    // 0 .. sequence-1
  kAfterPadding,  // RoBERTa: cumsum(ids != pad) over non-pad tokens, offset by pad; pads get pad
  // RoFormer: no position embeddings; q and k (and v with rotary_value) rotated pairwise by the
  // sinusoidal table encoder.embed_positions [max_position_embeddings, head_dim]
  kRotaryTable,
  // TAPAS' reset_position_index_per_cell: each token's index minus the first index of its table
  // cell (the tokens sharing its column and row ids, token types 1 and 2), at most
  // max_position_embeddings - 1
  kPerCell,
  // LLaMA's rotary embeddings (rotate-half over each head, rotary.h) at positions 0..S-1, their
  // frequencies from rope_parameters / rope_theta (default 10000); no position table
  kRotary,
};

// Embeddings of embedding_size, projected to hidden_size before the layers.
enum class EmbeddingProjection {
  kNone,             // embeddings are hidden_size wide
  kWhenSizesDiffer,  // ELECTRA: "embeddings_project" only when embedding_size != hidden_size
  kAlways,           // ALBERT: "encoder.embedding_hidden_mapping_in"
  kAfterNorm,        // FNet: "embeddings.projection", hidden to hidden after the LayerNorm
};

// A HF config class's keys and defaults (for keys a config.json leaves out).
struct EncoderConfigDefaults {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t embedding_size = 0;  // 0: hidden_size (no embedding_size key)
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";
};

// How one member differs: the template pieces of builder "encoder" (docs/templates.md).
struct EncoderVariant {
  std::string model_type;
  EncoderLayout layout = EncoderLayout::kBert;
  EncoderPositions positions = EncoderPositions::kSequential;
  EmbeddingProjection projection = EmbeddingProjection::kNone;
  bool token_types = true;  // a token_type_ids input and table
  // What token_type_ids hold when a tokenizer makes them: segment ids (BERT) or zeros (RoBERTa's
  // tokenizers send none, and the model then uses zeros); for the input hints.
  bool segment_token_types = true;
  bool pooler = true;
  // LayoutLM: a bbox input [batch, sequence, 4] (x0, y0, x1, y1) and its x, y, height and width
  // tables of max_2d_position_embeddings rows, added to the embeddings.
  bool box_positions = false;
  // BROS: a bbox input float [batch, sequence, 4] whose pairwise box differences, as sinusoids
  // projected by bbox_embeddings.bbox_projection, add q . e[i, j] to every layer's scores
  // (encoder_positions.h BoxRelativeEmbeddings).
  bool box_relative = false;
  // MPNet: T5-style bucketed relative position bias, one table encoder.relative_attention_bias
  // [relative_attention_num_buckets, heads] shared by every layer.
  bool relative_bias = false;
  // The row RoBERTa-style position ids count from; -1: the config's pad_token_id (MPNet fixes 1).
  int64_t position_padding_idx = -1;
  // X-MOD: a bottleneck adapter per language (config.languages) after each layer's FFN, chosen
  // per sample by a lang_ids input [batch]; bert layout only.
  bool language_adapters = false;
  // RoCBert: shape and pronunciation embeddings (inputs input_shape_ids, input_pronunciation_ids)
  // concatenated with the word embeddings and mapped back to hidden_size (map_inputs_layer).
  bool shape_pronunciation = false;
  // BLIP's text model built with is_decoder: each layer's crossattention (query, key and value
  // from encoder_hidden_size, output dense and LayerNorm) is a parameter its encoder-only forward
  // never runs: fetched and counted, not in the graph (layout bert).
  bool unused_cross_attention = false;
  // XLM: intermediate size = this times hidden_size (its config has no intermediate_size); 0: read
  int64_t intermediate_factor = 0;
  // XLM: a boolean config key choosing gelu (true) or relu (false); "": hidden_act
  std::string activation_flag;
  // The layout's embedding LayerNorm is there (ESM: only with emb_layer_norm_before).
  bool embedding_norm = true;
  // ESM's token dropout: mask_token_id's embeddings zeroed and every embedding times
  // (1 - 0.15 * 0.8) / (1 - the row's share of mask tokens), in eval too.
  bool token_dropout = false;
  // The config key the positions were chosen by (ESM: position_embedding_type); "" when fixed.
  std::string positions_key;
  // Longformer: sliding-window attention within attention_window / 2 positions plus global
  // attention (query/key/value_global) for the tokens a global_attention_mask input marks
  // (longformer_attention.h); bert layout only.
  bool longformer_attention = false;
  // VisualBERT: visual_embeds [batch, visual, visual_embedding_dim] projected (visual_projection),
  // plus visual position row 0 and visual token types, appended to the text tokens before the
  // embedding LayerNorm; the mask is attention_mask then visual_attention_mask. bert layout only.
  bool visual_embeds = false;
  // MarkupLM: xpath_tags_seq and xpath_subs_seq [batch, sequence, max_depth] looked up in one
  // table per depth (embeddings.xpath_embeddings.xpath_tag_sub_embeddings.N,
  // xpath_subs_sub_embeddings.N), the two concatenations summed, then xpath_unitseq2_inner, ReLU
  // and inner2emb to hidden_size, added to the embeddings; xpath_unitseq2_embeddings is a
  // parameter its forward never reads: counted, not in the graph.
  bool xpath_embeddings = false;
  // LUKE without entity inputs (LukeModel with entity_ids None): the entity embeddings
  // (entity_embeddings.*) and, with use_entity_aware_attention, each layer's w2e_query,
  // e2w_query and e2e_query are parameters that word-only input never reads: counted, not in the
  // graph. bert layout only.
  bool unused_entities = false;
  EncoderConfigDefaults defaults;
};

// The variant a template's encoder pieces name: {"layout": "bert", "positions": "sequential",
// "projection": "none", "token_types": true, "pooler": true, "box_positions": false,
// "relative_bias": false, "position_padding_idx": null, "intermediate_factor": null,
// "activation_flag": "", "language_adapters": false,
// "shape_pronunciation": false, "token_type_inputs": "segments" | "zeros",
// "embedding_norm": true, "token_dropout": false, "attention": "full" | "longformer",
// "visual_embeds": false, "box_relative": false, "xpath_embeddings": false,
// "unused_entities": false}; a piece left out keeps the value above. Throws
// core::Error(kCorrupt) naming `source` and the piece for an unknown piece or value.
EncoderVariant EncoderVariantFromPieces(const std::string& model_type, const nlohmann::json& pieces,
                                        const std::string& source);

// The variant the pieces of the template that resolved `config` name (HfConfig::Piece; see
// models::ApplyTemplate). `positions` may be an object {"by": key, value: positions, ...}
// choosing by the config's value of key (ESM's position_embedding_type); a value it does not list
// is refused (kUnsupported) naming the key. A "$key" reference to a null key turns
// `embedding_norm` and `token_dropout` off (HF tests them for truth). Throws core::Error(kCorrupt)
// naming the template for an unknown value.
EncoderVariant EncoderVariantOf(const HfConfig& config);

// The sizes a config gives one variant, its defaults filled in and checked.
struct EncoderShape {
  int64_t vocab, hidden, embedding, layers, heads, intermediate, max_positions, type_vocab, pad;
  int64_t hidden_groups, inner_group_num;  // ALBERT's sharing; 1 and 1 elsewhere
  int64_t max_2d_positions = 0;            // box_positions' table rows; 0 without
  int64_t cross_attention_width = 0;       // unused_cross_attention's encoder_hidden_size
  bool rotary_value = false;               // RoFormer's rotary_value: v rotated too
  int64_t relative_buckets = 0;            // relative_bias' table rows; 0 without
  std::vector<std::string> languages;      // language_adapters' languages, in adapter order
  // shape_pronunciation's tables: rows and widths
  int64_t shape_vocab = 0, shape_dim = 0, pronunciation_vocab = 0, pronunciation_dim = 0;
  int64_t adapter_size = 0;                // hidden_size / adapter_reduction_factor
  int64_t mask_token = -1;                 // token_dropout's mask_token_id
  std::vector<int64_t> attention_windows;  // longformer_attention's window per layer, else empty
  int64_t visual_dim = 0;                  // visual_embeds' visual_embedding_dim, else 0
  int64_t box_frequencies = 0;  // box_relative's sinusoid frequencies per coordinate, else 0
  double box_scale = 0;         // box_relative's bbox_scale
  // xpath_embeddings' depth, unit width and tag / subscript table rows, else 0
  int64_t xpath_depth = 0, xpath_unit = 0, xpath_tags = 0, xpath_subs = 0;
  // unused_entities' entity_vocab_size and entity_emb_size, else 0; use_entity_aware_attention
  int64_t entity_vocab = 0, entity_width = 0;
  bool entity_aware = false;
  double eps;
  double layer_eps;  // the layers' LayerNorms (SqueezeBERT fixes 1e-12); eps elsewhere
  // SqueezeBERT's convolution groups of q, k, v, the attention output, FFN in and out
  int64_t q_groups = 0, k_groups = 0, v_groups = 0, attention_output_groups = 0, ffn_in_groups = 0,
          ffn_out_groups = 0;
  std::string act;
  // The longest input whose position ids stay inside the position table.
  int64_t max_sequence = 0;
};
// Throws core::Error: kCorrupt (sizes that do not fit together), kUnsupported (options this
// builder lacks: relative positions, decoder use).
EncoderShape ReadEncoderShape(const HfConfig& config, const EncoderVariant& variant);

// TAPAS' token-type table sizes (type_vocab_sizes, HF's default [3, 256, 256, 2, 256, 256, 10]);
// empty for the other layouts. Throws core::Error(kCorrupt) for a size that is not positive, or
// fewer than three tables under per-cell positions.
std::vector<int64_t> TableTokenTypeSizes(const HfConfig& config, const EncoderVariant& variant);

// One layer's initializer names, whichever layout they come from. Linear weights are stored
// [in, out] for MatMul.
struct EncoderLinear {
  std::string weight, bias;
  // 0: weight is [in, out]; G > 0: a grouped 1x1 convolution, weight [G, in / G, out / G]
  int64_t groups = 0;
};
struct EncoderNorm {
  std::string gamma, beta;
};
struct EncoderLayerWeights {
  EncoderLinear query, key, value, attention_output;
  EncoderNorm attention_norm;
  EncoderLinear ffn_in, ffn_out;
  EncoderNorm output_norm;
  std::vector<EncoderLinear> adapter_down, adapter_up;   // X-MOD: one per language, else empty
  EncoderLinear query_global, key_global, value_global;  // Longformer's, else empty
};

// The graph tensors an encoder is built on, int64 [batch, sequence].
struct EncoderInputs {
  std::string input_ids = "input_ids";
  std::string attention_mask = "attention_mask";
  // Used when the variant has token types; empty: all zeros, as HF makes them when none are given.
  std::string token_type_ids = "token_type_ids";
  std::string bbox = "bbox";  // int64 [batch, sequence, 4], used when the variant has box_positions
  std::string lang_ids = "lang_ids";  // int64 [batch], used when it has language_adapters
  // int64 [batch, sequence], used when it has longformer_attention
  std::string global_attention_mask = "global_attention_mask";
  // float [batch, visual, visual_embedding_dim] and int64 [batch, visual], used when it has
  // visual_embeds
  std::string visual_embeds = "visual_embeds", visual_attention_mask = "visual_attention_mask",
              visual_token_type_ids = "visual_token_type_ids";
  // int64 [batch, sequence], used when it has shape_pronunciation
  std::string shape_ids = "input_shape_ids", pronunciation_ids = "input_pronunciation_ids";
  // int64 [batch, sequence, max_depth], used when it has xpath_embeddings
  std::string xpath_tags = "xpath_tags_seq", xpath_subs = "xpath_subs_seq";
};

// last_hidden_state [batch, sequence, hidden]; pooler_output [batch, hidden], empty when the
// variant has no pooler.
struct EncoderOutputs {
  std::string last_hidden_state, pooler_output;
};

// The encoder of `variant` on `in`, for a composite model's text tower: weights are named under
// g.weight_prefix() (e.g. CLAP's "text_model."), and no graph inputs or outputs are declared.
// Non-empty `names` name the output tensors. When g.fused(), the mask must be the graph input
// "attention_mask" (ONNX Runtime's Attention reads it); otherwise throws core::Error(kInternal).
EncoderOutputs BuildEncoderOn(const HfConfig& config, const EncoderVariant& variant,
                              GraphBuilder& g, const EncoderInputs& in,
                              const EncoderOutputs& names = {});

// The additive mask HF's eager attention adds, from attention_mask [batch, sequence] int64:
// (1 - mask) * finfo(float32).min, [batch, 1, 1, sequence].
std::string AdditiveAttentionMask(GraphBuilder& g, const std::string& attention_mask);

// Weight names are the base model's ("embeddings.word_embeddings.weight", ...); each distinct
// weight is asked for once, so ALBERT's shared layers count once. When g.fused(), the layers use
// ONNX Runtime's contrib operators (encoder_fused.h); the outputs are the same.
void BuildEncoder(const HfConfig& config, const EncoderVariant& variant, GraphBuilder& g);

}  // namespace ipfs_accel::models
