#include "mobilebert_builder.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "bert_like_encoder.h"
#include "ipfs_accel/core/error.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

constexpr double kTorchLayerNormEps = 1e-5;

struct MobileBertShape {
  int64_t vocab, embedding, hidden, true_hidden, layers, heads, intermediate, max_positions,
      type_vocab, ffns;
  bool trigram, bottleneck, bottleneck_attention, shared_bottleneck, no_norm, pooler_dense;
  double eps;
  std::string act;
};

MobileBertShape ReadMobileBertShape(const HfConfig& c) {
  MobileBertShape s{};
  s.vocab = c.Int("vocab_size", 30522);
  s.embedding = c.Int("embedding_size", 128);
  s.hidden = c.Int("hidden_size", 512);
  s.layers = c.Int("num_hidden_layers", 24);
  s.heads = c.Int("num_attention_heads", 4);
  s.intermediate = c.Int("intermediate_size", 512);
  s.max_positions = c.Int("max_position_embeddings", 512);
  s.type_vocab = c.Int("type_vocab_size", 2);
  s.ffns = c.Int("num_feedforward_networks", 4);
  s.trigram = c.Bool("trigram_input", true);
  s.bottleneck = c.Bool("use_bottleneck", true);
  s.bottleneck_attention = c.Bool("use_bottleneck_attention", false);
  s.shared_bottleneck = c.Bool("key_query_shared_bottleneck", true);
  s.true_hidden = s.bottleneck ? c.Int("intra_bottleneck_size", 128) : s.hidden;
  s.pooler_dense = c.Bool("classifier_activation", true);
  s.eps = c.Double("layer_norm_eps", 1e-12);
  s.act = c.String("hidden_act", "relu");
  const std::string norm = c.String("normalization_type", "no_norm");
  if (norm != "no_norm" && norm != "layer_norm")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': normalization_type '{}' is neither no_norm nor layer_norm",
                            c.origin(), norm));
  s.no_norm = norm == "no_norm";
  RequirePositive(c, {{"vocab_size", s.vocab},
                      {"embedding_size", s.embedding},
                      {"hidden_size", s.hidden},
                      {"intra_bottleneck_size", s.true_hidden},
                      {"num_hidden_layers", s.layers},
                      {"intermediate_size", s.intermediate},
                      {"max_position_embeddings", s.max_positions},
                      {"type_vocab_size", s.type_vocab},
                      {"num_feedforward_networks", s.ffns}});
  if (s.heads <= 0 || s.true_hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the attention width {} is not a multiple of "
                            "num_attention_heads {}",
                            c.origin(), s.true_hidden, s.heads));
  if (s.bottleneck && !s.bottleneck_attention && !s.shared_bottleneck && s.true_hidden != s.hidden)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a bottleneck without use_bottleneck_attention or "
                            "key_query_shared_bottleneck feeds hidden_size {} into queries of "
                            "intra_bottleneck_size {} (HF cannot run it either)",
                            c.origin(), s.hidden, s.true_hidden));
  return s;
}

// NoNorm (x * weight + bias) or LayerNorm, under `prefix`.
std::string Norm(GraphBuilder& g, const MobileBertShape& s, const std::string& x,
                 const std::string& prefix, int64_t size, double eps) {
  if (!s.no_norm) return g.LayerNorm(x, prefix, size, eps);
  const std::string weight = g.Weight(prefix + ".weight", {size}, WeightInit::kOnes);
  return g.Node(
      "Add", {g.Node("Mul", {x, weight}), g.Weight(prefix + ".bias", {size}, WeightInit::kZeros)});
}

// Norm(dense(x) + residual).
std::string DenseResidualNorm(GraphBuilder& g, const MobileBertShape& s, const std::string& x,
                              const std::string& residual, const std::string& prefix, int64_t in,
                              int64_t out, double eps) {
  const std::string y = g.Node("Add", {g.Linear(x, prefix + ".dense", in, out), residual});
  return Norm(g, s, y, prefix + ".LayerNorm", out, eps);
}

