#include "decoder_builder.h"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "alibi.h"
#include "decoder_blocks.h"
#include "decoder_fused.h"
#include "decoder_layer_pieces.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"
#include "mla.h"
#include "moe.h"
#include "piece_enum.h"
#include "piece_object.h"
#include "rotary.h"
#include "sinusoid_graph.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// kLayerNormPlusOne: Nemotron's LayerNorm1P, a LayerNorm whose scale is weight + 1.
enum class NormKind {
  kLayerNorm,
  kLayerNormNoBias,
  kLayerNormPlusOne,
  kRms,
  kRmsPlusOne,
  kRmsNoWeight
};
// The block structure and its weight names (the template's `layout` piece); kBlocks takes
// both from the template's data (decoder_blocks.h).
enum class Layout { kLlama, kPhi, kGptNeox, kGpt2, kOpt, kBlocks };

enum class MlpKind { kGated, kGatedFused, kPlain, kFc };
enum class QkNormKind { kNone, kProjection };  // per head: DecoderShape::qk_norm

// The LLaMA-like layer's template pieces beyond LLaMA's own (docs/templates.md). The defaults
// are LLaMA; `plain` says none is set, so the graph is the LLaMA-like one unchanged.
struct LlamaVariant {
  bool plain = true;
  bool fused_qkv = false;  // Phi-3's self_attn.qkv_proj
  MlpKind mlp = MlpKind::kGated;
  // The norms around the two branches, by weight name; empty for none. A post-norm applies to
  // the branch's output, before the residual add.
  std::string pre_attention = "input_layernorm", post_attention;
  std::string pre_mlp = "post_attention_layernorm", post_mlp;
  QkNormKind qk_norm = QkNormKind::kNone;
  bool qk_norm_after_rope = false;  // NanoChat
  // The q/k norms' names under self_attn. (HunYuan: query_layernorm, key_layernorm)
  std::string q_norm = "q_norm", k_norm = "k_norm";
  std::vector<bool> rope_layers;  // per layer: rotates q and k; empty: every layer does
  bool local_rope = false;        // Gemma 3: sliding layers rotate with `local`
  RopeSpec local;
  float embedding_scale = 1, residual_scale = 1;
  float attention_scale = 0;  // 0: head_dim^-0.5
  float attn_softcap = 0, final_softcap = 0;
  float logits_divisor = 1, logits_multiplier = 1;
  float head_input_divisor = 1;  // MiniCPM: hidden states / (hidden_size / dim_model_base)
  bool sub_norms = false;        // BitNet's attn_sub_norm and ffn_sub_norm
  // The attention's output times act(self_attn.<output_gate>(x)) before o_proj; "": none. AFMoE:
  // sigmoid, one gate per feature; Laguna: softplus, one gate per head.
  std::string output_gate, output_gate_act = "Sigmoid";
  bool output_gate_per_head = false;
  bool embedding_norm = false;  // NanoChat normalises the embeddings with the final norm
  // MuseGlimmer: a weightless RMSNorm after the embedding (`embedding_norm` "no_weight"), the
  // final norm a plain RMSNorm whatever `norm` says (`final_norm` "rms"), post-norms with their
  // own eps (`post_norm_eps`), weightless per-head q/k norms (`qk_norm` "head_rms_no_weight")
  // and queries times `query_multiplier`.
  bool embedding_norm_no_weight = false, final_norm_rms = false, qk_norm_no_weight = false;
  double post_norm_eps = 0;  // 0: the norms' eps
  float query_multiplier = 1;
  double llama4_beta = 0, llama4_original_max = 0;  // Ministral 3's query scale; 0: none
  bool sinks = false;                               // GraniteSWA's self_attn.sinks
  bool differential = false;                        // DiffLlama's attention (DifferentialAttend)
  // Multi-head latent attention (DeepSeek V3's, Youtu): low-rank q (q_lora_rank, 0: a plain
  // q_proj) and kv (kv_lora_rank) projections; q/k heads of nope + rope features; rope on the
  // last `mla_rope` features, de-interleaved first when `mla_rope_interleave`.
  bool mla = false;
  int64_t q_lora = 0, kv_lora = 0, mla_nope = 0, mla_rope = 0;
  bool mla_rope_interleave = false;
  // GraniteSWA's layer_rope_theta: each layer's rope base, 0 for none; empty: rope_theta.
  std::vector<double> layer_thetas;
  std::map<double, RopeSpec> theta_ropes;  // by base, for layer_thetas
};

// Everything the graph depends on, read once from a config its template resolved
// (ApplyTemplate: HF's defaults filled in, the pieces attached; docs/templates.md).
struct DecoderShape {
  Layout layout = Layout::kLlama;
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int64_t intermediate = 0, max_positions = 0;
  double eps = 1e-5;
  std::string act;
  bool tied = false;
  NormKind norm = NormKind::kRms;
  bool qkv_bias = false, o_bias = false, mlp_bias = false;
  bool qk_norm = false;           // Qwen3 q_norm/k_norm (RMS), Phi q_layernorm/k_layernorm
  std::vector<int64_t> windows;   // per layer: sliding window, 0 for full causal attention
  RopeSpec rope;                  // rotary_dim 0: learned absolute positions instead
  bool scale_embeddings = false;  // Gemma: embeddings times sqrt(hidden)
  // GPT-2
  bool scale_attn_weights = true, scale_by_inverse_layer = false;
  // OPT
  int64_t word_embed_dim = 0;
  bool pre_norm = true, final_norm = true, norm_affine = true;
  // GPT-NeoX
  bool parallel_residual = true;
  // OLMoE, MiniMax-M2: RMSNorm over the whole q and k projections (qk_norm "projection_rms")
  bool qk_norm_projection = false;
  // The `mlp` piece "moe": the block, its weight prefix in the layer, and which layers have it.
  std::optional<MoeSpec> moe;
  std::string moe_block = "mlp.";
  std::vector<bool> moe_layers;
  std::string moe_output_norm;  // A.X-K1's norm on the MoE block's output; "": none
  int64_t head_rows = 0;        // the LM head's rows where not vocab (GLM-Image); 0: vocab
  // The `attention` piece "mla" (DeepSeek): keys and values of their own widths in the cache.
  std::optional<MlaSpec> mla;
  int64_t key_dim() const { return mla ? mla->key_dim() : head_dim; }
  int64_t value_dim() const {
    return mla ? mla->value_dim : v_head_dim > 0 ? v_head_dim : head_dim;
  }
  LlamaVariant variant;
  int64_t v_head_dim = 0;  // values' head size where it is not head_dim (MLA); 0: head_dim
  // Layout "blocks"
  BlockSpec blocks;
};

int64_t ValueHeadDim(const DecoderShape& s) { return s.value_dim(); }

// A key whose explicit null means "off" (sliding_window), unlike an absent key.
int64_t IntOrNullAsZero(const HfConfig& c, const std::string& key, int64_t absent) {
  if (!c.json().contains(key)) return absent;
  return c.Has(key) ? c.Int(key) : 0;
}

void Refuse(const HfConfig& c, bool condition, const std::string& what) {
  if (condition)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': {} is not supported by the decoder builder; export the "
                            "model to .onnx and pass that file instead",
                            c.origin(), what));
}

void CheckHeads(const HfConfig& c, const DecoderShape& s, bool head_dim_from_hidden) {
  if (s.heads <= 0 || s.kv_heads <= 0 || s.heads % s.kv_heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': num_attention_heads {} is not a multiple of "
                            "num_key_value_heads {}",
                            c.origin(), s.heads, s.kv_heads));
  if (head_dim_from_hidden && s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden size {} is not a multiple of {} attention heads",
                            c.origin(), s.hidden, s.heads));
  if (s.head_dim <= 0 || s.layers <= 0 || s.vocab <= 0)
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': head_dim, layer count and vocabulary must be positive", c.origin()));
}

// `window` on the layers the config's layer_types call sliding_attention, 0 on full_attention.
std::vector<int64_t> LayerTypeWindows(const HfConfig& c, int64_t layers, int64_t window) {
  const auto& types = c.json()["layer_types"];
  if (!types.is_array() || static_cast<int64_t>(types.size()) != layers)
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': layer_types must list one type per layer ({})", c.origin(), layers));
  std::vector<int64_t> windows(layers, 0);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string type = types[l].is_string() ? types[l].get<std::string>() : "";
    Refuse(c, type != "full_attention" && type != "sliding_attention",
           fmt::format("layer type '{}'", type));
    if (type == "sliding_attention") windows[l] = window;
  }
  return windows;
}

// Qwen2/Qwen3: layer_types when given, else sliding layers from max_window_layers on; the window
// only with use_sliding_window, unless `ungated` (dots.llm1, which has no such switch).
std::vector<int64_t> QwenWindows(const HfConfig& c, int64_t layers, bool ungated = false) {
  const int64_t window = ungated || c.Bool("use_sliding_window", false)
                             ? IntOrNullAsZero(c, "sliding_window", 4096)
                             : 0;
  if (c.Has("layer_types")) return LayerTypeWindows(c, layers, window);
  std::vector<int64_t> windows(layers, 0);
  const int64_t first_sliding = c.Int("max_window_layers", 28);
  for (int64_t l = first_sliding; l < layers; ++l) windows[l] = window;
  return windows;
}

// Cohere2: layer_types, or when null every sliding_window_pattern-th layer full, the rest sliding.
std::vector<int64_t> PatternWindows(const HfConfig& c, int64_t layers) {
  const int64_t window = IntOrNullAsZero(c, "sliding_window", 0);
  if (c.Has("layer_types")) return LayerTypeWindows(c, layers, window);
  const int64_t pattern = c.Int("sliding_window_pattern", 4);
  if (pattern <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': sliding_window_pattern must be positive", c.origin()));
  std::vector<int64_t> windows(layers, 0);
  for (int64_t l = 0; l < layers; ++l)
    if ((l + 1) % pattern != 0) windows[l] = window;
  return windows;
}

// GPT-Neo: attention_types [[["global", "local"], n], ...] expands to one type per layer; the
// local layers see window_size tokens.
std::vector<int64_t> GptNeoWindows(const HfConfig& c, int64_t layers) {
  const int64_t window = c.Int("window_size", 256);
  std::vector<int64_t> windows;
  const auto& groups = c.json().value("attention_types", nlohmann::json::array());
  for (const auto& group : groups) {
    const bool well_formed = group.is_array() && group.size() == 2 && group[0].is_array() &&
                             group[1].is_number_integer() && group[1].get<int64_t>() >= 0 &&
                             group[1].get<int64_t>() <= layers;
    if (!well_formed)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': attention_types entry {} is not [[types...], count]",
                              c.origin(), group.dump()));
    for (int64_t n = 0; n < group[1].get<int64_t>(); ++n)
      for (const auto& type : group[0]) {
        const std::string t = type.is_string() ? type.get<std::string>() : type.dump();
        Refuse(c, t != "global" && t != "local", fmt::format("attention type '{}'", t));
        windows.push_back(t == "local" ? window : 0);
      }
  }
  if (static_cast<int64_t>(windows.size()) != layers)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': attention_types give {} layers, the config has {}", c.origin(),
                            windows.size(), layers));
  return windows;
}

// A number in a piece's object (e.g. layer_types_default's "full_every"): a literal, or for
// "$key" the config's value of key; `fallback` when absent or null.
double NestedNumber(const HfConfig& c, const nlohmann::json& object, const std::string& name,
                    double fallback) {
  if (!object.is_object() || !object.contains(name)) return fallback;
  nlohmann::json v = object[name];
  if (v.is_string() && v.get<std::string>().rfind('$', 0) == 0) {
    const std::string key = v.get<std::string>().substr(1);
    v = c.json().contains(key) ? c.json()[key] : nlohmann::json(nullptr);
  }
  if (v.is_null()) return fallback;
  if (!v.is_number())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': template '{}' has {} {}, not a number",
                                                 c.origin(), c.template_name(), name, v.dump()));
  return v.get<double>();
}

// Which layers are sliding by type: layer_types, else `layer_types_default` ({"full_every": N or
// "$key", "full_first": bool, "from_last": bool}).
std::vector<bool> SlidingByType(const HfConfig& c, int64_t layers) {
  const nlohmann::json pattern = c.Piece("layer_types_default");
  auto flag = [&](const char* key) { return pattern.is_object() && pattern.value(key, false); };
  return SlidingLayers(c, layers, static_cast<int64_t>(NestedNumber(c, pattern, "full_every", 0)),
                       flag("full_first"), flag("from_last"));
}

