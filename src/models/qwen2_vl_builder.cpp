#include "qwen2_vl_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "activation.h"
#include "decoder_builder.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"
#include "rotary.h"
#include "t5_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// Qwen2VLTextConfig's defaults where the text keys are absent (Qwen2Config's differ).
const json& TextDefaults() {
  static const json defaults = {{"vocab_size", 152064},       {"hidden_size", 8192},
                                {"intermediate_size", 29568}, {"num_hidden_layers", 80},
                                {"num_attention_heads", 64},  {"num_key_value_heads", 8},
                                {"hidden_act", "silu"},       {"max_position_embeddings", 32768},
                                {"rms_norm_eps", 1e-5},       {"tie_word_embeddings", false},
                                {"rope_theta", 1000000.0},    {"use_sliding_window", false},
                                {"sliding_window", 4096},     {"max_window_layers", 80}};
  return defaults;
}

// mrope is default RoPE on other positions, so its type reads as "default".
void MropeAsDefault(json& text) {
  for (const char* dict : {"rope_scaling", "rope_parameters"}) {
    if (!text.contains(dict) || !text[dict].is_object()) continue;
    for (const char* type : {"type", "rope_type"})
      if (text[dict].contains(type) && text[dict][type] == "mrope") text[dict][type] = "default";
  }
}

// The language model's config: the keys of `text_config` when present (transformers 5), else
// the top level (the Hub's files); a config of the template piece text_model names (its own
// defaults), else a qwen2 config with Qwen2-VL's defaults filled in.
HfConfig Qwen2VlTextConfig(const HfConfig& c) {
  json text = c.json();
  if (c.Has("text_config")) {
    if (!c.json()["text_config"].is_object())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': text_config is not an object", c.origin()));
    text = c.json()["text_config"];
    if (!text.contains("tie_word_embeddings") && c.Has("tie_word_embeddings"))
      text["tie_word_embeddings"] = c.json()["tie_word_embeddings"];
  }
  text.erase("vision_config");
  text.erase("text_config");
  text.erase(kQwen2VlGridKey);
  MropeAsDefault(text);
  if (const json model = c.Piece("text_model"); !model.is_null()) {
    // text_config's own model_type when it has one (Glm46VConfig's text_config is any config).
    if (!c.Has("text_config") || !text.contains("model_type")) text["model_type"] = model;
    return HfConfig(std::move(text), c.origin());
  }
  for (const auto& [key, value] : TextDefaults().items())
    if (!text.contains(key)) text[key] = value;
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "max_position_embeddings", "rms_norm_eps"})
    if (text[key].is_null()) text[key] = TextDefaults()[key];
  if (text["num_key_value_heads"].is_null())
    text["num_key_value_heads"] = text["num_attention_heads"];  // HF: None means MHA
  text.erase("head_dim");  // Qwen2-VL's attention derives it from hidden_size / heads
  text["model_type"] = "qwen2";
  return HfConfig(std::move(text), c.origin());
}

// rope_scaling / rope_parameters' mrope_section; empty when neither has one.
std::vector<int64_t> MropeSection(const HfConfig& text) {
  for (const char* dict : {"rope_scaling", "rope_parameters"}) {
    if (!text.Has(dict) || !text.json()[dict].is_object()) continue;
    const json& p = text.json()[dict];
    if (!p.contains("mrope_section") || p["mrope_section"].is_null()) continue;
    const json& s = p["mrope_section"];
    std::vector<int64_t> out;
    if (s.is_array())
      for (const auto& v : s)
        if (v.is_number_integer() && v.get<int64_t>() >= 0) out.push_back(v.get<int64_t>());
    if (!s.is_array() || out.size() != s.size() || out.empty())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': {}.mrope_section must be a list of non-negative integers",
                              text.origin(), dict));
    return out;
  }
  return {};
}

struct VisionShape {
  int64_t depth = 0, embed_dim = 0, out_hidden = 0, heads = 0, head_dim = 0, mlp_hidden = 0;
  int64_t in_channels = 0, patch = 0, temporal_patch = 0, merge = 0;
  std::string act;
  // Qwen2.5-VL's tower (template piece layout "qwen2_5"): RMS norms (norm1, norm2, the merger's
  // ln_q), a gated MLP gate/up/down_proj with biases, and attention within windows of `window`
  // pixels a side, the patches in window order, except on the blocks `full_blocks`.
  bool qwen2_5 = false;
  int64_t window = 0;
  std::vector<int64_t> full_blocks;
  // GLM-4V's and GLM-OCR's towers (layouts "glm4v", "glm_ocr"): a biased patch conv, RMS norms
  // of rms_norm_eps, qkv biases attention_bias (GLM-OCR: proj and MLP too, per-head q_norm and
  // k_norm), a gated MLP mlp_hidden wide; after the blocks post_layernorm, the merge x merge
  // downsample conv to out_hidden and Glm4vVisionPatchMerger (proj, LayerNorm, GELU, gated MLP
  // merger_context wide). GLM-4V also norms the patches (post_conv_layernorm) and adds its
  // position table (`position_side` patches a side) read at the patches' rows and columns.
  bool glm = false, glm_ocr = false;
  // Qwen3-VL's tower (layout "qwen3_vl"): a biased patch conv, the learned position table of
  // position_grid patches a side bilinearly resampled to the grid, LayerNorm blocks with
  // mlp.linear_fc1/fc2, the merger's norm/linear_fc1/linear_fc2, and deepstack mergers (their
  // norm after the 2x2 shuffle) on the outputs of the blocks `deepstack`.
  bool qwen3 = false;
  int64_t position_grid = 0;
  std::vector<int64_t> deepstack;
  double rms_eps = 1e-6;
  bool qkv_bias = true, proj_bias = true, mlp_bias = true;
  int64_t merger_context = 0, position_side = 0, image_size = 0;
  int64_t patch_features() const { return in_channels * temporal_patch * patch * patch; }
};

// Qwen2VLVisionConfig's keys and defaults, read from the vision config itself.
// A list of integers at `key`, or `fallback`.
std::vector<int64_t> IntList(const HfConfig& vc, const std::string& key,
                             std::vector<int64_t> fallback) {
  if (!vc.Has(key)) return fallback;
  const json& v = vc.json()[key];
  if (!v.is_array() ||
      !std::all_of(v.begin(), v.end(), [](const json& b) { return b.is_number_integer(); }))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': {} is not a list of integers", vc.origin(), key));
  return v.get<std::vector<int64_t>>();
}

