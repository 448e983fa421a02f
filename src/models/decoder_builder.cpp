#include "decoder_builder.h"

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "alibi.h"
#include "decoder_blocks.h"
#include "decoder_fused.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"
#include "piece_enum.h"
#include "rotary.h"
#include "sinusoidal_positions.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

enum class NormKind { kLayerNorm, kLayerNormNoBias, kRms, kRmsPlusOne };
// The block structure and its weight names (the template's `layout` piece); kBlocks takes
// both from the template's data (decoder_blocks.h).
enum class Layout { kLlama, kPhi, kGptNeox, kGpt2, kOpt, kBlocks };

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
  // Layout "blocks"
  BlockSpec blocks;
};

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

// Qwen2/Qwen3: layer_types when given, else sliding layers from max_window_layers on.
std::vector<int64_t> QwenWindows(const HfConfig& c, int64_t layers) {
  const int64_t window =
      c.Bool("use_sliding_window", false) ? IntOrNullAsZero(c, "sliding_window", 4096) : 0;
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

std::vector<int64_t> ReadWindows(const HfConfig& c, int64_t layers) {
  const std::string mode = c.PieceString("sliding_window", "none");
  if (mode == "all") return std::vector<int64_t>(layers, IntOrNullAsZero(c, "sliding_window", 0));
  if (mode == "qwen") return QwenWindows(c, layers);
  if (mode == "layer_types") return PatternWindows(c, layers);
  if (mode == "gpt_neo") return GptNeoWindows(c, layers);
  Refuse(c, mode != "none", fmt::format("sliding_window piece '{}'", mode));
  return std::vector<int64_t>(layers, 0);
}

// The `rope` piece: the config keys of the rope's base and rotated fraction, or null for
// learned absolute positions.
RopeSpec ReadRopePiece(const HfConfig& c, const DecoderShape& s) {
  const nlohmann::json piece = c.Piece("rope");
  if (piece.is_null()) return {};
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
  RopeSpec spec = ReadRope(c, s.head_dim, s.max_positions, keys);
  spec.interleaved = piece.value("interleaved", false);
  return spec;
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
}

void ReadBlocks(const HfConfig& c, DecoderShape& s) {
  s.blocks = ReadBlockSpec(c);
  if (s.blocks.form == BlockForm::kParallel && !s.parallel_residual)
    s.blocks.form = BlockForm::kSequential;  // StableLM, Falcon: parallel_attn false
  Refuse(c, s.qk_norm && s.blocks.names.q_norm.empty(),
         fmt::format("q/k normalisation in template '{}'", c.template_name()));
  Refuse(c, s.tied && s.blocks.lm_head_rows != 0,
         "a tied LM head of another size than the vocabulary");
  Refuse(c, s.blocks.qkv == QkvForm::kCodegen && s.heads % 4 != 0,
         "a CodeGen head count that is not a multiple of its 4 qkv shards");
}

DecoderShape ReadShape(const HfConfig& c) {
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
                                {"layernorm", NormKind::kLayerNorm},
                                {"layernorm_no_bias", NormKind::kLayerNormNoBias}});
  s.qkv_bias = c.PieceBool("qkv_bias", false);
  s.o_bias = c.PieceBool("o_bias", false);
  s.mlp_bias = c.PieceBool("mlp_bias", false);
  const nlohmann::json qk_norm = c.Piece("qk_norm");  // "head_rms"..., or a boolean reference
  s.qk_norm =
      qk_norm.is_boolean() ? qk_norm.get<bool>() : c.PieceString("qk_norm", "none") != "none";
  const nlohmann::json scale = c.Piece("embedding_scale");  // "sqrt_hidden", or a boolean reference
  s.scale_embeddings = scale.is_boolean()
                           ? scale.get<bool>()
                           : c.PieceString("embedding_scale", "none") == "sqrt_hidden";
  s.scale_attn_weights = c.PieceBool("scale_attn_weights", true);
  s.scale_by_inverse_layer = c.PieceBool("scale_attn_by_inverse_layer_idx", false);
  s.word_embed_dim = c.Int("word_embed_proj_dim", s.hidden);
  s.pre_norm = c.PieceBool("pre_norm", true);
  s.final_norm = s.pre_norm && !c.PieceBool("remove_final_norm", false);
  s.norm_affine = c.PieceBool("norm_affine", true);
  s.parallel_residual = c.PieceBool("parallel_residual", true);
  s.windows = ReadWindows(c, s.layers);
  CheckHeads(c, s, !c.PieceBool("gqa", true) || !c.Has("head_dim"));
  s.rope = ReadRopePiece(c, s);
  if (s.layout == Layout::kBlocks) ReadBlocks(c, s);
  return s;
}

