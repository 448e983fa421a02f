#include "deberta_builder.h"

#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

std::string FloatMask(GraphBuilder& g, const std::string& attention_mask) {  // [batch, S, 1]
  return g.Node("Unsqueeze",
                {g.Node("Cast", {attention_mask}, {{"to", int64_t{onnx::TensorProto::FLOAT}}}),
                 g.ConstInt64({-1})});
}

// One post-norm layer: disentangled attention, then BERT's output and FFN.
std::string DebertaLayer(GraphBuilder& g, const DebertaShape& s, const std::string& x,
                         const DisentangledPositions& p, const std::string& mask,
                         const std::string& kept) {
  const int64_t h = s.attention.hidden;
  const std::string ctx =
      DisentangledSelfAttention(g, s.attention, "attention.self.", x, p, mask, kept);
  const std::string attn =
      g.LayerNorm(g.Node("Add", {g.Linear(ctx, "attention.output.dense", h, h), x}),
                  "attention.output.LayerNorm", h, s.eps);
  const std::string inner =
      Activation(g, g.Linear(attn, "intermediate.dense", h, s.intermediate), s.act);
  return g.LayerNorm(g.Node("Add", {g.Linear(inner, "output.dense", s.intermediate, h), attn}),
                     "output.LayerNorm", h, s.eps);
}

// ConvLayer: LayerNorm(layer_out + conv_act(mask * conv(embeddings))) * mask.
std::string ConvLayer(GraphBuilder& g, const DebertaShape& s, const std::string& embeddings,
                      const std::string& layer_out, const std::string& float_mask) {
  const int64_t h = s.attention.hidden;
  const std::string w =
      g.Weight("conv.conv.weight", {h, h / s.conv_groups, s.conv_kernel}, WeightInit::kNormal);
  const std::string b = g.Weight("conv.conv.bias", {h}, WeightInit::kZeros);
  const int64_t pad = (s.conv_kernel - 1) / 2;
  std::string out = g.Node(
      "Conv", {g.Node("Transpose", {embeddings}, {{"perm", std::vector<int64_t>{0, 2, 1}}}), w, b},
      {{"kernel_shape", std::vector<int64_t>{s.conv_kernel}},
       {"pads", std::vector<int64_t>{pad, pad}},
       {"group", s.conv_groups}});
  out = g.Node("Transpose", {out}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  if (!float_mask.empty()) out = g.Node("Mul", {out, float_mask});
  out = Activation(g, out, s.conv_act);
  out = g.LayerNorm(g.Node("Add", {layer_out, out}), "conv.LayerNorm", h, s.eps);
  return float_mask.empty() ? out : g.Node("Mul", {out, float_mask});
}

// DebertaEmbeddings: [batch, S, hidden].
std::string Embeddings(GraphBuilder& g, const DebertaShape& s, const std::string& input_ids,
                       const std::string& token_type_ids, const std::string& attention_mask) {
  WeightScope scope(g, "embeddings.");
  std::string h = g.Node(
      "Gather",
      {g.Weight("word_embeddings.weight", {s.vocab, s.embedding}, WeightInit::kNormal), input_ids});
  if (s.position_biased_input) {
    const std::string table =
        g.Weight("position_embeddings.weight", {s.max_positions, s.embedding}, WeightInit::kNormal);
    const std::string length =
        g.Node("Shape", {input_ids}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
    h = g.Node("Add", {h, g.Node("Slice", {table, g.ConstInt64({0}), length, g.ConstInt64({0})})});
  }
  if (s.type_vocab > 0)
    h = g.Node("Add",
               {h, g.Node("Gather", {g.Weight("token_type_embeddings.weight",
                                              {s.type_vocab, s.embedding}, WeightInit::kNormal),
                                     token_type_ids})});
  if (s.embedding != s.attention.hidden)
    h = g.Linear(h, "embed_proj", s.embedding, s.attention.hidden, false);
  h = g.LayerNorm(h, "LayerNorm", s.attention.hidden, s.eps);
  return g.Node("Mul", {h, FloatMask(g, attention_mask)});
}

}  // namespace

DebertaShape ReadDebertaShape(const HfConfig& c, bool v1) {
  DebertaShape s;
  s.attention = ReadDisentangledSpec(c, v1);
  s.vocab = c.Int("vocab_size", v1 ? 50265 : 128100);
  s.embedding = c.Int("embedding_size", s.attention.hidden);
  s.layers = c.Int("num_hidden_layers", 12);
  s.intermediate = c.Int("intermediate_size", 3072);
  s.max_positions = c.Int("max_position_embeddings", 512);
  s.type_vocab = std::max<int64_t>(c.Int("type_vocab_size", 0), 0);
  s.position_biased_input = c.Bool("position_biased_input", true);
  s.eps = c.Double("layer_norm_eps", 1e-7);
  s.act = c.String("hidden_act", "gelu");
  if (!v1) {
    s.conv_kernel = std::max<int64_t>(c.Int("conv_kernel_size", 0), 0);
    s.conv_groups = c.Int("conv_groups", 1);
    s.conv_act = c.String("conv_act", "tanh");
  }
  RequirePositive(c, {{"vocab_size", s.vocab},
                      {"embedding_size", s.embedding},
                      {"num_hidden_layers", s.layers},
                      {"intermediate_size", s.intermediate},
                      {"max_position_embeddings", s.max_positions}});
  if (s.conv_kernel > 0 &&
      (s.conv_kernel % 2 == 0 || s.conv_groups <= 0 || s.attention.hidden % s.conv_groups != 0))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': conv_kernel_size {} must be odd and conv_groups {} must divide "
                            "hidden_size {}",
                            c.origin(), s.conv_kernel, s.conv_groups, s.attention.hidden));
  return s;
}