// Qwen3VLVisionConfig's keys.
void ReadQwen3Keys(const HfConfig& vc, VisionShape& s) {
  s.qwen3 = true;
  s.embed_dim = vc.Int("hidden_size", 1152);
  s.out_hidden = vc.Int("out_hidden_size", 3584);
  s.act = vc.String("hidden_act", "gelu_pytorch_tanh");
  s.mlp_hidden = vc.Int("intermediate_size", 4304);
  const int64_t positions = vc.Int("num_position_embeddings", 2304);
  s.position_grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(positions))));
  if (s.position_grid * s.position_grid != positions || positions == 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': num_position_embeddings {} is not a "
                                                 "positive square",
                                                 vc.origin(), positions));
  s.deepstack = IntList(vc, "deepstack_visual_indexes", {8, 16, 24});
  if (vc.Piece("deepstack") == false) s.deepstack.clear();  // Qwen3.5's tower has none
}

// Qwen2_5_VLVisionConfig's keys: hidden_size is the blocks' width, out_hidden_size the merger's.
void ReadQwen25Keys(const HfConfig& vc, VisionShape& s) {
  s.qwen2_5 = true;
  s.embed_dim = vc.Int("hidden_size", 3584);
  s.out_hidden = vc.Int("out_hidden_size", 3584);
  s.act = vc.String("hidden_act", "silu");
  s.mlp_hidden = vc.Int("intermediate_size", 3420);
  s.window = vc.Int("window_size", 112);
  s.full_blocks = IntList(vc, "fullatt_block_indexes", {7, 15, 23, 31});
}

// Glm4vVisionConfig's keys (GlmOcrVisionConfig's with `ocr`).
void ReadGlmKeys(const HfConfig& vc, bool ocr, VisionShape& s) {
  s.glm = true;
  s.glm_ocr = ocr;
  s.embed_dim = vc.Int("hidden_size", ocr ? 1024 : 1536);
  s.out_hidden = vc.Int("out_hidden_size", ocr ? 1536 : 4096);
  s.act = vc.String("hidden_act", "silu");
  const int64_t intermediate = vc.Int("intermediate_size", ocr ? 4096 : 13696);
  // Glm4VisionMlp is out_hidden_size wide; GLM-OCR's MLP intermediate_size.
  s.mlp_hidden = ocr ? intermediate : s.out_hidden;
  s.merger_context = ocr ? s.out_hidden * vc.Int("in_channels", 3) : intermediate;
  s.rms_eps = vc.Double("rms_norm_eps", 1e-5);
  s.qkv_bias = vc.Bool("attention_bias", ocr);
  s.proj_bias = s.mlp_bias = ocr && s.qkv_bias;
  s.image_size = vc.Int("image_size", 336);
  s.position_side = ocr ? 0 : s.image_size / vc.Int("patch_size", 14);
}

VisionShape ReadVisionKeys(const HfConfig& vc) {
  VisionShape s;
  s.depth = vc.Int("depth", 32);
  const json layout = vc.Piece("layout");
  if (!layout.is_null() && layout != "qwen2" && layout != "qwen2_5" && layout != "glm4v" &&
      layout != "glm_ocr" && layout != "qwen3_vl")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the qwen2_vl_vision piece layout = {} is not one it knows "
                            "(docs/templates.md)",
                            vc.origin(), layout.dump()));
  if (layout == "qwen2_5") {
    ReadQwen25Keys(vc, s);
  } else if (layout == "glm4v" || layout == "glm_ocr") {
    ReadGlmKeys(vc, layout == "glm_ocr", s);
  } else if (layout == "qwen3_vl") {
    ReadQwen3Keys(vc, s);
  } else {
    s.embed_dim = vc.Int("embed_dim", 1280);
    s.out_hidden = vc.Int("hidden_size", 3584);
    s.act = vc.String("hidden_act", "quick_gelu");
    s.mlp_hidden =
        static_cast<int64_t>(static_cast<double>(s.embed_dim) * vc.Double("mlp_ratio", 4));
  }
  s.heads = vc.Int("num_heads", 16);
  s.in_channels = vc.Int("in_channels", 3);
  s.patch = vc.Int("patch_size", 14);
  s.merge = vc.Int("spatial_merge_size", 2);
  s.temporal_patch = vc.Int("temporal_patch_size", 2);
  if (s.depth < 0 || s.embed_dim <= 0 || s.out_hidden <= 0 || s.heads <= 0 || s.mlp_hidden <= 0 ||
      s.in_channels <= 0 || s.patch <= 0 || s.merge <= 0 || s.temporal_patch <= 0 ||
      s.embed_dim % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': vision sizes must be positive and embed_dim ({}) a multiple "
                            "of num_heads ({})",
                            vc.origin(), s.embed_dim, s.heads));
  s.head_dim = s.embed_dim / s.heads;
  // The 2-D rotary gives head_dim / 4 frequencies to each of height and width.
  if (s.head_dim % 4 != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a vision head size of {} is not supported; the 2-D rotary "
                            "embedding needs a multiple of 4",
                            vc.origin(), s.head_dim));
  return s;
}

// The vision_config seen through the template of piece vision_tower (its defaults and layout),
// whatever model_type HF's sub-config names (Qwen2.5-VL's says "qwen2_5_vl").
HfConfig TowerConfig(const HfConfig& c, json v) {
  const std::string origin = c.origin() + " (vision_config)";
  const json tower = c.Piece("vision_tower");
  if (tower.is_null()) return HfConfig(std::move(v), origin);
  const ArchitectureTemplate* t =
      tower.is_string() ? FindTemplate(tower.get<std::string>()) : nullptr;
  if (!t || t->builder != "qwen2_vl_vision")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the qwen2_vl piece vision_tower = {} names no template built "
                            "by qwen2_vl_vision",
                            c.origin(), tower.dump()));
  v["model_type"] = t->model_type;
  return ApplyTemplate(*t, HfConfig(std::move(v), origin));
}