std::string Embeddings(GraphBuilder& g, const MobileBertShape& s) {
  WeightScope scope(g, "embeddings.");
  std::string h = g.Node(
      "Gather", {g.Weight("word_embeddings.weight", {s.vocab, s.embedding}, WeightInit::kNormal),
                 "input_ids"});
  const int64_t width = s.embedding * (s.trigram ? 3 : 1);
  if (s.trigram) {  // [next token's, own, previous token's], zero past the ends
    const std::string next = g.Node(
        "Pad",
        {g.Node("Slice", {h, g.ConstInt64({1}), g.ConstInt64({INT64_MAX}), g.ConstInt64({1})}),
         g.ConstInt64({0, 0, 0, 0, 1, 0})});
    const std::string previous = g.Node(
        "Pad", {g.Node("Slice", {h, g.ConstInt64({0}), g.ConstInt64({-1}), g.ConstInt64({1})}),
                g.ConstInt64({0, 1, 0, 0, 0, 0})});
    h = g.Node("Concat", {next, h, previous}, {{"axis", int64_t{2}}});
  }
  if (s.trigram || s.embedding != s.hidden) {
    h = g.Linear(h, "embedding_transformation", width, s.hidden);
  } else {  // created whatever the sizes, read only when it transforms
    g.UnusedWeight("embedding_transformation.weight", {s.hidden, width}, WeightInit::kNormal);
    g.UnusedWeight("embedding_transformation.bias", {s.hidden}, WeightInit::kZeros);
  }
  const std::string length =
      g.Node("Shape", {"input_ids"}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
  const std::string positions = g.Node(
      "Slice",
      {g.Weight("position_embeddings.weight", {s.max_positions, s.hidden}, WeightInit::kNormal),
       g.ConstInt64({0}), length, g.ConstInt64({0})});
  const std::string types = g.Node(
      "Gather",
      {g.Weight("token_type_embeddings.weight", {s.type_vocab, s.hidden}, WeightInit::kNormal),
       "token_type_ids"});
  h = g.Node("Add", {g.Node("Add", {h, positions}), types});
  return Norm(g, s, h, "LayerNorm", s.hidden, kTorchLayerNormEps);
}

// MobileBertIntermediate then `output`'s dense, added to x and normed (FFNOutput's, or
// MobileBertOutput's before its bottleneck).
std::string FeedForward(GraphBuilder& g, const MobileBertShape& s, const std::string& x,
                        const std::string& prefix, const std::string& output, double eps) {
  const std::string inner = Activation(
      g, g.Linear(x, prefix + "intermediate.dense", s.true_hidden, s.intermediate), s.act);
  return DenseResidualNorm(g, s, inner, x, prefix + output, s.intermediate, s.true_hidden, eps);
}

std::string Layer(GraphBuilder& g, const MobileBertShape& s, int64_t index, const std::string& x,
                  const std::string& mask) {
  WeightScope scope(g, fmt::format("encoder.layer.{}.", index));
  std::string query_in = x, value_in = x, residual = x;
  if (s.bottleneck) {
    auto narrow = [&](const char* name) {
      return Norm(g, s,
                  g.Linear(x, fmt::format("bottleneck.{}.dense", name), s.hidden, s.true_hidden),
                  fmt::format("bottleneck.{}.LayerNorm", name), s.true_hidden, s.eps);
    };
    residual = narrow("input");
    if (s.bottleneck_attention)
      query_in = value_in = residual;
    else if (s.shared_bottleneck)
      query_in = narrow("attention");
  }
  const int64_t value_width = s.bottleneck_attention ? s.true_hidden : s.hidden;
  const std::string q = g.Linear(query_in, "attention.self.query", s.true_hidden, s.true_hidden);
  const std::string k = g.Linear(query_in, "attention.self.key", s.true_hidden, s.true_hidden);
  const std::string v = g.Linear(value_in, "attention.self.value", value_width, s.true_hidden);
  const std::string ctx =
      ScaledDotProductAttention(g, q, k, v, s.heads, s.true_hidden / s.heads, mask);
  std::string h = DenseResidualNorm(g, s, ctx, residual, "attention.output", s.true_hidden,
                                    s.true_hidden, s.eps);
  for (int64_t f = 0; f + 1 < s.ffns; ++f)
    h = FeedForward(g, s, h, fmt::format("ffn.{}.", f), "output", s.eps);
  h = FeedForward(g, s, h, "", "output", kTorchLayerNormEps);
  if (!s.bottleneck) return h;
  return DenseResidualNorm(g, s, h, x, "output.bottleneck", s.true_hidden, s.hidden, s.eps);
}

}  // namespace

int64_t MobileBertVocab(const HfConfig& config) { return ReadMobileBertShape(config).vocab; }
int64_t MobileBertTypeVocab(const HfConfig& config) {
  return ReadMobileBertShape(config).type_vocab;
}

void BuildMobileBert(const HfConfig& config, GraphBuilder& g) {
  const MobileBertShape s = ReadMobileBertShape(config);
  const Dim batch = std::string("batch");
  const std::string h = BertLikeEncoder(
      g, std::string("sequence"), s.layers, s.hidden, [&] { return Embeddings(g, s); },
      [&](int64_t l, const std::string& x, const std::string& mask) {
        return Layer(g, s, l, x, mask);
      });
  std::string first =
      g.Node("Squeeze",
             {g.Node("Gather", {h, g.ConstInt64({0})}, {{"axis", int64_t{1}}}), g.ConstInt64({1})});
  if (s.pooler_dense) first = g.Node("Tanh", {g.Linear(first, "pooler.dense", s.hidden, s.hidden)});
  g.Output(g.Node("Identity", {first}, {}, "pooler_output"), onnx::TensorProto::FLOAT,
           {batch, s.hidden});
}

}  // namespace ipfs_accel::models
