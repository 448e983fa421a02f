#include "segformer_builder.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct MixShape {
  int64_t channels = 3;
  std::vector<int64_t> depths = {2, 2, 2, 2}, sr = {8, 4, 2, 1}, hidden = {32, 64, 160, 256},
                       patch = {7, 3, 3, 3}, strides = {4, 2, 2, 2}, heads = {1, 2, 5, 8};
  std::vector<double> mlp = {4, 4, 4, 4};
  std::string act = "gelu";
  double eps = kTorchNormEps;
  bool qkv_bias = true, pvt = false, reshape_last = true;
};

// HF's module names of stage i, block j.
struct MixNames {
  std::string patch, stage_norm, block, query, key, value, sr, sr_norm, out;
};

MixNames Names(bool pvt, int64_t i, int64_t j) {
  if (pvt) {
    const std::string st = fmt::format("encoder.layers.{}.", i);
    const std::string b = fmt::format("{}blocks.{}.", st, j), a = b + "attention.";
    return {
        st + "patch_embedding",  st + "layer_norm", b,         a + "query", a + "key", a + "value",
        a + "spatial_reduction", a + "layer_norm",  a + "proj"};
  }
  const std::string b = fmt::format("encoder.block.{}.{}.", i, j), a = b + "attention.self.";
  return {fmt::format("encoder.patch_embeddings.{}", i),
          fmt::format("encoder.layer_norm.{}", i),
          b,
          a + "query",
          a + "key",
          a + "value",
          a + "sr",
          a + "layer_norm",
          b + "attention.output.dense"};
}

// Tokens [b, h*w, c] as a map [b, c, h, w], and back.
std::string ToMap(GraphBuilder& g, const std::string& x, int64_t c, int64_t h, int64_t w) {
  return g.Node("Reshape", {g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
                            g.ConstInt64({0, c, h, w})});
}
std::string ToTokens(GraphBuilder& g, const std::string& map, int64_t c) {
  return g.Node("Transpose", {g.Node("Reshape", {map, g.ConstInt64({0, c, -1})})},
                {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// SegformerEfficientSelfAttention / PvtV2SelfAttention with its output projection.
std::string EfficientAttention(GraphBuilder& g, const MixShape& s, const MixNames& n,
                               const std::string& x, int64_t c, int64_t heads, int64_t sr,
                               int64_t h, int64_t w) {
  return EfficientSelfAttention(g, x, {n.query, n.key, n.value, n.sr, n.sr_norm, n.out}, c, heads,
                                sr, h, w, s.qkv_bias, s.eps);
}

// SegformerMixFFN / PvtV2ConvFeedForwardNetwork: dense1, 3x3 depthwise conv, act, dense2.
std::string MixFfn(GraphBuilder& g, const MixShape& s, const std::string& prefix,
                   const std::string& x, int64_t c, int64_t inner, int64_t h, int64_t w) {
  std::string y = g.Linear(x, prefix + "mlp.dense1", c, inner);
  y = ToTokens(g,
               Conv2d(g, ToMap(g, y, inner, h, w), prefix + "mlp.dwconv.dwconv", inner, inner, 3, 1,
                      1, inner),
               inner);
  return g.Linear(Activation(g, y, s.act), prefix + "mlp.dense2", inner, c);
}

MixShape ReadMixShape(const HfConfig& c, bool pvt) {
  MixShape s;
  s.pvt = pvt;
  s.channels = c.Int("num_channels", 3);
  s.depths = ConfigIntList(c, "depths", s.depths);
  s.sr = ConfigIntList(c, "sr_ratios", s.sr);
  s.hidden = ConfigIntList(c, "hidden_sizes", s.hidden);
  s.patch = ConfigIntList(c, "patch_sizes", s.patch);
  s.strides = ConfigIntList(c, "strides", s.strides);
  s.heads = ConfigIntList(c, "num_attention_heads", s.heads);
  s.mlp.clear();
  for (const int64_t r :
       ConfigIntList(c, "mlp_ratios",
                     pvt ? std::vector<int64_t>{8, 8, 4, 4} : std::vector<int64_t>{4, 4, 4, 4}))
    s.mlp.push_back(static_cast<double>(r));
  s.act = c.String("hidden_act", "gelu");
  if (pvt) s.eps = c.Double("layer_norm_eps", 1e-6);
  s.qkv_bias = !pvt || c.Bool("qkv_bias", true);
  s.reshape_last = pvt || c.Bool("reshape_last_stage", true);
  const size_t n = s.depths.size();
  const int64_t blocks = c.Int("num_encoder_blocks", static_cast<int64_t>(n));
  for (const auto* list : {&s.sr, &s.hidden, &s.patch, &s.strides, &s.heads})
    if (list->size() != n || blocks != static_cast<int64_t>(n))
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': depths, sr_ratios, hidden_sizes, patch_sizes, strides, "
                              "num_attention_heads and mlp_ratios must have num_encoder_blocks "
                              "({}) entries",
                              c.origin(), blocks));
  if (s.mlp.size() != n)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': mlp_ratios must have {} entries", c.origin(), n));
  for (size_t i = 0; i < n; ++i)
    if (s.hidden[i] <= 0 || s.heads[i] <= 0 || s.hidden[i] % s.heads[i] != 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': stage {} width {} is not a positive multiple of its {} heads",
                              c.origin(), i, s.hidden[i], s.heads[i]));
  if (pvt && c.Bool("linear_attention", false))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': linear_attention (PVTv2-Li's pooled attention) is not "
                            "supported by the segformer builder",
                            c.origin()));
  return s;
}

}  // namespace