// The same from a Qwen2VLConfig's vision_config (every default when it has none).
VisionShape ReadVision(const HfConfig& c) {
  json v = json::object();
  if (c.Has("vision_config")) {
    if (!c.json()["vision_config"].is_object())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': vision_config is not an object", c.origin()));
    v = c.json()["vision_config"];
  }
  return ReadVisionKeys(TowerConfig(c, std::move(v)));
}

struct Qwen2VlShape {
  HfConfig text;
  DecoderSizes lm;
  std::vector<int64_t> mrope_section;  // empty: the config has none (not runnable)
  VisionShape vision;
  Qwen2VlTokens tokens;
};

Qwen2VlShape ReadQwen2VlShape(const HfConfig& c) {
  Qwen2VlShape s{DecoderTextConfig(Qwen2VlTextConfig(c)), {}, {}, ReadVision(c), {}};
  s.lm = ReadDecoderSizes(s.text);
  s.mrope_section = MropeSection(s.text);
  int64_t sum = 0;
  for (int64_t n : s.mrope_section) sum += n;
  if (!s.mrope_section.empty() && sum * 2 != s.lm.rope.rotary_dim)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': mrope_section [{}] covers {} rotary frequencies; the {} "
                            "rotated features of a head have {}",
                            c.origin(), fmt::join(s.mrope_section, ", "), sum, s.lm.rope.rotary_dim,
                            s.lm.rope.rotary_dim / 2));
  s.tokens.image = c.Id("image_token_id", 151655);
  s.tokens.video = c.Id("video_token_id", 151656);
  s.tokens.vision_start = c.Id("vision_start_token_id", 151652);
  s.tokens.vision_end = c.Id("vision_end_token_id", 151653);
  s.tokens.spatial_merge_size = s.vision.merge;
  return s;
}

// Rotary angles [h*w, head_dim] of one frame's patches, in the processor's patch order (merge
// x merge blocks, row by row): head_dim/4 frequencies of the patch's row, as many of its
// column, then the same again (HF's cat((emb, emb))). float32 products, as torch.outer makes.
core::Tensor VisionRotaryAngles(const VisionShape& v, const Qwen2VlGrid& grid) {
  const HfConfig theta(json{{"rope_theta", 10000.0}}, "VisionRotaryEmbedding");
  const std::vector<float> inv = ReadRope(theta, v.head_dim / 2, 0).inv_freq;  // head_dim / 4
  const int64_t quarter = v.head_dim / 4, m = v.merge;
  core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, {grid.h * grid.w, v.head_dim});
  auto a = t.values<float>();
  int64_t p = 0;
  for (int64_t bh = 0; bh < grid.h / m; ++bh)
    for (int64_t bw = 0; bw < grid.w / m; ++bw)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j, ++p) {
          const float row = static_cast<float>(bh * m + i), col = static_cast<float>(bw * m + j);
          float* angles = &a[p * v.head_dim];
          for (int64_t k = 0; k < quarter; ++k) {
            angles[k] = row * inv[k];
            angles[quarter + k] = col * inv[k];
          }
          std::copy_n(angles, 2 * quarter, angles + 2 * quarter);
        }
  return t;
}

void CheckGrid(const HfConfig& c, const VisionShape& v, const Qwen2VlGrid& grid) {
  if (grid.t <= 0 || grid.h <= 0 || grid.w <= 0 || grid.h % v.merge != 0 || grid.w % v.merge != 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}': an image grid of {}x{}x{} patches is not a positive multiple "
                            "of spatial_merge_size {}",
                            c.origin(), grid.t, grid.h, grid.w, v.merge));
  if (v.position_side > 0 && (grid.h != v.position_side || grid.w != v.position_side))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a {}x{} patch grid needs GLM-4V's {}x{} position table "
                            "resampled (bicubic grid_sample), which is not built",
                            c.origin(), grid.h, grid.w, v.position_side, v.position_side));
  if (v.qwen2_5 && v.window / v.merge / v.patch <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': window_size {} is under one merged patch ({} pixels)",
                            c.origin(), v.window, v.merge * v.patch));
}

// Qwen2.5-VL's get_window_index for one frame: its merged units (merge x merge patches) in window
// order (windows of window / merge / patch units a side, row-major; units row-major within each),
// and each unit's window.
struct WindowOrder {
  std::vector<int64_t> units, window_of;
};
WindowOrder WindowOrderOf(const VisionShape& v, const Qwen2VlGrid& grid) {
  const int64_t side = v.window / v.merge / v.patch, rows = grid.h / v.merge,
                cols = grid.w / v.merge;
  WindowOrder o;
  int64_t window = 0;
  for (int64_t wr = 0; wr < rows; wr += side)
    for (int64_t wc = 0; wc < cols; wc += side, ++window)
      for (int64_t r = wr; r < std::min(wr + side, rows); ++r)
        for (int64_t c = wc; c < std::min(wc + side, cols); ++c) {
          o.units.push_back(r * cols + c);
          o.window_of.push_back(window);
        }
  return o;
}

// The rows of `t` [units * per_unit, ...] (one frame) in window order.
core::Tensor InWindowOrder(const core::Tensor& t, const WindowOrder& o, int64_t per_unit) {
  core::Tensor out = core::Tensor::Zeros(t.dtype, t.shape);
  const int64_t row = t.element_count() / t.shape[0];
  const auto in = t.values<float>();
  auto dst = out.values<float>();
  for (size_t k = 0; k < o.units.size(); ++k)
    std::copy_n(&in[o.units[k] * per_unit * row], per_unit * row,
                &dst[static_cast<int64_t>(k) * per_unit * row]);
  return out;
}

// The additive mask [frame, frame] of the windowed blocks: 0 within a window, the float minimum
// across (HF attends each window's patches alone).
core::Tensor WindowMask(const WindowOrder& o, int64_t per_unit) {
  const auto n = static_cast<int64_t>(o.units.size()) * per_unit;
  core::Tensor mask = core::Tensor::Zeros(core::DType::kFloat32, {n, n});
  auto m = mask.values<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (o.window_of[i / per_unit] != o.window_of[j / per_unit])
        m[i * n + j] = std::numeric_limits<float>::lowest();
  return mask;
}

