#include "sam_vision_builder.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

constexpr double kNeckEps = 1e-6;  // SamLayerNorm's default in SamVisionNeck
const std::string kPrefix = "vision_encoder.";

struct SamShape {
  int64_t hidden, out_channels, layers, heads, channels, image, patch, window, mlp;
  double eps;
  std::string act;
  bool qkv_bias, abs_pos, rel_pos;
  std::set<int64_t> global;
  int64_t side() const { return image / patch; }
  int64_t head_dim() const { return hidden / heads; }
};

// global_attn_indexes: the layers attending over the whole grid.
std::set<int64_t> GlobalLayers(const HfConfig& c) {
  if (!c.Has("global_attn_indexes")) return {2, 5, 8, 11};
  const nlohmann::json& v = c.json()["global_attn_indexes"];
  if (!v.is_array() || !std::all_of(v.begin(), v.end(),
                                    [](const nlohmann::json& i) { return i.is_number_integer(); }))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': global_attn_indexes is not a list of integers", c.origin()));
  const std::vector<int64_t> layers = v.get<std::vector<int64_t>>();
  return {layers.begin(), layers.end()};
}

SamShape ReadSamShape(const HfConfig& c) {
  SamShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.out_channels = c.Int("output_channels", 256);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.channels = c.Int("num_channels", 3);
  s.image = c.Int("image_size", 1024);
  s.patch = c.Int("patch_size", 16);
  s.window = c.Int("window_size", 14);
  s.mlp = c.Has("mlp_dim")
              ? c.Int("mlp_dim")
              : static_cast<int64_t>(static_cast<double>(s.hidden) * c.Double("mlp_ratio", 4.0));
  s.eps = c.Double("layer_norm_eps", 1e-6);
  s.act = c.String("hidden_act", "gelu");
  s.qkv_bias = c.Bool("qkv_bias", true);
  s.abs_pos = c.Bool("use_abs_pos", true);
  s.rel_pos = c.Bool("use_rel_pos", true);
  s.global = GlobalLayers(c);
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.layers <= 0 || s.out_channels <= 0 ||
      s.channels <= 0 || s.patch <= 0 || s.image < s.patch || s.window < 0 || s.mlp <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': sizes must be positive, hidden_size ({}) a multiple of "
                            "num_attention_heads ({}) and image_size ({}) at least patch_size ({})",
                            c.origin(), s.hidden, s.heads, s.image, s.patch));
  return s;
}

// rel_pos [2n - 1, head_dim] gathered at (query - key + n - 1) for n x n positions, transposed
// for the einsum: [n (query), head_dim, n (key)] (HF's get_rel_pos: a table of 2n - 1 rows
// needs no resampling).
std::string RelativePositions(GraphBuilder& g, const SamShape& s, const std::string& name,
                              int64_t n) {
  const std::string table = g.Weight(name, {2 * n - 1, s.head_dim()}, WeightInit::kZeros);
  std::vector<int64_t> index;
  for (int64_t q = 0; q < n; ++q)
    for (int64_t k = 0; k < n; ++k) index.push_back(q - k + n - 1);
  const std::string rows = g.Node("Reshape", {g.Node("Gather", {table, g.ConstInt64(index)}),
                                              g.ConstInt64({n, n, s.head_dim()})});
  return g.Node("Transpose", {rows}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// HF's add_decomposed_rel_pos: scores [B*heads, n*n, n*n] plus, per query (qh, qw) and key (kh,
// kw), q . rel_h[qh, kh] + q . rel_w[qw, kw]; q [B*heads, n*n, head_dim] unscaled.
std::string AddRelativePositions(GraphBuilder& g, const SamShape& s, const std::string& p,
                                 const std::string& scores, const std::string& q, int64_t n) {
  const std::string grid = g.Node("Reshape", {q, g.ConstInt64({-1, n, n, s.head_dim()})});
  const std::string rel_h = g.Node("MatMul", {grid, RelativePositions(g, s, p + "rel_pos_h", n)});
  const std::string by_column =
      g.Node("Transpose", {grid}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  const std::string rel_w = g.Node(
      "Transpose", {g.Node("MatMul", {by_column, RelativePositions(g, s, p + "rel_pos_w", n)})},
      {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  std::string x = g.Node("Reshape", {scores, g.ConstInt64({-1, n, n, n, n})});
  x = g.Node("Add", {x, g.Node("Unsqueeze", {rel_h, g.ConstInt64({-1})})});
  x = g.Node("Add", {x, g.Node("Unsqueeze", {rel_w, g.ConstInt64({-2})})});
  return g.Node("Reshape", {x, g.ConstInt64({-1, n * n, n * n})});
}

// SamVisionAttention over x [W, n, n, hidden] (W windows or images).
std::string Attention(GraphBuilder& g, const SamShape& s, const std::string& p,
                      const std::string& x, int64_t n) {
  const int64_t hd = s.head_dim();
  std::string qkv = g.Linear(x, p + "qkv", s.hidden, 3 * s.hidden, s.qkv_bias);
  qkv = g.Node("Transpose", {g.Node("Reshape", {qkv, g.ConstInt64({-1, n * n, 3, s.heads, hd})})},
               {{"perm", std::vector<int64_t>{2, 0, 3, 1, 4}}});
  // [3, W * heads, n * n, hd], as HF reshapes it.
  qkv = g.Node("Reshape", {qkv, g.ConstInt64({3, -1, n * n, hd})});
  const auto parts = g.NodeN("Split", {qkv, g.ConstInt64({1, 1, 1})}, 3, {{"axis", int64_t{0}}});
  auto part = [&](int i) { return g.Node("Squeeze", {parts[i], g.ConstInt64({0})}); };
  const std::string q = part(0);
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  std::string scores =
      g.Node("MatMul", {g.Node("Mul", {q, g.ConstFloat(scale)}),
                        g.Node("Transpose", {part(1)}, {{"perm", std::vector<int64_t>{0, 2, 1}}})});
  if (s.rel_pos) scores = AddRelativePositions(g, s, p, scores, q, n);
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  std::string out = g.Node(
      "Reshape", {g.Node("MatMul", {probs, part(2)}), g.ConstInt64({-1, s.heads, n, n, hd})});
  out = g.Node("Transpose", {out}, {{"perm", std::vector<int64_t>{0, 2, 3, 1, 4}}});
  out = g.Node("Reshape", {out, g.ConstInt64({-1, n, n, s.hidden})});
  return g.Linear(out, p + "proj", s.hidden, s.hidden);
}

// HF's window_partition: [B, side, side, C] zero-padded to a multiple of w, as [B * windows, w,
// w, C] row-major over the windows; and its inverse, cropped back.
std::string Partition(GraphBuilder& g, const SamShape& s, const std::string& x, int64_t w) {
  const int64_t pad = (w - s.side() % w) % w, n = (s.side() + pad) / w;
  std::string y = x;
  if (pad > 0) y = g.Node("Pad", {x, g.ConstInt64({0, 0, 0, 0, 0, pad, pad, 0})});
  y = g.Node("Reshape", {y, g.ConstInt64({-1, n, w, n, w, s.hidden})});
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 1, 3, 2, 4, 5}}});
  return g.Node("Reshape", {y, g.ConstInt64({-1, w, w, s.hidden})});
}

std::string Unpartition(GraphBuilder& g, const SamShape& s, const std::string& x, int64_t w) {
  const int64_t padded = (s.side() + w - 1) / w * w, n = padded / w;
  std::string y = g.Node("Reshape", {x, g.ConstInt64({-1, n, n, w, w, s.hidden})});
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 1, 3, 2, 4, 5}}});
  y = g.Node("Reshape", {y, g.ConstInt64({-1, padded, padded, s.hidden})});
  if (padded == s.side()) return y;
  return g.Node(
      "Slice", {y, g.ConstInt64({0, 0}), g.ConstInt64({s.side(), s.side()}), g.ConstInt64({1, 2})});
}

