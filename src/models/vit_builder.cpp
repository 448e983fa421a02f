#include "vit_builder.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// An int or a two-element [height, width] list (HF's collections.abc.Iterable case).
std::pair<int64_t, int64_t> SizePair(const HfConfig& c, const std::string& key, int64_t fallback) {
  if (!c.Has(key)) return {fallback, fallback};
  const nlohmann::json& v = c.json()[key];
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
    return {v[0].get<int64_t>(), v[1].get<int64_t>()};
  const int64_t n = c.Int(key);  // throws kCorrupt for anything else
  return {n, n};
}

// ViViT's tubelet_size: [time, height, width].
std::vector<int64_t> Triple(const HfConfig& c, const std::string& key,
                            std::vector<int64_t> fallback) {
  if (!c.Has(key)) return fallback;
  const json& v = c.json()[key];
  if (!v.is_array() || v.size() != 3 ||
      !std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_number_integer(); }))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': {} is not a list of three integers", c.origin(), key));
  return v.get<std::vector<int64_t>>();
}

PreNormLayerNames VitLayerNames(int64_t l) {
  const std::string p = fmt::format("encoder.layer.{}.", l);
  return {p + "layernorm_before",        p + "attention.attention.query",
          p + "attention.attention.key", p + "attention.attention.value",
          p + "attention.output.dense",  p + "layernorm_after",
          p + "intermediate.dense",      p + "output.dense"};
}

PreNormLayerNames Dinov2LayerNames(int64_t l) {
  const std::string p = fmt::format("encoder.layer.{}.", l);
  return {p + "norm1",
          p + "attention.attention.query",
          p + "attention.attention.key",
          p + "attention.attention.value",
          p + "attention.output.dense",
          p + "norm2",
          p + "mlp.fc1",
          p + "mlp.fc2"};
}

// ----- Pieces
// -------------------------------------------------------------------------------------

// A piece's value: "$key" is the config's value of key (null when the config has none).
json Resolve(const json& v, const HfConfig& c) {
  if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>()[0] == '$') {
    const std::string key = v.get<std::string>().substr(1);
    return c.Has(key) ? c.json()[key] : json();
  }
  return v;
}

[[noreturn]] void BadPiece(const HfConfig& c, const std::string& key, const json& v) {
  throw Error(ErrorKind::kCorrupt, fmt::format("'{}': the vit builder's piece {} = {} is not one "
                                               "it knows (docs/templates.md)",
                                               c.origin(), key, v.dump()));
}

std::string PieceChoice(const json& v, const HfConfig& c, const std::string& key,
                        const std::set<std::string>& allowed) {
  if (!v.is_string() || !allowed.count(v.get<std::string>())) BadPiece(c, key, v);
  return v.get<std::string>();
}

bool PieceBool(const json& v, const HfConfig& c, const std::string& key, bool if_null) {
  if (v.is_null()) return if_null;
  if (!v.is_boolean()) BadPiece(c, key, v);
  return v.get<bool>();
}

int64_t PieceCount(const json& v, const HfConfig& c, const std::string& key) {
  if (v.is_null()) return 0;
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 4096)
    BadPiece(c, key, v);
  return v.get<int64_t>();
}

// ----- Embeddings
// ---------------------------------------------------------------------------------

// The graph input and its patches as tokens [batch, patches, hidden].
std::string PatchTokens(GraphBuilder& g, const VitShape& s, const VitVariant& v, const Dim& batch) {
  const std::string prefix = "embeddings.patch_embeddings.projection";
  if (v.patches == "tubelet") {
    g.Input("pixel_values", onnx::TensorProto::FLOAT,
            {batch, s.frames, s.channels, s.image_h, s.image_w});
    // [b, frames, c, h, w] -> [b, c, frames, h, w] for the Conv3d.
    const std::string x =
        g.Node("Transpose", {"pixel_values"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3, 4}}});
    const std::vector<int64_t> k = {s.tubelet_t, s.patch_h, s.patch_w};
    return ConvPatchEmbeddings(g, x, prefix, s.channels, s.hidden, k, k, /*bias=*/true);
  }
  if (v.patches == "spectrogram") {
    g.Input("input_values", onnx::TensorProto::FLOAT, {batch, s.max_length, s.mel_bins});
    // [b, time, mel] -> [b, 1, mel, time]: frequency is the convolution's first axis.
    const std::string x =
        g.Node("Transpose", {g.Node("Unsqueeze", {"input_values", g.ConstInt64({1})})},
               {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
    return ConvPatchEmbeddings(g, x, prefix, 1, s.hidden, {s.patch_h, s.patch_w},
                               {s.frequency_stride, s.time_stride}, /*bias=*/true);
  }
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image_h, s.image_w});
  return PatchEmbeddings(g, "pixel_values", prefix, s.channels, s.hidden, s.patch_h, s.patch_w,
                         /*bias=*/true);
}