// The merged units of every frame, as indices over t * units: `order` within each frame (its
// inverse with `inverse`).
std::vector<int64_t> FrameUnitIndex(const WindowOrder& o, int64_t frames, bool inverse) {
  const auto units = static_cast<int64_t>(o.units.size());
  std::vector<int64_t> index(static_cast<size_t>(frames * units));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t k = 0; k < units; ++k) {
      if (inverse)
        index[f * units + o.units[k]] = f * units + k;
      else
        index[f * units + k] = f * units + o.units[k];
    }
  return index;
}

// x [images, t * units * per_unit, E] with its units gathered by `index`.
std::string GatherUnits(GraphBuilder& g, const std::string& x, const std::vector<int64_t>& index,
                        int64_t per_unit, int64_t width) {
  const auto units = static_cast<int64_t>(index.size());
  const std::string grouped = g.Node("Reshape", {x, g.ConstInt64({-1, units, per_unit * width})});
  const std::string gathered =
      g.Node("Gather", {grouped, g.ConstInt64(index)}, {{"axis", int64_t{1}}});
  return g.Node("Reshape", {gathered, g.ConstInt64({-1, units * per_unit, width})});
}

// Full attention among each frame's patches. x [images, t*h*w, E]; `rope` [h*w, head_dim].
// `mask` (Qwen2.5-VL's windows) is added to the scores, or "".
std::string VisionAttention(GraphBuilder& g, const VisionShape& v, const Qwen2VlGrid& grid,
                            const RopeTables& rope, const std::string& x, const std::string& prefix,
                            const std::string& mask = "") {
  const int64_t frame = grid.h * grid.w, patches = grid.t * frame;
  // qkv's features are (3, heads, head_dim); frames become rows: [images * t, frame, 3, heads, hd]
  const std::string qkv =
      g.Node("Reshape", {g.Linear(x, prefix + "qkv", v.embed_dim, 3 * v.embed_dim, v.qkv_bias),
                         g.ConstInt64({-1, frame, 3, v.heads, v.head_dim})});
  const std::string split =
      g.Node("Transpose", {qkv}, {{"perm", std::vector<int64_t>{2, 0, 3, 1, 4}}});
  const auto parts = g.NodeN("Split", {split, g.ConstInt64({1, 1, 1})}, 3, {{"axis", int64_t{0}}});
  auto heads = [&](int i) { return g.Node("Squeeze", {parts[i], g.ConstInt64({0})}); };
  auto normed = [&](int i, const char* norm) {  // GLM-OCR's q_norm, k_norm over each head
    const std::string h = heads(i);
    return v.glm_ocr ? T5LayerNorm(g, h, prefix + norm, v.head_dim, v.rms_eps) : h;
  };
  const std::string q = ApplyRope(g, normed(0, "q_norm"), rope, v.head_dim, v.head_dim);
  const std::string k = ApplyRope(g, normed(1, "k_norm"), rope, v.head_dim, v.head_dim);
  const std::string k_t = g.Node("Transpose", {k}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  const float scale = static_cast<float>(std::pow(static_cast<double>(v.head_dim), -0.5));
  std::string scores = g.Node("Mul", {g.Node("MatMul", {q, k_t}), g.ConstFloat(scale)});
  if (!mask.empty()) scores = g.Node("Add", {scores, mask});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  std::string out = g.Node("MatMul", {probs, heads(2)});
  out = g.Node("Transpose", {out}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  out = g.Node("Reshape", {out, g.ConstInt64({-1, patches, v.embed_dim})});
  return g.Linear(out, prefix + "proj", v.embed_dim, v.embed_dim, v.proj_bias);
}

// down_proj(act(gate_proj(y)) * up_proj(y)) under `p`, `width` wide.
std::string GatedMlp(GraphBuilder& g, const std::string& y, const std::string& p, int64_t dim,
                     int64_t width, const std::string& act, bool bias) {
  const std::string gate = Activation(g, g.Linear(y, p + "gate_proj", dim, width, bias), act);
  const std::string up = g.Linear(y, p + "up_proj", dim, width, bias);
  return g.Linear(g.Node("Mul", {gate, up}), p + "down_proj", width, dim, bias);
}

// The block's MLP on y: fc2(act(fc1(y))), or Qwen2.5-VL's and GLM's gated one.
std::string VisionMlp(GraphBuilder& g, const VisionShape& v, const std::string& y,
                      const std::string& p) {
  if (!v.qwen2_5 && !v.glm) {
    const std::string fc1 = v.qwen3 ? "linear_fc1" : "fc1", fc2 = v.qwen3 ? "linear_fc2" : "fc2";
    const std::string mid = Activation(g, g.Linear(y, p + fc1, v.embed_dim, v.mlp_hidden), v.act);
    return g.Linear(mid, p + fc2, v.mlp_hidden, v.embed_dim);
  }
  return GatedMlp(g, y, p, v.embed_dim, v.mlp_hidden, v.act, v.mlp_bias);
}

// GLM-4V's tail on the blocks' output h [images, patches, E]: post_layernorm, the downsample
// conv over each merge x merge block (a MatMul over its patches' features, as the Conv2d of
// kernel = stride = merge sees them), then Glm4vVisionPatchMerger.
std::string GlmMerger(GraphBuilder& g, const VisionShape& v, const std::string& h,
                      const std::string& prefix, int64_t merged) {
  const int64_t unit = v.merge * v.merge, block = v.embed_dim * unit;
  std::string x = T5LayerNorm(g, h, prefix + "post_layernorm", v.embed_dim, v.rms_eps);
  // [images, merged, unit, E] -> [images, merged, E * unit]: the conv weight's (E, i, j) order.
  x = g.Node("Reshape", {x, g.ConstInt64({-1, merged, unit, v.embed_dim})});
  x = g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  x = g.Node("Reshape", {x, g.ConstInt64({-1, merged, block})});
  const std::string w =
      g.Weight(prefix + "downsample.weight", {v.out_hidden, v.embed_dim, v.merge, v.merge},
               WeightInit::kNormal);
  const std::string kernel =
      g.Node("Transpose", {g.Node("Reshape", {w, g.ConstInt64({v.out_hidden, block})})},
             {{"perm", std::vector<int64_t>{1, 0}}});
  x = g.Node("Add", {g.Node("MatMul", {x, kernel}),
                     g.Weight(prefix + "downsample.bias", {v.out_hidden}, WeightInit::kZeros)});
  const std::string m = prefix + "merger.";
  x = g.Linear(x, m + "proj", v.out_hidden, v.out_hidden, /*bias=*/false);
  x = Activation(g, g.LayerNorm(x, m + "post_projection_norm", v.out_hidden, 1e-5), "gelu");
  return GatedMlp(g, x, m, v.out_hidden, v.merger_context, v.act, /*bias=*/false);
}

// GLM's patch conv bias; GLM-4V's post_conv_layernorm and its position table read at each
// patch's row and column (the table's own grid: HF's bicubic grid_sample at the centres of the
// table's cells reads them as they are).
std::string GlmPatchExtras(GraphBuilder& g, const VisionShape& v, const Qwen2VlGrid& grid,
                           std::string h, const std::string& prefix) {
  h = g.Node("Add",
             {h, g.Weight(prefix + "patch_embed.proj.bias", {v.embed_dim}, WeightInit::kZeros)});
  if (v.glm_ocr) return h;
  h = T5LayerNorm(g, h, prefix + "post_conv_layernorm", v.embed_dim, v.rms_eps);
  const int64_t side = v.position_side, m = v.merge;
  std::vector<int64_t> index;  // the processor's patch order, frame after frame
  for (int64_t f = 0; f < grid.t; ++f)
    for (int64_t bh = 0; bh < grid.h / m; ++bh)
      for (int64_t bw = 0; bw < grid.w / m; ++bw)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < m; ++j) index.push_back((bh * m + i) * side + bw * m + j);
  const std::string table = g.Weight(prefix + "embeddings.position_embedding.weight",
                                     {side * side, v.embed_dim}, WeightInit::kNormal);
  return g.Node("Add", {h, g.Node("Gather", {table, g.ConstInt64(index)})});
}

// What the tower computed: the blocks' output [images, t*h*w, embed_dim] and the merger's
// [images, t*h*w / merge^2, hidden_size].
struct VisionTowerOutputs {
  std::string blocks, merged;
  std::vector<std::string> deepstack;  // Qwen3-VL's deepstack features
};

// Qwen2-VL's PatchMerger (ln_q, mlp.0, mlp.2) and Qwen3-VL's (norm, linear_fc1, linear_fc2; with
// `postshuffle` the deepstack mergers' norm over the merged block): each merge x merge block of
// consecutive patches of h becomes one token.
std::string PatchMerger(GraphBuilder& g, const VisionShape& v, const std::string& h,
                        const std::string& m, int64_t merged, bool postshuffle = false) {
  constexpr double kEps = 1e-6;
  const int64_t block = v.embed_dim * v.merge * v.merge;
  auto shuffle = [&](const std::string& x) {
    return g.Node("Reshape", {x, g.ConstInt64({-1, merged, block})});
  };
  std::string x;
  if (postshuffle)
    x = g.LayerNorm(shuffle(h), m + "norm", block, kEps);
  else if (v.qwen2_5)
    x = shuffle(T5LayerNorm(g, h, m + "ln_q", v.embed_dim, kEps));
  else
    x = shuffle(g.LayerNorm(h, m + (v.qwen3 ? "norm" : "ln_q"), v.embed_dim, kEps));
  x = Activation(g, g.Linear(x, m + (v.qwen3 ? "linear_fc1" : "mlp.0"), block, block), "gelu");
  return g.Linear(x, m + (v.qwen3 ? "linear_fc2" : "mlp.2"), block, v.out_hidden);
}

// Qwen3-VL's fast_pos_embed_interpolate: for each patch (processor order, every frame) the four
// rows around linspace(0, grid - 1, h)[row], linspace(0, grid - 1, w)[col] of the table, weighted
// bilinearly; float32 as torch computes them.
std::string Qwen3Positions(GraphBuilder& g, const VisionShape& v, const Qwen2VlGrid& grid,
                           const std::string& prefix) {
  const int64_t n = v.position_grid, m = v.merge;
  auto linspace = [&](int64_t steps) {
    std::vector<float> out(static_cast<size_t>(steps), 0.0f);
    const float step = steps > 1 ? static_cast<float>(n - 1) / static_cast<float>(steps - 1) : 0;
    for (int64_t i = 0; i < steps; ++i) out[i] = static_cast<float>(i) * step;
    return out;
  };
  const std::vector<float> hs = linspace(grid.h), ws = linspace(grid.w);
  std::vector<std::vector<int64_t>> index(4);
  std::vector<std::vector<double>> weight(4);
  for (int64_t f = 0; f < grid.t; ++f)
    for (int64_t p = 0; p < grid.h * grid.w; ++p) {
      const int64_t unit = p / (m * m), in = p % (m * m);
      const int64_t row = unit / (grid.w / m) * m + in / m, col = unit % (grid.w / m) * m + in % m;
      const auto h0 = static_cast<int64_t>(hs[row]), w0 = static_cast<int64_t>(ws[col]);
      const int64_t h1 = std::min(h0 + 1, n - 1), w1 = std::min(w0 + 1, n - 1);
      const float dh = hs[row] - static_cast<float>(h0), dw = ws[col] - static_cast<float>(w0);
      const int64_t rows[4] = {h0, h0, h1, h1}, cols[4] = {w0, w1, w0, w1};
      const float weights[4] = {(1 - dh) * (1 - dw), (1 - dh) * dw, dh * (1 - dw), dh * dw};
      for (int k = 0; k < 4; ++k) {
        index[k].push_back(rows[k] * n + cols[k]);
        weight[k].push_back(weights[k]);
      }
    }
  const std::string table =
      g.Weight(prefix + "pos_embed.weight", {n * n, v.embed_dim}, WeightInit::kNormal);
  std::string sum;
  for (int k = 0; k < 4; ++k) {
    const core::Tensor w = core::Tensor::FromDoubles(
        core::DType::kFloat32, {static_cast<int64_t>(weight[k].size()), 1}, weight[k]);
    const std::string term =
        g.Node("Mul", {g.Node("Gather", {table, g.ConstInt64(index[k])}),
                       g.Initializer(prefix + fmt::format("pos_embed_weights.{}", k), w)});
    sum = k == 0 ? term : g.Node("Add", {sum, term});
  }
  return sum;
}

// Weights under `prefix`: "visual." in Qwen2VLModel, "" in the tower's own model.
VisionTowerOutputs VisionTower(GraphBuilder& g, const VisionShape& v, const Qwen2VlGrid& grid,
                               const std::string& pixel_values, const std::string& prefix) {
  const int64_t patches = grid.t * grid.h * grid.w, merged = patches / (v.merge * v.merge);
  constexpr double kEps = 1e-6;  // HF's vision LayerNorms
  // Conv3d with kernel = stride = one patch: a MatMul over the patch's (C, T, P, P) values.
  const std::string conv = g.Weight(
      prefix + "patch_embed.proj.weight",
      {v.embed_dim, v.in_channels, v.temporal_patch, v.patch, v.patch}, WeightInit::kNormal);
  const std::string kernel = g.Node(
      "Transpose", {g.Node("Reshape", {conv, g.ConstInt64({v.embed_dim, v.patch_features()})})},
      {{"perm", std::vector<int64_t>{1, 0}}});
  std::string h = g.Node("MatMul", {pixel_values, kernel});
  if (v.glm) h = GlmPatchExtras(g, v, grid, h, prefix);
  if (v.qwen3)
    h = g.Node("Add", {g.Node("Add", {h, g.Weight(prefix + "patch_embed.proj.bias", {v.embed_dim},
                                                  WeightInit::kZeros)}),
                       Qwen3Positions(g, v, grid, prefix)});
  std::vector<std::string> deepstack;
  const int64_t unit = v.merge * v.merge;
  core::Tensor rotary = VisionRotaryAngles(v, grid);
  std::string window_mask;
  WindowOrder order;
  if (v.qwen2_5) {  // the patches, their angles and the mask in window order
    order = WindowOrderOf(v, grid);
    h = GatherUnits(g, h, FrameUnitIndex(order, grid.t, false), unit, v.embed_dim);
    rotary = InWindowOrder(rotary, order, unit);
    window_mask = g.Initializer(prefix + "window_mask", WindowMask(order, unit));
  }
  const std::string angles = g.Initializer(prefix + "rotary_angles", rotary);
  const RopeTables rope{g.Node("Cos", {angles}), g.Node("Sin", {angles})};
  auto norm = [&](const std::string& x, const std::string& name) {
    if (v.glm) return T5LayerNorm(g, x, name, v.embed_dim, v.rms_eps);
    return v.qwen2_5 ? T5LayerNorm(g, x, name, v.embed_dim, kEps)
                     : g.LayerNorm(x, name, v.embed_dim, kEps);
  };
  for (int64_t b = 0; b < v.depth; ++b) {
    const std::string p = prefix + fmt::format("blocks.{}.", b);
    const bool full =
        std::find(v.full_blocks.begin(), v.full_blocks.end(), b) != v.full_blocks.end();
    h = g.Node("Add", {h, VisionAttention(g, v, grid, rope, norm(h, p + "norm1"), p + "attn.",
                                          full ? "" : window_mask)});
    h = g.Node("Add", {h, VisionMlp(g, v, norm(h, p + "norm2"), p + "mlp.")});
    const auto at = std::find(v.deepstack.begin(), v.deepstack.end(), b);
    if (at != v.deepstack.end())
      deepstack.push_back(PatchMerger(
          g, v, h, prefix + fmt::format("deepstack_merger_list.{}.", at - v.deepstack.begin()),
          merged, /*postshuffle=*/true));
  }
  const std::string blocks = h;
  if (v.glm) return {blocks, GlmMerger(g, v, h, prefix, merged), {}};
  h = PatchMerger(g, v, h, prefix + "merger.", merged);
  if (v.qwen2_5) h = GatherUnits(g, h, FrameUnitIndex(order, grid.t, true), 1, v.out_hidden);
  return {blocks, h, deepstack};
}

// cos / sin [batch, 1, S, head_dim] from position_ids [3, batch, S]: rotary frequency j takes
// its position from plane k % 3 of the mrope_section k it falls in (HF's
// apply_multimodal_rotary_pos_emb on cat((freqs, freqs))); for an interleaved rope (GLM-4V's
// rotate_half_llm) each frequency is repeated for its pair of features instead.
RopeTables MultimodalRope(GraphBuilder& g, const Qwen2VlShape& s, const std::string& position_ids) {
  const RopeSpec& rope = s.lm.rope;
  const int64_t half = static_cast<int64_t>(rope.inv_freq.size());
  // Without a section list (not runnable) every frequency reads the temporal plane.
  const std::vector<int64_t> sections =
      s.mrope_section.empty() ? std::vector<int64_t>{half} : s.mrope_section;
  core::Tensor inv = core::Tensor::Zeros(core::DType::kFloat32, {half});
  std::copy(rope.inv_freq.begin(), rope.inv_freq.end(), inv.values<float>().begin());
  const std::string pos =
      g.Node("Cast", {position_ids}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string freqs = g.Node("Mul", {g.Node("Unsqueeze", {pos, g.ConstInt64({-1})}),
                                           g.Initializer("rope.inv_freq", inv)});  // [3,b,S,half]
  std::vector<std::string> chosen;
  int64_t start = 0;
  for (size_t k = 0; k < sections.size(); ++k) {
    const int64_t end = start + sections[k], plane = static_cast<int64_t>(k % 3);
    if (end > start)
      chosen.push_back(g.Node("Slice", {freqs, g.ConstInt64({plane, start}),
                                        g.ConstInt64({plane + 1, end}), g.ConstInt64({0, 3})}));
    start = end;
  }
  std::string f =
      chosen.size() == 1 ? chosen[0] : g.Node("Concat", chosen, {{"axis", int64_t{-1}}});
  f = g.Node("Squeeze", {f, g.ConstInt64({0})});  // [b, S, half]
  const std::string emb =
      rope.interleaved ? RepeatEachPair(g, f) : g.Node("Concat", {f, f}, {{"axis", int64_t{-1}}});
  std::string cos = g.Node("Cos", {emb}), sin = g.Node("Sin", {emb});
  if (rope.attention_scaling != 1.0f) {
    const std::string scale = g.ConstFloat(rope.attention_scaling);
    cos = g.Node("Mul", {cos, scale});
    sin = g.Node("Mul", {sin, scale});
  }
  const std::string heads_axis = g.ConstInt64({1});
  return {g.Node("Unsqueeze", {cos, heads_axis}), g.Node("Unsqueeze", {sin, heads_axis}),
          rope.interleaved};
}

// Row b's image tokens, in order, take image b's features (features [b, N, hidden]).
std::string MergeImageFeatures(GraphBuilder& g, const Qwen2VlShape& s,
                               const std::string& embeddings, const std::string& features) {
  const std::string is_image = g.Node("Equal", {"input_ids", g.ConstInt64({s.tokens.image})});
  const std::string counts = g.Node(
      "CumSum",
      {g.Node("Cast", {is_image}, {{"to", int64_t{onnx::TensorProto::INT64}}}), ScalarInt64(g, 1)});
  // Tokens before a row's first image token would index -1; they keep their embeddings anyway.
  const std::string index =
      g.Node("Max", {g.Node("Sub", {counts, g.ConstInt64({1})}), g.ConstInt64({0})});
  const std::string gathered =
      g.Node("GatherND", {features, g.Node("Unsqueeze", {index, g.ConstInt64({-1})})},
             {{"batch_dims", int64_t{1}}});
  return g.Node("Where",
                {g.Node("Unsqueeze", {is_image, g.ConstInt64({-1})}), gathered, embeddings});
}

// The largest id random prompt text may use: below every special token (and the vocabulary).
int64_t TextHigh(const Qwen2VlShape& s) {
  return std::min(
      {s.lm.vocab, s.tokens.image, s.tokens.video, s.tokens.vision_start, s.tokens.vision_end});
}

// The grids of the images in `inputs` (HF's image_grid_thw, [images, 3]), else one `grid` for
// each <|vision_start|> token of input_ids (the graph's own image in every row).
std::vector<Qwen2VlGrid> InputGrids(const std::map<std::string, core::Tensor>& inputs,
                                    const core::Tensor& ids, const Qwen2VlShape& s,
                                    const Qwen2VlGrid& grid) {
  std::vector<Qwen2VlGrid> grids;
  if (const auto it = inputs.find("image_grid_thw"); it != inputs.end()) {
    const std::vector<double> v = it->second.ToDoubles();
    for (size_t i = 0; i + 2 < v.size(); i += 3)
      grids.push_back({static_cast<int64_t>(v[i]), static_cast<int64_t>(v[i + 1]),
                       static_cast<int64_t>(v[i + 2])});
    return grids;
  }
  for (const double id : ids.ToDoubles())
    if (static_cast<int64_t>(id) == s.tokens.vision_start) grids.push_back(grid);
  return grids;
}

// HF's position_ids when the caller passes none: get_rope_index of input_ids, attention_mask and
// the image grids; nullopt without input_ids.
std::optional<core::Tensor> RopeIndexPositions(const std::map<std::string, core::Tensor>& inputs,
                                               const Qwen2VlShape& s, const Qwen2VlGrid& grid) {
  const auto ids = inputs.find("input_ids");
  if (ids == inputs.end()) return std::nullopt;
  const auto mask = inputs.find("attention_mask");
  return ComputeQwen2VlRopeIndex(ids->second, mask == inputs.end() ? nullptr : &mask->second,
                                 InputGrids(inputs, ids->second, s, grid), {}, s.tokens)
      .position_ids;
}

// HF's pixel_values [patches of every image, features] as the graph takes them: [batch, patches
// per image, features], one image per row of input_ids.
core::Tensor PixelsPerRow(const core::Tensor& given,
                          const std::map<std::string, core::Tensor>& inputs) {
  if (given.shape.size() != 2) return given;
  const auto ids = inputs.find("input_ids");
  const int64_t batch = ids == inputs.end() || ids->second.shape.empty() ? 1 : ids->second.shape[0];
  if (batch <= 0 || given.shape[0] % batch != 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("pixel_values holds {} patches, which {} rows of input_ids cannot "
                            "share: each row takes one image of the same grid",
                            given.shape[0], batch));
  core::Tensor out = given;
  out.shape = {batch, given.shape[0] / batch, given.shape[1]};
  return out;
}

// The config whose graph is built for image_grid_thw's images (every one of the same grid).
HfConfig WithImageGrid(const HfConfig& c, const std::vector<int64_t>& thw) {
  if (thw.empty() || thw.size() % 3 != 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("image_grid_thw holds {} values; it takes t, h, w for each image "
                            "([images, 3])",
                            thw.size()));
  for (size_t i = 3; i < thw.size(); i += 3)
    if (!std::equal(thw.begin(), thw.begin() + 3, thw.begin() + static_cast<ptrdiff_t>(i)))
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("image_grid_thw holds images of different grids ({}x{}x{} and "
                              "{}x{}x{}); a Qwen2-VL graph is built for one grid: give images of "
                              "one size, or run them one at a time",
                              thw[0], thw[1], thw[2], thw[i], thw[i + 1], thw[i + 2]));
  return c.With(kQwen2VlGridKey, {thw[0], thw[1], thw[2]});
}

std::map<std::string, InputHint> Qwen2VlInputHints(const HfConfig& c) {
  // Asked for only where a graph is to run (LoadModel), unlike the build.
  RequireRunnableQwen2Vl(c);
  const Qwen2VlShape s = ReadQwen2VlShape(c);
  const Qwen2VlPrompt prompt{s.tokens, Qwen2VlGraphGrid(c), TextHigh(s)};
  InputHint ids{.kind = InputHint::Kind::kComputed,
                .compute = [prompt](const core::Shape& shape, uint64_t seed) {
                  return Qwen2VlPromptIds(prompt, shape, seed);
                }};
  InputHint positions{
      .kind = InputHint::Kind::kComputed,
      .compute = [prompt](const core::Shape& shape,
                          uint64_t) { return Qwen2VlPromptPositions(prompt, shape); },
      .hf_default = [s, grid = prompt.grid](
                        const auto& inputs,
                        core::DType) { return RopeIndexPositions(inputs, s, grid); },
      .hf_default_name = "get_rope_index of input_ids and the image grids"};
  return {{"input_ids", ids},
          {"position_ids", positions},
          {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
          {"pixel_values", {.from_hf_layout = PixelsPerRow}}};
}

}  // namespace

namespace {

// The graph's grid: the config's kQwen2VlGridKey, else a 224 x 224 image for tower `v`.
Qwen2VlGrid GraphGrid(const HfConfig& config, const VisionShape& v) {
  if (config.Has(kQwen2VlGridKey)) {
    const json& thw = config.json()[kQwen2VlGridKey];
    if (!thw.is_array() || thw.size() != 3 ||
        !std::all_of(thw.begin(), thw.end(), [](const json& v) { return v.is_number_integer(); }))
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': {} must be [t, h, w] patches",
                                                   config.origin(), kQwen2VlGridKey));
    return {thw[0].get<int64_t>(), thw[1].get<int64_t>(), thw[2].get<int64_t>()};
  }
  if (v.glm) {  // GLM's image_size, the grid of GLM-4V's position table
    const int64_t side = v.image_size / v.patch;
    return {1, side, side};
  }
  // smart_resize with the image processor's default pixel bounds.
  constexpr double kSide = 224, kMinPixels = 56 * 56, kMaxPixels = 28 * 28 * 1280;
  const double factor = static_cast<double>(v.patch * v.merge);
  double h = std::nearbyint(kSide / factor) * factor, w = h;
  if (h * w > kMaxPixels) {
    const double beta = std::sqrt(kSide * kSide / kMaxPixels);
    h = w = std::floor(kSide / beta / factor) * factor;
  } else if (h * w < kMinPixels) {
    const double beta = std::sqrt(kMinPixels / (kSide * kSide));
    h = w = std::ceil(kSide * beta / factor) * factor;
  }
  const auto side = static_cast<int64_t>(h) / v.patch;
  return {1, side, side};
}

}  // namespace