// Per-layer windows from layer_types, else `layer_types_default` (SlidingByType); the window is
// the config's sliding_window (null: none slide).
std::vector<int64_t> LayerTypeWindows(const HfConfig& c, int64_t layers) {
  const nlohmann::json pattern = c.Piece("layer_types_default");
  const int64_t window = c.Has("sliding_window") ? c.Int("sliding_window") : 0;
  // Ministral: without layer_types every layer slides ("all_sliding")
  if (pattern.is_object() && pattern.value("all_sliding", false) && !c.Has("layer_types"))
    return std::vector<int64_t>(layers, window);
  const std::vector<bool> sliding = SlidingByType(c, layers);
  std::vector<int64_t> windows(layers, 0);
  for (int64_t l = 0; l < layers; ++l) windows[l] = sliding[l] ? window : 0;
  return windows;
}

std::vector<int64_t> ReadWindows(const HfConfig& c, int64_t layers) {
  const std::string mode = c.PieceString("sliding_window", "none");
  if (mode == "all") return std::vector<int64_t>(layers, IntOrNullAsZero(c, "sliding_window", 0));
  if (mode == "qwen") return QwenWindows(c, layers);
  if (mode == "max_window_layers") return QwenWindows(c, layers, true);
  if (mode == "layer_types") return LayerTypeWindows(c, layers);
  if (mode == "pattern") return PatternWindows(c, layers);
  if (mode == "gpt_neo") return GptNeoWindows(c, layers);
  Refuse(c, mode != "none", fmt::format("sliding_window piece '{}'", mode));
  return std::vector<int64_t>(layers, 0);
}

// Gemma 3's transformers 5 form: rope_parameters keyed by layer type.
bool RopePerLayerType(const HfConfig& c) {
  for (const char* key : {"rope_scaling", "rope_parameters"})
    if (c.Has(key) && c.json()[key].is_object() && c.json()[key].contains("sliding_attention"))
      return true;
  return false;
}

// The `rope` piece: the config keys of the rope's base and rotated fraction, or null for
// learned absolute positions.
RopeSpec ReadRopePiece(const HfConfig& c, const DecoderShape& s, int64_t rotated_head_dim) {
  const nlohmann::json piece = c.Piece("rope");
  if (piece.is_null()) return {};
  if (piece.value("per_layer_type", false) && RopePerLayerType(c)) return {};  // ReadLocalRope
  const auto key = [&piece](const char* name, const std::string& fallback) {
    const std::string k = piece.value(name, fallback);  // "$key" or "key"
    return k.rfind('$', 0) == 0 ? k.substr(1) : k;
  };
  RopeKeys keys;
  keys.theta = key("theta", keys.theta);
  keys.partial_rotary_factor = key("partial_rotary_factor", keys.partial_rotary_factor);
  keys.default_partial_rotary_factor =
      piece.value("default_partial_rotary_factor", keys.default_partial_rotary_factor);
  keys.rotary_dim = key("rotary_dim", "");  // GPT-J: the rotated features as a count
  RopeSpec spec = ReadRope(c, rotated_head_dim, s.max_positions, keys);
  spec.interleaved = piece.value("interleaved", false);
  return spec;
}

// The `mlp` piece: "gated" (the default) or "moe" with its `moe` object (moe.h).
void ReadMoe(const HfConfig& c, DecoderShape& s) {
  // Other MLP kinds (plain, fc, gated_fused) are LlamaVariant's, which checks their names.
  if (c.PieceString("mlp", "gated") != "moe") return;
  const nlohmann::json piece = c.Piece("moe");
  s.moe = ReadMoeSpec(c, piece, s.hidden, s.act);
  s.moe_block = ObjectPieceString(c, piece, "block", s.moe_block);
  s.moe_output_norm = ObjectPieceString(c, piece, "output_norm", "");
  for (int64_t l = 0; l < s.layers; ++l) s.moe_layers.push_back(MoeLayer(c, piece, l));
}

void ReadQueryPositionScale(const HfConfig& c, LlamaVariant& v);

// The `attention` piece: "scaled_dot_product" (the default) or "mla" (mla.h), whose rotary part
// sets the rope and whose heads each keep their own keys and values.
void ReadAttention(const HfConfig& c, DecoderShape& s) {
  const std::string attention = c.PieceString("attention", "scaled_dot_product");
  if (attention == "scaled_dot_product") return;
  if (attention != "mla")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': template '{}' has attention '{}', which the decoder builder "
                            "does not know (scaled_dot_product, mla)",
                            c.origin(), c.template_name(), attention));
  s.mla = ReadMlaSpec(c, s.hidden, s.heads);
  s.kv_heads = s.heads;
  // Mistral 4: the rope's partial_rotary_factor is of qk_nope + qk_rope, not of qk_rope.
  const bool of_key = c.Piece("mla_rope_of_key") == true;
  s.rope = ReadRopePiece(c, s, of_key ? s.mla->key_dim() : s.mla->rope_dim);
  Refuse(c, s.rope.rotary_dim != s.mla->rope_dim,
         fmt::format("a rotary part of {} features in a latent attention whose qk_rope_head_dim "
                     "is {}",
                     s.rope.rotary_dim, s.mla->rope_dim));
  ReadQueryPositionScale(c, s.variant);  // Mistral 4's LLaMA 4 query scale
}

// ---- Reading the LlamaVariant pieces (docs/templates.md) ----

void ReadBlockNorms(const HfConfig& c, LlamaVariant& v) {
  const nlohmann::json norms = c.Piece("block_norms");
  if (norms.is_null()) return;
  auto name = [&](const char* position, const std::string& fallback) {
    if (!norms.contains(position)) return fallback;
    const nlohmann::json& n = norms[position];
    if (n.is_null()) return std::string();
    if (!n.is_string())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': block_norms.{} must be a name or null", c.origin(), position));
    return n.get<std::string>();
  };
  v.pre_attention = name("pre_attention", v.pre_attention);
  v.post_attention = name("post_attention", v.post_attention);
  v.pre_mlp = name("pre_mlp", v.pre_mlp);
  v.post_mlp = name("post_mlp", v.post_mlp);
}

// Which layers rotate q and k (`rope_layers`): all, SmolLM3's list, or EXAONE 4's sliding ones.
std::vector<bool> ReadRopeLayers(const HfConfig& c, const DecoderShape& s) {
  const std::string kind = c.PieceString("rope_layers", "all");
  if (kind == "no_rope_layers") return NoRopeLayers(c, s.layers);
  if (kind == "sliding_types") return SlidingByType(c, s.layers);  // MuseGlimmer: NoPE when full
  if (kind == "sliding") {
    std::vector<bool> rope(s.layers, true);
    if (!c.Has("sliding_window")) return rope;
    for (int64_t l = 0; l < s.layers; ++l) rope[l] = s.windows[l] > 0;
    return rope;
  }
  Refuse(c, kind != "all", fmt::format("rope_layers piece '{}'", kind));
  return {};
}

// Gemma 3: rope_parameters per layer type (transformers 5), else the legacy rope_local_base_freq
// for the sliding layers' rotation. `s.rope` is the full layers' one.
void ReadLocalRope(const HfConfig& c, const nlohmann::json& rope_piece, DecoderShape& s) {
  LlamaVariant& v = s.variant;
  v.local_rope = true;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!c.Has(key) || !c.json()[key].contains("sliding_attention")) continue;
    for (const char* type : {"full_attention", "sliding_attention"}) {
      nlohmann::json flat = c.json();
      flat.erase("rope_scaling");
      flat["rope_parameters"] = c.json()[key][type];
      const RopeSpec spec = ReadRope(HfConfig(flat, c.origin()), s.head_dim, s.max_positions);
      (std::string(type) == "full_attention" ? s.rope : v.local) = spec;
    }
    return;
  }
  nlohmann::json flat = c.json();
  flat.erase("rope_scaling");
  flat.erase("rope_parameters");
  flat["rope_theta"] = NestedNumber(c, rope_piece, "sliding_theta", 10000.0);
  v.local = ReadRope(HfConfig(flat, c.origin()), s.head_dim, s.max_positions);
}

// Ministral 3's LLaMA 4 query scale: beta and the pretraining length from rope_parameters.
void ReadQueryPositionScale(const HfConfig& c, LlamaVariant& v) {
  const std::string kind = c.PieceString("query_position_scale", "none");
  if (kind == "none") return;
  Refuse(c, kind != "llama4", fmt::format("query_position_scale piece '{}'", kind));
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!c.Has(key)) continue;
    const nlohmann::json& p = c.json()[key];
    if (!p.contains("llama_4_scaling_beta")) continue;
    v.llama4_beta = p["llama_4_scaling_beta"].get<double>();
    v.llama4_original_max = p.value("original_max_position_embeddings", 0.0);
  }
  if (v.llama4_beta != 0 && v.llama4_original_max <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': llama_4_scaling_beta needs rope parameters' "
                            "original_max_position_embeddings",
                            c.origin()));
}

// GraniteSWA's layer_rope_theta (`layer_rope_theta` piece true): a rope base per layer, 0 for
// none; a list of one base is the usual rotation.
void ReadLayerThetas(const HfConfig& c, DecoderShape& s) {
  if (c.Piece("layer_rope_theta") != true || !c.Has("layer_rope_theta")) return;
  const nlohmann::json& thetas = c.json()["layer_rope_theta"];
  if (!thetas.is_array() || static_cast<int64_t>(thetas.size()) != s.layers)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': layer_rope_theta must list one base per "
                                                 "layer ({})",
                                                 c.origin(), s.layers));
  LlamaVariant& v = s.variant;
  for (const nlohmann::json& t : thetas) {
    if (!t.is_number())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': layer_rope_theta holds a non-number", c.origin()));
    const double theta = t.get<double>();
    v.layer_thetas.push_back(theta);
    if (theta == 0 || v.theta_ropes.count(theta)) continue;
    nlohmann::json flat = c.json();
    flat.erase("rope_scaling");
    nlohmann::json params =
        c.Has("rope_parameters") ? c.json()["rope_parameters"] : nlohmann::json::object();
    params["rope_theta"] = theta;
    flat["rope_parameters"] = params;
    v.theta_ropes[theta] = ReadRope(HfConfig(flat, c.origin()), s.head_dim, s.max_positions);
  }
}

// Multi-head latent attention (`attention`: "mla"): its sizes from the config, the head sizes
// and rope that replace the shape's (q/k heads of nope + rope features, values of v_head_dim).
void ReadMla(const HfConfig& c, DecoderShape& s) {
  LlamaVariant& v = s.variant;
  v.mla = true;
  v.q_lora = c.Has("q_lora_rank") ? c.Int("q_lora_rank") : 0;
  v.kv_lora = c.Int("kv_lora_rank");
  v.mla_nope = c.Int("qk_nope_head_dim");
  v.mla_rope = c.Int("qk_rope_head_dim");
  v.mla_rope_interleave = c.Piece("mla_rope_interleave") == true;
  s.head_dim = v.mla_nope + v.mla_rope;
  s.v_head_dim = c.Int("v_head_dim", s.hidden / s.heads);  // MiniCPM3: null is hidden / heads
  if (s.kv_heads != s.heads)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': multi-head latent attention has as many key/value heads as "
                            "query heads ({}), not {}",
                            c.origin(), s.heads, s.kv_heads));
  s.rope = ReadRope(c, v.mla_rope, s.max_positions);
  if (s.rope.rotary_dim != v.mla_rope || s.rope.attention_scaling != 1.0f ||
      (c.Has("rope_parameters") &&
       c.json()["rope_parameters"].value("rope_type", "default") != "default"))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': rope scaling or partial rotary with multi-head latent attention "
                            "(DeepSeek's softmax mscale) is not supported yet",
                            c.origin()));
}

// `attention_output_gate`: a name (a sigmoid gate per feature), or {"name", "activation":
// "sigmoid" or "softplus", "per_head": bool}.
void ReadOutputGate(const HfConfig& c, LlamaVariant& v) {
  const nlohmann::json gate = c.Piece("attention_output_gate");
  if (gate.is_string()) v.output_gate = gate.get<std::string>();
  if (!gate.is_object()) return;
  v.output_gate = gate.value("name", "");
  const std::string act = gate.value("activation", "sigmoid");
  Refuse(c, act != "sigmoid" && act != "softplus", fmt::format("output gate activation '{}'", act));
  v.output_gate_act = act == "softplus" ? "Softplus" : "Sigmoid";
  v.output_gate_per_head = gate.value("per_head", false);
}

// The norm and query pieces MuseGlimmer's layer adds (LlamaVariant's comment).
void ReadMuseGlimmerPieces(const HfConfig& c, LlamaVariant& v) {
  v.embedding_norm_no_weight = c.Piece("embedding_norm") == "no_weight";
  v.final_norm_rms = c.Piece("final_norm") == "rms";
  v.qk_norm_no_weight = c.Piece("qk_norm") == "head_rms_no_weight";
  v.post_norm_eps = c.PieceDouble("post_norm_eps", 0);
  v.query_multiplier = static_cast<float>(c.PieceDouble("query_multiplier", 1));
}

