#include "cvt_builder.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"
#include "seq2seq_attention.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct CvtShape {
  int64_t channels = 3;
  std::vector<int64_t> patch, stride, padding, dim, heads, depth, kernel, padding_kv, stride_kv,
      padding_q, stride_q;
  std::vector<double> mlp_ratio;
  std::vector<bool> qkv_bias, cls_token;
};

template <typename T>
std::vector<T> List(const HfConfig& c, const std::string& key, std::vector<T> fallback) {
  if (!c.Has(key)) return fallback;
  try {
    return c.json()[key].get<std::vector<T>>();
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': '{}' must be a list", c.origin(), key));
  }
}

CvtShape ReadCvtShape(const HfConfig& c) {
  CvtShape s;
  s.channels = c.Int("num_channels", s.channels);
  s.patch = ConfigIntList(c, "patch_sizes", {7, 3, 3});
  s.stride = ConfigIntList(c, "patch_stride", {4, 2, 2});
  s.padding = ConfigIntList(c, "patch_padding", {2, 1, 1});
  s.dim = ConfigIntList(c, "embed_dim", {64, 192, 384});
  s.heads = ConfigIntList(c, "num_heads", {1, 3, 6});
  s.depth = ConfigIntList(c, "depth", {1, 2, 10});
  s.kernel = ConfigIntList(c, "kernel_qkv", {3, 3, 3});
  s.padding_kv = ConfigIntList(c, "padding_kv", {1, 1, 1});
  s.stride_kv = ConfigIntList(c, "stride_kv", {2, 2, 2});
  s.padding_q = ConfigIntList(c, "padding_q", {1, 1, 1});
  s.stride_q = ConfigIntList(c, "stride_q", {1, 1, 1});
  s.mlp_ratio = List<double>(c, "mlp_ratio", {4.0, 4.0, 4.0});
  s.qkv_bias = List<bool>(c, "qkv_bias", {true, true, true});
  s.cls_token = List<bool>(c, "cls_token", {false, false, true});
  for (const std::string& m :
       List<std::string>(c, "qkv_projection_method", {"dw_bn", "dw_bn", "dw_bn"}))
    if (m != "dw_bn")
      throw Error(
          ErrorKind::kUnsupported,
          fmt::format("'{}': qkv_projection_method '{}' is not built (dw_bn)", c.origin(), m));
  const size_t n = s.depth.size();
  for (size_t size :
       {s.patch.size(), s.stride.size(), s.padding.size(), s.dim.size(), s.heads.size(),
        s.kernel.size(), s.padding_kv.size(), s.stride_kv.size(), s.padding_q.size(),
        s.stride_q.size(), s.mlp_ratio.size(), s.qkv_bias.size(), s.cls_token.size()})
    if (size < n)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': every per-stage list needs an entry per depth", c.origin()));
  return s;
}

// [batch, dim, h, w] -> [batch, h w, dim].
std::string Tokens(GraphBuilder& g, const std::string& map, int64_t dim) {
  const std::string r = g.Node("Reshape", {map, g.ConstInt64({0, dim, -1})});
  return g.Node("Transpose", {r}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// [batch, h w, dim] -> `map_shape`.
std::string Map(GraphBuilder& g, const std::string& tokens, const std::string& map_shape) {
  const std::string t = g.Node("Transpose", {tokens}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  return g.Node("Reshape", {t, map_shape});
}

std::string ConvProjection(GraphBuilder& g, const std::string& map, const std::string& p,
                           int64_t dim, int64_t kernel, int64_t padding, int64_t stride) {
  const std::string c = p + ".convolution_projection.";
  std::string y = Conv2d(g, map, c + "convolution",
                         Conv2dSpec{.in = dim,
                                    .out = dim,
                                    .kernel = kernel,
                                    .stride = stride,
                                    .pads = {padding, padding, padding, padding},
                                    .groups = dim,
                                    .bias = false});
  return Tokens(g, g.BatchNorm(y, c + "normalization", dim, 1e-5), dim);
}

Dim Side(const Dim& d, int64_t k, int64_t stride, int64_t pad, const std::string& name) {
  if (const auto* n = std::get_if<int64_t>(&d)) return (*n + 2 * pad - k) / stride + 1;
  return name;
}

}  // namespace

std::string CvtAttention(GraphBuilder& g, const std::string& x, const std::string& map_shape,
                         const std::string& p, const CvtAttentionSpec& a) {
  std::string cls, tokens = x;
  if (a.cls_token) {
    cls = g.Node("Slice", {x, g.ConstInt64({0}), g.ConstInt64({1}), g.ConstInt64({1})});
    tokens = g.Node("Slice", {x, g.ConstInt64({1}), g.ConstInt64({INT64_MAX}), g.ConstInt64({1})});
  }
  const std::string map = Map(g, tokens, map_shape);
  const std::string s = p + "attention.";
  auto project = [&](const std::string& name, int64_t padding, int64_t stride) {
    std::string t = ConvProjection(g, map, s + "convolution_projection_" + name, a.dim, a.kernel,
                                   padding, stride);
    if (a.cls_token) t = g.Node("Concat", {cls, t}, {{"axis", int64_t{1}}});
    t = g.Linear(t, s + "projection_" + name, a.dim, a.dim, a.qkv_bias);
    return SplitHeads(g, t, a.heads, a.dim / a.heads);
  };
  const std::string k = project("key", a.padding_kv, a.stride_kv);
  const std::string q = project("query", a.padding_q, a.stride_q);
  const std::string v = project("value", a.padding_kv, a.stride_kv);
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.dim)));
  const std::string context = MergeHeads(g, Attend(g, q, k, v, scale, ""), a.dim);
  return g.Linear(context, p + "output.dense", a.dim, a.dim);
}