// `param` [1, n, hidden] repeated over the batch of `like`.
std::string ExpandOverBatch(GraphBuilder& g, const std::string& param, const std::string& like,
                            int64_t n, int64_t hidden) {
  const std::string batch =
      g.Node("Slice", {g.Node("Shape", {like}), g.ConstInt64({0}), g.ConstInt64({1})});
  return g.Node("Expand", {param, g.Node("Concat", {batch, g.ConstInt64({n, hidden})},
                                         {{"axis", int64_t{0}}})});
}

std::string SliceTokens(GraphBuilder& g, const std::string& x, int64_t begin, int64_t end) {
  return g.Node("Slice", {x, g.ConstInt64({begin}), g.ConstInt64({end}), g.ConstInt64({1})});
}

// Patches with their tokens and position embeddings: [batch, tokens, hidden].
std::string Embeddings(GraphBuilder& g, const VitShape& s, const VitVariant& v, const Dim& batch,
                       int64_t tokens) {
  std::string x = PatchTokens(g, s, v, batch);
  std::vector<std::string> leading;
  for (const auto& name : v.leading_tokens)
    leading.push_back(g.Weight("embeddings." + name, {1, 1, s.hidden}, WeightInit::kNormal));
  if (v.mask_token) g.UnusedWeight("embeddings.mask_token", {1, s.hidden}, WeightInit::kZeros);
  if (!leading.empty()) x = PrependTokens(g, leading, x, s.hidden);
  if (!v.trailing_tokens.empty()) {
    const std::string t = g.Weight("embeddings." + v.trailing_tokens,
                                   {1, v.trailing_count, s.hidden}, WeightInit::kNormal);
    x = g.Node("Concat", {x, ExpandOverBatch(g, t, x, v.trailing_count, s.hidden)},
               {{"axis", int64_t{1}}});
  }
  x = g.Node("Add", {x, g.Weight("embeddings.position_embeddings", {1, tokens, s.hidden},
                                 WeightInit::kNormal)});
  if (v.registers == 0) return x;
  const std::string r =
      g.Weight("embeddings.register_tokens", {1, v.registers, s.hidden}, WeightInit::kZeros);
  return g.Node("Concat",
                {SliceTokens(g, x, 0, 1), ExpandOverBatch(g, r, x, v.registers, s.hidden),
                 SliceTokens(g, x, 1, tokens)},
                {{"axis", int64_t{1}}});
}

// ----- Layers
// -------------------------------------------------------------------------------------

PreNormLayerShape LayerShape(const VitShape& s) {
  return PreNormLayerShape{.hidden = s.hidden,
                           .heads = s.heads,
                           .intermediate = s.intermediate,
                           .eps = s.eps,
                           .act = s.act,
                           .qkv_bias = s.qkv_bias};
}

// Dinov2SwiGLUFFN: weights_out(silu(a) * b) with a, b the halves of weights_in(x).
std::string SwiGluMlp(GraphBuilder& g, const PreNormLayerShape& s, const std::string& prefix,
                      const std::string& h) {
  const int64_t inner = s.intermediate;
  const std::string both = g.Linear(h, prefix + ".weights_in", s.hidden, 2 * inner);
  const auto halves =
      g.NodeN("Split", {both, g.ConstInt64({inner, inner})}, 2, {{"axis", int64_t{-1}}});
  const std::string gated = g.Node("Mul", {Activation(g, halves[0], "silu"), halves[1]});
  return g.Linear(gated, prefix + ".weights_out", inner, s.hidden);
}

// Dinov2Layer: x + ls1 * attn(norm1(x)), then h + ls2 * mlp(norm2(h)).
std::string Dinov2Layer(GraphBuilder& g, const PreNormLayerShape& s, bool swiglu, int64_t l,
                        const std::string& x) {
  const PreNormLayerNames n = Dinov2LayerNames(l);
  const std::string p = fmt::format("encoder.layer.{}.", l);
  auto scale = [&](const std::string& branch, const std::string& name) {
    return g.Node("Mul", {branch, g.Weight(p + name + ".lambda1", {s.hidden}, WeightInit::kOnes)});
  };
  const std::string h = g.Node("Add", {x, scale(PreNormAttention(g, s, n, x, ""), "layer_scale1")});
  const std::string mlp = swiglu
                              ? SwiGluMlp(g, s, p + "mlp", g.LayerNorm(h, n.norm2, s.hidden, s.eps))
                              : PreNormMlp(g, s, n, h);
  return g.Node("Add", {h, scale(mlp, "layer_scale2")});
}

