#include "levit_builder.h"

#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"
#include "seq2seq_attention.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct LevitShape {
  int64_t image = 224, channels = 3, kernel = 3, stride = 2, padding = 1, patch = 16;
  std::vector<int64_t> hidden, heads, depths, key_dim, mlp_ratio, attention_ratio;
};

std::string HeadsFirst(GraphBuilder& g, const std::string& x, int64_t heads) {
  const std::string r = g.Node("Reshape", {x, g.ConstInt64({0, 0, heads, -1})});
  return g.Node("Transpose", {r}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

std::string Mlp(GraphBuilder& g, const std::string& x, const std::string& p, int64_t dim,
                int64_t hidden) {
  const std::string up = LinearBatchNorm(g, x, p + "linear_up", dim, hidden);
  return LinearBatchNorm(g, Activation(g, up, "hardswish"), p + "linear_down", hidden, dim);
}

LevitShape ReadLevitShape(const HfConfig& c) {
  LevitShape s;
  s.image = c.Int("image_size", s.image);
  s.channels = c.Int("num_channels", s.channels);
  s.kernel = c.Int("kernel_size", s.kernel);
  s.stride = c.Int("stride", s.stride);
  s.padding = c.Int("padding", s.padding);
  s.patch = c.Int("patch_size", s.patch);
  s.hidden = ConfigIntList(c, "hidden_sizes", {128, 256, 384});
  s.heads = ConfigIntList(c, "num_attention_heads", {4, 8, 12});
  s.depths = ConfigIntList(c, "depths", {4, 4, 4});
  s.key_dim = ConfigIntList(c, "key_dim", {16, 16, 16});
  s.mlp_ratio = ConfigIntList(c, "mlp_ratio", {2, 2, 2});
  s.attention_ratio = ConfigIntList(c, "attention_ratio", {2, 2, 2});
  const size_t n = s.hidden.size();
  if (s.heads.size() != n || s.depths.size() != n || s.key_dim.size() != n ||
      s.mlp_ratio.size() != n || s.attention_ratio.size() != n)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_sizes, num_attention_heads, depths, key_dim, mlp_ratio "
                            "and attention_ratio must have one entry per stage",
                            c.origin()));
  return s;
}

// LevitPatchEmbeddings: returns the tokens [batch, side^2, hidden[0]] and sets `side`.
std::string PatchEmbeddings(GraphBuilder& g, const LevitShape& s, int64_t& side) {
  const int64_t h0 = s.hidden[0];
  const std::vector<int64_t> ch = {s.channels, h0 / 8, h0 / 4, h0 / 2, h0};
  std::string x = "pixel_values";
  side = s.image;
  for (int64_t i = 0; i < 4; ++i) {
    const std::string p = fmt::format("patch_embeddings.embedding_layer_{}", i + 1);
    x = Conv2d(g, x, p + ".convolution",
               Conv2dSpec{.in = ch[i],
                          .out = ch[i + 1],
                          .kernel = s.kernel,
                          .stride = s.stride,
                          .pads = {s.padding, s.padding, s.padding, s.padding},
                          .bias = false});
    x = g.BatchNorm(x, p + ".batch_norm", ch[i + 1], 1e-5);
    if (i < 3) x = Activation(g, x, "hardswish");
    side = (side + 2 * s.padding - s.kernel) / s.stride + 1;
  }
  x = g.Node("Reshape", {x, g.ConstInt64({0, h0, -1})});
  return g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

}  // namespace

std::vector<int64_t> LevitBiasIndices(int64_t in, int64_t out, int64_t stride, int64_t& count) {
  std::map<std::pair<int64_t, int64_t>, int64_t> seen;
  std::vector<int64_t> idx;
  idx.reserve(static_cast<size_t>(out * out * in * in));
  for (int64_t a = 0; a < out * out; ++a)
    for (int64_t b = 0; b < in * in; ++b) {
      const std::pair<int64_t, int64_t> off = {std::abs(a / out * stride - b / in),
                                               std::abs(a % out * stride - b % in)};
      const auto it = seen.emplace(off, static_cast<int64_t>(seen.size())).first;
      idx.push_back(it->second);
    }
  count = static_cast<int64_t>(seen.size());
  return idx;
}