// SamVisionLayer: x + attn(layer_norm1(x)) (windowed unless global), then + mlp(layer_norm2).
std::string Layer(GraphBuilder& g, const SamShape& s, int64_t l, const std::string& x) {
  const std::string p = kPrefix + fmt::format("layers.{}.", l);
  const bool windowed = !s.global.count(l) && s.window > 0;
  std::string h = g.LayerNorm(x, p + "layer_norm1", s.hidden, s.eps);
  if (windowed) h = Partition(g, s, h, s.window);
  h = Attention(g, s, p + "attn.", h, windowed ? s.window : s.side());
  if (windowed) h = Unpartition(g, s, h, s.window);
  const std::string y = g.Node("Add", {x, h});
  std::string m =
      g.Linear(g.LayerNorm(y, p + "layer_norm2", s.hidden, s.eps), p + "mlp.lin1", s.hidden, s.mlp);
  m = g.Linear(Activation(g, m, s.act), p + "mlp.lin2", s.mlp, s.hidden);
  return g.Node("Add", {y, m});
}

// SamVisionNeck on x [B, side, side, hidden]: [B, output_channels, side, side].
std::string Neck(GraphBuilder& g, const SamShape& s, const std::string& x) {
  const std::string p = kPrefix + "neck.";
  Conv2dSpec conv1{.in = s.hidden, .out = s.out_channels, .kernel = 1, .bias = false};
  std::string y = Conv2d(g, ToChannelsFirst(g, x), p + "conv1", conv1);
  y = ChannelsFirstNorm(g, y, p + "layer_norm1", s.out_channels, kNeckEps);
  Conv2dSpec conv2{.in = s.out_channels,
                   .out = s.out_channels,
                   .kernel = 3,
                   .pads = {1, 1, 1, 1},
                   .bias = false};
  y = Conv2d(g, y, p + "conv2", conv2);
  return ChannelsFirstNorm(g, y, p + "layer_norm2", s.out_channels, kNeckEps);
}

}  // namespace

void BuildSamVision(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  const SamShape s = ReadSamShape(config);
  const bool intermediate = pieces.value("intermediate_embeddings", false);
  const Dim batch = std::string("batch");
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image, s.image});
  Conv2dSpec patches{.in = s.channels, .out = s.hidden, .kernel = s.patch, .stride = s.patch};
  std::string x =
      ToChannelsLast(g, Conv2d(g, "pixel_values", kPrefix + "patch_embed.projection", patches));
  if (s.abs_pos)
    x = g.Node("Add", {x, g.Weight(kPrefix + "pos_embed", {1, s.side(), s.side(), s.hidden},
                                   WeightInit::kNormal)});
  int64_t k = 0;
  for (int64_t l = 0; l < s.layers; ++l) {
    x = Layer(g, s, l, x);
    if (!intermediate || (!s.global.count(l) && s.window > 0)) continue;
    const std::string name = fmt::format("intermediate_embeddings.{}", k++);
    g.Node("Identity", {x}, {}, name);
    g.Output(name, onnx::TensorProto::FLOAT, {batch, s.side(), s.side(), s.hidden});
  }
  g.Node("Identity", {Neck(g, s, x)}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, s.out_channels, s.side(), s.side()});
}

}  // namespace ipfs_accel::models
