#include "vitdet_builder.h"

#include <cmath>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct VitDetShape {
  int64_t hidden, layers, heads, intermediate, channels, image, patch, pretrain_image;
  double eps;
  std::string act;
  bool qkv_bias, positions;
  int64_t grid() const { return image / patch; }
};

bool Empty(const HfConfig& c, const std::string& key) {
  return !c.Has(key) || (c.json()[key].is_array() && c.json()[key].empty());
}

void RefuseWhatIsNotBuilt(const HfConfig& c) {
  for (const char* key : {"window_block_indices", "residual_block_indices"})
    if (!Empty(c, key))
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': {} (windowed attention / residual blocks) is not built; "
                              "only global attention layers",
                              c.origin(), key));
  if (c.Bool("use_relative_position_embeddings", false))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': use_relative_position_embeddings is not built", c.origin()));
}

VitDetShape ReadVitDetShape(const HfConfig& c) {
  RefuseWhatIsNotBuilt(c);
  VitDetShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = static_cast<int64_t>(static_cast<double>(s.hidden) * c.Double("mlp_ratio", 4.0));
  s.channels = c.Int("num_channels", 3);
  s.image = c.Int("image_size", 224);
  s.pretrain_image = c.Int("pretrain_image_size", 224);
  s.patch = c.Int("patch_size", 16);
  s.eps = c.Double("layer_norm_eps", 1e-6);
  s.act = c.String("hidden_act", "gelu");
  s.qkv_bias = c.Bool("qkv_bias", true);
  s.positions = c.Bool("use_absolute_position_embeddings", true);
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.layers <= 0 || s.intermediate <= 0 ||
      s.channels <= 0 || s.patch <= 0 || s.image < s.patch || s.pretrain_image < s.patch)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': sizes must be positive, hidden_size ({}) a multiple of "
                            "num_attention_heads ({}) and the images at least one patch",
                            c.origin(), s.hidden, s.heads));
  if (s.positions && s.pretrain_image / s.patch != s.grid())
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a {}x{} patch grid unlike pretrain_image_size's {}x{}: HF "
                            "resamples the positions bicubically, which is not built",
                            c.origin(), s.grid(), s.grid(), s.pretrain_image / s.patch,
                            s.pretrain_image / s.patch));
  return s;
}

// VitDetAttention without relative positions: (q * head_dim^-0.5) k^T, q, k, v split from the
// fused qkv whose rows are [q | k | v], each over all heads.
std::string Attention(GraphBuilder& g, const VitDetShape& s, const std::string& p,
                      const std::string& x) {
  const int64_t head_dim = s.hidden / s.heads;
  const std::string qkv = g.Linear(x, p + "attention.qkv", s.hidden, 3 * s.hidden, s.qkv_bias);
  const auto parts = g.NodeN("Split", {qkv, g.ConstInt64({s.hidden, s.hidden, s.hidden})}, 3,
                             {{"axis", int64_t{-1}}});
  const float scale = static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5));
  const std::string q = g.Node("Mul", {parts[0], g.ConstFloat(scale)});
  const std::string ctx = ScaledDotProductAttention(g, q, parts[1], parts[2], s.heads, head_dim, "",
                                                    /*scaled=*/false);
  return g.Linear(ctx, p + "attention.proj", s.hidden, s.hidden);
}

std::string Layer(GraphBuilder& g, const VitDetShape& s, int64_t l, const std::string& x) {
  const std::string p = fmt::format("encoder.layer.{}.", l);
  const std::string h =
      g.Node("Add", {x, Attention(g, s, p, g.LayerNorm(x, p + "norm1", s.hidden, s.eps))});
  const std::string m = Activation(g,
                                   g.Linear(g.LayerNorm(h, p + "norm2", s.hidden, s.eps),
                                            p + "mlp.fc1", s.hidden, s.intermediate),
                                   s.act);
  return g.Node("Add", {h, g.Linear(m, p + "mlp.fc2", s.intermediate, s.hidden)});
}

}  // namespace

void BuildVitDet(const HfConfig& config, GraphBuilder& g) {
  const VitDetShape s = ReadVitDetShape(config);
  const Dim batch = std::string("batch");
  const int64_t patches = s.grid() * s.grid();
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image, s.image});
  std::string x = PatchEmbeddings(g, "pixel_values", "embeddings.projection", s.channels, s.hidden,
                                  s.patch, s.patch, /*bias=*/true);  // [b, h*w, hidden], row-major
  if (s.positions) {  // the table's row 0 is a class token's, which VitDet has not
    const std::string table =
        g.Weight("embeddings.position_embeddings", {1, patches + 1, s.hidden}, WeightInit::kNormal);
    x = g.Node("Add", {x, g.Node("Slice", {table, g.ConstInt64({1}), g.ConstInt64({patches + 1}),
                                           g.ConstInt64({1})})});
  }
  for (int64_t l = 0; l < s.layers; ++l) x = Layer(g, s, l, x);
  const std::string channels_first =
      g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  g.Node("Reshape", {channels_first, g.ConstInt64({0, s.hidden, s.grid(), s.grid()})}, {},
         "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, s.hidden, s.grid(), s.grid()});
}

}  // namespace ipfs_accel::models