std::string LevitAttention(GraphBuilder& g, const std::string& x, const std::string& p,
                           const LevitAttentionSpec& a) {
  const int64_t res_out = (a.res_in - 1) / a.stride + 1;
  const int64_t kd = a.key_dim, vd = a.ratio * a.key_dim;
  std::string q, k, v;
  if (a.stride == 1) {
    const std::string qkv = HeadsFirst(
        g, LinearBatchNorm(g, x, p + "queries_keys_values", a.dim_in, a.heads * (2 * kd + vd)),
        a.heads);
    const auto parts =
        g.NodeN("Split", {qkv, g.ConstInt64({kd, kd, vd})}, 3, {{"axis", int64_t{3}}});
    q = parts[0], k = parts[1], v = parts[2];
  } else {
    const std::string kv = HeadsFirst(
        g, LinearBatchNorm(g, x, p + "keys_values", a.dim_in, a.heads * (kd + vd)), a.heads);
    const auto parts = g.NodeN("Split", {kv, g.ConstInt64({kd, vd})}, 2, {{"axis", int64_t{3}}});
    k = parts[0], v = parts[1];
    // LevitSubsample: view as the res_in grid, keep every stride-th row and column.
    std::string sub = g.Node("Reshape", {x, g.ConstInt64({0, a.res_in, a.res_in, a.dim_in})});
    sub = g.Node("Slice", {sub, g.ConstInt64({0, 0}), g.ConstInt64({a.res_in, a.res_in}),
                           g.ConstInt64({1, 2}), g.ConstInt64({a.stride, a.stride})});
    sub = g.Node("Reshape", {sub, g.ConstInt64({0, -1, a.dim_in})});
    q = HeadsFirst(g, LinearBatchNorm(g, sub, p + "queries", a.dim_in, a.heads * kd), a.heads);
  }
  int64_t offsets = 0;
  const std::vector<int64_t> idx = LevitBiasIndices(a.res_in, res_out, a.stride, offsets);
  const std::string table =
      g.Weight(p + "attention_biases", {a.heads, offsets}, WeightInit::kZeros);
  const int64_t nq = res_out * res_out, nk = a.res_in * a.res_in;
  const std::string bias =
      g.Node("Reshape", {g.Node("Gather", {table, g.ConstInt64(idx)}, {{"axis", int64_t{1}}}),
                         g.ConstInt64({a.heads, nq, nk})});
  std::string o = Attend(g, q, k, v, static_cast<float>(std::pow(kd, -0.5)), bias);
  o = g.Node("Transpose", {o}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  o = g.Node("Reshape", {o, g.ConstInt64({0, 0, a.heads * vd})});
  return LinearBatchNorm(g, Activation(g, o, "hardswish"), p + "projection", a.heads * vd,
                         a.dim_out);
}

std::string LinearBatchNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                            int64_t in, int64_t out) {
  const std::string y = g.Linear(x, prefix + ".linear", in, out, false);
  const std::string n = prefix + ".batch_norm.";
  const std::string mean = g.Buffer(n + "running_mean", {out}, WeightInit::kZeros);
  const std::string var = g.Buffer(n + "running_var", {out}, WeightInit::kOnes);
  const std::string scale =
      g.Node("Div", {g.Weight(n + "weight", {out}, WeightInit::kOnes),
                     g.Node("Sqrt", {g.Node("Add", {var, g.ConstFloat(1e-5f)})})});
  return g.Node("Add", {g.Node("Mul", {g.Node("Sub", {y, mean}), scale}),
                        g.Weight(n + "bias", {out}, WeightInit::kZeros)});
}

void BuildLevit(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': the levit builder takes no pieces, not {}",
                                                 config.origin(), pieces.dump()));
  const LevitShape s = ReadLevitShape(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.image, s.image});
  int64_t side = 0;
  std::string x = PatchEmbeddings(g, s, side);
  int64_t res = s.image / s.patch;
  if (side != res)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the patch embeddings give a {}x{} grid, not image_size // "
                            "patch_size = {}",
                            config.origin(), side, side, res));
  for (size_t i = 0; i < s.hidden.size(); ++i) {
    const int64_t d = s.hidden[i];
    int64_t j = 0;
    auto next = [&] { return fmt::format("encoder.stages.{}.layers.{}.", i, j++); };
    for (int64_t l = 0; l < s.depths[i]; ++l) {
      const LevitAttentionSpec a{d, d, s.key_dim[i], s.heads[i], s.attention_ratio[i], res, 1};
      x = g.Node("Add", {x, LevitAttention(g, x, next() + "module.", a)});
      if (s.mlp_ratio[i] > 0)
        x = g.Node("Add", {x, Mlp(g, x, next() + "module.", d, d * s.mlp_ratio[i])});
    }
    if (i + 1 == s.hidden.size()) break;
    // down_ops[i]: ["Subsample", key_dim[0], hidden[i] // key_dim[0], 4, 2, 2]
    const int64_t kd = s.key_dim[0], out = (res - 1) / 2 + 1, next_dim = s.hidden[i + 1];
    x = LevitAttention(g, x, next(), LevitAttentionSpec{d, next_dim, kd, d / kd, 4, res, 2});
    res = out;
    x = g.Node("Add", {x, Mlp(g, x, next() + "module.", next_dim, next_dim * 2)});
  }
  const int64_t c = s.hidden.back();
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}},
         "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", res * res, c});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", c});
}

}  // namespace ipfs_accel::models