std::string EfficientSelfAttention(GraphBuilder& g, const std::string& x,
                                   const EfficientAttentionNames& n, int64_t c, int64_t heads,
                                   int64_t sr, int64_t h, int64_t w, bool qkv_bias, double eps) {
  const std::string q = g.Linear(x, n.query, c, c, qkv_bias);
  std::string kv = x;
  if (sr > 1) {
    kv = ToTokens(g, Conv2d(g, ToMap(g, x, c, h, w), n.sr, c, c, sr, sr, 0, 1), c);
    kv = g.LayerNorm(kv, n.sr_norm, c, eps);
  }
  const std::string k = g.Linear(kv, n.key, c, c, qkv_bias);
  const std::string v = g.Linear(kv, n.value, c, c, qkv_bias);
  return g.Linear(ScaledDotProductAttention(g, q, k, v, heads, c / heads, ""), n.out, c, c);
}

void BuildSegformer(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  const std::string names = pieces.is_object() ? pieces.value("names", "segformer") : "";
  if (!pieces.is_object() || pieces.size() > 1 || (names != "segformer" && names != "pvt_v2"))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the segformer builder's pieces {} are not ones it knows "
                            "(docs/templates.md)",
                            config.origin(), pieces.dump()));
  const MixShape s = ReadMixShape(config, names == "pvt_v2");
  const int64_t side = config.Int("image_size", 224);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, side, side});
  std::string map = "pixel_values", tokens;
  int64_t h = side, w = side, in = s.channels;
  for (size_t i = 0; i < s.depths.size(); ++i) {
    const auto stage = static_cast<int64_t>(i);
    const int64_t c = s.hidden[i], k = s.patch[i], pad = k / 2;
    const MixNames first = Names(s.pvt, stage, 0);
    h = (h + 2 * pad - k) / s.strides[i] + 1;
    w = (w + 2 * pad - k) / s.strides[i] + 1;
    if (h <= 0 || w <= 0)
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': image_size {} is too small for stage {}",
                                                   config.origin(), side, i));
    tokens = ToTokens(g, Conv2d(g, map, first.patch + ".proj", in, c, k, s.strides[i], pad, 1), c);
    tokens = g.LayerNorm(tokens, first.patch + ".layer_norm", c, s.eps);
    const auto inner = static_cast<int64_t>(static_cast<double>(c) * s.mlp[i]);
    for (int64_t j = 0; j < s.depths[i]; ++j) {
      const MixNames n = Names(s.pvt, stage, j);
      tokens = g.Node(
          "Add", {tokens, EfficientAttention(
                              g, s, n, g.LayerNorm(tokens, n.block + "layer_norm_1", c, s.eps), c,
                              s.heads[i], s.sr[i], h, w)});
      tokens = g.Node(
          "Add",
          {tokens, MixFfn(g, s, n.block, g.LayerNorm(tokens, n.block + "layer_norm_2", c, s.eps), c,
                          inner, h, w)});
    }
    tokens = g.LayerNorm(tokens, first.stage_norm, c, s.eps);
    map = ToMap(g, tokens, c, h, w);
    in = c;
  }
  const int64_t c = s.hidden.back();
  if (s.reshape_last) {
    g.Node("Identity", {map}, {}, "last_hidden_state");
    g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", c, h, w});
  } else {
    g.Node("Identity", {tokens}, {}, "last_hidden_state");
    g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", h * w, c});
  }
}

}  // namespace ipfs_accel::models