// The LlamaVariant pieces of a template, after the shape's sizes, windows and rope are read.
void ReadLlamaVariant(const HfConfig& c, DecoderShape& s) {
  LlamaVariant& v = s.variant;
  v.fused_qkv = PieceEnum<bool>(c, "attention_projections", "separate",
                                {{"separate", false}, {"fused_qkv", true}});
  if (!s.moe)  // a mixture of experts' dense layers keep the gated MLP
    v.mlp = PieceEnum<MlpKind>(c, "mlp", "gated",
                               {{"gated", MlpKind::kGated},
                                {"gated_fused", MlpKind::kGatedFused},
                                {"plain", MlpKind::kPlain},
                                {"fc", MlpKind::kFc}});
  ReadBlockNorms(c, v);
  // head_rms is the LLaMA-like path's own (DecoderShape::qk_norm); projection_rms is OLMo 2's.
  // The piece may be a boolean reference (GLM-4.5's use_qk_norm: head_rms or none).
  if (s.qk_norm_projection) v.qk_norm = QkNormKind::kProjection;
  v.qk_norm_after_rope = c.Piece("qk_norm_after_rope") == true;
  if (const nlohmann::json names = c.Piece("qk_norm_names"); names.is_object()) {
    v.q_norm = names.value("q", v.q_norm);
    v.k_norm = names.value("k", v.k_norm);
  }
  v.rope_layers = ReadRopeLayers(c, s);
  const nlohmann::json rope_piece = c.Piece("rope");
  const nlohmann::json rope = rope_piece.is_object() ? rope_piece : nlohmann::json::object();
  if (rope.value("per_layer_type", false)) ReadLocalRope(c, rope, s);
  s.rope.interleaved = rope.value("interleaved", s.rope.interleaved);
  s.rope.negate_sin = rope.value("negate_sin", false);
  if (c.Piece("embedding_scale").is_number())  // Granite's embedding_multiplier
    v.embedding_scale = static_cast<float>(c.PieceDouble("embedding_scale", 1));
  v.residual_scale = static_cast<float>(c.PieceDouble("residual_scale", 1));
  // MiniCPM's muP: residual branches times scale_depth / sqrt(layers), the LM head's input
  // divided by hidden_size / dim_model_base.
  const double depth = c.PieceDouble("residual_scale_depth", 0);
  if (depth > 0) v.residual_scale = static_cast<float>(depth / std::sqrt(double(s.layers)));
  const double base = c.PieceDouble("head_input_base", 0);
  if (base > 0) v.head_input_divisor = static_cast<float>(double(s.hidden) / base);
  v.attention_scale = static_cast<float>(c.PieceDouble("attention_scale", 0));
  const double query_scalar = c.PieceDouble("query_pre_attn_scalar", 0);
  if (query_scalar > 0) v.attention_scale = static_cast<float>(std::pow(query_scalar, -0.5));
  v.attn_softcap = static_cast<float>(c.PieceDouble("attn_logit_softcapping", 0));
  v.final_softcap = static_cast<float>(c.PieceDouble("final_logit_softcapping", 0));
  v.logits_divisor = static_cast<float>(c.PieceDouble("logits_divisor", 1));
  v.logits_multiplier = static_cast<float>(c.PieceDouble("logits_multiplier", 1));
  v.sub_norms = c.Piece("sub_norms") == true;
  ReadOutputGate(c, v);
  v.embedding_norm = c.Piece("embedding_norm") == true;
  ReadMuseGlimmerPieces(c, v);
  ReadQueryPositionScale(c, v);
  v.sinks = c.Piece("attention_sinks") == true;
  const std::string attention = c.PieceString("attention", "scaled_dot_product");
  v.differential = attention == "differential";
  if (attention == "mla") ReadMla(c, s);
  if (v.differential && (s.heads % 2 != 0 || s.rope.rotary_dim == 0))
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': differential attention needs an even "
                                                 "number of heads and rotary positions",
                                                 c.origin()));
  ReadLayerThetas(c, s);
  v.plain = !v.sinks && !v.differential && !v.mla && v.layer_thetas.empty() && !v.fused_qkv &&
            v.mlp == MlpKind::kGated && v.pre_attention == "input_layernorm" &&
            v.post_attention.empty() && v.pre_mlp == "post_attention_layernorm" &&
            v.post_mlp.empty() && (v.qk_norm == QkNormKind::kNone || s.moe) &&
            v.q_norm == "q_norm" && v.k_norm == "k_norm" && v.rope_layers.empty() &&
            !v.local_rope && !s.rope.negate_sin && v.embedding_scale == 1 &&
            v.residual_scale == 1 && v.attention_scale == 0 && v.attn_softcap == 0 &&
            v.final_softcap == 0 && v.logits_divisor == 1 && v.logits_multiplier == 1 &&
            v.head_input_divisor == 1 && !v.sub_norms && !v.embedding_norm && v.llama4_beta == 0 &&
            v.output_gate.empty() && !v.embedding_norm_no_weight && !v.final_norm_rms &&
            !v.qk_norm_no_weight && v.post_norm_eps == 0 && v.query_multiplier == 1 &&
            s.norm != NormKind::kRmsNoWeight;
}

// The `gqa` piece false: every head has its own keys and values, head_dim is hidden / heads
// (GPT-2, OPT, GPT-NeoX have no keys for either).
void ReadSizes(const HfConfig& c, DecoderShape& s) {
  s.vocab = c.Int("vocab_size");
  s.hidden = c.Int("hidden_size");
  s.layers = c.Int("num_hidden_layers");
  s.heads = c.Int("num_attention_heads");
  const bool gqa = c.PieceBool("gqa", true);
  s.kv_heads = gqa ? c.Int("num_key_value_heads", s.heads) : s.heads;
  if (c.PieceBool("multi_query", false)) s.kv_heads = 1;  // GPTBigCode, Falcon
  s.head_dim = gqa ? c.Int("head_dim", s.hidden / std::max<int64_t>(s.heads, 1))
                   : s.hidden / std::max<int64_t>(s.heads, 1);
  s.intermediate = c.Int("intermediate_size", 4 * s.hidden);  // null (GPT-2's n_inner): 4 x hidden
  if (const double multiple = c.PieceDouble("intermediate_multiple", 0); multiple > 0)
    s.intermediate = static_cast<int64_t>(static_cast<double>(s.hidden) * multiple);
  // BLOOM's ALiBi has no position limit in its config: the template names one.
  s.max_positions = c.Has("max_position_embeddings")
                        ? c.Int("max_position_embeddings")
                        : static_cast<int64_t>(c.PieceDouble("max_positions", 0));
  s.act = c.PieceString("activation", c.String("hidden_act", "silu"));
  if (const nlohmann::json names = c.Piece("activation_names"); names.contains(s.act))
    s.act = names[s.act].get<std::string>();  // GPT-1's "gelu" is gelu_new
  s.tied = c.Bool("tie_word_embeddings", false);
  // GLM-Image: the head predicts vision_vocab_size image tokens, not the input vocabulary.
  s.head_rows = static_cast<int64_t>(c.PieceDouble("head_vocab", 0));
  Refuse(c, s.head_rows > 0 && s.tied, "a tied LM head of another size than the vocabulary");
}

void ReadBlocks(const HfConfig& c, DecoderShape& s) {
  s.blocks = ReadBlockSpec(c);
  if (s.blocks.form == BlockForm::kParallel && !s.parallel_residual)
    s.blocks.form = BlockForm::kSequential;  // StableLM, Falcon: parallel_attn false
  Refuse(c, s.qk_norm && s.blocks.names.q_norm.empty(),
         fmt::format("q/k normalisation in template '{}'", c.template_name()));
  Refuse(c, s.head_rows > 0, "head_vocab with the blocks layout");
  Refuse(c, s.tied && s.blocks.lm_head_rows != 0,
         "a tied LM head of another size than the vocabulary");
  Refuse(c, s.blocks.qkv == QkvForm::kCodegen && s.heads % 4 != 0,
         "a CodeGen head count that is not a multiple of its 4 qkv shards");
}

DecoderShape ReadDecoderShape(const HfConfig& c) {
  DecoderShape s;
  s.layout = PieceEnum<Layout>(c, "layout", "llama",
                               {{"llama", Layout::kLlama},
                                {"phi", Layout::kPhi},
                                {"gpt_neox", Layout::kGptNeox},
                                {"gpt2", Layout::kGpt2},
                                {"opt", Layout::kOpt},
                                {"blocks", Layout::kBlocks}});
  ReadSizes(c, s);
  s.eps = c.PieceDouble("norm_eps", 1e-6);
  s.norm = PieceEnum<NormKind>(c, "norm", "rms",
                               {{"rms", NormKind::kRms},
                                {"rms_plus_one", NormKind::kRmsPlusOne},
                                {"rms_no_weight", NormKind::kRmsNoWeight},
                                {"layernorm", NormKind::kLayerNorm},
                                {"layernorm_no_bias", NormKind::kLayerNormNoBias},
                                {"layernorm_plus_one", NormKind::kLayerNormPlusOne}});
  s.qkv_bias = c.PieceBool("qkv_bias", false);
  s.o_bias = c.PieceBool("o_bias", false);
  s.mlp_bias = c.PieceBool("mlp_bias", false);
  const nlohmann::json qk_norm = c.Piece("qk_norm");  // "head_rms"..., or a boolean reference
  s.qk_norm_projection = qk_norm.is_string() && qk_norm.get<std::string>() == "projection_rms";
  s.qk_norm = qk_norm.is_boolean()
                  ? qk_norm.get<bool>()
                  : !s.qk_norm_projection && c.PieceString("qk_norm", "none") != "none";
  // "sqrt_hidden", a boolean reference (the blocks layout), or a number (Granite)
  const nlohmann::json scale = c.Piece("embedding_scale");
  s.scale_embeddings = scale.is_boolean() ? scale.get<bool>() : scale == "sqrt_hidden";
  s.scale_attn_weights = c.PieceBool("scale_attn_weights", true);
  s.scale_by_inverse_layer = c.PieceBool("scale_attn_by_inverse_layer_idx", false);
  s.word_embed_dim = c.Int("word_embed_proj_dim", s.hidden);
  s.pre_norm = c.PieceBool("pre_norm", true);
  s.final_norm = s.pre_norm && !c.PieceBool("remove_final_norm", false);
  s.norm_affine = c.PieceBool("norm_affine", true);
  s.parallel_residual = c.PieceBool("parallel_residual", true);
  s.windows = ReadWindows(c, s.layers);
  CheckHeads(c, s, !c.PieceBool("gqa", true) || !c.Has("head_dim"));
  s.rope = ReadRopePiece(c, s, s.head_dim);
  // The mixture of experts (moe.h) goes with LlamaVariant's pieces, except with DeepSeek's latent
  // attention (mla.h), whose layer takes none. A MoE template naming no variant piece builds the
  // plain layer (whose Projection does OLMoE's projection_rms itself), as before the variants.
  ReadMoe(c, s);
  if (s.moe) ReadAttention(c, s);
  if (s.layout == Layout::kLlama && !s.mla) ReadLlamaVariant(c, s);
  if (s.layout == Layout::kBlocks) ReadBlocks(c, s);
  return s;
}

std::string PastKey(int layer) { return fmt::format("past_key_values.{}.key", layer); }
std::string PastValue(int layer) { return fmt::format("past_key_values.{}.value", layer); }
std::string PresentKey(int layer) { return fmt::format("present.{}.key", layer); }
std::string PresentValue(int layer) { return fmt::format("present.{}.value", layer); }

// What every layer shares: positions, the additive masks, the rotary cos/sin.
struct DecoderContext {
  std::string past_length;               // [1] int64
  std::string cache_positions;           // [1, sequence] int64: past_length + arange(sequence)
  std::map<int64_t, std::string> masks;  // by sliding window (0: full causal) -> [b, 1, S, T]
  RopeTables rope;
  bool fused = false;              // contrib-op layers (FusedLayers); `rope` then stays empty
  bool embeddings_scaled = false;  // DecoderEmbeddingsInput::scaled
  FusedDecoderContext fused_layers;
};

// The rotary RMSNorm families have a contrib-op form; GPT-2, OPT, Phi and GPT-NeoX stay plain.
bool FusedLayers(const GraphBuilder& g, const DecoderShape& s) {
  return g.fused() && s.layout == Layout::kLlama && s.norm != NormKind::kLayerNorm &&
         s.norm != NormKind::kLayerNormPlusOne && s.rope.rotary_dim > 0 && !s.mla &&
         !s.qk_norm_projection && s.variant.plain && !s.rope.interleaved;
}

