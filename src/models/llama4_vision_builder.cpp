#include "llama4_vision_builder.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "vision_transformer.h"
#include "vlm_connectors.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct Llama4Shape {
  int64_t hidden, layers, heads, intermediate, channels, image, patch, shuffle, in_dim, out_dim;
  double theta;
  int64_t side() const { return image / patch; }
  int64_t head_dim() const { return hidden / heads; }
};

Llama4Shape ReadLlama4Shape(const HfConfig& c) {
  Llama4Shape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 34);
  s.heads = c.Int("num_attention_heads", 16);
  s.intermediate = c.Int("intermediate_size", 5632);
  s.channels = c.Int("num_channels", 3);
  s.image = c.Int("image_size", 448);
  s.patch = c.Int("patch_size", 14);
  s.theta = c.Double("rope_theta", 10000.0);
  s.in_dim = c.Int("projector_input_dim", 4096);
  s.out_dim = c.Int("projector_output_dim", 4096);
  const double ratio = c.Double("pixel_shuffle_ratio", 0.5);
  s.shuffle = ratio > 0 ? static_cast<int64_t>(std::llround(1.0 / ratio)) : 0;
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.head_dim() % 4 != 0 || s.layers <= 0 ||
      s.patch <= 0 || s.image < s.patch || s.shuffle <= 0 ||
      std::abs(1.0 / static_cast<double>(s.shuffle) - ratio) > 1e-9 || s.side() % s.shuffle != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': sizes must be positive, hidden_size a multiple of 4 x "
                            "num_attention_heads, pixel_shuffle_ratio 1 / n with n dividing the "
                            "{}-patch side",
                            c.origin(), s.side()));
  return s;
}

// Llama4VisionRotaryEmbedding as cos and sin [tokens, 1, head_dim], each angle repeated for its
// pair: patch p's first head_dim / 4 angles (column + 1) times f_k, the next (row + 1) times f_k,
// f_k = theta^(-2k / (head_dim / 2)); the class token (last) 0.
std::pair<std::string, std::string> Rope(GraphBuilder& g, const Llama4Shape& s) {
  const int64_t n = s.side(), hd = s.head_dim(), quarter = hd / 4;
  core::Tensor angles = core::Tensor::Zeros(core::DType::kFloat32, {n * n + 1, 1, hd});
  auto a = angles.values<float>();
  for (int64_t p = 0; p < n * n; ++p)
    for (int64_t k = 0; k < quarter; ++k) {
      const auto f = static_cast<float>(
          1.0 / std::pow(s.theta, static_cast<double>(2 * k) / static_cast<double>(hd / 2)));
      const float x = static_cast<float>(p % n + 1) * f, y = static_cast<float>(p / n + 1) * f;
      a[p * hd + 2 * k] = a[p * hd + 2 * k + 1] = x;
      a[p * hd + 2 * (quarter + k)] = a[p * hd + 2 * (quarter + k) + 1] = y;
    }
  const std::string table = g.Initializer("llama4.rope_angles", angles);
  return {g.Node("Cos", {table}), g.Node("Sin", {table})};
}

PreNormLayerNames LayerNames(int64_t l) {
  const std::string p = fmt::format("model.layers.{}.", l);
  return {p + "input_layernorm",  p + "self_attn.q_proj", p + "self_attn.k_proj",
          p + "self_attn.v_proj", p + "self_attn.o_proj", p + "post_attention_layernorm",
          p + "mlp.fc1",          p + "mlp.fc2"};
}

// The patches (unfold + Linear: a Conv2d of the Linear's weight), the class embedding after them,
// the positions, layernorm_pre.
std::string Embeddings(GraphBuilder& g, const Llama4Shape& s) {
  const int64_t features = s.channels * s.patch * s.patch, n = s.side() * s.side();
  const std::string linear =
      g.Weight("patch_embedding.linear.weight", {s.hidden, features}, WeightInit::kNormal);
  const std::string kernel =
      g.Node("Reshape", {linear, g.ConstInt64({s.hidden, s.channels, s.patch, s.patch})});
  std::string x = g.Node("Conv", {"pixel_values", kernel},
                         {{"kernel_shape", std::vector<int64_t>{s.patch, s.patch}},
                          {"strides", std::vector<int64_t>{s.patch, s.patch}}});
  x = g.Node("Transpose", {g.Node("Reshape", {x, g.ConstInt64({0, s.hidden, -1})})},
             {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const std::string cls =
      RepeatOverBatch(g, g.Weight("class_embedding", {s.hidden}, WeightInit::kNormal), x, s.hidden);
  x = g.Node("Concat", {x, cls}, {{"axis", int64_t{1}}});
  x = g.Node("Add",
             {x, g.Weight("positional_embedding_vlm", {n + 1, s.hidden}, WeightInit::kNormal)});
  return g.LayerNorm(x, "layernorm_pre", s.hidden, kTorchNormEps);
}

}  // namespace

void BuildLlama4Vision(const HfConfig& config, GraphBuilder& g) {
  const Llama4Shape s = ReadLlama4Shape(config);
  const Dim batch = std::string("batch");
  const int64_t n = s.side() * s.side(), r = s.shuffle;
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image, s.image});
  std::string x = Embeddings(g, s);
  PreNormLayerShape shape{.hidden = s.hidden,
                          .heads = s.heads,
                          .intermediate = s.intermediate,
                          .eps = kTorchNormEps,
                          .act = "gelu"};  // nn.GELU() whatever hidden_act says
  std::tie(shape.rope_cos, shape.rope_sin) = Rope(g, s);
  shape.rope_interleaved = true;
  for (int64_t l = 0; l < s.layers; ++l) x = PreNormEncoderLayer(g, shape, LayerNames(l), x, "");
  x = g.LayerNorm(x, "layernorm_post", s.hidden, kTorchNormEps);
  x = g.Node("Slice", {x, g.ConstInt64({0}), g.ConstInt64({n}), g.ConstInt64({1})});
  x = PixelShuffle(g, x, s.side(), s.hidden, r);
  x = Activation(g, g.Linear(x, "vision_adapter.mlp.fc1", s.intermediate, s.in_dim, false), "gelu");
  x = Activation(g, g.Linear(x, "vision_adapter.mlp.fc2", s.out_dim, s.out_dim, false), "gelu");
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, (s.side() / r) * (s.side() / r), s.out_dim});
}

}  // namespace ipfs_accel::models
