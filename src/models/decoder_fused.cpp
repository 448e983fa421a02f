#include "decoder_fused.h"

#include <algorithm>
#include <vector>

namespace ipfs_accel::models {

namespace {

std::string Cast(GraphBuilder& g, const std::string& x, onnx::TensorProto::DataType to) {
  return g.Node("Cast", {x}, {{"to", int64_t{to}}});
}

// [batch, S, heads * head_dim] -> [batch, heads, S, head_dim], the cache's layout.
std::string HeadsFirst(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim) {
  const std::string split = g.Node("Reshape", {x, g.ConstInt64({0, 0, heads, head_dim})});
  return g.Node("Transpose", {split}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

std::string Rotate(GraphBuilder& g, const FusedDecoderContext& ctx, const std::string& x,
                   int64_t heads, int64_t rotary_dim) {
  return g.NodeIn(kContribDomain, "RotaryEmbedding",
                  {x, ctx.position_ids, ctx.cos_cache, ctx.sin_cache},
                  {{"num_heads", heads}, {"rotary_embedding_dim", rotary_dim}});
}

// [batch, kv_heads, T, head_dim] -> [batch, heads, T, head_dim], each KV head once per query
// head of its group (HF's repeat_kv).
std::string RepeatKvHeads(GraphBuilder& g, const std::string& x, const FusedAttentionShape& s) {
  const std::string shape = g.Node("Shape", {x});
  const std::string batch = g.Node("Slice", {shape, g.ConstInt64({0}), g.ConstInt64({1})});
  const std::string length = g.Node("Slice", {shape, g.ConstInt64({2}), g.ConstInt64({3})});
  const std::string grouped_shape = g.Node(
      "Concat",
      {batch, g.ConstInt64({s.kv_heads, s.heads / s.kv_heads}), length, g.ConstInt64({s.head_dim})},
      {{"axis", int64_t{0}}});
  const std::string grouped =
      g.Node("Expand", {g.Node("Unsqueeze", {x, g.ConstInt64({2})}), grouped_shape});
  return g.Node("Reshape", {grouped, g.ConstInt64({0, s.heads, -1, s.head_dim})});
}

}  // namespace

FusedDecoderContext MakeFusedDecoderContext(GraphBuilder& g, const RopeSpec& rope,
                                            const std::string& cache_positions) {
  FusedDecoderContext ctx;
  const std::string batch_and_sequence =
      g.Node("Slice", {g.Node("Shape", {"input_ids"}), g.ConstInt64({0}), g.ConstInt64({2})});
  ctx.position_ids = g.Node("Expand", {cache_positions, batch_and_sequence});
  const std::string total =
      g.Node("Slice", {g.Node("Shape", {"attention_mask"}), g.ConstInt64({1}), g.ConstInt64({2})});
  const std::string total_scalar = g.Node("Squeeze", {total, g.ConstInt64({0})});
  core::Tensor inv =
      core::Tensor::Zeros(core::DType::kFloat32, {static_cast<int64_t>(rope.inv_freq.size())});
  std::copy(rope.inv_freq.begin(), rope.inv_freq.end(), inv.values<float>().begin());
  const std::string inv_freq = g.Initializer("rope.fused_inv_freq", inv);
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string positions =
      Cast(g, g.Node("Range", {zero, total_scalar, one}), onnx::TensorProto::FLOAT);
  // [T, 1] * [half] -> [T, half]: the products HF's matmul makes, before the concat it does.
  const std::string freqs =
      g.Node("Mul", {g.Node("Unsqueeze", {positions, g.ConstInt64({-1})}), inv_freq});
  ctx.cos_cache = g.Node("Cos", {freqs});
  ctx.sin_cache = g.Node("Sin", {freqs});
  if (rope.attention_scaling != 1.0f) {
    const std::string scale = g.ConstFloat(rope.attention_scaling);
    ctx.cos_cache = g.Node("Mul", {ctx.cos_cache, scale});
    ctx.sin_cache = g.Node("Mul", {ctx.sin_cache, scale});
  }
  return ctx;
}

std::string FusedSelfAttention(GraphBuilder& g, const FusedDecoderContext& ctx,
                               const FusedAttentionShape& s, const std::string& q,
                               const std::string& k, const std::string& v, const LayerCache& cache,
                               const std::string& mask) {
  const std::string q_rot = Rotate(g, ctx, q, s.heads, s.rotary_dim);
  const std::string k_rot = Rotate(g, ctx, k, s.kv_heads, s.rotary_dim);
  std::string keys =
      g.Node("Concat", {cache.past_key, HeadsFirst(g, k_rot, s.kv_heads, s.head_dim)},
             {{"axis", int64_t{2}}}, cache.present_key);
  std::string values =
      g.Node("Concat", {cache.past_value, HeadsFirst(g, v, s.kv_heads, s.head_dim)},
             {{"axis", int64_t{2}}}, cache.present_value);
  if (s.heads != s.kv_heads) {
    keys = RepeatKvHeads(g, keys, s);
    values = RepeatKvHeads(g, values, s);
  }
  // The mask carries causality, the window and padding, so every row (an all-padding one
  // included) is normalised over the same keys as in the plain graph.
  return g.NodeIn(kContribDomain, "MultiHeadAttention", {q_rot, keys, values, "", "", mask},
                  {{"num_heads", s.heads}, {"scale", s.scale}});
}

std::string SkipRmsNorm(GraphBuilder& g, const std::string& x, const std::string& skip,
                        const std::string& gamma, double eps) {
  return g.NodeIn(kContribDomain, "SkipSimplifiedLayerNormalization", {x, skip, gamma},
                  {{"epsilon", static_cast<float>(eps)}});
}

}  // namespace ipfs_accel::models