// HF's or_mask_function for token groups (PaliGemma's prefix, Gemma 3's images): [b, 1, S, T],
// true where query and key are new tokens of the same group (>= 0) and nothing is cached yet
// (HF's first iteration). `groups` is int64 [b, S]; the cached keys have no group.
std::string SameGroupVisible(GraphBuilder& g, const std::string& groups, const std::string& past) {
  const std::string batch =
      g.Node("Slice", {g.Node("Shape", {groups}), g.ConstInt64({0}), g.ConstInt64({1})});
  const std::string none = g.Node(
      "Expand", {g.ConstInt64({-1}), g.Node("Concat", {batch, past}, {{"axis", int64_t{0}}})});
  const std::string key_groups = g.Node("Concat", {none, groups}, {{"axis", int64_t{1}}});
  const std::string q = g.Node("Unsqueeze", {groups, g.ConstInt64({2})});      // [b, S, 1]
  const std::string k = g.Node("Unsqueeze", {key_groups, g.ConstInt64({1})});  // [b, 1, T]
  std::string same =
      g.Node("And", {g.Node("Equal", {q, k}), g.Node("GreaterOrEqual", {q, g.ConstInt64({0})})});
  same = g.Node("And", {same, g.Node("Equal", {past, g.ConstInt64({0})})});
  return g.Node("Unsqueeze", {same, g.ConstInt64({1})});
}

// Positions and masks; the rotary tables are the caller's to add. `tokens` is any
// [batch, sequence, ...] tensor of the new tokens (input_ids, or input embeddings). `groups`:
// as DecoderEmbeddingsInput::bidirectional_groups, "" for none.
DecoderContext MakePositionsAndMasks(GraphBuilder& g, const DecoderShape& s,
                                     const std::string& tokens, const std::string& groups = "") {
  DecoderContext ctx;
  ctx.past_length =
      g.Node("Slice", {g.Node("Shape", {PastKey(0)}), g.ConstInt64({2}), g.ConstInt64({3})});
  const std::string seq_length =
      g.Node("Slice", {g.Node("Shape", {tokens}), g.ConstInt64({1}), g.ConstInt64({2})});
  const std::string axis0 = g.ConstInt64({0});
  const std::string past = g.Node("Squeeze", {ctx.past_length, axis0});
  const std::string total =
      g.Node("Squeeze", {g.Node("Add", {ctx.past_length, seq_length}), axis0});
  const std::string one = ScalarInt64(g, 1);
  const std::string query_positions = g.Node("Range", {past, total, one});             // [S]
  const std::string key_positions = g.Node("Range", {ScalarInt64(g, 0), total, one});  // [T]
  ctx.cache_positions = g.Node("Unsqueeze", {query_positions, axis0});

  // HF's eager mask: key k is visible to query q when k <= q (and k > q - window),
  // and the key is not padding; visible -> 0, hidden -> finfo(float32).min.
  const std::string q_col = g.Node("Unsqueeze", {query_positions, g.ConstInt64({1})});
  const std::string k_row = g.Node("Unsqueeze", {key_positions, axis0});
  const std::string causal = g.Node("LessOrEqual", {k_row, q_col});  // [S, T]
  const std::string padding = g.Node(
      "Unsqueeze", {g.Node("Cast", {"attention_mask"}, {{"to", int64_t{onnx::TensorProto::BOOL}}}),
                    g.ConstInt64({1, 2})});  // [b, 1, 1, T]
  const std::string visible_value = g.ConstFloat(0.0f);
  const std::string hidden_value = g.ConstFloat(std::numeric_limits<float>::lowest());
  const std::string same_group = groups.empty() ? "" : SameGroupVisible(g, groups, ctx.past_length);
  for (int64_t window : s.windows) {
    if (ctx.masks.count(window)) continue;
    std::string allowed = causal;
    if (window > 0) {
      const std::string in_window =
          g.Node("Greater", {k_row, g.Node("Sub", {q_col, g.ConstInt64({window})})});
      allowed = g.Node("And", {causal, in_window});
    }
    // HF ors the group mask into the causal (or sliding) one, then ands the padding.
    if (!same_group.empty()) allowed = g.Node("Or", {allowed, same_group});
    ctx.masks[window] =
        g.Node("Where", {g.Node("And", {padding, allowed}), visible_value, hidden_value});
  }
  return ctx;
}

DecoderContext MakeContext(GraphBuilder& g, const DecoderShape& s) {
  DecoderContext ctx = MakePositionsAndMasks(g, s, "input_ids");
  ctx.fused = FusedLayers(g, s);
  if (ctx.fused)
    ctx.fused_layers = MakeFusedDecoderContext(g, s.rope, ctx.cache_positions);
  else if (s.rope.rotary_dim > 0)
    ctx.rope = RopeCosSin(g, s.rope, ctx.cache_positions);
  return ctx;
}

struct ScoreScale {
  float value;
  bool divide;  // GPT-2 divides where the others multiply by the reciprocal
};

std::string AttendHeadsFirst(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                             int layer, std::string q, const std::string& k, const std::string& v,
                             const std::vector<ScoreScale>& scales);
struct AttendExtras;
std::string AttendCore(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx, int layer,
                       std::string q, const std::string& k, const std::string& v,
                       const std::vector<ScoreScale>& scales, const AttendExtras& extras);

// Causal self-attention with the KV cache. q [b, S, heads, hd], k and v [b, S, kv, hd];
// returns [b, S, heads * hd]. Grouped-query heads attend without copying the cache:
// the query heads of one KV head are folded into its rows.
// What some templates' layers do inside attention (LlamaVariant); the defaults change nothing.
struct AttendExtras {
  bool rope = true;                         // false: this layer does not rotate (NoPE)
  const RopeTables* rope_tables = nullptr;  // another rotation than ctx.rope (Gemma 3 local)
  int64_t rotary_dim = 0;                   // that rotation's features; 0: s.rope's (Laguna)
  // Applied to q and to k ([b, heads, S, hd]) after the rotation (NanoChat's q/k norm).
  std::function<std::string(const std::string&, bool is_query)> after_rope;
  std::string query_scale;  // multiplies q after the rotation (Ministral 3), [1, 1, S, 1]
  float softcap = 0;        // cap * tanh(scores / cap) before the mask (Gemma 2)
  // A learned per-head sink [heads]: the output times sigmoid(logsumexp(scores) - sink), one
  // more logit in the softmax's denominator (GraniteSWA).
  std::string sinks;
};

// sigmoid(logsumexp(scores) - sink) per head and query: [b, heads, S, 1] from masked scores
// [b, heads, S, T] and the sinks [heads].
std::string SinkScale(GraphBuilder& g, const DecoderShape& s, const std::string& scores,
                      const std::string& sinks) {
  const std::string lse = g.Node("ReduceLogSumExp", {scores},
                                 {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  const std::string sink = g.Node("Reshape", {sinks, g.ConstInt64({1, s.heads, 1, 1})});
  return g.Node("Sigmoid", {g.Node("Sub", {lse, sink})});
}

std::string Attend(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx, int layer,
                   const std::string& q_heads, const std::string& k_heads,
                   const std::string& v_heads, const std::vector<ScoreScale>& scales,
                   const AttendExtras& extras = {}) {
  const std::vector<int64_t> to_heads_first = {0, 2, 1, 3};
  std::string q = g.Node("Transpose", {q_heads}, {{"perm", to_heads_first}});
  std::string k = g.Node("Transpose", {k_heads}, {{"perm", to_heads_first}});
  const std::string v = g.Node("Transpose", {v_heads}, {{"perm", to_heads_first}});
  if (s.rope.rotary_dim > 0 && extras.rope) {
    const RopeTables& tables = extras.rope_tables ? *extras.rope_tables : ctx.rope;
    const int64_t dim = extras.rotary_dim > 0 ? extras.rotary_dim : s.rope.rotary_dim;
    q = ApplyRope(g, q, tables, dim, s.head_dim);
    k = ApplyRope(g, k, tables, dim, s.head_dim);
  }
  if (extras.after_rope) {
    q = extras.after_rope(q, true);
    k = extras.after_rope(k, false);
  }
  if (!extras.query_scale.empty()) q = g.Node("Mul", {q, extras.query_scale});
  return AttendCore(g, s, ctx, layer, q, k, v, scales, extras);
}

std::string AttendHeadsFirst(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                             int layer, std::string q, const std::string& k, const std::string& v,
                             const std::vector<ScoreScale>& scales) {
  return AttendCore(g, s, ctx, layer, std::move(q), k, v, scales, {});
}

// Attention on heads-first q [b, heads, S, key_dim], k [b, kv, S, key_dim] (rotated already) and
// v [b, kv, S, value_dim], with the KV cache; returns [b, S, heads * value_dim].
std::string AttendCore(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx, int layer,
                       std::string q, const std::string& k, const std::string& v,
                       const std::vector<ScoreScale>& scales, const AttendExtras& extras) {
  const std::vector<int64_t> to_heads_first = {0, 2, 1, 3};
  const std::string keys =
      g.Node("Concat", {PastKey(layer), k}, {{"axis", int64_t{2}}}, PresentKey(layer));
  const std::string values =
      g.Node("Concat", {PastValue(layer), v}, {{"axis", int64_t{2}}}, PresentValue(layer));
  const bool grouped = s.heads != s.kv_heads;
  if (grouped) q = g.Node("Reshape", {q, g.ConstInt64({0, s.kv_heads, -1, s.head_dim})});
  const std::string keys_t =
      g.Node("Transpose", {keys}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  std::string scores = g.Node("MatMul", {q, keys_t});
  for (const ScoreScale& scale : scales)
    scores = g.Node(scale.divide ? "Div" : "Mul", {scores, g.ConstFloat(scale.value)});
  if (extras.softcap > 0) scores = SoftCap(g, scores, extras.softcap);
  if (grouped) scores = g.Node("Reshape", {scores, g.ConstInt64({0, s.heads, -1, 0})});
  scores = g.Node("Add", {scores, ctx.masks.at(s.windows[layer])});
  std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  if (grouped)  // [b, kv, rep * S, T]
    probs = g.Node("Reshape", {probs, g.ConstInt64({0, s.kv_heads, -1, 0})});
  std::string out = g.Node("MatMul", {probs, values});
  const int64_t vd = ValueHeadDim(s);
  if (grouped) out = g.Node("Reshape", {out, g.ConstInt64({0, s.heads, -1, vd})});
  if (!extras.sinks.empty()) out = g.Node("Mul", {out, SinkScale(g, s, scores, extras.sinks)});
  out = g.Node("Transpose", {out}, {{"perm", to_heads_first}});
  return g.Node("Reshape", {out, g.ConstInt64({0, 0, s.heads * vd})});
}

std::vector<ScoreScale> InverseSqrtScale(const DecoderShape& s) {
  return {{static_cast<float>(std::pow(static_cast<double>(s.head_dim), -0.5)), false}};
}

std::string ReshapeToHeads(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim) {
  return g.Node("Reshape", {x, g.ConstInt64({0, 0, heads, head_dim})});
}

std::string Norm(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                 const std::string& prefix, int64_t size) {
  if (s.norm == NormKind::kRmsNoWeight) return RmsNormalized(g, x, s.eps);
  if (s.norm == NormKind::kRms || s.norm == NormKind::kRmsPlusOne)
    return RmsNorm(g, x, prefix, size, s.eps, s.norm == NormKind::kRmsPlusOne);
  if (s.norm == NormKind::kLayerNormPlusOne)  // Nemotron's LayerNorm1P: scale weight + 1
    return g.Node("LayerNormalization",
                  {x, RmsScale(g, prefix, size, true),
                   g.Weight(prefix + ".bias", {size}, WeightInit::kZeros)},
                  {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(s.eps)}});
  if (s.norm == NormKind::kLayerNormNoBias)  // MPT, Cohere: a scale and no bias
    return g.Node("LayerNormalization",
                  {x, g.Weight(prefix + ".weight", {size}, WeightInit::kOnes)},
                  {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(s.eps)}});
  if (s.norm_affine) return g.LayerNorm(x, prefix, size, s.eps);
  // OPT's layer_norm_elementwise_affine=false: no parameters, unit scale.
  core::Tensor ones = core::Tensor::Zeros(core::DType::kFloat32, {size});
  for (float& v : ones.values<float>()) v = 1.0f;
  return g.Node("LayerNormalization", {x, g.Initializer(prefix + ".unit_scale", ones)},
                {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(s.eps)}});
}

