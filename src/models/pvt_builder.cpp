#include "pvt_builder.h"

#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"
#include "segformer_builder.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct PvtShape {
  int64_t image = 224, channels = 3, stages = 4;
  std::vector<int64_t> depths, sr, hidden, patch, strides, heads;
  std::vector<double> mlp;
  std::string act = "gelu";
  double eps = 1e-6;
  bool qkv_bias = true;
};

[[noreturn]] void Corrupt(const HfConfig& c, const std::string& what) {
  throw Error(ErrorKind::kCorrupt, fmt::format("'{}': {}", c.origin(), what));
}

PvtShape ReadPvtShape(const HfConfig& c) {
  PvtShape s;
  s.image = c.Int("image_size", s.image);
  s.channels = c.Int("num_channels", s.channels);
  s.stages = c.Int("num_encoder_blocks", s.stages);
  s.depths = ConfigIntList(c, "depths", {2, 2, 2, 2});
  s.sr = ConfigIntList(c, "sequence_reduction_ratios", {8, 4, 2, 1});
  s.hidden = ConfigIntList(c, "hidden_sizes", {64, 128, 320, 512});
  s.patch = ConfigIntList(c, "patch_sizes", {4, 2, 2, 2});
  s.strides = ConfigIntList(c, "strides", {4, 2, 2, 2});
  s.heads = ConfigIntList(c, "num_attention_heads", {1, 2, 5, 8});
  s.mlp = {8, 8, 4, 4};
  if (c.Has("mlp_ratios")) s.mlp = c.json()["mlp_ratios"].get<std::vector<double>>();
  s.act = c.String("hidden_act", s.act);
  s.eps = c.Double("layer_norm_eps", s.eps);
  s.qkv_bias = c.Bool("qkv_bias", true);
  const auto n = static_cast<size_t>(s.stages);
  for (size_t size : {s.depths.size(), s.sr.size(), s.hidden.size(), s.patch.size(),
                      s.strides.size(), s.heads.size(), s.mlp.size()})
    if (size < n || n == 0) Corrupt(c, "every per-stage list needs num_encoder_blocks entries");
  if (s.sr[n - 1] > 1) Corrupt(c, "the last stage, which has the class token, cannot reduce");
  return s;
}

// [batch, c, h, w] -> [batch, h w, c].
std::string Tokens(GraphBuilder& g, const std::string& map, int64_t c) {
  return g.Node("Transpose", {g.Node("Reshape", {map, g.ConstInt64({0, c, -1})})},
                {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

}  // namespace

std::string PvtLayer(GraphBuilder& g, const std::string& x, const std::string& p,
                     const PvtLayerSpec& l) {
  const std::string a = p + "attention.";
  const EfficientAttentionNames names{a + "self.query", a + "self.key",        a + "self.value",
                                      a + "self.sr",    a + "self.layer_norm", a + "output.dense"};
  const std::string normed = g.LayerNorm(x, p + "layer_norm_1", l.c, l.eps);
  const std::string h = g.Node("Add", {EfficientSelfAttention(g, normed, names, l.c, l.heads, l.sr,
                                                              l.side, l.side, l.qkv_bias, l.eps),
                                       x});
  std::string m = g.LayerNorm(h, p + "layer_norm_2", l.c, l.eps);
  m = Activation(g, g.Linear(m, p + "mlp.dense1", l.c, l.inner), l.act);
  return g.Node("Add", {h, g.Linear(m, p + "mlp.dense2", l.inner, l.c)});
}

void BuildPvt(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    Corrupt(config, fmt::format("the pvt builder takes no pieces, not {}", pieces.dump()));
  const PvtShape s = ReadPvtShape(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.image, s.image});
  std::string x = "pixel_values";
  int64_t side = s.image;
  for (size_t i = 0; i < static_cast<size_t>(s.stages); ++i) {
    const int64_t c = s.hidden[i], in = i == 0 ? s.channels : s.hidden[i - 1];
    const bool cls = i + 1 == static_cast<size_t>(s.stages);
    const std::string e = fmt::format("encoder.patch_embeddings.{}.", i);
    // HF: kernel_size=strides[i], stride=patch_sizes[i]
    const std::string map = Conv2d(g, x, e + "projection", in, c, s.strides[i], s.patch[i], 0);
    side = (side - s.strides[i]) / s.patch[i] + 1;
    const int64_t stage_image = i == 0 ? s.image : s.image / (int64_t{1} << (i + 1));
    const int64_t table = stage_image / s.patch[i];
    if (table != side)
      Corrupt(config, fmt::format("stage {} has a {}x{} patch grid but a position table for {}x{}",
                                  i, side, side, table, table));
    x = g.LayerNorm(Tokens(g, map, c), e + "layer_norm", c, s.eps);
    const int64_t rows = side * side + (cls ? 1 : 0);
    if (cls)
      x = PrependTokens(g, {g.Weight(e + "cls_token", {1, 1, c}, WeightInit::kNormal)}, x, c);
    x = g.Node("Add", {x, g.Weight(e + "position_embeddings", {1, rows, c}, WeightInit::kNormal)});
    const PvtLayerSpec spec{
        c,     s.heads[i], s.sr[i],   side, static_cast<int64_t>(static_cast<double>(c) * s.mlp[i]),
        s.eps, s.act,      s.qkv_bias};
    for (int64_t j = 0; j < s.depths[i]; ++j)
      x = PvtLayer(g, x, fmt::format("encoder.block.{}.{}.", i, j), spec);
    if (!cls)
      x = g.Node("Reshape", {g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
                             g.ConstInt64({0, c, side, side})});
  }
  const int64_t c = s.hidden[static_cast<size_t>(s.stages) - 1];
  g.Node("Identity", {g.LayerNorm(x, "encoder.layer_norm", c, s.eps)}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", 1 + side * side, c});
}

}  // namespace ipfs_accel::models