std::string ScalarInt64(GraphBuilder& g, int64_t value) {
  return g.Node("Squeeze", {g.ConstInt64({value}), g.ConstInt64({0})});
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
  bool fused = false;  // contrib-op layers (FusedLayers); `rope` then stays empty
  FusedDecoderContext fused_layers;
};

// The rotary RMSNorm families have a contrib-op form; GPT-2, OPT, Phi and GPT-NeoX stay plain.
bool FusedLayers(const GraphBuilder& g, const DecoderShape& s) {
  return g.fused() && s.layout == Layout::kLlama && s.norm != NormKind::kLayerNorm &&
         s.rope.rotary_dim > 0;
}

// Positions and masks; the rotary tables are the caller's to add. `tokens` is any
// [batch, sequence, ...] tensor of the new tokens (input_ids, or input embeddings).
DecoderContext MakePositionsAndMasks(GraphBuilder& g, const DecoderShape& s,
                                     const std::string& tokens) {
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
  for (int64_t window : s.windows) {
    if (ctx.masks.count(window)) continue;
    std::string allowed = causal;
    if (window > 0) {
      const std::string in_window =
          g.Node("Greater", {k_row, g.Node("Sub", {q_col, g.ConstInt64({window})})});
      allowed = g.Node("And", {causal, in_window});
    }
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

// Causal self-attention with the KV cache. q [b, S, heads, hd], k and v [b, S, kv, hd];
// returns [b, S, heads * hd]. Grouped-query heads attend without copying the cache:
// the query heads of one KV head are folded into its rows.
std::string Attend(GraphBuilder& g, const DecoderShape& s, const DecoderContext& ctx, int layer,
                   const std::string& q_heads, const std::string& k_heads,
                   const std::string& v_heads, const std::vector<ScoreScale>& scales) {
  const std::vector<int64_t> to_heads_first = {0, 2, 1, 3};
  std::string q = g.Node("Transpose", {q_heads}, {{"perm", to_heads_first}});
  std::string k = g.Node("Transpose", {k_heads}, {{"perm", to_heads_first}});
  const std::string v = g.Node("Transpose", {v_heads}, {{"perm", to_heads_first}});
  if (s.rope.rotary_dim > 0) {
    q = ApplyRope(g, q, ctx.rope, s.rope.rotary_dim, s.head_dim);
    k = ApplyRope(g, k, ctx.rope, s.rope.rotary_dim, s.head_dim);
  }
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
  if (grouped) scores = g.Node("Reshape", {scores, g.ConstInt64({0, s.heads, -1, 0})});
  scores = g.Node("Add", {scores, ctx.masks.at(s.windows[layer])});
  std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  if (grouped)  // [b, kv, rep * S, T]
    probs = g.Node("Reshape", {probs, g.ConstInt64({0, s.kv_heads, -1, 0})});
  std::string out = g.Node("MatMul", {probs, values});
  if (grouped) out = g.Node("Reshape", {out, g.ConstInt64({0, s.heads, -1, s.head_dim})});
  out = g.Node("Transpose", {out}, {{"perm", to_heads_first}});
  return g.Node("Reshape", {out, g.ConstInt64({0, 0, s.heads * s.head_dim})});
}

std::vector<ScoreScale> InverseSqrtScale(const DecoderShape& s) {
  return {{static_cast<float>(std::pow(static_cast<double>(s.head_dim), -0.5)), false}};
}

std::string SplitHeads(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim) {
  return g.Node("Reshape", {x, g.ConstInt64({0, 0, heads, head_dim})});
}

// The RMSNorm scale. Gemma stores the offset from 1 (initialised to zeros), so its scale is
// weight + 1: a node on the initializer, which ONNX Runtime folds when it loads the graph.
std::string RmsScale(GraphBuilder& g, const std::string& prefix, int64_t size, bool plus_one) {
  const std::string w =
      g.Weight(prefix + ".weight", {size}, plus_one ? WeightInit::kZeros : WeightInit::kOnes);
  return plus_one ? g.Node("Add", {w, g.ConstFloat(1.0f)}) : w;
}

std::string RmsNorm(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t size,
                    double eps, bool plus_one) {
  const std::string scale = RmsScale(g, prefix, size, plus_one);
  const std::string mean_square = g.Node("ReduceMean", {g.Node("Mul", {x, x})},
                                         {{"axes", std::vector<int64_t>{-1}}, {"keepdims", 1}});
  const std::string inv_rms = g.Node(
      "Reciprocal",
      {g.Node("Sqrt", {g.Node("Add", {mean_square, g.ConstFloat(static_cast<float>(eps))})})});
  return g.Node("Mul", {g.Node("Mul", {x, inv_rms}), scale});
}

std::string Norm(GraphBuilder& g, const DecoderShape& s, const std::string& x,
                 const std::string& prefix, int64_t size) {
  if (s.norm == NormKind::kRms || s.norm == NormKind::kRmsPlusOne)
    return RmsNorm(g, x, prefix, size, s.eps, s.norm == NormKind::kRmsPlusOne);
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
  if (!s.tied) return g.Linear(x, head, in, s.vocab, bias);
  // Gemm reads the [vocab, in] table transposed in place: no second copy of it at run time.
  const std::string rows = g.Node("Reshape", {x, g.ConstInt64({-1, in})});
  const std::string y = g.Node("Gemm", {rows, embedding}, {{"transB", int64_t{1}}});
  const std::string batch_and_sequence =
      g.Node("Slice", {g.Node("Shape", {x}), g.ConstInt64({0}), g.ConstInt64({2})});
  return g.Node("Reshape", {y, g.Node("Concat", {batch_and_sequence, g.ConstInt64({s.vocab})},
                                      {{"axis", int64_t{0}}})});
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
      RmsNorm(g, SplitHeads(g, x, heads, s.head_dim), prefix, s.head_dim, s.eps, false);
  return g.Node("Reshape", {normed, g.ConstInt64({0, 0, heads * s.head_dim})});
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
    const std::string gate = Activation(
        g, g.Linear(y, p + "mlp.gate_proj", s.hidden, s.intermediate, s.mlp_bias), s.act);
    const std::string up = g.Linear(y, p + "mlp.up_proj", s.hidden, s.intermediate, s.mlp_bias);
    const std::string m = g.Linear(g.Node("Mul", {gate, up}), p + "mlp.down_proj", s.intermediate,
                                   s.hidden, s.mlp_bias);
    const std::string next_norm =
        l + 1 < s.layers ? fmt::format("layers.{}.input_layernorm", l + 1) : "norm";
    x = SkipRmsNorm(g, m, h, RmsScale(g, next_norm, s.hidden, plus_one), s.eps);
    if (l + 1 < s.layers) h = g.Node("Add", {h, m});
  }
  return LmHead(g, s, x, table, "lm_head", s.hidden, false);
}

// The LLaMA-like layers, final norm and LM head from the token embeddings `h` (HF's
// inputs_embeds). `table` is the embedding matrix for a tied head; empty: asked for here.
std::string LlamaLikeFromEmbeddings(GraphBuilder& g, const DecoderShape& s,
                                    const DecoderContext& ctx, std::string h, std::string table) {
  if (s.tied && table.empty())
    table = g.Weight("embed_tokens.weight", {s.vocab, s.hidden}, WeightInit::kNormal);
  // Gemma scales embeddings by sqrt(hidden), rounded to float32 first as HF does.
  if (s.scale_embeddings)
    h = g.Node("Mul",
               {h, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.hidden))))});
  if (ctx.fused) return LlamaLikeFused(g, s, ctx, h, table);
  const int64_t q_dim = s.heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim;
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    const std::string x = Norm(g, s, h, p + "input_layernorm", s.hidden);
    std::string q = SplitHeads(g, g.Linear(x, p + "self_attn.q_proj", s.hidden, q_dim, s.qkv_bias),
                               s.heads, s.head_dim);
    std::string k = SplitHeads(g, g.Linear(x, p + "self_attn.k_proj", s.hidden, kv_dim, s.qkv_bias),
                               s.kv_heads, s.head_dim);
    const std::string v =
        SplitHeads(g, g.Linear(x, p + "self_attn.v_proj", s.hidden, kv_dim, s.qkv_bias), s.kv_heads,
                   s.head_dim);
    if (s.qk_norm) {  // Qwen3: RMSNorm over each head, before RoPE
      q = RmsNorm(g, q, p + "self_attn.q_norm", s.head_dim, s.eps, false);
      k = RmsNorm(g, k, p + "self_attn.k_norm", s.head_dim, s.eps, false);
    }
    const std::string attn = Attend(g, s, ctx, l, q, k, v, InverseSqrtScale(s));
    h = g.Node("Add", {h, g.Linear(attn, p + "self_attn.o_proj", q_dim, s.hidden, s.o_bias)});
    const std::string y = Norm(g, s, h, p + "post_attention_layernorm", s.hidden);
    const std::string gate = Activation(
        g, g.Linear(y, p + "mlp.gate_proj", s.hidden, s.intermediate, s.mlp_bias), s.act);
    const std::string up = g.Linear(y, p + "mlp.up_proj", s.hidden, s.intermediate, s.mlp_bias);
    h = g.Node("Add", {h, g.Linear(g.Node("Mul", {gate, up}), p + "mlp.down_proj", s.intermediate,
                                   s.hidden, s.mlp_bias)});
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
    std::string q =
        SplitHeads(g, g.Linear(x, p + "self_attn.q_proj", s.hidden, q_dim), s.heads, s.head_dim);
    std::string k = SplitHeads(g, g.Linear(x, p + "self_attn.k_proj", s.hidden, kv_dim), s.kv_heads,
                               s.head_dim);
    const std::string v = SplitHeads(g, g.Linear(x, p + "self_attn.v_proj", s.hidden, kv_dim),
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
    const std::string qkv = SplitHeads(
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
    const std::string attn = Attend(g, s, ctx, l, SplitHeads(g, parts[0], s.heads, s.head_dim),
                                    SplitHeads(g, parts[1], s.heads, s.head_dim),
                                    SplitHeads(g, parts[2], s.heads, s.head_dim), scales);
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
      return SplitHeads(g, g.Linear(x, p + "self_attn." + name, s.hidden, s.hidden, s.qkv_bias),
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
  auto mlp = [&](const std::string& x) { return BlockMlp(g, b, Dims(s), x, p); };
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
    g.Input(PastKey(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, past, s.head_dim});
    g.Input(PastValue(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, past, s.head_dim});
  }
}

// logits and present.* from the head's output.
void DecoderOutputs(GraphBuilder& g, const DecoderShape& s, const std::string& logits) {
  const Dim batch = std::string("batch"), sequence = std::string("sequence"),
            total = std::string("total_sequence");
  g.Node("Identity", {logits}, {}, "logits");
  g.Output("logits", onnx::TensorProto::FLOAT, {batch, sequence, s.vocab + s.blocks.lm_head_rows});
  for (int l = 0; l < s.layers; ++l) {
    g.Output(PresentKey(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, total, s.head_dim});
    g.Output(PresentValue(l), onnx::TensorProto::FLOAT, {batch, s.kv_heads, total, s.head_dim});
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
  const DecoderShape s = ReadShape(config);
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
  const DecoderShape s = ReadShape(config);
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
  const DecoderShape s = ReadShape(config);
  RequireLlamaLike(s, config);
  DecoderTokens out;
  out.embeddings = Embedding(g, s, "embed_tokens.weight", s.hidden, &out.table, input_ids);
  return out;
}

void BuildDecoderFromEmbeddings(const HfConfig& config, GraphBuilder& g,
                                const DecoderEmbeddingsInput& in) {
  if (!in.rope.cos.empty() && !in.position_ids.empty())
    throw Error(ErrorKind::kInternal,
                "BuildDecoderFromEmbeddings takes rotary tables or position ids, not both");
  const DecoderShape s = ReadShape(config);
  RequireLlamaLike(s, config);
  CacheInputs(g, s);
  DecoderContext ctx = MakePositionsAndMasks(g, s, in.embeddings);
  if (!in.rope.cos.empty())
    ctx.rope = in.rope;
  else
    ctx.rope =
        RopeCosSin(g, s.rope, in.position_ids.empty() ? ctx.cache_positions : in.position_ids);
  DecoderOutputs(g, s, LlamaLikeFromEmbeddings(g, s, ctx, in.embeddings, in.embedding_table));
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
  return ReadShape(config).layout == Layout::kLlama;
}

int64_t DecoderMaxPositions(const HfConfig& config) { return ReadShape(config).max_positions; }

int64_t DecoderVocabSize(const HfConfig& config) { return ReadShape(config).vocab; }

}  // namespace ipfs_accel::models