// The LM head: the embedding matrix itself when tied (counted once), else its own weight.
std::string LmHead(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                   const std::string& embedding, const std::string& head, int64_t in, bool bias) {
  if (!s.tied) return g.Linear(x, head, in, s.head_rows > 0 ? s.head_rows : s.vocab, bias);
  return TiedLmHead(g, x, embedding, in, s.vocab);
}

std::string Embedding(GraphBuilder& g, const DecoderShape& s, const std::string& name, int64_t dim,
                      std::string* table, const std::string& ids = "input_ids") {
  *table = g.Weight(name, {s.vocab, dim}, WeightInit::kNormal);
  return g.Node("Gather", {*table, ids});
}

// Qwen3's per-head RMSNorm on a [batch, S, heads * head_dim] projection.
std::string HeadNorm(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                     const std::string& prefix, int64_t heads) {
  const std::string normed =
      RmsNorm(g, ReshapeToHeads(g, x, heads, s.head_dim), prefix, s.head_dim, s.eps, false);
  return g.Node("Reshape", {normed, g.ConstInt64({0, 0, heads * s.head_dim})});
}

// The mixture of experts of layer prefix `p` on y, normed after where the template says so.
std::string MoeBlock(GraphBuilder& g, const DecoderShape& s, const std::string& y,
                     const std::string& p) {
  const std::string out = MoeMlp(g, *s.moe, y, p + s.moe_block);
  return s.moe_output_norm.empty() ? out : Norm(g, s, out, p + s.moe_output_norm, s.hidden);
}

// A LLaMA-like layer's MLP on the normed y: the gated MLP, or the mixture of experts where the
// template has one and this layer is one of its layers.
std::string LayerMlp(GraphBuilder& g, const DecoderShape& s, const std::string& y,
                     const std::string& p, int layer) {
  if (s.moe && s.moe_layers[layer]) return MoeBlock(g, s, y, p);
  const std::string gate =
      Activation(g, g.Linear(y, p + "mlp.gate_proj", s.hidden, s.intermediate, s.mlp_bias), s.act);
  const std::string up = g.Linear(y, p + "mlp.up_proj", s.hidden, s.intermediate, s.mlp_bias);
  return g.Linear(g.Node("Mul", {gate, up}), p + "mlp.down_proj", s.intermediate, s.hidden,
                  s.mlp_bias);
}

// q_proj, k_proj or v_proj split into heads; OLMoE's and MiniMax-M2's RMSNorm `norm` over the
// whole projection first where the template says so.
std::string Projection(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                       const std::string& name, int64_t heads, const std::string& norm) {
  std::string y = g.Linear(x, name, s.hidden, heads * s.head_dim, s.qkv_bias);
  if (s.qk_norm_projection && !norm.empty())
    y = RmsNorm(g, y, norm, heads * s.head_dim, s.eps, false);
  return ReshapeToHeads(g, y, heads, s.head_dim);
}

// A LLaMA-like layer's self-attention on the normed x, before o_proj: [b, S, heads * head_dim].
std::string LlamaAttention(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                           int layer, const std::string& x, const std::string& p) {
  const std::string a = p + "self_attn.";
  std::string q = Projection(g, s, x, a + "q_proj", s.heads, a + "q_norm");
  std::string k = Projection(g, s, x, a + "k_proj", s.kv_heads, a + "k_norm");
  const std::string v = Projection(g, s, x, a + "v_proj", s.kv_heads, "");
  if (s.qk_norm) {  // Qwen3: RMSNorm over each head, before RoPE
    q = RmsNorm(g, q, a + "q_norm", s.head_dim, s.eps, false);
    k = RmsNorm(g, k, a + "k_norm", s.head_dim, s.eps, false);
  }
  return Attend(g, s, ctx, layer, q, k, v, InverseSqrtScale(s));
}

// DeepSeek's multi-head latent attention (mla.h) on the normed x, before o_proj:
// [b, S, heads * v_head_dim].
std::string LatentAttention(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                            int layer, const std::string& x, const std::string& p) {
  const MlaHeads heads = MlaProjections(g, *s.mla, x, p + "self_attn.", ctx.rope);
  std::string q = heads.q;
  if (s.variant.llama4_beta != 0)
    q = g.Node("Mul", {q, Llama4QueryScale(g, ctx.cache_positions, s.variant.llama4_beta,
                                           s.variant.llama4_original_max)});
  return AttendHeadsFirst(g, s, ctx, layer, q, heads.k, heads.v, {{s.mla->scale, false}});
}

// LlamaLike with contrib ops (decoder_fused.h): each residual add fused with the RMSNorm that
// follows it (the next layer's input norm, or the final norm).
std::string LlamaLikeFused(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                           std::string h, const std::string& table) {
  const bool plus_one = s.norm == NormKind::kRmsPlusOne;
  const int64_t q_dim = s.heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim;
  const FusedAttentionShape shape{.heads = s.heads,
                                  .kv_heads = s.kv_heads,
                                  .head_dim = s.head_dim,
                                  .rotary_dim = s.rope.rotary_dim,
                                  .scale = InverseSqrtScale(s)[0].value};
  std::string x = Norm(g, s, h, "layers.0.input_layernorm", s.hidden);
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    std::string q = g.Linear(x, p + "self_attn.q_proj", s.hidden, q_dim, s.qkv_bias);
    std::string k = g.Linear(x, p + "self_attn.k_proj", s.hidden, kv_dim, s.qkv_bias);
    const std::string v = g.Linear(x, p + "self_attn.v_proj", s.hidden, kv_dim, s.qkv_bias);
    if (s.qk_norm) {  // Qwen3: before RoPE
      q = HeadNorm(g, s, q, p + "self_attn.q_norm", s.heads);
      k = HeadNorm(g, s, k, p + "self_attn.k_norm", s.kv_heads);
    }
    const LayerCache cache{PastKey(l), PastValue(l), PresentKey(l), PresentValue(l)};
    const std::string attn =
        FusedSelfAttention(g, ctx.fused_layers, shape, q, k, v, cache, ctx.masks.at(s.windows[l]));
    const std::string o = g.Linear(attn, p + "self_attn.o_proj", q_dim, s.hidden, s.o_bias);
    const std::string y = SkipRmsNorm(
        g, o, h, RmsScale(g, p + "post_attention_layernorm", s.hidden, plus_one), s.eps);
    // The op's own sum output needs a multi-output contrib node, which GraphBuilder cannot make.
    h = g.Node("Add", {h, o});
    const std::string m = LayerMlp(g, s, y, p, l);
    const std::string next_norm =
        l + 1 < s.layers ? fmt::format("layers.{}.input_layernorm", l + 1) : "norm";
    x = SkipRmsNorm(g, m, h, RmsScale(g, next_norm, s.hidden, plus_one), s.eps);
    if (l + 1 < s.layers) h = g.Node("Add", {h, m});
  }
  return LmHead(g, s, x, table, "lm_head", s.hidden, false);
}

// ---- The LLaMA-like layer with its template pieces (LlamaVariant) ----

// The norm `name` of layer prefix `p`, or x itself when the template has none there.
std::string OptionalNorm(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                         const std::string& p, const std::string& name, int64_t size) {
  return name.empty() ? x : Norm(g, s, x, p + name, size);
}

struct Projections {
  std::string q, k, v;  // [b, S, heads * hd], [b, S, kv * hd] twice
};

// q, k and v from the layer input: three projections, or Phi-3's one qkv_proj ([q | k | v]).
Projections ProjectQkv(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                       const std::string& p) {
  const int64_t q_dim = s.heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim;
  if (!s.variant.fused_qkv)
    return {g.Linear(x, p + "self_attn.q_proj", s.hidden, q_dim, s.qkv_bias),
            g.Linear(x, p + "self_attn.k_proj", s.hidden, kv_dim, s.qkv_bias),
            g.Linear(x, p + "self_attn.v_proj", s.hidden, kv_dim, s.qkv_bias)};
  const std::string qkv =
      g.Linear(x, p + "self_attn.qkv_proj", s.hidden, q_dim + 2 * kv_dim, s.qkv_bias);
  const auto parts =
      g.NodeN("Split", {qkv, g.ConstInt64({q_dim, kv_dim, kv_dim})}, 3, {{"axis", int64_t{-1}}});
  return {parts[0], parts[1], parts[2]};
}

// The MLP of layer `layer` (prefix `p`) on y: the mixture of experts on its layers, else gated
// (gate_proj/up_proj, or Phi-3's gate_up_proj [gate | up]) or not (up_proj or fc1, then
// down_proj or fc2).
std::string VariantMlp(GraphBuilder& g, const DecoderShape& s, const std::string& y,
                       const std::string& p, int layer) {
  if (s.moe && s.moe_layers[layer]) return MoeBlock(g, s, y, p);
  const LlamaVariant& v = s.variant;
  const int64_t I = s.intermediate;
  auto act = [&](const std::string& x) {
    return ActivationWithParameters(g, x, s.act, p + "mlp.act_fn");
  };
  if (v.mlp == MlpKind::kPlain || v.mlp == MlpKind::kFc) {
    const bool fc = v.mlp == MlpKind::kFc;
    const std::string up =
        g.Linear(y, p + (fc ? "mlp.fc1" : "mlp.up_proj"), s.hidden, I, s.mlp_bias);
    return g.Linear(act(up), p + (fc ? "mlp.fc2" : "mlp.down_proj"), I, s.hidden, s.mlp_bias);
  }
  std::string gated;
  if (v.mlp == MlpKind::kGatedFused) {
    const std::string both = g.Linear(y, p + "mlp.gate_up_proj", s.hidden, 2 * I, s.mlp_bias);
    const auto parts = g.NodeN("Split", {both, g.ConstInt64({I, I})}, 2, {{"axis", int64_t{-1}}});
    gated = g.Node("Mul", {parts[1], act(parts[0])});
  } else {
    const std::string gate = act(g.Linear(y, p + "mlp.gate_proj", s.hidden, I, s.mlp_bias));
    gated = g.Node("Mul", {gate, g.Linear(y, p + "mlp.up_proj", s.hidden, I, s.mlp_bias)});
  }
  if (v.sub_norms) gated = Norm(g, s, gated, p + "mlp.ffn_sub_norm", I);
  return g.Linear(gated, p + "mlp.down_proj", I, s.hidden, s.mlp_bias);
}

// h + branch (times Granite's residual multiplier).
std::string AddResidual(GraphBuilder& g, const DecoderShape& s, const std::string& h,
                        const std::string& branch) {
  const float scale = s.variant.residual_scale;
  return g.Node("Add", {h, scale == 1 ? branch : g.Node("Mul", {branch, g.ConstFloat(scale)})});
}

// What every variant layer shares: Gemma 3's local rotation, Ministral 3's query scale.
struct VariantShared {
  RopeTables local_rope;
  std::string query_scale;
  std::map<double, RopeTables> theta_ropes;
};

VariantShared MakeVariantShared(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx) {
  VariantShared shared;
  if (s.variant.local_rope)
    shared.local_rope = RopeCosSin(g, s.variant.local, ctx.cache_positions, "rope.local_inv_freq");
  int n = 0;
  for (const auto& [theta, spec] : s.variant.theta_ropes)
    shared.theta_ropes[theta] =
        RopeCosSin(g, spec, ctx.cache_positions, fmt::format("rope.inv_freq_{}", n++));
  if (s.variant.llama4_beta != 0)
    shared.query_scale = Llama4QueryScale(g, ctx.cache_positions, s.variant.llama4_beta,
                                          s.variant.llama4_original_max);
  return shared;
}

// [b, kv, T, hd] -> [b, heads, T, hd], each KV head repeated for its query heads (repeat_kv).
std::string RepeatKv(GraphBuilder& g, const DecoderShape& s, const std::string& x) {
  if (s.heads == s.kv_heads) return x;
  const std::string wide = g.Node("Unsqueeze", {x, g.ConstInt64({2})});  // [b, kv, 1, T, hd]
  const std::string shape = g.Node("Shape", {wide});
  const std::string target =
      g.Node("Concat",
             {g.Node("Slice", {shape, g.ConstInt64({0}), g.ConstInt64({2})}),
              g.ConstInt64({s.heads / s.kv_heads}),
              g.Node("Slice", {shape, g.ConstInt64({3}), g.ConstInt64({5})})},
             {{"axis", int64_t{0}}});
  return g.Node("Reshape",
                {g.Node("Expand", {wide, target}), g.ConstInt64({0, s.heads, -1, s.head_dim})});
}