std::string Encoder(GraphBuilder& g, const VitShape& s, const VitVariant& v, std::string x,
                    int64_t tokens) {
  const PreNormLayerShape layer = LayerShape(s);
  std::string mid;
  if (v.mid_position_embeddings && s.layers > 1)
    mid = g.Weight("encoder.mid_position_embeddings", {s.layers - 1, 1, tokens, s.hidden},
                   WeightInit::kNormal);
  for (int64_t l = 0; l < s.layers; ++l) {
    x = v.layer == "dinov2" ? Dinov2Layer(g, layer, v.swiglu, l, x)
                            : PreNormEncoderLayer(g, layer, VitLayerNames(l), x, "");
    if (!mid.empty() && l < s.layers - 1) {
      const std::string at = g.Node("Gather", {mid, g.ConstInt64({l})}, {{"axis", int64_t{0}}});
      x = g.Node("Add", {x, g.Node("Squeeze", {at, g.ConstInt64({0})})});
    }
  }
  return x;
}

// ----- Sizes
// --------------------------------------------------------------------------------------

void ReadPatchGrid(const HfConfig& c, const VitVariant& v, VitShape& s) {
  if (v.patches == "tubelet") {
    const std::vector<int64_t> t = Triple(c, "tubelet_size", {2, 16, 16});
    s.tubelet_t = t[0];
    s.patch_h = t[1];
    s.patch_w = t[2];
    s.frames = c.Int("num_frames", 32);
  } else if (v.patches == "spectrogram") {
    s.patch_h = s.patch_w = c.Int("patch_size", 16);  // ASTPatchEmbeddings squares an int
    s.max_length = c.Int("max_length", 1024);
    s.mel_bins = c.Int("num_mel_bins", 128);
    s.frequency_stride = c.Int("frequency_stride", 10);
    s.time_stride = c.Int("time_stride", 10);
    s.channels = 1;
  } else {
    std::tie(s.patch_h, s.patch_w) = SizePair(c, "patch_size", 16);
  }
}

void CheckPositive(const HfConfig& c, const std::vector<std::pair<const char*, int64_t>>& values) {
  for (const auto& [key, value] : values)
    if (value <= 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': {} is {}; it must be positive", c.origin(), key, value));
}

void CountPatches(const HfConfig& c, const VitVariant& v, VitShape& s) {
  if (v.patches == "spectrogram") {
    CheckPositive(c, {{"frequency_stride", s.frequency_stride}, {"time_stride", s.time_stride}});
    if (s.mel_bins < s.patch_h || s.max_length < s.patch_w)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': a {}x{} spectrogram is smaller than patch_size {}", c.origin(),
                              s.mel_bins, s.max_length, s.patch_h));
    s.num_patches = ((s.mel_bins - s.patch_h) / s.frequency_stride + 1) *
                    ((s.max_length - s.patch_w) / s.time_stride + 1);
    return;
  }
  if (s.image_h < s.patch_h || s.image_w < s.patch_w)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': image_size {}x{} is smaller than "
                            "patch_size {}x{}",
                            c.origin(), s.image_h, s.image_w, s.patch_h, s.patch_w));
  if (v.patches == "tubelet") {
    CheckPositive(c, {{"tubelet_size", s.tubelet_t}, {"num_frames", s.frames}});
    if (s.frames < s.tubelet_t)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': num_frames {} is fewer than the tubelet's {}", c.origin(),
                              s.frames, s.tubelet_t));
  }
  s.num_patches = (s.frames / s.tubelet_t) * (s.image_h / s.patch_h) * (s.image_w / s.patch_w);
}

// DINOv2's MLP width: int(hidden_size * mlp_ratio), and SwiGLU's rounding of two thirds of it
// to a multiple of 8.
int64_t Dinov2Intermediate(const HfConfig& c, const VitVariant& v, int64_t hidden) {
  const auto width = static_cast<int64_t>(static_cast<double>(hidden) * c.Double("mlp_ratio", 4));
  if (!v.swiglu) return width;
  return (static_cast<int64_t>(static_cast<double>(width) * 2 / 3) + 7) / 8 * 8;
}

}  // namespace

VitVariant ReadVitVariant(const json& pieces, const HfConfig& c) {
  VitVariant v;
  if (!pieces.is_object()) BadPiece(c, "pieces", pieces);
  for (const auto& [key, raw] : pieces.items()) {
    const json value = Resolve(raw, c);
    if (key == "patches") {
      v.patches = PieceChoice(value, c, key, {"image", "tubelet", "spectrogram"});
    } else if (key == "leading_tokens") {
      if (!value.is_array()) BadPiece(c, key, value);
      v.leading_tokens.clear();
      for (const auto& t : value)
        v.leading_tokens.push_back(PieceChoice(t, c, key, {"cls_token", "distillation_token"}));
    } else if (key == "trailing_tokens") {
      if (!value.is_object() || !value.contains("name") || !value.contains("count"))
        BadPiece(c, key, value);
      v.trailing_tokens = PieceChoice(value["name"], c, key, {"detection_tokens"});
      v.trailing_count = PieceCount(Resolve(value["count"], c), c, key);
    } else if (key == "registers") {
      v.registers = PieceCount(value, c, key);
    } else if (key == "mask_token") {
      v.mask_token = PieceBool(value, c, key, false);
    } else if (key == "layer") {
      v.layer = PieceChoice(value, c, key, {"vit", "dinov2"});
    } else if (key == "swiglu") {
      v.swiglu = PieceBool(value, c, key, false);
    } else if (key == "mid_position_embeddings") {
      v.mid_position_embeddings = PieceBool(value, c, key, false);
    } else if (key == "pooler") {
      v.pooler = PieceChoice(value, c, key, {"dense", "first_token", "mean_first_two", "none"});
    } else {
      BadPiece(c, key, raw);
    }
  }
  if (v.trailing_count == 0) v.trailing_tokens.clear();
  return v;
}

