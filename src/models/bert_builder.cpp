#include "bert_builder.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

struct BertShape {
  int64_t vocab, hidden, layers, heads, intermediate, max_positions, type_vocab;
  double eps;
  std::string act;
};

BertShape ReadShape(const HfConfig& c) {
  BertShape s{c.Int("vocab_size", 30522),       c.Int("hidden_size", 768),
              c.Int("num_hidden_layers", 12),   c.Int("num_attention_heads", 12),
              c.Int("intermediate_size", 3072), c.Int("max_position_embeddings", 512),
              c.Int("type_vocab_size", 2),      c.Double("layer_norm_eps", 1e-12),
              c.String("hidden_act", "gelu")};
  if (s.heads <= 0 || s.hidden % s.heads != 0)
    throw core::Error(
        core::ErrorKind::kCorrupt,
        fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}", c.origin(),
                    s.hidden, s.heads));
  const std::string pos = c.String("position_embedding_type", "absolute");
  if (pos != "absolute")
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("'{}': position_embedding_type '{}' is not supported (only "
                                  "'absolute')",
                                  c.origin(), pos));
  if (c.Bool("is_decoder", false) || c.Bool("add_cross_attention", false))
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("'{}': BERT as a decoder (is_decoder/add_cross_attention) is not "
                                  "supported",
                                  c.origin()));
  return s;
}

// Multi-head self-attention with an additive mask [batch, 1, 1, seq].
std::string SelfAttention(GraphBuilder& g, const BertShape& s, const std::string& x,
                          const std::string& mask, const std::string& prefix) {
  const int64_t head_dim = s.hidden / s.heads;
  const std::string split_shape = g.ConstInt64({0, 0, s.heads, head_dim});
  auto heads = [&](const std::string& name, std::vector<int64_t> perm) {
    const std::string y = g.Linear(x, prefix + ".self." + name, s.hidden, s.hidden);
    return g.Node("Transpose", {g.Node("Reshape", {y, split_shape})}, {{"perm", perm}});
  };
  const std::string q = heads("query", {0, 2, 1, 3});  // [b, h, s, d]
  const std::string k = heads("key", {0, 2, 3, 1});    // [b, h, d, s]
  const std::string v = heads("value", {0, 2, 1, 3});
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::string scores = g.Node("Mul", {g.Node("MatMul", {q, k}), g.ConstFloat(scale)});
  scores = g.Node("Add", {scores, mask});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  std::string ctx = g.Node("MatMul", {probs, v});
  ctx = g.Node("Transpose", {ctx}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  ctx = g.Node("Reshape", {ctx, g.ConstInt64({0, 0, s.hidden})});
  const std::string out = g.Linear(ctx, prefix + ".output.dense", s.hidden, s.hidden);
  return g.LayerNorm(g.Node("Add", {out, x}), prefix + ".output.LayerNorm", s.hidden, s.eps);
}

std::string EncoderLayer(GraphBuilder& g, const BertShape& s, const std::string& x,
                         const std::string& mask, int layer) {
  const std::string prefix = fmt::format("encoder.layer.{}", layer);
  const std::string attn = SelfAttention(g, s, x, mask, prefix + ".attention");
  std::string h = g.Linear(attn, prefix + ".intermediate.dense", s.hidden, s.intermediate);
  h = Activation(g, h, s.act);
  h = g.Linear(h, prefix + ".output.dense", s.intermediate, s.hidden);
  return g.LayerNorm(g.Node("Add", {h, attn}), prefix + ".output.LayerNorm", s.hidden, s.eps);
}

}  // namespace

void BuildBert(const HfConfig& config, GraphBuilder& g) {
  const BertShape s = ReadShape(config);
  const std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  g.Input("token_type_ids", onnx::TensorProto::INT64, tokens);

  // Embeddings: positions are 0..seq-1, a slice of the table.
  const std::string words = g.Node("Gather", {g.Weight("embeddings.word_embeddings.weight",
                                                       {s.vocab, s.hidden}, WeightInit::kNormal),
                                              "input_ids"});
  const std::string types =
      g.Node("Gather", {g.Weight("embeddings.token_type_embeddings.weight",
                                 {s.type_vocab, s.hidden}, WeightInit::kNormal),
                        "token_type_ids"});
  const std::string seq_len =
      g.Node("Slice", {g.Node("Shape", {"input_ids"}), g.ConstInt64({1}), g.ConstInt64({2})});
  const std::string positions =
      g.Node("Slice", {g.Weight("embeddings.position_embeddings.weight",
                                {s.max_positions, s.hidden}, WeightInit::kNormal),
                       g.ConstInt64({0}), seq_len, g.ConstInt64({0})});
  std::string h = g.Node("Add", {g.Node("Add", {words, types}), positions});
  h = g.LayerNorm(h, "embeddings.LayerNorm", s.hidden, s.eps);

  // Additive mask as HF builds it: (1 - mask) * finfo(float32).min, broadcast over heads/queries.
  const std::string mask_f =
      g.Node("Cast", {"attention_mask"}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string inverted = g.Node("Sub", {g.ConstFloat(1.0f), mask_f});
  std::string mask = g.Node("Mul", {inverted, g.ConstFloat(std::numeric_limits<float>::lowest())});
  mask = g.Node("Unsqueeze", {mask, g.ConstInt64({1, 2})});

  for (int layer = 0; layer < s.layers; ++layer) h = EncoderLayer(g, s, h, mask, layer);
  g.Node("Identity", {h}, {}, "last_hidden_state");

  // Pooler: dense + tanh on the first token.
  const std::string first = g.Node("Gather", {h, g.ConstInt64({0})}, {{"axis", int64_t{1}}});
  const std::string first2d = g.Node("Squeeze", {first, g.ConstInt64({1})});
  g.Node("Tanh", {g.Linear(first2d, "pooler.dense", s.hidden, s.hidden)}, {}, "pooler_output");

  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {std::string("batch"), std::string("sequence"), s.hidden});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {std::string("batch"), s.hidden});
}

}  // namespace ipfs_accel::models