// DiffLlama's differential attention (arXiv 2410.05258) as HF's eager DiffLlamaAttention: the
// value heads' two halves side by side, softmax(q k / sqrt(hd)) applied, the second half of the
// heads subtracted from the first with weight lambda = exp(lq1 . lk1) - exp(lq2 . lk2) +
// lambda_init, then a weightless RMSNorm over 2 hd times (1 - lambda_init). q, k, v as Attend's;
// returns [b, S, heads * hd].
std::string DifferentialAttend(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                               int layer, const std::string& q_heads, const std::string& k_heads,
                               const std::string& v_heads, const std::string& p) {
  const std::vector<int64_t> to_heads_first = {0, 2, 1, 3};
  const int64_t half = s.heads / 2, hd = s.head_dim;
  std::string q = g.Node("Transpose", {q_heads}, {{"perm", to_heads_first}});
  std::string k = g.Node("Transpose", {k_heads}, {{"perm", to_heads_first}});
  const std::string v = g.Node("Transpose", {v_heads}, {{"perm", to_heads_first}});
  q = ApplyRope(g, q, ctx.rope, s.rope.rotary_dim, hd);
  k = ApplyRope(g, k, ctx.rope, s.rope.rotary_dim, hd);
  const std::string keys = RepeatKv(
      g, s, g.Node("Concat", {PastKey(layer), k}, {{"axis", int64_t{2}}}, PresentKey(layer)));
  const std::string values = RepeatKv(
      g, s, g.Node("Concat", {PastValue(layer), v}, {{"axis", int64_t{2}}}, PresentValue(layer)));
  const auto value_halves =
      g.NodeN("Split", {values, g.ConstInt64({half, half})}, 2, {{"axis", int64_t{1}}});
  const std::string paired =
      g.Node("Concat", {value_halves[0], value_halves[1]}, {{"axis", int64_t{-1}}});
  const std::string both = g.Node("Concat", {paired, paired}, {{"axis", int64_t{1}}});
  const std::string keys_t =
      g.Node("Transpose", {keys}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  std::string scores = g.Node("Div", {g.Node("MatMul", {q, keys_t}),
                                      g.ConstFloat(static_cast<float>(std::sqrt(double(hd))))});
  scores = g.Node("Add", {scores, ctx.masks.at(s.windows[layer])});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  const auto out = g.NodeN("Split", {g.Node("MatMul", {probs, both}), g.ConstInt64({half, half})},
                           2, {{"axis", int64_t{1}}});
  auto lambda_term = [&](const char* qn, const char* kn) {
    const std::string lq = g.Weight(p + "self_attn." + qn, {hd}, WeightInit::kZeros);
    const std::string lk = g.Weight(p + "self_attn." + kn, {hd}, WeightInit::kZeros);
    return g.Node("Exp", {g.Node("ReduceSum", {g.Node("Mul", {lq, lk}), g.ConstInt64({0})},
                                 {{"keepdims", int64_t{1}}})});
  };
  const double lambda_init = 0.8 - 0.6 * std::exp(-0.3 * layer);
  const std::string lambda_full =
      g.Node("Add", {g.Node("Sub", {lambda_term("lambda_q1", "lambda_k1"),
                                    lambda_term("lambda_q2", "lambda_k2")}),
                     g.ConstFloat(static_cast<float>(lambda_init))});
  const std::string diff = g.Node("Sub", {out[0], g.Node("Mul", {lambda_full, out[1]})});
  const std::string normed = g.Node(
      "Mul", {RmsNormalized(g, diff, s.eps), g.ConstFloat(static_cast<float>(1 - lambda_init))});
  const std::string tokens_first = g.Node("Transpose", {normed}, {{"perm", to_heads_first}});
  return g.Node("Reshape", {tokens_first, g.ConstInt64({0, 0, s.heads * hd})});
}

// DeepSeek's apply_rotary_pos_emb_interleave: features (x0, x1, x2, x3, ...) reordered to
// (x0, x2, ..., x1, x3, ...) before the rotate-half rotation, on [b, h, S, d].
std::string Deinterleave(GraphBuilder& g, const std::string& x, int64_t d) {
  const std::string pairs = g.Node("Reshape", {x, g.ConstInt64({0, 0, 0, d / 2, 2})});
  const std::string swapped =
      g.Node("Transpose", {pairs}, {{"perm", std::vector<int64_t>{0, 1, 2, 4, 3}}});
  return g.Node("Reshape", {swapped, g.ConstInt64({0, 0, 0, d})});
}

// [b, S, h, r] rotated as [b, h, S, r] with ctx's tables, back in [b, S, h, r].
std::string RotateTokensFirst(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                              const std::string& x) {
  const std::vector<int64_t> swap = {0, 2, 1, 3};
  std::string t = g.Node("Transpose", {x}, {{"perm", swap}});
  const int64_t r = s.variant.mla_rope;
  if (s.variant.mla_rope_interleave) t = Deinterleave(g, t, r);
  return g.Node("Transpose", {ApplyRope(g, t, ctx.rope, r, r)}, {{"perm", swap}});
}

// Multi-head latent attention's q, k and v ([b, S, heads, d]; k and q rotated on their rope part)
// as DeepseekV3Attention makes them. Its two low-rank norms keep RMSNorm's default eps, 1e-6.
Projections MlaProjections(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                           const std::string& x, const std::string& p) {
  const LlamaVariant& v = s.variant;
  const int64_t H = s.heads, nope = v.mla_nope, r = v.mla_rope, vd = ValueHeadDim(s);
  const std::string q_full =
      v.q_lora > 0
          ? g.Linear(
                RmsNorm(g, g.Linear(x, p + "self_attn.q_a_proj", s.hidden, v.q_lora, s.qkv_bias),
                        p + "self_attn.q_a_layernorm", v.q_lora, 1e-6, false),
                p + "self_attn.q_b_proj", v.q_lora, H * (nope + r), false)
          : g.Linear(x, p + "self_attn.q_proj", s.hidden, H * (nope + r), false);
  const auto q = g.NodeN("Split", {ReshapeToHeads(g, q_full, H, nope + r), g.ConstInt64({nope, r})},
                         2, {{"axis", int64_t{-1}}});
  const auto compressed =
      g.NodeN("Split",
              {g.Linear(x, p + "self_attn.kv_a_proj_with_mqa", s.hidden, v.kv_lora + r, s.qkv_bias),
               g.ConstInt64({v.kv_lora, r})},
              2, {{"axis", int64_t{-1}}});
  const std::string kv =
      g.Linear(RmsNorm(g, compressed[0], p + "self_attn.kv_a_layernorm", v.kv_lora, 1e-6, false),
               p + "self_attn.kv_b_proj", v.kv_lora, H * (nope + vd), false);
  const auto k_and_v =
      g.NodeN("Split", {ReshapeToHeads(g, kv, H, nope + vd), g.ConstInt64({nope, vd})}, 2,
              {{"axis", int64_t{-1}}});
  const std::string k_rot =
      RotateTokensFirst(g, s, ctx, g.Node("Unsqueeze", {compressed[1], g.ConstInt64({2})}));
  const std::string every_head = g.Node(
      "Concat",
      {g.Node("Slice", {g.Node("Shape", {k_and_v[0]}), g.ConstInt64({0}), g.ConstInt64({3})}),
       g.ConstInt64({r})},
      {{"axis", int64_t{0}}});
  const std::string axis = "axis";
  return {
      g.Node("Concat", {q[0], RotateTokensFirst(g, s, ctx, q[1])}, {{axis, int64_t{-1}}}),
      g.Node("Concat", {k_and_v[0], g.Node("Expand", {k_rot, every_head})}, {{axis, int64_t{-1}}}),
      k_and_v[1]};
}

// The attention's output attn [b, S, heads x head_dim] times the template's gate of the layer's
// input x: per feature, or per head (broadcast over head_dim).
std::string OutputGate(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                       const std::string& attn, const std::string& p) {
  const LlamaVariant& v = s.variant;
  const int64_t gates = v.output_gate_per_head ? s.heads : s.heads * s.head_dim;
  const std::string gate = g.Node(
      v.output_gate_act, {g.Linear(x, p + "self_attn." + v.output_gate, s.hidden, gates, false)});
  if (!v.output_gate_per_head) return g.Node("Mul", {attn, gate});
  const std::string per_head = g.Node("Mul", {ReshapeToHeads(g, attn, s.heads, s.head_dim),
                                              g.Node("Unsqueeze", {gate, g.ConstInt64({-1})})});
  return g.Node("Reshape", {per_head, g.ConstInt64({0, 0, s.heads * s.head_dim})});
}

// Attention of layer `l` from its input x, o_proj included.
std::string VariantAttention(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                             const VariantShared& shared, int l, const std::string& x) {
  const LlamaVariant& v = s.variant;
  const std::string p = fmt::format("layers.{}.", l);
  const int64_t q_dim = s.heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim;
  if (v.mla) {
    const Projections mla = MlaProjections(g, s, ctx, x, p);
    AttendExtras no_rope;
    no_rope.rope = false;
    return g.Linear(Attend(g, s, ctx, l, mla.q, mla.k, mla.v, InverseSqrtScale(s), no_rope),
                    p + "self_attn.o_proj", s.heads * ValueHeadDim(s), s.hidden, s.o_bias);
  }
  Projections qkv = ProjectQkv(g, s, x, p);
  if (v.qk_norm == QkNormKind::kProjection) {  // OLMo 2: over all heads at once
    qkv.q = Norm(g, s, qkv.q, p + "self_attn." + v.q_norm, q_dim);
    qkv.k = Norm(g, s, qkv.k, p + "self_attn." + v.k_norm, kv_dim);
  }
  std::string q = ReshapeToHeads(g, qkv.q, s.heads, s.head_dim);
  std::string k = ReshapeToHeads(g, qkv.k, s.kv_heads, s.head_dim);
  const std::string val = ReshapeToHeads(g, qkv.v, s.kv_heads, s.head_dim);
  auto head_norm = [&](const std::string& t, bool is_query) {
    if (v.qk_norm_no_weight) return RmsNormalized(g, t, s.eps);
    return Norm(g, s, t, p + "self_attn." + (is_query ? v.q_norm : v.k_norm), s.head_dim);
  };
  AttendExtras extras;
  if (s.qk_norm) {
    if (v.qk_norm_after_rope) {
      extras.after_rope = head_norm;
    } else {
      q = head_norm(q, true);
      k = head_norm(k, false);
    }
  }
  if (v.query_multiplier != 1) q = g.Node("Mul", {q, g.ConstFloat(v.query_multiplier)});
  extras.rope = v.rope_layers.empty() || v.rope_layers[l];
  if (v.local_rope && s.windows[l] > 0) {
    extras.rope_tables = &shared.local_rope;
    extras.rotary_dim = v.local.rotary_dim;
  }
  if (!v.layer_thetas.empty()) {
    extras.rope = v.layer_thetas[l] != 0;
    if (extras.rope) extras.rope_tables = &shared.theta_ropes.at(v.layer_thetas[l]);
  }
  if (v.sinks) extras.sinks = g.Weight(p + "self_attn.sinks", {s.heads}, WeightInit::kZeros);
  extras.query_scale = shared.query_scale;
  extras.softcap = v.attn_softcap;
  std::vector<ScoreScale> scales = InverseSqrtScale(s);
  if (v.attention_scale > 0) scales = {{v.attention_scale, false}};
  std::string attn = v.differential ? DifferentialAttend(g, s, ctx, l, q, k, val, p)
                                    : Attend(g, s, ctx, l, q, k, val, scales, extras);
  if (v.sub_norms) attn = Norm(g, s, attn, p + "self_attn.attn_sub_norm", q_dim);
  if (!v.output_gate.empty()) attn = OutputGate(g, s, x, attn, p);
  return g.Linear(attn, p + "self_attn.o_proj", q_dim, s.hidden, s.o_bias);
}

// The layers, final norm and LM head with the template's pieces.
std::string VariantFromEmbeddings(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                                  std::string h, const std::string& table) {
  const LlamaVariant& v = s.variant;
  if (v.embedding_scale != 1) h = g.Node("Mul", {h, g.ConstFloat(v.embedding_scale)});
  if (v.embedding_norm) h = Norm(g, s, h, "norm", s.hidden);
  if (v.embedding_norm_no_weight) h = RmsNormalized(g, h, s.eps);
  const VariantShared shared = MakeVariantShared(g, s, ctx);
  DecoderShape post = s;  // the post-norms' eps
  if (v.post_norm_eps > 0) post.eps = v.post_norm_eps;
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    std::string attn =
        VariantAttention(g, s, ctx, shared, l, OptionalNorm(g, s, h, p, v.pre_attention, s.hidden));
    h = AddResidual(g, s, h, OptionalNorm(g, post, attn, p, v.post_attention, s.hidden));
    const std::string m = VariantMlp(g, s, OptionalNorm(g, s, h, p, v.pre_mlp, s.hidden), p, l);
    h = AddResidual(g, s, h, OptionalNorm(g, post, m, p, v.post_mlp, s.hidden));
  }
  h = v.final_norm_rms ? RmsNorm(g, h, "norm", s.hidden, s.eps, false)
                       : Norm(g, s, h, "norm", s.hidden);
  if (v.head_input_divisor != 1) h = g.Node("Div", {h, g.ConstFloat(v.head_input_divisor)});
  std::string logits = LmHead(g, s, h, table, "lm_head", s.hidden, false);
  if (v.logits_divisor != 1) logits = g.Node("Div", {logits, g.ConstFloat(v.logits_divisor)});
  if (v.logits_multiplier != 1) logits = g.Node("Mul", {logits, g.ConstFloat(v.logits_multiplier)});
  if (v.final_softcap > 0) logits = SoftCap(g, logits, v.final_softcap);
  return logits;
}

