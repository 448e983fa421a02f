#include "convbert_builder.h"

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

struct ConvBertShape {
  int64_t vocab, embedding, hidden, layers, heads, head_dim, width, kernel, intermediate,
      max_positions, type_vocab, groups;
  double eps;
  std::string act;
};

ConvBertShape ReadConvBertShape(const HfConfig& c) {
  ConvBertShape s{};
  s.vocab = c.Int("vocab_size", 30522);
  s.hidden = c.Int("hidden_size", 768);
  s.embedding = c.Int("embedding_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  const int64_t heads = c.Int("num_attention_heads", 12), ratio = c.Int("head_ratio", 2);
  s.kernel = c.Int("conv_kernel_size", 9);
  s.intermediate = c.Int("intermediate_size", 3072);
  s.max_positions = c.Int("max_position_embeddings", 512);
  s.type_vocab = c.Int("type_vocab_size", 2);
  s.groups = c.Int("num_groups", 1);
  s.eps = c.Double("layer_norm_eps", 1e-12);
  s.act = c.String("hidden_act", "gelu");
  // HF's head count falls back to 1 (its ratio then the full head count) when heads < ratio
  s.heads = ratio > 0 && heads / ratio >= 1 ? heads / ratio : 1;
  const int64_t effective_ratio = ratio > 0 && heads / ratio >= 1 ? ratio : heads;
  if (effective_ratio != 2)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': head_ratio {} with {} heads is not supported: ConvBERT "
                            "concatenates attention and convolution heads, which only fills "
                            "hidden_size at a ratio of 2",
                            c.origin(), ratio, heads));
  RequirePositive(c, {{"vocab_size", s.vocab},
                      {"hidden_size", s.hidden},
                      {"embedding_size", s.embedding},
                      {"num_hidden_layers", s.layers},
                      {"conv_kernel_size", s.kernel},
                      {"intermediate_size", s.intermediate},
                      {"max_position_embeddings", s.max_positions},
                      {"type_vocab_size", s.type_vocab},
                      {"num_groups", s.groups}});
  if (s.hidden % (2 * s.heads) != 0 || s.kernel % 2 == 0 || s.hidden % s.groups != 0 ||
      s.intermediate % s.groups != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} must split into 2 x {} heads, conv_kernel_size "
                            "{} must be odd and num_groups {} must divide hidden_size and "
                            "intermediate_size {}",
                            c.origin(), s.hidden, s.heads, s.kernel, s.groups, s.intermediate));
  s.head_dim = s.hidden / s.heads / 2;
  s.width = s.heads * s.head_dim;
  return s;
}

// A Linear, or GroupedLinearLayer (weight [groups, in / groups, out / groups]) when groups > 1.
std::string GroupedLinear(GraphBuilder& g, const ConvBertShape& s, const std::string& x,
                          const std::string& prefix, int64_t in, int64_t out) {
  if (s.groups == 1) return g.Linear(x, prefix, in, out);
  const std::string w =
      g.Weight(prefix + ".weight", {s.groups, in / s.groups, out / s.groups}, WeightInit::kNormal);
  // [b, S, in] -> [b, S, G, in / G] -> [b, S, G, 1, in / G] @ [G, in / G, out / G]
  const std::string split = g.Node(
      "Unsqueeze",
      {g.Node("Reshape", {x, g.ConstInt64({0, 0, s.groups, in / s.groups})}), g.ConstInt64({3})});
  const std::string y =
      g.Node("Reshape", {g.Node("MatMul", {split, w}), g.ConstInt64({0, 0, out})});
  return g.Node("Add", {y, g.Weight(prefix + ".bias", {out}, WeightInit::kZeros)});
}

