#include "bart_builder.h"

#include <cmath>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "seq2seq_attention.h"
#include "seq2seq_cache.h"
#include "seq2seq_embedding.h"
#include "seq2seq_forward.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

constexpr int64_t kPositionOffset = 2;  // BartLearnedPositionalEmbedding.offset
constexpr double kLayerNormEps = 1e-5;  // nn.LayerNorm's default; BartConfig has no key for it

struct StackShape {
  int64_t layers, heads, ffn;
};

struct BartShape {
  int64_t vocab, d_model, max_positions;
  StackShape encoder, decoder;
  bool scale_embedding;
  std::string act;
};

BartShape ReadShape(const HfConfig& c) {
  BartShape s{};
  s.vocab = c.Int("vocab_size", 50265);
  s.d_model = c.Int("d_model", 1024);
  s.max_positions = c.Int("max_position_embeddings", 1024);
  s.encoder = {c.Int("encoder_layers", 12), c.Int("encoder_attention_heads", 16),
               c.Int("encoder_ffn_dim", 4096)};
  s.decoder = {c.Int("decoder_layers", 12), c.Int("decoder_attention_heads", 16),
               c.Int("decoder_ffn_dim", 4096)};
  s.scale_embedding = c.Bool("scale_embedding", false);
  s.act = c.String("activation_function", "gelu");
  for (const auto& [name, heads] : {std::pair{"encoder_attention_heads", s.encoder.heads},
                                    std::pair{"decoder_attention_heads", s.decoder.heads}})
    if (heads <= 0 || s.d_model % heads != 0)
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': d_model {} is not a multiple of {} {}",
                                                   c.origin(), s.d_model, name, heads));
  return s;
}

// q, k or v of BartAttention `prefix`, split into heads: [batch, heads, seq, head_dim].
std::string ProjectHeads(GraphBuilder& g, const BartShape& s, int64_t heads, const std::string& x,
                         const std::string& prefix, const char* name) {
  return SplitHeads(g, g.Linear(x, prefix + "." + name, s.d_model, s.d_model), heads,
                    s.d_model / heads);
}

// softmax(q k^T * head_dim^-0.5 + bias) v, then out_proj.
std::string AttendAndProject(GraphBuilder& g, const BartShape& s, int64_t heads,
                             const std::string& q, const std::string& k, const std::string& v,
                             const std::string& bias, const std::string& prefix) {
  const auto scale = static_cast<float>(std::pow(static_cast<double>(s.d_model / heads), -0.5));
  const std::string ctx = Attend(g, q, k, v, scale, bias);
  return g.Linear(MergeHeads(g, ctx, s.d_model), prefix + ".out_proj", s.d_model, s.d_model);
}

// Post-norm residual: LayerNorm(x + y).
std::string AddNorm(GraphBuilder& g, const BartShape& s, const std::string& x, const std::string& y,
                    const std::string& norm) {
  return g.LayerNorm(g.Node("Add", {x, y}), norm, s.d_model, kLayerNormEps);
}

std::string FeedForward(GraphBuilder& g, const BartShape& s, int64_t ffn, const std::string& x,
                        const std::string& prefix) {
  std::string h = Activation(g, g.Linear(x, prefix + ".fc1", s.d_model, ffn), s.act);
  h = g.Linear(h, prefix + ".fc2", ffn, s.d_model);
  return AddNorm(g, s, x, h, prefix + ".final_layer_norm");
}

// Token embedding (scaled when scale_embedding) + learned positions at offset 2, then
// layernorm_embedding. `stack` is "encoder" or "decoder"; positions start at `past_length`.
std::string Embed(GraphBuilder& g, const BartShape& s, const std::string& embedding,
                  const std::string& ids, const std::string& stack,
                  const std::string& past_length) {
  std::string tokens = g.Node("Gather", {embedding, ids});
  if (s.scale_embedding)  // BartScaledWordEmbedding: math.sqrt(d_model), applied in float32
    tokens = g.Node(
        "Mul",
        {tokens, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.d_model))))});
  const std::string table =
      g.Weight(stack + ".embed_positions.weight", {s.max_positions + kPositionOffset, s.d_model},
               WeightInit::kNormal);
  const std::string first = g.Node("Add", {past_length, g.ConstInt64({kPositionOffset})});
  const std::string end = g.Node("Add", {first, AxisLength(g, ids, 1)});
  const std::string positions = g.Node("Slice", {table, first, end, g.ConstInt64({0})});
  return g.LayerNorm(g.Node("Add", {tokens, positions}), stack + ".layernorm_embedding", s.d_model,
                     kLayerNormEps);
}

std::string Encoder(GraphBuilder& g, const BartShape& s, const std::string& embedding,
                    const std::string& input_ids, const std::string& attention_mask) {
  std::string h = Embed(g, s, embedding, input_ids, "encoder", g.ConstInt64({0}));
  const std::string bias = PaddingMaskBias(g, attention_mask);
  for (int64_t i = 0; i < s.encoder.layers; ++i) {
    const std::string layer = fmt::format("encoder.layers.{}", i);
    const std::string self = layer + ".self_attn";
    const int64_t heads = s.encoder.heads;
    const std::string attended =
        AttendAndProject(g, s, heads, ProjectHeads(g, s, heads, h, self, "q_proj"),
                         ProjectHeads(g, s, heads, h, self, "k_proj"),
                         ProjectHeads(g, s, heads, h, self, "v_proj"), bias, self);
    h = AddNorm(g, s, h, attended, layer + ".self_attn_layer_norm");
    h = FeedForward(g, s, s.encoder.ffn, h, layer);
  }
  return h;
}

