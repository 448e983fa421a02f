#include "llama_encoder_builder.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "clip_builder.h"
#include "decoder_blocks.h"
#include "decoder_layer_pieces.h"
#include "ipfs_accel/core/error.h"
#include "rotary.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// LLaMA's weight names for the decoder's shared projection and MLP pieces.
BlockSpec LlamaNames() {
  BlockSpec b;
  b.names.q = "self_attn.q_proj";
  b.names.k = "self_attn.k_proj";
  b.names.v = "self_attn.v_proj";
  b.names.gate = "mlp.gate_proj";
  b.names.up = "mlp.up_proj";
  b.names.down = "mlp.down_proj";
  return b;
}

// [b, S, n, d] -> [b, n, S, d]
std::string HeadsFirst(GraphBuilder& g, const std::string& x) {
  return g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

// [b, kv, S, d] -> [b, kv * groups, S, d], each kv head repeated for its groups (repeat_kv).
std::string RepeatKv(GraphBuilder& g, const LlamaEncoderShape& s, const std::string& x) {
  if (s.kv_heads == s.heads) return x;
  const std::string shape = g.Node("Shape", {x});
  auto dim = [&](int64_t i) {
    return g.Node("Slice", {shape, g.ConstInt64({i}), g.ConstInt64({i + 1})});
  };
  const std::string groups = g.ConstInt64({s.heads / s.kv_heads});
  const std::string expanded =
      g.Node("Expand",
             {g.Node("Unsqueeze", {x, g.ConstInt64({2})}),
              g.Node("Concat", {dim(0), dim(1), groups, dim(2), dim(3)}, {{"axis", int64_t{0}}})});
  return g.Node("Reshape", {expanded, g.ConstInt64({0, s.heads, -1, s.head_dim})});
}

std::string Attention(GraphBuilder& g, const LlamaEncoderShape& s, const BlockDims& d,
                      const std::string& x, const std::string& p, const RopeTables& rope,
                      const std::string& mask) {
  const BlockQkv qkv = BlockProjectQkv(g, LlamaNames(), d, x, p);
  const std::string q = ApplyRope(g, HeadsFirst(g, qkv.q), rope, s.head_dim, s.head_dim);
  const std::string k =
      RepeatKv(g, s, ApplyRope(g, HeadsFirst(g, qkv.k), rope, s.head_dim, s.head_dim));
  const std::string v = RepeatKv(g, s, HeadsFirst(g, qkv.v));
  const std::string kt = g.Node("Transpose", {k}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  std::string scores = g.Node("Mul", {g.Node("MatMul", {q, kt}), g.ConstFloat(scale)});
  scores = g.Node("Add", {scores, mask});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  const std::string ctx = g.Node("Reshape", {HeadsFirst(g, g.Node("MatMul", {probs, v})),
                                             g.ConstInt64({0, 0, s.heads * s.head_dim})});
  return g.Linear(ctx, p + "self_attn.o_proj", s.heads * s.head_dim, s.hidden, s.attention_bias);
}

}  // namespace

LlamaEncoderShape ReadLlamaEncoderShape(const HfConfig& c) {
  LlamaEncoderShape s{};
  s.vocab = c.Int("vocab_size", 128256);
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.kv_heads = c.Int("num_key_value_heads", s.heads);
  s.head_dim = c.Int("head_dim", s.heads > 0 ? s.hidden / s.heads : 0);
  s.intermediate = c.Int("intermediate_size", 3072);
  s.max_positions = c.Int("max_position_embeddings", 8192);
  s.eps = c.Double("rms_norm_eps", 1e-5);
  s.act = c.String("hidden_act", "silu");
  s.attention_bias = c.Bool("attention_bias", false);
  s.mlp_bias = c.Bool("mlp_bias", false);
  if (s.heads <= 0 || s.kv_heads <= 0 || s.heads % s.kv_heads != 0 || s.head_dim <= 0 ||
      s.hidden <= 0 || s.layers <= 0 || s.intermediate <= 0 || s.vocab <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': sizes must be positive and num_attention_heads ({}) a multiple "
                            "of num_key_value_heads ({})",
                            c.origin(), s.heads, s.kv_heads));
  return s;
}

void BuildLlamaEncoder(const HfConfig& config, GraphBuilder& g) {
  const LlamaEncoderShape s = ReadLlamaEncoderShape(config);
  const std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  std::string x = g.Node(
      "Gather",
      {g.Weight("embed_tokens.weight", {s.vocab, s.hidden}, WeightInit::kNormal), "input_ids"});
  const std::string mask = ClipAdditiveMask(g, "input_ids", "attention_mask", /*causal=*/false);
  const std::string seq = g.Node(
      "Squeeze",
      {g.Node("Slice", {g.Node("Shape", {"input_ids"}), g.ConstInt64({1}), g.ConstInt64({2})}),
       g.ConstInt64({0})});
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string positions =
      g.Node("Unsqueeze", {g.Node("Range", {zero, seq, one}), g.ConstInt64({0})});  // [1, S]
  const RopeTables rope = RopeCosSin(g, ReadRope(config, s.head_dim, s.max_positions), positions);
  const BlockDims d{.hidden = s.hidden,
                    .heads = s.heads,
                    .kv_heads = s.kv_heads,
                    .head_dim = s.head_dim,
                    .intermediate = s.intermediate,
                    .qkv_bias = s.attention_bias,
                    .o_bias = s.attention_bias,
                    .mlp_bias = s.mlp_bias,
                    .act = s.act};
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    const std::string n = RmsNorm(g, x, p + "input_layernorm", s.hidden, s.eps, false);
    x = g.Node("Add", {x, Attention(g, s, d, n, p, rope, mask)});
    const std::string m = RmsNorm(g, x, p + "post_attention_layernorm", s.hidden, s.eps, false);
    x = g.Node("Add", {x, BlockMlp(g, LlamaNames(), d, m, p)});
  }
  g.Node("Identity", {RmsNorm(g, x, "norm", s.hidden, s.eps, false)}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {tokens[0], tokens[1], s.hidden});
}

}  // namespace ipfs_accel::models
