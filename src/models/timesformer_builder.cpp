#include "timesformer_builder.h"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct TimesformerShape {
  int64_t hidden, layers, heads, intermediate, channels, image, patch, frames;
  double eps;
  std::string act;
  bool qkv_bias;
  int64_t patches() const { return (image / patch) * (image / patch); }
};

TimesformerShape ReadTimesformerShape(const HfConfig& c) {
  TimesformerShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = c.Int("intermediate_size", 3072);
  s.channels = c.Int("num_channels", 3);
  s.image = c.Int("image_size", 224);
  s.patch = c.Int("patch_size", 16);
  s.frames = c.Int("num_frames", 8);
  s.eps = c.Double("layer_norm_eps", 1e-6);
  s.act = c.String("hidden_act", "gelu");
  s.qkv_bias = c.Bool("qkv_bias", true);
  const std::string type = c.String("attention_type", "divided_space_time");
  if (type != "divided_space_time")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': attention_type '{}' is not built; only divided_space_time",
                            c.origin(), type));
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.layers <= 0 || s.intermediate <= 0 ||
      s.channels <= 0 || s.patch <= 0 || s.image < s.patch || s.frames <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': sizes must be positive, hidden_size ({}) a multiple of "
                            "num_attention_heads ({}) and image_size ({}) at least patch_size ({})",
                            c.origin(), s.hidden, s.heads, s.image, s.patch));
  return s;
}

std::string Reshape(GraphBuilder& g, const std::string& x, const std::vector<int64_t>& shape) {
  return g.Node("Reshape", {x, g.ConstInt64(shape)});
}

// [a, b, c, d] -> [a, c, b, d].
std::string SwapMiddle(GraphBuilder& g, const std::string& x) {
  return g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

std::string Tokens(GraphBuilder& g, const std::string& x, int64_t begin, int64_t end) {
  return g.Node("Slice", {x, g.ConstInt64({begin}), g.ConstInt64({end}), g.ConstInt64({1})});
}

// TimesformerAttention under `p` on x [rows, n, hidden]: the fused qkv, then output.dense.
std::string Attention(GraphBuilder& g, const TimesformerShape& s, const std::string& p,
                      const std::string& x) {
  const std::string qkv = g.Linear(x, p + "attention.qkv", s.hidden, 3 * s.hidden, s.qkv_bias);
  const auto parts = g.NodeN("Split", {qkv, g.ConstInt64({s.hidden, s.hidden, s.hidden})}, 3,
                             {{"axis", int64_t{-1}}});
  const std::string ctx =
      ScaledDotProductAttention(g, parts[0], parts[1], parts[2], s.heads, s.hidden / s.heads, "");
  return g.Linear(ctx, p + "output.dense", s.hidden, s.hidden);
}

// TimesformerEmbeddings: [batch, 1 + patches * frames, hidden].
std::string Embeddings(GraphBuilder& g, const TimesformerShape& s) {
  const int64_t n = s.patches();
  const std::string frames = Reshape(g, "pixel_values", {-1, s.channels, s.image, s.image});
  std::string x = PatchEmbeddings(g, frames, "embeddings.patch_embeddings.projection", s.channels,
                                  s.hidden, s.patch, s.patch, /*bias=*/true);
  const std::string pos =
      g.Weight("embeddings.position_embeddings", {1, n + 1, s.hidden}, WeightInit::kNormal);
  x = g.Node("Add", {x, Tokens(g, pos, 1, n + 1)});
  x = SwapMiddle(g, Reshape(g, x, {-1, s.frames, n, s.hidden}));  // [b, n, frames, hidden]
  x = g.Node("Add", {x, g.Weight("embeddings.time_embeddings", {1, s.frames, s.hidden},
                                 WeightInit::kNormal)});
  const std::string cls =
      g.Node("Add", {g.Weight("embeddings.cls_token", {1, 1, s.hidden}, WeightInit::kNormal),
                     Tokens(g, pos, 0, 1)});
  return PrependTokens(g, {cls}, Reshape(g, x, {-1, n * s.frames, s.hidden}), s.hidden);
}

// TimesformerLayer with divided space-time attention.
std::string Layer(GraphBuilder& g, const TimesformerShape& s, int64_t l, const std::string& x) {
  const std::string p = fmt::format("encoder.layer.{}.", l);
  const int64_t n = s.patches(), t = s.frames, h = s.hidden;
  const std::string patches = Tokens(g, x, 1, 1 + n * t);
  // Temporal: each patch's frames attend to each other.
  const std::string xt = Reshape(g, patches, {-1, t, h});
  std::string res = Attention(g, s, p + "temporal_attention.",
                              g.LayerNorm(xt, p + "temporal_layernorm", h, s.eps));
  res = g.Linear(Reshape(g, res, {-1, n * t, h}), p + "temporal_dense", h, h);
  const std::string temporal = g.Node("Add", {patches, res});
  // Spatial: each frame's patches, after the class token repeated per frame.
  const std::string cls = Tokens(g, x, 0, 1);
  const std::string per_frame =
      Reshape(g, g.Node("Tile", {cls, g.ConstInt64({1, t, 1})}), {-1, 1, h});
  const std::string xs = g.Node(
      "Concat",
      {per_frame, Reshape(g, SwapMiddle(g, Reshape(g, temporal, {-1, n, t, h})), {-1, n, h})},
      {{"axis", int64_t{1}}});
  const std::string spatial =
      Attention(g, s, p + "attention.", g.LayerNorm(xs, p + "layernorm_before", h, s.eps));
  const std::string cls_res =
      g.Node("ReduceMean", {Reshape(g, Tokens(g, spatial, 0, 1), {-1, t, h})},
             {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{1}}});
  const std::string patch_res = Reshape(
      g, SwapMiddle(g, Reshape(g, Tokens(g, spatial, 1, 1 + n), {-1, t, n, h})), {-1, n * t, h});
  const std::string y =
      g.Node("Add", {g.Node("Concat", {cls, temporal}, {{"axis", int64_t{1}}}),
                     g.Node("Concat", {cls_res, patch_res}, {{"axis", int64_t{1}}})});
  std::string m = g.Linear(g.LayerNorm(y, p + "layernorm_after", h, s.eps),
                           p + "intermediate.dense", h, s.intermediate);
  m = g.Linear(Activation(g, m, s.act), p + "output.dense", s.intermediate, h);
  return g.Node("Add", {y, m});
}

}  // namespace

void BuildTimesformer(const HfConfig& config, GraphBuilder& g) {
  const TimesformerShape s = ReadTimesformerShape(config);
  const Dim batch = std::string("batch");
  g.Input("pixel_values", onnx::TensorProto::FLOAT,
          {batch, s.frames, s.channels, s.image, s.image});
  std::string x = Embeddings(g, s);
  for (int64_t l = 0; l < s.layers; ++l) x = Layer(g, s, l, x);
  g.Node("Identity", {g.LayerNorm(x, "layernorm", s.hidden, s.eps)}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, 1 + s.patches() * s.frames, s.hidden});
}

}  // namespace ipfs_accel::models