Qwen2VlGrid Qwen2VlGraphGrid(const HfConfig& config) {
  return GraphGrid(config, ReadVision(config));
}

void BuildQwen2VlVisionModel(const HfConfig& config, GraphBuilder& g) {
  const VisionShape v = ReadVisionKeys(config);
  const Qwen2VlGrid grid = GraphGrid(config, v);
  CheckGrid(config, v, grid);
  const Dim images = std::string("batch");
  const int64_t patches = grid.t * grid.h * grid.w;
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {images, patches, v.patch_features()});
  const VisionTowerOutputs out = VisionTower(g, v, grid, "pixel_values", "");
  g.Node("Identity", {out.blocks}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {images, patches, v.embed_dim});
  g.Node("Identity", {out.merged}, {}, "pooler_output");
  g.Output("pooler_output", onnx::TensorProto::FLOAT,
           {images, patches / (v.merge * v.merge), v.out_hidden});
  for (size_t k = 0; k < out.deepstack.size(); ++k) {
    const std::string name = fmt::format("deepstack_features.{}", k);
    g.Node("Identity", {out.deepstack[k]}, {}, name);
    g.Output(name, onnx::TensorProto::FLOAT, {images, patches / (v.merge * v.merge), v.out_hidden});
  }
}

std::string Qwen2VlVisionTower(const HfConfig& config, GraphBuilder& g, const Qwen2VlGrid& grid,
                               const std::string& pixel_values) {
  const VisionShape v = ReadVision(config);
  CheckGrid(config, v, grid);
  return VisionTower(g, v, grid, pixel_values, "visual.").merged;
}