// The span-based dynamic convolution of one layer: [b, S, heads, head_dim].
std::string DynamicConvolution(GraphBuilder& g, const ConvBertShape& s, const std::string& x,
                               const std::string& query) {
  // key_conv_attn_layer: depthwise [hidden, 1, k], pointwise [width, hidden, 1], bias [width, 1]
  const std::string channels = Transpose(g, x, {0, 2, 1});
  const std::string depthwise =
      g.Node("Conv",
             {channels, g.Weight("key_conv_attn_layer.depthwise.weight", {s.hidden, 1, s.kernel},
                                 WeightInit::kNormal)},
             {{"group", s.hidden}, {"pads", std::vector<int64_t>{s.kernel / 2, s.kernel / 2}}});
  const std::string pointwise =
      g.Node("Conv", {depthwise, g.Weight("key_conv_attn_layer.pointwise.weight",
                                          {s.width, s.hidden, 1}, WeightInit::kNormal)});
  const std::string key_conv = Transpose(
      g,
      g.Node("Add",
             {pointwise, g.Weight("key_conv_attn_layer.bias", {s.width, 1}, WeightInit::kZeros)}),
      {0, 2, 1});
  // softmax over the taps of conv_kernel_layer(key_conv * query): [b, S, heads, k, 1]
  const std::string taps = g.Node(
      "Reshape",
      {g.Linear(g.Node("Mul", {key_conv, query}), "conv_kernel_layer", s.width, s.heads * s.kernel),
       g.ConstInt64({0, 0, s.heads, s.kernel})});
  const std::string weights =
      g.Node("Unsqueeze", {g.Node("Softmax", {taps}, {{"axis", int64_t{-1}}}), g.ConstInt64({-1})});
  // conv_out_layer(x) around each token (nn.Unfold): [b, S, heads, head_dim, k]
  const std::string values = g.Linear(x, "conv_out_layer", s.hidden, s.width);
  const int64_t pad = (s.kernel - 1) / 2;
  const std::string padded = g.Node("Pad", {values, g.ConstInt64({0, pad, 0, 0, pad, 0})});
  const std::string length = g.Node("Shape", {x}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
  std::vector<std::string> shifted;
  for (int64_t j = 0; j < s.kernel; ++j) {
    const std::string start = g.ConstInt64({j});
    shifted.push_back(
        g.Node("Unsqueeze",
               {g.Node("Slice", {padded, start, g.Node("Add", {start, length}), g.ConstInt64({1})}),
                g.ConstInt64({-1})}));
  }
  const std::string windows =
      g.Node("Reshape", {g.Node("Concat", shifted, {{"axis", int64_t{-1}}}),
                         g.ConstInt64({0, 0, s.heads, s.head_dim, s.kernel})});
  return g.Node("Squeeze", {g.Node("MatMul", {windows, weights}), g.ConstInt64({-1})});
}

std::string Layer(GraphBuilder& g, const ConvBertShape& s, int64_t index, const std::string& x,
                  const std::string& mask) {
  WeightScope scope(g, fmt::format("encoder.layer.{}.", index));
  std::string mixed;
  {
    WeightScope self(g, "attention.self.");
    const std::string q = g.Linear(x, "query", s.hidden, s.width);
    const std::string k = g.Linear(x, "key", s.hidden, s.width);
    const std::string v = g.Linear(x, "value", s.hidden, s.width);
    const std::string conv = DynamicConvolution(g, s, x, q);
    const std::string attn =
        g.Node("Reshape", {ScaledDotProductAttention(g, q, k, v, s.heads, s.head_dim, mask),
                           g.ConstInt64({0, 0, s.heads, s.head_dim})});
    mixed = g.Node("Reshape", {g.Node("Concat", {attn, conv}, {{"axis", int64_t{2}}}),
                               g.ConstInt64({0, 0, s.hidden})});
  }
  const std::string h =
      g.LayerNorm(g.Node("Add", {g.Linear(mixed, "attention.output.dense", s.hidden, s.hidden), x}),
                  "attention.output.LayerNorm", s.hidden, s.eps);
  const std::string inner =
      Activation(g, GroupedLinear(g, s, h, "intermediate.dense", s.hidden, s.intermediate), s.act);
  const std::string out = GroupedLinear(g, s, inner, "output.dense", s.intermediate, s.hidden);
  return g.LayerNorm(g.Node("Add", {out, h}), "output.LayerNorm", s.hidden, s.eps);
}

std::string Embeddings(GraphBuilder& g, const ConvBertShape& s) {
  std::string h;
  {
    WeightScope scope(g, "embeddings.");
    const std::string words = g.Node(
        "Gather", {g.Weight("word_embeddings.weight", {s.vocab, s.embedding}, WeightInit::kNormal),
                   "input_ids"});
    const std::string length =
        g.Node("Shape", {"input_ids"}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
    const std::string positions =
        g.Node("Slice", {g.Weight("position_embeddings.weight", {s.max_positions, s.embedding},
                                  WeightInit::kNormal),
                         g.ConstInt64({0}), length, g.ConstInt64({0})});
    const std::string types = g.Node(
        "Gather",
        {g.Weight("token_type_embeddings.weight", {s.type_vocab, s.embedding}, WeightInit::kNormal),
         "token_type_ids"});
    h = g.LayerNorm(g.Node("Add", {g.Node("Add", {words, positions}), types}), "LayerNorm",
                    s.embedding, s.eps);
  }
  if (s.embedding != s.hidden) h = g.Linear(h, "embeddings_project", s.embedding, s.hidden);
  return h;
}

}  // namespace

int64_t ConvBertVocab(const HfConfig& config) { return ReadConvBertShape(config).vocab; }
int64_t ConvBertTypeVocab(const HfConfig& config) { return ReadConvBertShape(config).type_vocab; }

void BuildConvBert(const HfConfig& config, GraphBuilder& g) {
  const ConvBertShape s = ReadConvBertShape(config);
  BertLikeEncoder(
      g, std::string("sequence"), s.layers, s.hidden, [&] { return Embeddings(g, s); },
      [&](int64_t l, const std::string& x, const std::string& mask) {
        return Layer(g, s, l, x, mask);
      });
}

}  // namespace ipfs_accel::models