DebertaShape ReadDebertaShapeOf(const HfConfig& config) {
  const std::string layout = config.PieceString("layout", "deberta_v2");
  if (layout != "deberta" && layout != "deberta_v2")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'template:{}': deberta piece 'layout' is '{}'; it must be deberta or "
                            "deberta_v2",
                            config.template_name(), layout));
  return ReadDebertaShape(config, layout == "deberta");
}

std::string DebertaEncoder(GraphBuilder& g, const DebertaShape& s, const std::string& x,
                           const std::string& attention_mask, bool zero_masked_rows) {
  const DisentangledPositions p =
      DisentangledRelativePositions(g, s.attention, x, "rel_embeddings.weight", "LayerNorm", s.eps);
  std::string mask, kept, float_mask;
  if (!attention_mask.empty()) {
    mask = DisentangledPairMask(g, attention_mask);
    float_mask = FloatMask(g, attention_mask);
    if (zero_masked_rows)
      kept = g.Node("Unsqueeze", {float_mask, g.ConstInt64({1})});  // [b, 1, S, 1]
  }
  std::string h = x;
  for (int64_t l = 0; l < s.layers; ++l) {
    {
      WeightScope layer(g, fmt::format("layer.{}.", l));
      h = DebertaLayer(g, s, h, p, mask, kept);
    }
    if (l == 0 && s.conv_kernel > 0) h = ConvLayer(g, s, x, h, float_mask);
  }
  return h;
}

void BuildDeberta(const HfConfig& config, GraphBuilder& g) {
  const DebertaShape s = ReadDebertaShapeOf(config);
  const std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  if (s.type_vocab > 0) g.Input("token_type_ids", onnx::TensorProto::INT64, tokens);
  const std::string x = Embeddings(g, s, "input_ids", "token_type_ids", "attention_mask");
  std::string h;
  {
    WeightScope scope(g, "encoder.");
    h = DebertaEncoder(g, s, x, "attention_mask", false);
  }
  g.Output(g.Node("Identity", {h}, {}, "last_hidden_state"), onnx::TensorProto::FLOAT,
           {std::string("batch"), std::string("sequence"), s.attention.hidden});
}

}  // namespace ipfs_accel::models