// Gemma's sqrt(hidden), rounded to float32 as HF rounds it.
std::string EmbeddingScale(GraphBuilder& g, const DecoderShape& s) {
  return g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.hidden))));
}

// The LLaMA-like layers, final norm and LM head from the token embeddings `h` (HF's
// inputs_embeds). `table` is the embedding matrix for a tied head; empty: asked for here.
std::string LlamaLikeFromEmbeddings(GraphBuilder& g, const DecoderShape& s,
                                    const DecoderContext& ctx, std::string h, std::string table) {
  if (s.tied && table.empty())
    table = g.Weight("embed_tokens.weight", {s.vocab, s.hidden}, WeightInit::kNormal);
  // Gemma scales embeddings by sqrt(hidden), rounded to float32 first as HF does.
  if (s.scale_embeddings && !ctx.embeddings_scaled) h = g.Node("Mul", {h, EmbeddingScale(g, s)});
  if (!s.variant.plain) return VariantFromEmbeddings(g, s, ctx, h, table);
  if (ctx.fused) return LlamaLikeFused(g, s, ctx, h, table);
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    const std::string x = Norm(g, s, h, p + "input_layernorm", s.hidden);
    const std::string attn =
        s.mla ? LatentAttention(g, s, ctx, l, x, p) : LlamaAttention(g, s, ctx, l, x, p);
    h = g.Node("Add", {h, g.Linear(attn, p + "self_attn.o_proj", s.heads * s.value_dim(), s.hidden,
                                   s.o_bias)});
    const std::string y = Norm(g, s, h, p + "post_attention_layernorm", s.hidden);
    h = g.Node("Add", {h, LayerMlp(g, s, y, p, l)});
  }
  h = Norm(g, s, h, "norm", s.hidden);
  return LmHead(g, s, h, table, "lm_head", s.hidden, false);
}

std::string LlamaLike(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx) {
  std::string table;
  std::string h = Embedding(g, s, "embed_tokens.weight", s.hidden, &table);
  return LlamaLikeFromEmbeddings(g, s, ctx, h, table);
}

// Phi: one LayerNorm feeds attention and MLP in parallel; partial rotary; biases.
std::string Phi(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx) {
  std::string table;
  std::string h = Embedding(g, s, "embed_tokens.weight", s.hidden, &table);
  const int64_t q_dim = s.heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim;
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    const std::string x = Norm(g, s, h, p + "input_layernorm", s.hidden);
    std::string q = ReshapeToHeads(g, g.Linear(x, p + "self_attn.q_proj", s.hidden, q_dim), s.heads,
                                   s.head_dim);
    std::string k = ReshapeToHeads(g, g.Linear(x, p + "self_attn.k_proj", s.hidden, kv_dim),
                                   s.kv_heads, s.head_dim);
    const std::string v = ReshapeToHeads(g, g.Linear(x, p + "self_attn.v_proj", s.hidden, kv_dim),
                                         s.kv_heads, s.head_dim);
    if (s.qk_norm) {
      q = g.LayerNorm(q, p + "self_attn.q_layernorm", s.head_dim, s.eps);
      k = g.LayerNorm(k, p + "self_attn.k_layernorm", s.head_dim, s.eps);
    }
    const std::string attn = g.Linear(Attend(g, s, ctx, l, q, k, v, InverseSqrtScale(s)),
                                      p + "self_attn.dense", q_dim, s.hidden);
    const std::string mlp =
        g.Linear(Activation(g, g.Linear(x, p + "mlp.fc1", s.hidden, s.intermediate), s.act),
                 p + "mlp.fc2", s.intermediate, s.hidden);
    h = g.Node("Add", {g.Node("Add", {attn, mlp}), h});
  }
  h = Norm(g, s, h, "final_layernorm", s.hidden);
  return LmHead(g, s, h, table, "lm_head", s.hidden, true);
}

// GPT-NeoX: fused query_key_value laid out per head as [q | k | v], partial rotary,
// and (by default) parallel attention and MLP branches with their own LayerNorms.
std::string GptNeox(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx) {
  std::string table;
  std::string h = Embedding(g, s, "embed_in.weight", s.hidden, &table);
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    const std::string x = Norm(g, s, h, p + "input_layernorm", s.hidden);
    const std::string qkv = ReshapeToHeads(
        g, g.Linear(x, p + "attention.query_key_value", s.hidden, 3 * s.hidden, s.qkv_bias),
        s.heads, 3 * s.head_dim);
    const auto parts = g.NodeN("Split", {qkv, g.ConstInt64({s.head_dim, s.head_dim, s.head_dim})},
                               3, {{"axis", int64_t{-1}}});
    const std::string attn =
        g.Linear(Attend(g, s, ctx, l, parts[0], parts[1], parts[2], InverseSqrtScale(s)),
                 p + "attention.dense", s.hidden, s.hidden, s.o_bias);
    auto mlp = [&](const std::string& in) {
      const std::string y = Norm(g, s, in, p + "post_attention_layernorm", s.hidden);
      const std::string up = g.Linear(y, p + "mlp.dense_h_to_4h", s.hidden, s.intermediate);
      return g.Linear(Activation(g, up, s.act), p + "mlp.dense_4h_to_h", s.intermediate, s.hidden);
    };
    if (s.parallel_residual) {
      h = g.Node("Add", {g.Node("Add", {mlp(h), attn}), h});
    } else {
      const std::string after_attn = g.Node("Add", {attn, h});
      h = g.Node("Add", {mlp(after_attn), after_attn});
    }
  }
  h = Norm(g, s, h, "final_layer_norm", s.hidden);
  return LmHead(g, s, h, table, "embed_out", s.hidden, false);
}

// GPT-2's Conv1D stores [in, out]: used as it is, no transpose.
std::string Conv1D(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                   int64_t out) {
  const std::string w = g.Weight(prefix + ".weight", {in, out}, WeightInit::kNormal);
  return g.Node("Add",
                {g.Node("MatMul", {x, w}), g.Weight(prefix + ".bias", {out}, WeightInit::kZeros)});
}

std::string Gpt2(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx) {
  std::string table;
  std::string h = Embedding(g, s, "wte.weight", s.hidden, &table);
  const std::string wpe = g.Weight("wpe.weight", {s.max_positions, s.hidden}, WeightInit::kNormal);
  h = g.Node("Add", {h, g.Node("Gather", {wpe, ctx.cache_positions})});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("h.{}.", l);
    const std::string x = Norm(g, s, h, p + "ln_1", s.hidden);
    const std::string qkv = Conv1D(g, x, p + "attn.c_attn", s.hidden, 3 * s.hidden);
    const auto parts = g.NodeN("Split", {qkv, g.ConstInt64({s.hidden, s.hidden, s.hidden})}, 3,
                               {{"axis", int64_t{-1}}});
    std::vector<ScoreScale> scales;
    if (s.scale_attn_weights)
      scales.push_back({static_cast<float>(std::sqrt(static_cast<double>(s.head_dim))), true});
    if (s.scale_by_inverse_layer) scales.push_back({static_cast<float>(l + 1), true});
    const std::string attn = Attend(g, s, ctx, l, ReshapeToHeads(g, parts[0], s.heads, s.head_dim),
                                    ReshapeToHeads(g, parts[1], s.heads, s.head_dim),
                                    ReshapeToHeads(g, parts[2], s.heads, s.head_dim), scales);
    h = g.Node("Add", {h, Conv1D(g, attn, p + "attn.c_proj", s.hidden, s.hidden)});
    const std::string y = Norm(g, s, h, p + "ln_2", s.hidden);
    const std::string mid =
        Activation(g, Conv1D(g, y, p + "mlp.c_fc", s.hidden, s.intermediate), s.act);
    h = g.Node("Add", {h, Conv1D(g, mid, p + "mlp.c_proj", s.intermediate, s.hidden)});
  }
  h = Norm(g, s, h, "ln_f", s.hidden);
  return LmHead(g, s, h, table, "lm_head", s.hidden, false);
}

// OPT's positions count the attended tokens: cumsum(mask) * mask - 1 (padding -> -1),
// the current tokens' slice, offset by 2 into a table of max_positions + 2 rows.
std::string OptPositions(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx,
                         const std::string& table_name) {
  core::Tensor axis = core::Tensor::Zeros(core::DType::kInt64, {});
  axis.values<int64_t>()[0] = 1;
  const std::string counts =
      g.Node("CumSum", {"attention_mask", g.Initializer("opt.positions_axis", axis)});
  const std::string positions =
      g.Node("Sub", {g.Node("Mul", {counts, "attention_mask"}), g.ConstInt64({1})});
  const std::string current =
      g.Node("Slice", {positions, ctx.past_length,
                       g.ConstInt64({std::numeric_limits<int64_t>::max()}), g.ConstInt64({1})});
  const std::string table =
      g.Weight(table_name, {s.max_positions + 2, s.hidden}, WeightInit::kNormal);
  return g.Node("Gather", {table, g.Node("Add", {current, g.ConstInt64({2})})});
}

std::string Opt(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx) {
  std::string table;
  std::string h = Embedding(g, s, "decoder.embed_tokens.weight", s.word_embed_dim, &table);
  const bool projected = s.word_embed_dim != s.hidden;
  if (projected) h = g.Linear(h, "decoder.project_in", s.word_embed_dim, s.hidden, false);
  h = g.Node("Add", {h, OptPositions(g, s, ctx, "decoder.embed_positions.weight")});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("decoder.layers.{}.", l);
    const std::string x = s.pre_norm ? Norm(g, s, h, p + "self_attn_layer_norm", s.hidden) : h;
    auto heads = [&](const char* name) {
      return ReshapeToHeads(g, g.Linear(x, p + "self_attn." + name, s.hidden, s.hidden, s.qkv_bias),
                            s.heads, s.head_dim);
    };
    const std::string q = heads("q_proj"), k = heads("k_proj"), v = heads("v_proj");
    const std::string attn = Attend(g, s, ctx, l, q, k, v, InverseSqrtScale(s));
    h = g.Node("Add", {h, g.Linear(attn, p + "self_attn.out_proj", s.hidden, s.hidden, s.o_bias)});
    if (!s.pre_norm) h = Norm(g, s, h, p + "self_attn_layer_norm", s.hidden);
    const std::string y = s.pre_norm ? Norm(g, s, h, p + "final_layer_norm", s.hidden) : h;
    const std::string mid =
        Activation(g, g.Linear(y, p + "fc1", s.hidden, s.intermediate, s.mlp_bias), s.act);
    h = g.Node("Add", {h, g.Linear(mid, p + "fc2", s.intermediate, s.hidden, s.mlp_bias)});
    if (!s.pre_norm) h = Norm(g, s, h, p + "final_layer_norm", s.hidden);
  }
  if (s.final_norm) h = Norm(g, s, h, "decoder.final_layer_norm", s.hidden);
  if (projected) h = g.Linear(h, "decoder.project_out", s.hidden, s.word_embed_dim, false);
  return LmHead(g, s, h, table, "lm_head", s.word_embed_dim, false);
}

// ---- Layout "blocks" (decoder_blocks.h): the block structure and weight names are data ----

BlockDims Dims(const DecoderShape& s) {
  return {.hidden = s.hidden,
          .heads = s.heads,
          .kv_heads = s.kv_heads,
          .head_dim = s.head_dim,
          .intermediate = s.intermediate,
          .qkv_bias = s.qkv_bias,
          .o_bias = s.o_bias,
          .mlp_bias = s.mlp_bias,
          .act = s.act};
}