void RequireRunnableQwen2Vl(const HfConfig& config) {
  const Qwen2VlShape s = ReadQwen2VlShape(config);
  if (s.mrope_section.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': rope_scaling has no mrope_section; Qwen2-VL's attention needs "
                            "one (e.g. [16, 24, 24])",
                            config.origin()));
  if (s.vision.out_hidden != s.lm.hidden)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': vision_config.hidden_size {} differs from the language "
                            "model's hidden_size {}: image features cannot take token places",
                            config.origin(), s.vision.out_hidden, s.lm.hidden));
  if (s.tokens.image < 0 || s.tokens.image >= s.lm.vocab || TextHigh(s) <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': image_token_id {} must be inside the vocabulary ({}), above "
                            "some ordinary text ids",
                            config.origin(), s.tokens.image, s.lm.vocab));
}

void BuildQwen2Vl(const HfConfig& config, GraphBuilder& g, const Qwen2VlGrid& grid) {
  const Qwen2VlShape s = ReadQwen2VlShape(config);
  CheckGrid(config, s.vision, grid);
  const Dim batch = std::string("batch"), sequence = std::string("sequence");
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("position_ids", onnx::TensorProto::INT64, {int64_t{3}, batch, sequence});
  g.Input("pixel_values", onnx::TensorProto::FLOAT,
          {batch, grid.t * grid.h * grid.w, s.vision.patch_features()});
  const DecoderTokens tokens = DecoderTokenEmbeddings(s.text, g, "input_ids");
  const std::string features = VisionTower(g, s.vision, grid, "pixel_values", "visual.").merged;
  // A vision output unlike the LM's width is refused by RequireRunnableQwen2Vl; the tower is
  // still built so that its parameters count.
  const std::string embeddings = s.vision.out_hidden == s.lm.hidden
                                     ? MergeImageFeatures(g, s, tokens.embeddings, features)
                                     : tokens.embeddings;
  BuildDecoderFromEmbeddings(s.text, g,
                             {.embeddings = embeddings,
                              .embedding_table = tokens.table,
                              .rope = MultimodalRope(g, s, "position_ids"),
                              .position_ids = {},
                              .scaled = false,
                              .bidirectional_groups = {},
                              .logits_output = "logits"});
}

void AddQwen2VlArchitectures(std::vector<Architecture>& out) {
  out.push_back({
      .model_type = "qwen2_vl_vision",
      .modality = "vision",
      .checkpoint_prefixes = {"model.visual.", "visual."},
      .build = BuildQwen2VlVisionModel,
      .input_hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; },
      .dim_roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; },
      .structure_inputs = {{"image_grid_thw", WithImageGrid}},
  });
  out.push_back({
      .model_type = "qwen2_vl",
      .modality = "multimodal",
      .checkpoint_prefixes = {"model.language_model.", "model."},
      .build = [](const HfConfig& c, GraphBuilder& g) { BuildQwen2Vl(c, g, Qwen2VlGraphGrid(c)); },
      .input_hints = Qwen2VlInputHints,
      .dim_roles =
          [](const HfConfig& c) { return DecoderDimRoles(ReadQwen2VlShape(c).lm.max_positions); },
      .structure_inputs = {{"image_grid_thw", WithImageGrid}},
  });
}

}  // namespace ipfs_accel::models