void BuildCvt(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': the cvt builder takes no pieces, not {}",
                                                 config.origin(), pieces.dump()));
  const CvtShape s = ReadCvtShape(config);
  auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, height, width});
  std::string map = "pixel_values", cls;
  const int64_t last = s.dim[s.depth.size() - 1];
  for (size_t i = 0; i < s.depth.size(); ++i) {
    const int64_t d = s.dim[i], in = i == 0 ? s.channels : s.dim[i - 1];
    const std::string p = fmt::format("encoder.stages.{}.", i);
    const std::string e = p + "embedding.convolution_embeddings.";
    map = Conv2d(g, map, e + "projection", in, d, s.patch[i], s.stride[i], s.padding[i]);
    height = Side(height, s.patch[i], s.stride[i], s.padding[i], fmt::format("stage{}_h", i + 1));
    width = Side(width, s.patch[i], s.stride[i], s.padding[i], fmt::format("stage{}_w", i + 1));
    const std::string shape = g.Node("Shape", {map});
    std::string x = g.LayerNorm(Tokens(g, map, d), e + "normalization", d, kTorchNormEps);
    if (s.cls_token[i])
      x = PrependTokens(g, {g.Weight(p + "cls_token", {1, 1, last}, WeightInit::kNormal)}, x, last);
    const CvtAttentionSpec a{d,
                             s.heads[i],
                             s.kernel[i],
                             s.padding_q[i],
                             s.stride_q[i],
                             s.padding_kv[i],
                             s.stride_kv[i],
                             s.qkv_bias[i],
                             s.cls_token[i]};
    const auto hidden = static_cast<int64_t>(static_cast<double>(d) * s.mlp_ratio[i]);
    for (int64_t l = 0; l < s.depth[i]; ++l) {
      const std::string lp = fmt::format("{}layers.{}.", p, l);
      const std::string normed = g.LayerNorm(x, lp + "layernorm_before", d, kTorchNormEps);
      x = g.Node("Add", {CvtAttention(g, normed, shape, lp + "attention.", a), x});
      std::string m = g.LayerNorm(x, lp + "layernorm_after", d, kTorchNormEps);
      m = Activation(g, g.Linear(m, lp + "intermediate.dense", d, hidden), "gelu");
      x = g.Node("Add", {g.Linear(m, lp + "output.dense", hidden, d), x});
    }
    if (s.cls_token[i]) {
      cls = g.Node("Slice", {x, g.ConstInt64({0}), g.ConstInt64({1}), g.ConstInt64({1})});
      x = g.Node("Slice", {x, g.ConstInt64({1}), g.ConstInt64({INT64_MAX}), g.ConstInt64({1})});
    } else {
      cls.clear();
    }
    map = Map(g, x, shape);
  }
  g.Node("Identity", {map}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", last, height, width});
  if (!cls.empty()) {
    g.Node("Identity", {cls}, {}, "cls_token_value");
    g.Output("cls_token_value", onnx::TensorProto::FLOAT, {"batch", 1, last});
  }
}

}  // namespace ipfs_accel::models