std::vector<ScoreScale> BlockScales(const DecoderShape& s) {
  const BlockSpec& b = s.blocks;
  if (b.softmax_scale > 0) return {{static_cast<float>(b.softmax_scale), false}};
  switch (b.scaling) {
    case ScoreScaling::kInverseSqrt:
      return InverseSqrtScale(s);
    case ScoreScaling::kDivideBySqrt:
      return {{static_cast<float>(std::sqrt(static_cast<double>(s.head_dim))), true}};
    case ScoreScaling::kNone:
      break;
  }
  return {};
}

// [1, S] int64 positions past + arange(S), moved by the table's offset.
std::string OffsetPositions(GraphBuilder& g, const DecoderContext& ctx, int64_t offset) {
  if (offset == 0) return ctx.cache_positions;
  return g.Node("Add", {ctx.cache_positions, g.ConstInt64({offset})});
}

std::string BlockPositions(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx) {
  const BlockSpec& b = s.blocks;
  switch (b.positions) {
    case PositionForm::kLearned: {
      const std::string table =
          g.Weight(b.names.positions + ".weight", {s.max_positions + b.position_offset, s.hidden},
                   WeightInit::kNormal);
      return g.Node("Gather", {table, OffsetPositions(g, ctx, b.position_offset)});
    }
    case PositionForm::kLearnedFromMask:
      return OptPositions(g, s, ctx, b.names.positions + ".weight");
    case PositionForm::kSinusoidal:
      return SinusoidalPositions(g, FairseqSinusoidFrequencies(s.hidden),
                                 OffsetPositions(g, ctx, b.position_offset),
                                 "sinusoid.frequencies");
    case PositionForm::kSinusoidalCtrl:
      return SinusoidalPositions(g, CtrlSinusoidFrequencies(s.hidden),
                                 OffsetPositions(g, ctx, b.position_offset),
                                 "sinusoid.frequencies");
    default:
      return "";
  }
}

// ALiBi families add their linear biases to every layer's mask once.
DecoderContext WithAlibi(GraphBuilder& g, const DecoderShape& s, DecoderContext ctx) {
  const PositionForm p = s.blocks.positions;
  if (p != PositionForm::kAlibiBloom && p != PositionForm::kAlibiMpt) return ctx;
  const AlibiKind kind = p == PositionForm::kAlibiBloom ? AlibiKind::kBloom : AlibiKind::kMpt;
  const std::string bias =
      AlibiBias(g, kind, AlibiSlopes(kind, s.heads, s.blocks.alibi_bias_max), "attention_mask");
  for (auto& [window, mask] : ctx.masks) mask = g.Node("Add", {mask, bias});
  return ctx;
}

std::string BlockAttention(GraphBuilder& g, const DecoderShape& s, const DecoderShape& layer_shape,
                           const DecoderContext& ctx, int l, const std::string& x,
                           const std::string& p) {
  const BlockSpec& b = s.blocks;
  BlockQkv qkv = BlockProjectQkv(g, b, Dims(s), x, p);
  if (s.qk_norm) {  // Persimmon: a LayerNorm over each head's q and k
    qkv.q = g.LayerNorm(qkv.q, p + b.names.q_norm, s.head_dim, s.eps);
    qkv.k = g.LayerNorm(qkv.k, p + b.names.k_norm, s.head_dim, s.eps);
  }
  const std::string attn = Attend(g, layer_shape, ctx, l, qkv.q, qkv.k, qkv.v, BlockScales(s));
  std::string out =
      BlockLinear(g, b, attn, p + b.names.o, s.heads * s.head_dim, s.hidden, s.o_bias);
  if (b.last_layer_o_bias && l == s.layers - 1)  // GPT-NeoX-Japanese's dense_bias
    out = g.Node("Add", {out, g.Weight(p + b.names.o + "_bias", {s.hidden}, WeightInit::kZeros)});
  return out;
}

std::string Block(GraphBuilder& g, const DecoderShape& s, const DecoderShape& layer_shape,
                  const DecoderContext& ctx, int l, const std::string& h) {
  const BlockSpec& b = s.blocks;
  const std::string p = BlockLayerPrefix(b, l);
  auto norm = [&](const std::string& x, const std::string& name) {
    return Norm(g, s, x, p + name, s.hidden);
  };
  auto attention = [&](const std::string& x) {
    return BlockAttention(g, s, layer_shape, ctx, l, x, p);
  };
  auto mlp = [&](const std::string& x) {  // Cohere2-MoE: experts where the `moe` piece says
    return s.moe && s.moe_layers[l] ? MoeBlock(g, s, x, p) : BlockMlp(g, b, Dims(s), x, p);
  };
  switch (b.form) {
    case BlockForm::kParallel: {
      const std::string x = norm(h, b.names.attn_norm);
      return g.Node("Add", {g.Node("Add", {h, attention(x)}), mlp(x)});
    }
    case BlockForm::kParallelTwoNorms: {
      const std::string a = attention(norm(h, b.names.attn_norm));
      return g.Node("Add", {g.Node("Add", {h, a}), mlp(norm(h, b.names.mlp_norm))});
    }
    case BlockForm::kPostNorm: {
      const std::string after = norm(g.Node("Add", {h, attention(h)}), b.names.attn_norm);
      return norm(g.Node("Add", {after, mlp(after)}), b.names.mlp_norm);
    }
    case BlockForm::kSequential:
      break;
  }
  const std::string after = g.Node("Add", {h, attention(norm(h, b.names.attn_norm))});
  return g.Node("Add", {after, mlp(norm(after, b.names.mlp_norm))});
}

std::string Blocks(GraphBuilder& g, const DecoderShape& s, const DecoderContext& base) {
  const BlockSpec& b = s.blocks;
  const DecoderContext ctx = WithAlibi(g, s, base);
  std::string table;
  std::string h = Embedding(g, s, b.names.embed + ".weight", s.hidden, &table);
  BlockUnusedPatchEmbedding(g, b, s.hidden);
  if (s.scale_embeddings)
    h = g.Node("Mul",
               {h, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.hidden))))});
  if (const std::string positions = BlockPositions(g, s, ctx); !positions.empty())
    h = g.Node("Add", {h, positions});
  if (!b.names.embed_norm.empty()) h = Norm(g, s, h, b.names.embed_norm, s.hidden);
  DecoderShape no_rope = s;  // Cohere2's full-attention layers
  no_rope.rope.rotary_dim = 0;
  for (int l = 0; l < s.layers; ++l) {
    const bool rope = !b.rope_on_sliding_only || s.windows[l] > 0;
    h = Block(g, s, rope ? s : no_rope, ctx, l, h);
  }
  if (!b.names.final_norm.empty()) h = Norm(g, s, h, b.names.final_norm, s.hidden);
  std::string logits =
      b.lm_head_rows == 0
          ? LmHead(g, s, h, table, b.names.lm_head, s.hidden, b.lm_head_bias)
          : g.Linear(h, b.names.lm_head, s.hidden, s.vocab + b.lm_head_rows, b.lm_head_bias);
  if (s.tied && b.lm_head_bias)  // CTRL: the tied matrix and a bias of the head's own
    logits =
        g.Node("Add", {logits, g.Weight(b.names.lm_head + ".bias", {s.vocab}, WeightInit::kZeros)});
  if (b.logit_scale != 1)
    logits = g.Node("Mul", {logits, g.ConstFloat(static_cast<float>(b.logit_scale))});
  return logits;
}

// attention_mask and past_key_values.* (decoder_builder.h has their shapes).
void CacheInputs(GraphBuilder& g, const DecoderShape& s) {
  const Dim batch = std::string("batch"), past = std::string("past_sequence"),
            total = std::string("total_sequence");
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, total});
  for (int l = 0; l < s.layers; ++l) {
    g.Input(PastKey(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, past, s.key_dim()});
    g.Input(PastValue(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, past, s.value_dim()});
  }
}

// logits and present.* from the head's output.
// `logits_output` "": the logits stay inside the graph (a composite's head reads them).
void DecoderOutputs(GraphBuilder& g, const DecoderShape& s, const std::string& logits,
                    const std::string& logits_output = "logits") {
  const Dim batch = std::string("batch"), sequence = std::string("sequence"),
            total = std::string("total_sequence");
  if (!logits_output.empty()) {
    g.Node("Identity", {logits}, {}, logits_output);
    g.Output(logits_output, onnx::TensorProto::FLOAT,
             {batch, sequence, s.head_rows > 0 ? s.head_rows : s.vocab + s.blocks.lm_head_rows});
  }
  for (int l = 0; l < s.layers; ++l) {
    g.Output(PresentKey(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, total, s.key_dim()});
    g.Output(PresentValue(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, total, s.value_dim()});
  }
}

void RequireLlamaLike(const DecoderShape& s, const HfConfig& c) {
  if (s.layout != Layout::kLlama)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': only the LLaMA-like decoders (template piece layout \"llama\") "
                            "can be fed input embeddings",
                            c.origin()));
}

}  // namespace

void BuildDecoder(const HfConfig& config, GraphBuilder& g) {
  const DecoderShape s = ReadDecoderShape(config);
  g.Input("input_ids", onnx::TensorProto::INT64, {std::string("batch"), std::string("sequence")});
  CacheInputs(g, s);
  const DecoderContext ctx = MakeContext(g, s);
  std::string logits;
  switch (s.layout) {
    case Layout::kGpt2:
      logits = Gpt2(g, s, ctx);
      break;
    case Layout::kOpt:
      logits = Opt(g, s, ctx);
      break;
    case Layout::kPhi:
      logits = Phi(g, s, ctx);
      break;
    case Layout::kGptNeox:
      logits = GptNeox(g, s, ctx);
      break;
    case Layout::kLlama:
      logits = LlamaLike(g, s, ctx);
      break;
    case Layout::kBlocks:
      logits = Blocks(g, s, ctx);
      break;
  }
  DecoderOutputs(g, s, logits);
}

DecoderSizes ReadDecoderSizes(const HfConfig& config) {
  const DecoderShape s = ReadDecoderShape(config);
  return {.vocab = s.vocab,
          .hidden = s.hidden,
          .layers = s.layers,
          .heads = s.heads,
          .kv_heads = s.kv_heads,
          .head_dim = s.head_dim,
          .max_positions = s.max_positions,
          .rope = s.rope};
}

DecoderTokens DecoderTokenEmbeddings(const HfConfig& config, GraphBuilder& g,
                                     const std::string& input_ids) {
  const DecoderShape s = ReadDecoderShape(config);
  RequireLlamaLike(s, config);
  DecoderTokens out;
  out.embeddings = Embedding(g, s, "embed_tokens.weight", s.hidden, &out.table, input_ids);
  return out;
}

std::string DecoderRmsNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                           int64_t size, double eps, bool plus_one) {
  return RmsNorm(g, x, prefix, size, eps, plus_one);
}

std::string DecoderScaleTokenEmbeddings(const HfConfig& config, GraphBuilder& g,
                                        const std::string& token_embeddings) {
  const DecoderShape s = ReadDecoderShape(config);
  return s.scale_embeddings ? g.Node("Mul", {token_embeddings, EmbeddingScale(g, s)})
                            : token_embeddings;
}

std::string BuildDecoderFromEmbeddings(const HfConfig& config, GraphBuilder& g,
                                       const DecoderEmbeddingsInput& in) {
  if (!in.rope.cos.empty() && !in.position_ids.empty())
    throw Error(ErrorKind::kInternal,
                "BuildDecoderFromEmbeddings takes rotary tables or position ids, not both");
  const DecoderShape s = ReadDecoderShape(config);
  RequireLlamaLike(s, config);
  CacheInputs(g, s);
  DecoderContext ctx = MakePositionsAndMasks(g, s, in.embeddings, in.bidirectional_groups);
  ctx.embeddings_scaled = in.scaled;
  if (!in.rope.cos.empty())
    ctx.rope = in.rope;
  else
    ctx.rope =
        RopeCosSin(g, s.rope, in.position_ids.empty() ? ctx.cache_positions : in.position_ids);
  const std::string logits = LlamaLikeFromEmbeddings(g, s, ctx, in.embeddings, in.embedding_table);
  DecoderOutputs(g, s, logits, in.logits_output);
  return logits;
}

HfConfig DecoderTextConfig(const HfConfig& text) {
  const ArchitectureTemplate* t = FindTemplate(text.ModelType());
  if (!t || t->builder != "decoder")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': text model '{}' is not a decoder this tool builds",
                            text.origin(), text.ModelType()));
  return ApplyTemplate(*t, text);
}

bool DecoderTakesEmbeddings(const HfConfig& config) {
  return ReadDecoderShape(config).layout == Layout::kLlama;
}

int64_t DecoderMaxPositions(const HfConfig& config) {
  return ReadDecoderShape(config).max_positions;
}

int64_t DecoderVocabSize(const HfConfig& config) { return ReadDecoderShape(config).vocab; }

}  // namespace ipfs_accel::models
