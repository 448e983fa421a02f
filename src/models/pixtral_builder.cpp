#include "pixtral_builder.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "rotary.h"
#include "t5_builder.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

constexpr double kPixtralRmsEps =
    1e-5;  // PixtralRMSNorm's eps in PixtralVisionModel, whatever the config

struct PixtralShape {
  int64_t hidden, intermediate, layers, heads, head_dim, channels, image, patch;
  std::string act;
  std::vector<float> inv_freq;  // head_dim / 2 frequencies of the default rope
  int64_t side() const { return image / patch; }
};

PixtralShape ReadPixtralShape(const HfConfig& c) {
  PixtralShape s{};
  s.hidden = c.Int("hidden_size", 1024);
  s.intermediate = c.Int("intermediate_size", 4096);
  s.layers = c.Int("num_hidden_layers", 24);
  s.heads = c.Int("num_attention_heads", 16);
  s.channels = c.Int("num_channels", 3);
  s.image = c.Int("image_size", 1024);
  s.patch = c.Int("patch_size", 16);
  s.act = c.String("hidden_act", "gelu");
  CheckPatchTowerSizes(c, s.hidden, s.heads, s.image, s.patch,
                       {s.intermediate, s.layers, s.channels});
  s.head_dim = s.hidden / s.heads;
  // The attention splits hidden_size by the heads; the rope reads head_dim when set.
  if (c.Has("head_dim") && c.Int("head_dim") != s.head_dim)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': head_dim {} unlike hidden_size / num_attention_heads ({}) is "
                            "not built",
                            c.origin(), c.Int("head_dim"), s.head_dim));
  if (s.head_dim % 4 != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a head size of {} is not a multiple of 4, as Pixtral's 2-D "
                            "rope needs",
                            c.origin(), s.head_dim));
  const RopeSpec rope = ReadRope(c, s.head_dim, 0);
  if (rope.attention_scaling != 1 || rope.rotary_dim != s.head_dim)
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("'{}': Pixtral's rope is the default one over the whole head", c.origin()));
  s.inv_freq = rope.inv_freq;
  return s;
}

// cos and sin [patches, 1, head_dim] of the patches in row-major order.
std::pair<std::string, std::string> PixtralRope(GraphBuilder& g, const PixtralShape& s) {
  const int64_t n = s.side(), half = s.head_dim / 2, quarter = half / 2;
  core::Tensor angles = core::Tensor::Zeros(core::DType::kFloat32, {n * n, 1, s.head_dim});
  auto a = angles.values<float>();
  for (int64_t p = 0; p < n * n; ++p) {
    float* row = &a[p * s.head_dim];
    for (int64_t k = 0; k < quarter; ++k) {
      row[k] = static_cast<float>(p / n) * s.inv_freq[2 * k];
      row[quarter + k] = static_cast<float>(p % n) * s.inv_freq[2 * k + 1];
    }
    std::copy_n(row, half, row + half);
  }
  const std::string table = g.Initializer("pixtral.rope_angles", angles);
  return {g.Node("Cos", {table}), g.Node("Sin", {table})};
}

// PixtralAttentionLayer: x + o_proj(attn(rms(x))), then h + down(act(gate(n)) * up(n)).
std::string Layer(GraphBuilder& g, const PixtralShape& s, int64_t l, const std::string& x,
                  const std::pair<std::string, std::string>& rope) {
  const std::string p = fmt::format("transformer.layers.{}.", l);
  const std::string n = T5LayerNorm(g, x, p + "attention_norm", s.hidden, kPixtralRmsEps);
  auto project = [&](const char* name) {
    return g.Linear(n, p + "attention." + name, s.hidden, s.hidden, /*bias=*/false);
  };
  auto rotated = [&](const char* name) {
    return RotateEachHead(g, project(name), s.heads, s.head_dim, rope.first, rope.second);
  };
  const std::string ctx = ScaledDotProductAttention(g, rotated("q_proj"), rotated("k_proj"),
                                                    project("v_proj"), s.heads, s.head_dim, "");
  const std::string h =
      g.Node("Add", {x, g.Linear(ctx, p + "attention.o_proj", s.hidden, s.hidden, false)});
  const std::string m = T5LayerNorm(g, h, p + "ffn_norm", s.hidden, kPixtralRmsEps);
  const std::string f = p + "feed_forward.";
  const std::string gate =
      Activation(g, g.Linear(m, f + "gate_proj", s.hidden, s.intermediate, false), s.act);
  const std::string up = g.Linear(m, f + "up_proj", s.hidden, s.intermediate, false);
  return g.Node("Add", {h, g.Linear(g.Node("Mul", {gate, up}), f + "down_proj", s.intermediate,
                                    s.hidden, false)});
}

}  // namespace

void BuildPixtralVision(const HfConfig& config, GraphBuilder& g) {
  const PixtralShape s = ReadPixtralShape(config);
  const Dim batch = std::string("batch");
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image, s.image});
  std::string x = PatchEmbeddings(g, "pixel_values", "patch_conv", s.channels, s.hidden, s.patch,
                                  s.patch, /*bias=*/false);
  x = T5LayerNorm(g, x, "ln_pre", s.hidden, kPixtralRmsEps);
  const auto rope = PixtralRope(g, s);
  for (int64_t l = 0; l < s.layers; ++l) x = Layer(g, s, l, x, rope);
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, s.side() * s.side(), s.hidden});
}

}  // namespace ipfs_accel::models