VitShape ReadVitShape(const HfConfig& c, const VitVariant& v) {
  // ViTConfig and DeiTConfig share these defaults (vit-base-patch16-224).
  VitShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate =
      v.layer == "dinov2" ? Dinov2Intermediate(c, v, s.hidden) : c.Int("intermediate_size", 3072);
  s.channels = c.Int("num_channels", 3);
  std::tie(s.image_h, s.image_w) = SizePair(c, "image_size", 224);
  ReadPatchGrid(c, v, s);
  s.pooler_size = c.Int("pooler_output_size", s.hidden);
  s.eps = c.Double("layer_norm_eps", 1e-12);
  s.act = c.String("hidden_act", "gelu");
  s.pooler_act = c.String("pooler_act", "tanh");
  s.qkv_bias = c.Bool("qkv_bias", true);

  const std::string& origin = c.origin();
  if (s.heads <= 0 || s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            origin, s.hidden, s.heads));
  CheckPositive(c, {{"num_hidden_layers", s.layers},
                    {"intermediate_size", s.intermediate},
                    {"num_channels", s.channels},
                    {"patch_size", std::min(s.patch_h, s.patch_w)},
                    {"pooler_output_size", s.pooler_size}});
  CountPatches(c, v, s);
  // DINOv2 resamples its position grid (bicubic) for any image that is not square, even one of
  // the configured size; a square image of the configured size takes them as they are.
  if (v.layer == "dinov2" && s.image_h != s.image_w)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': image_size {}x{} is not square; DINOv2 resamples its position "
                            "embeddings for such images, which this builder does not",
                            origin, s.image_h, s.image_w));
  return s;
}

bool VitHasPooler(const HfConfig& c) {
  if (!c.Has("architectures") || !c.json()["architectures"].is_array()) return true;
  for (const auto& a : c.json()["architectures"]) {
    if (!a.is_string()) continue;
    const std::string name = a.get<std::string>();
    for (const char* head :
         {"ViTForImageClassification", "ViTForMaskedImageModeling", "DeiTForImageClassification",
          "DeiTForImageClassificationWithTeacher", "DeiTForMaskedImageModeling",
          "YolosForObjectDetection", "VivitForVideoClassification"})
      if (name == head) return false;
  }
  return true;
}

void BuildVit(const HfConfig& config, const VitVariant& v, bool pooler, GraphBuilder& g) {
  const VitShape s = ReadVitShape(config, v);
  const Dim batch = std::string("batch");
  const int64_t tokens = s.patches() + static_cast<int64_t>(v.leading_tokens.size()) +
                         (v.trailing_tokens.empty() ? 0 : v.trailing_count);
  std::string x = Embeddings(g, s, v, batch, tokens);
  x = Encoder(g, s, v, x, tokens);
  x = g.LayerNorm(x, "layernorm", s.hidden, s.eps);
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, tokens + v.registers, s.hidden});

  if (v.pooler == "none" || (v.pooler == "dense" && !pooler)) return;
  int64_t size = s.hidden;
  if (v.pooler == "dense") {
    // Token 0 is the CLS token (DeiT's distillation token is token 1 and is not pooled).
    const std::string dense = g.Linear(TokenAt(g, x, 0), "pooler.dense", s.hidden, s.pooler_size);
    g.Node("Identity", {Activation(g, dense, s.pooler_act)}, {}, "pooler_output");
    size = s.pooler_size;
  } else if (v.pooler == "first_token") {
    g.Node("Identity", {TokenAt(g, x, 0)}, {}, "pooler_output");
  } else {  // mean_first_two: AST's (h[:, 0] + h[:, 1]) / 2
    const std::string sum = g.Node("Add", {TokenAt(g, x, 0), TokenAt(g, x, 1)});
    g.Node("Div", {sum, g.ConstFloat(2.0f)}, {}, "pooler_output");
  }
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {batch, size});
}

}  // namespace ipfs_accel::models
