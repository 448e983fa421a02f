#include "vision_transformer.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "rotary.h"

namespace ipfs_accel::models {

void CheckPatchTowerSizes(const HfConfig& c, int64_t hidden, int64_t heads, int64_t image,
                          int64_t patch, std::initializer_list<int64_t> others) {
  if (heads <= 0 || hidden % heads != 0 ||
      std::any_of(others.begin(), others.end(), [](int64_t v) { return v <= 0; }) || patch <= 0 ||
      image < patch)
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("'{}': sizes must be positive, hidden_size ({}) a multiple of "
                                  "num_attention_heads ({}) and image_size ({}) at least "
                                  "patch_size ({})",
                                  c.origin(), hidden, heads, image, patch));
}

std::string PatchEmbeddings(GraphBuilder& g, const std::string& pixels, const std::string& prefix,
                            int64_t channels, int64_t hidden, int64_t patch_h, int64_t patch_w,
                            bool bias) {
  return ConvPatchEmbeddings(g, pixels, prefix, channels, hidden, {patch_h, patch_w},
                             {patch_h, patch_w}, bias);
}

std::string ConvPatchEmbeddings(GraphBuilder& g, const std::string& x, const std::string& prefix,
                                int64_t channels, int64_t hidden,
                                const std::vector<int64_t>& kernel,
                                const std::vector<int64_t>& strides, bool bias,
                                const std::vector<int64_t>& pads) {
  core::Shape shape = {hidden, channels};
  shape.insert(shape.end(), kernel.begin(), kernel.end());
  std::vector<std::string> inputs = {x, g.Weight(prefix + ".weight", shape, WeightInit::kNormal)};
  if (bias) inputs.push_back(g.Weight(prefix + ".bias", {hidden}, WeightInit::kZeros));
  // [b, hidden, ...]; no pads attribute where there are none, as before VitPose.
  std::vector<Attr> attrs = {{"kernel_shape", kernel}, {"strides", strides}};
  if (!pads.empty()) attrs.push_back({"pads", pads});
  const std::string grid = g.Node("Conv", inputs, attrs);
  const std::string flat = g.Node("Reshape", {grid, g.ConstInt64({0, hidden, -1})});
  return g.Node("Transpose", {flat}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

std::string RepeatOverBatch(GraphBuilder& g, const std::string& token, const std::string& like,
                            int64_t hidden) {
  const std::string batch =
      g.Node("Slice", {g.Node("Shape", {like}), g.ConstInt64({0}), g.ConstInt64({1})});
  const std::string shape =
      g.Node("Concat", {batch, g.ConstInt64({1, hidden})}, {{"axis", int64_t{0}}});
  return g.Node("Expand", {g.Node("Reshape", {token, g.ConstInt64({1, 1, hidden})}), shape});
}

std::string PrependTokens(GraphBuilder& g, const std::vector<std::string>& tokens,
                          const std::string& x, int64_t hidden) {
  std::vector<std::string> parts;
  for (const auto& t : tokens) parts.push_back(RepeatOverBatch(g, t, x, hidden));
  parts.push_back(x);
  return g.Node("Concat", parts, {{"axis", int64_t{1}}});
}

std::string ScaledDotProductAttention(GraphBuilder& g, const std::string& q, const std::string& k,
                                      const std::string& v, int64_t heads, int64_t head_dim,
                                      const std::string& additive_mask, bool scaled) {
  const std::string split = g.ConstInt64({0, 0, heads, head_dim});
  auto to_heads = [&](const std::string& t, std::vector<int64_t> perm) {
    return g.Node("Transpose", {g.Node("Reshape", {t, split})}, {{"perm", perm}});
  };
  const std::string qh = to_heads(q, {0, 2, 1, 3});  // [b, h, sq, d]
  const std::string kh = to_heads(k, {0, 2, 3, 1});  // [b, h, d, sk]
  const std::string vh = to_heads(v, {0, 2, 1, 3});  // [b, h, sk, d]
  // HF scales the product (q k^T) * d^-0.5, not q beforehand.
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  std::string scores = g.Node("MatMul", {qh, kh});
  if (scaled) scores = g.Node("Mul", {scores, g.ConstFloat(scale)});
  if (!additive_mask.empty()) scores = g.Node("Add", {scores, additive_mask});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  const std::string ctx = g.Node("Transpose", {g.Node("MatMul", {probs, vh})},
                                 {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  return g.Node("Reshape", {ctx, g.ConstInt64({0, 0, heads * head_dim})});
}

std::string RotateEachHead(GraphBuilder& g, const std::string& t, int64_t heads, int64_t head_dim,
                           const std::string& cos, const std::string& sin, bool interleaved) {
  // [b, s, heads, head_dim] against the [s, 1, head_dim] tables, then merged back.
  const std::string split = g.Node("Reshape", {t, g.ConstInt64({0, 0, heads, head_dim})});
  const std::string r = ApplyRope(g, split, {cos, sin, interleaved}, head_dim, head_dim);
  return g.Node("Reshape", {r, g.ConstInt64({0, 0, heads * head_dim})});
}

std::string PreNormAttention(GraphBuilder& g, const PreNormLayerShape& s,
                             const PreNormLayerNames& n, const std::string& x,
                             const std::string& additive_mask) {
  const std::string normed = g.LayerNorm(x, n.norm1, s.hidden, s.eps);
  const std::string q = g.Linear(normed, n.query, s.hidden, s.hidden, s.qkv_bias);
  const std::string k = g.Linear(normed, n.key, s.hidden, s.hidden, s.qkv_bias && s.key_bias);
  const std::string v = g.Linear(normed, n.value, s.hidden, s.hidden, s.qkv_bias);
  const int64_t head_dim = s.hidden / s.heads;
  if (!s.rope_cos.empty()) {
    auto rotate = [&](const std::string& t) {
      return RotateEachHead(g, t, s.heads, head_dim, s.rope_cos, s.rope_sin, s.rope_interleaved);
    };
    const std::string ctx =
        ScaledDotProductAttention(g, rotate(q), rotate(k), v, s.heads, head_dim, additive_mask);
    return g.Linear(ctx, n.attention_out, s.hidden, s.hidden, s.out_bias);
  }
  const std::string ctx = ScaledDotProductAttention(g, q, k, v, s.heads, head_dim, additive_mask);
  return g.Linear(ctx, n.attention_out, s.hidden, s.hidden, s.out_bias);
}

std::string PreNormAttentionBlock(GraphBuilder& g, const PreNormLayerShape& s,
                                  const PreNormLayerNames& n, const std::string& x,
                                  const std::string& additive_mask) {
  return g.Node("Add", {x, PreNormAttention(g, s, n, x, additive_mask)});
}

std::string PreNormMlp(GraphBuilder& g, const PreNormLayerShape& s, const PreNormLayerNames& n,
                       const std::string& h) {
  const std::string m = g.Linear(g.LayerNorm(h, n.norm2, s.hidden, s.eps), n.fc1, s.hidden,
                                 s.intermediate, s.mlp_bias);
  return g.Linear(Activation(g, m, s.act), n.fc2, s.intermediate, s.hidden, s.mlp_bias);
}

std::string PreNormMlpBlock(GraphBuilder& g, const PreNormLayerShape& s, const PreNormLayerNames& n,
                            const std::string& h) {
  return g.Node("Add", {h, PreNormMlp(g, s, n, h)});
}

std::string PreNormEncoderLayer(GraphBuilder& g, const PreNormLayerShape& s,
                                const PreNormLayerNames& n, const std::string& x,
                                const std::string& additive_mask) {
  return PreNormMlpBlock(g, s, n, PreNormAttentionBlock(g, s, n, x, additive_mask));
}

std::string TokenAt(GraphBuilder& g, const std::string& x, int64_t index) {
  const std::string row = g.Node("Gather", {x, g.ConstInt64({index})}, {{"axis", int64_t{1}}});
  return g.Node("Squeeze", {row, g.ConstInt64({1})});
}

std::string L2Normalize(GraphBuilder& g, const std::string& x) {
  // sum(x^2)^0.5 as HF's _get_vector_norm / Tensor.norm: no epsilon, as HF has none.
  const std::string sum_sq =
      g.Node("ReduceSum", {g.Node("Mul", {x, x}), g.ConstInt64({-1})}, {{"keepdims", int64_t{1}}});
  return g.Node("Div", {x, g.Node("Sqrt", {sum_sq})});
}

PreNormLayerNames ClipLayerNames(const std::string& prefix) {
  const std::string p = prefix + ".";
  return {p + "layer_norm1",
          p + "self_attn.q_proj",
          p + "self_attn.k_proj",
          p + "self_attn.v_proj",
          p + "self_attn.out_proj",
          p + "layer_norm2",
          p + "mlp.fc1",
          p + "mlp.fc2"};
}

}  // namespace ipfs_accel::models