// The decoder stack. Without a cache, keys and values come from the tokens given and the
// cross-attention's from `encoder_hidden`. With one (`with_past`), the self-attention's are
// appended to past_key_values.{i}.decoder.* (returned as present.{i}.decoder.*) and the
// cross-attention's are past_key_values.{i}.encoder.*; positions start after the past.
std::string Decoder(GraphBuilder& g, const BartShape& s, const std::string& embedding,
                    const std::string& ids, const std::string& encoder_mask,
                    const std::string& encoder_hidden, bool with_past) {
  const int64_t heads = s.decoder.heads;
  const std::string past_length =
      with_past && s.decoder.layers > 0
          ? AxisLength(g, PastKeyValuesName(0, CacheKind::kSelf, CachePart::kKey), 2)
          : g.ConstInt64({0});
  std::string h = Embed(g, s, embedding, ids, "decoder", past_length);
  const std::string new_length = AxisLength(g, ids, 1);
  const std::string query_positions = PositionRange(g, past_length, new_length);
  const std::string key_positions =
      PositionRange(g, g.ConstInt64({0}), g.Node("Add", {past_length, new_length}));
  const std::string self_bias = CausalMaskBias(g, query_positions, key_positions);
  const std::string cross_bias = PaddingMaskBias(g, encoder_mask);
  for (int64_t i = 0; i < s.decoder.layers; ++i) {
    const std::string layer = fmt::format("decoder.layers.{}", i);
    const std::string self = layer + ".self_attn";
    std::string k = ProjectHeads(g, s, heads, h, self, "k_proj");
    std::string v = ProjectHeads(g, s, heads, h, self, "v_proj");
    if (with_past) {
      k = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kKey), k},
                 {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kKey));
      v = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kValue), v},
                 {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kValue));
    }
    h = AddNorm(g, s, h,
                AttendAndProject(g, s, heads, ProjectHeads(g, s, heads, h, self, "q_proj"), k, v,
                                 self_bias, self),
                self + "_layer_norm");

    const std::string cross = layer + ".encoder_attn";
    const std::string cross_k = with_past
                                    ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kKey)
                                    : ProjectHeads(g, s, heads, encoder_hidden, cross, "k_proj");
    const std::string cross_v = with_past
                                    ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kValue)
                                    : ProjectHeads(g, s, heads, encoder_hidden, cross, "v_proj");
    h = AddNorm(g, s, h,
                AttendAndProject(g, s, heads, ProjectHeads(g, s, heads, h, cross, "q_proj"),
                                 cross_k, cross_v, cross_bias, cross),
                cross + "_layer_norm");
    h = FeedForward(g, s, s.decoder.ffn, h, layer);
  }
  return h;
}

}  // namespace

void BuildBart(const HfConfig& config, GraphBuilder& g) {
  const BartShape s = ReadShape(config);
  BuildSeq2SeqForward(
      g, s.vocab, s.d_model,
      [&](const std::string& embedding) {
        return Encoder(g, s, embedding, "input_ids", "attention_mask");
      },
      [&](const std::string& embedding, const std::string& encoder_hidden) {
        return Decoder(g, s, embedding, "decoder_input_ids", "attention_mask", encoder_hidden,
                       false);
      });
}

}  // namespace ipfs_accel::models

namespace ipfs_accel::models {

void BuildBartEncoder(const HfConfig& config, GraphBuilder& g) {
  const BartShape s = ReadShape(config);
  const std::string batch = "batch", sequence = "sequence";
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, sequence});
  const std::string embedding = SharedTokenEmbedding(g, s.vocab, s.d_model);
  const std::string hidden = Encoder(g, s, embedding, "input_ids", "attention_mask");
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
  // Each decoder layer's cross-attention keys and values depend only on the encoder.
  const int64_t heads = s.decoder.heads;
  for (int64_t i = 0; i < s.decoder.layers; ++i) {
    const std::string cross = fmt::format("decoder.layers.{}.encoder_attn", i);
    g.Node("Identity", {ProjectHeads(g, s, heads, hidden, cross, "k_proj")}, {},
           PresentName(i, CacheKind::kCross, CachePart::kKey));
    g.Node("Identity", {ProjectHeads(g, s, heads, hidden, cross, "v_proj")}, {},
           PresentName(i, CacheKind::kCross, CachePart::kValue));
  }
  DeclarePresentOutputs(g, s.decoder.layers, CacheKind::kCross, heads, s.d_model / heads, sequence);
}

void BuildBartDecoderWithPast(const HfConfig& config, GraphBuilder& g) {
  const BartShape s = ReadShape(config);
  const std::string batch = "batch", sequence = "sequence";
  const int64_t heads = s.decoder.heads, head_dim = s.d_model / heads;
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("encoder_attention_mask", onnx::TensorProto::INT64,
          {batch, std::string("encoder_sequence")});
  DeclarePastInputs(g, s.decoder.layers, heads, head_dim);
  const std::string embedding = SharedTokenEmbedding(g, s.vocab, s.d_model);
  const std::string hidden =
      Decoder(g, s, embedding, "input_ids", "encoder_attention_mask", "", /*with_past=*/true);
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
  DeclarePresentOutputs(g, s.decoder.layers, CacheKind::kSelf, heads, head_dim, "total_sequence");
}

}  // namespace ipfs_accel::models
