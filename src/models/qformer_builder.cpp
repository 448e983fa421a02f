#include "qformer_builder.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "seq2seq_attention.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct QFormerShape {
  int64_t hidden, heads, intermediate, layers, frequency, encoder_hidden;
  double eps;
  std::string act;
  bool text = false;  // InstructBLIP's text tokens after the queries
  int64_t vocab = 0, max_positions = 0;
};

QFormerShape ReadQFormerShape(const HfConfig& c) {
  QFormerShape s{c.Int("hidden_size", 768),
                 c.Int("num_attention_heads", 12),
                 c.Int("intermediate_size", 3072),
                 c.Int("num_hidden_layers", 12),
                 c.Int("cross_attention_frequency", 2),
                 c.Int("encoder_hidden_size", 1408),
                 c.Double("layer_norm_eps", 1e-12),
                 c.String("hidden_act", "gelu")};
  if (s.heads <= 0 || s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            c.origin(), s.hidden, s.heads));
  s.text = c.PieceBool("text_input", false);
  s.vocab = s.text ? c.Int("vocab_size", 30522) : 1;
  s.max_positions = s.text ? c.Int("max_position_embeddings", 512) : 1;
  RequirePositive(c, {{"hidden_size", s.hidden},
                      {"vocab_size", s.vocab},
                      {"max_position_embeddings", s.max_positions},
                      {"intermediate_size", s.intermediate},
                      {"num_hidden_layers", s.layers},
                      {"cross_attention_frequency", s.frequency},
                      {"encoder_hidden_size", s.encoder_hidden}});
  return s;
}

// Blip2QFormerAttention under `prefix`: attention over `kv` (width kv_width) from x, then the
// output dense added to x and normed.
std::string Attention(GraphBuilder& g, const QFormerShape& s, const std::string& prefix,
                      const std::string& x, const std::string& kv, int64_t kv_width,
                      const std::string& mask) {
  const std::string q = g.Linear(x, prefix + "attention.query", s.hidden, s.hidden);
  const std::string k = g.Linear(kv, prefix + "attention.key", kv_width, s.hidden);
  const std::string v = g.Linear(kv, prefix + "attention.value", kv_width, s.hidden);
  const std::string ctx = ScaledDotProductAttention(g, q, k, v, s.heads, s.hidden / s.heads, mask);
  const std::string out = g.Linear(ctx, prefix + "output.dense", s.hidden, s.hidden);
  return g.LayerNorm(g.Node("Add", {out, x}), prefix + "output.LayerNorm", s.hidden, s.eps);
}

// BERT's feed-forward under `intermediate` / `output`: LayerNorm(x + output(act(intermediate(x)))).
std::string FeedForward(GraphBuilder& g, const QFormerShape& s, const std::string& x,
                        const std::string& intermediate, const std::string& output) {
  const std::string inner =
      Activation(g, g.Linear(x, intermediate + ".dense", s.hidden, s.intermediate), s.act);
  const std::string out = g.Linear(inner, output + ".dense", s.intermediate, s.hidden);
  return g.LayerNorm(g.Node("Add", {out, x}), output + ".LayerNorm", s.hidden, s.eps);
}

// `queries`: the query count as a 1-element int64 tensor; the tokens after them are text.
std::string Layer(GraphBuilder& g, const QFormerShape& s, int64_t index, const std::string& x,
                  const std::string& image, const std::string& mask, const std::string& queries) {
  WeightScope scope(g, fmt::format("encoder.layer.{}.", index));
  const std::string h = Attention(g, s, "attention.", x, x, s.hidden, mask);
  auto part = [&](const std::string& from, const std::string& to) {
    return g.Node("Slice", {h, from, to, g.ConstInt64({1})});
  };
  std::string q = s.text ? part(g.ConstInt64({0}), queries) : h;
  if (index % s.frequency == 0)
    q = Attention(g, s, "crossattention.", q, image, s.encoder_hidden, "");
  q = FeedForward(g, s, q, "intermediate_query", "output_query");
  if (!s.text) return q;
  const std::string text =
      FeedForward(g, s, part(queries, g.ConstInt64({INT64_MAX})), "intermediate", "output");
  return g.Node("Concat", {q, text}, {{"axis", int64_t{1}}});
}

// InstructBlipQFormerEmbeddings: [query_embeds; words + positions], normed.
std::string TextEmbeddings(GraphBuilder& g, const QFormerShape& s) {
  WeightScope scope(g, "embeddings.");
  const std::string words = g.Node(
      "Gather",
      {g.Weight("word_embeddings.weight", {s.vocab, s.hidden}, WeightInit::kNormal), "input_ids"});
  const std::string table =
      g.Weight("position_embeddings.weight", {s.max_positions, s.hidden}, WeightInit::kNormal);
  const std::string length =
      g.Node("Shape", {"input_ids"}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
  const std::string positions =
      g.Node("Slice", {table, g.ConstInt64({0}), length, g.ConstInt64({0})});
  const std::string joined =
      g.Node("Concat", {"query_embeds", g.Node("Add", {words, positions})}, {{"axis", int64_t{1}}});
  return g.LayerNorm(joined, "layernorm", s.hidden, s.eps);
}

}  // namespace

void BuildQFormer(const HfConfig& config, GraphBuilder& g) {
  const QFormerShape s = ReadQFormerShape(config);
  const Dim batch = std::string("batch");
  // The queries are the sequence without text; with text, the text is.
  const Dim queries = std::string(s.text ? "query" : "sequence");
  g.Input("query_embeds", onnx::TensorProto::FLOAT, {batch, queries, s.hidden});
  g.Input("encoder_hidden_states", onnx::TensorProto::FLOAT,
          {batch, std::string("image"), s.encoder_hidden});
  std::string h, mask, count;
  if (s.text) {
    const std::vector<Dim> tokens = {batch, std::string("sequence")};
    g.Input("input_ids", onnx::TensorProto::INT64, tokens);
    g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
    h = TextEmbeddings(g, s);
    count = g.Node("Shape", {"query_embeds"}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
    // InstructBLIP attends every query: ones before the text's mask.
    const std::string ones = g.Node(
        "Expand",
        {g.ConstInt64({1}),
         g.Node("Concat",
                {g.Node("Shape", {"query_embeds"}, {{"start", int64_t{0}}, {"end", int64_t{1}}}),
                 count},
                {{"axis", int64_t{0}}})});
    mask = PaddingMaskBias(g, g.Node("Concat", {ones, "attention_mask"}, {{"axis", int64_t{1}}}));
  } else {
    h = g.LayerNorm("query_embeds", "layernorm", s.hidden, s.eps);
  }
  for (int64_t l = 0; l < s.layers; ++l)
    h = Layer(g, s, l, h, "encoder_hidden_states", mask, count);
  g.Output(g.Node("Identity", {h}, {}, "last_hidden_state"), onnx::TensorProto::FLOAT,
           {batch, std::string(s.text ? "query_and_sequence" : "sequence"), s.hidden});
  const std::string first = g.Node("Gather", {h, g.ConstInt64({0})}, {{"axis", int64_t{1}}});
  g.Output(g.Node("Squeeze", {first, g.ConstInt64({1})}, {}, "pooler_output"),
           onnx::TensorProto::FLOAT, {batch, s.hidden});
}

}  // namespace ipfs_accel::models
