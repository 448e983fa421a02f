#include "t5_builder.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "moe.h"
#include "piece_choice.h"
#include "seq2seq_attention.h"
#include "seq2seq_cache.h"
#include "seq2seq_embedding.h"
#include "seq2seq_forward.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct T5Shape {
  int64_t vocab, d_model, d_kv, d_ff, encoder_layers, decoder_layers, heads, buckets, max_distance;
  double eps;
  bool gated;
  std::string act;  // dense_act_fn as T5Config derives it
  // Piece relative_attention_bias "every_layer" (UMT5): each layer has its own bias table;
  // "first_layer" (T5): the first layer's table serves the stack.
  bool bias_every_layer = false;
  // Piece encoder_attention "local" (LongT5's LocalSelfAttention): an encoder token attends to
  // the keys within local_radius of it; "full" (T5): to all.
  bool local_encoder = false;
  int64_t local_radius = 0;
  // Piece feed_forward "switch" (Switch Transformers): the feed-forward module is `mlp`, and the
  // layers SwitchTransformersStack makes sparse are a mixture of experts (the `moe` piece);
  // "dense" (T5): `DenseReluDense` everywhere.
  bool switch_mlp = false;
  MoeSpec moe;
  std::vector<bool> encoder_sparse, decoder_sparse;  // per layer, with switch_mlp
  int64_t inner() const { return heads * d_kv; }
};

// SwitchTransformersStack: with step = layers // sparse_layers (layers when there are none),
// layer i is sparse when i % step == 1 or step == 1.
std::vector<bool> SwitchSparseLayers(int64_t layers, int64_t sparse_layers) {
  const int64_t step = sparse_layers > 0 ? layers / sparse_layers : layers;
  std::vector<bool> out;
  for (int64_t i = 0; i < layers; ++i) out.push_back(step > 0 && (i % step == 1 || step == 1));
  return out;
}

void ReadPieces(const HfConfig& c, T5Shape& s) {
  s.bias_every_layer =
      PieceChoice(c, "relative_attention_bias", "t5", {"first_layer", "every_layer"}) == 1;
  s.local_encoder = PieceChoice(c, "encoder_attention", "t5", {"full", "local"}) == 1;
  if (s.local_encoder) s.local_radius = c.Int("local_radius", 127);
  s.switch_mlp = PieceChoice(c, "feed_forward", "t5", {"dense", "switch"}) == 1;
}

void ReadSwitchLayers(const HfConfig& c, T5Shape& s) {
  if (!s.switch_mlp) return;
  s.moe = ReadMoeSpec(c, c.Piece("moe"), s.d_model, s.act);
  s.encoder_sparse = SwitchSparseLayers(s.encoder_layers, c.Int("num_sparse_encoder_layers", 3));
  s.decoder_sparse = SwitchSparseLayers(s.decoder_layers, c.Int("num_sparse_decoder_layers", 3));
}

T5Shape ReadT5Shape(const HfConfig& c) {
  T5Shape s{};
  ReadPieces(c, s);
  s.vocab = c.Int("vocab_size", 32128);
  s.d_model = c.Int("d_model", 512);
  s.d_kv = c.Int("d_kv", 64);
  s.d_ff = c.Int("d_ff", 2048);
  s.encoder_layers = c.Int("num_layers", 6);
  s.decoder_layers = c.Int("num_decoder_layers", s.encoder_layers);
  s.heads = c.Int("num_heads", 8);
  s.buckets = c.Int("relative_attention_num_buckets", 32);
  s.max_distance = c.Int("relative_attention_max_distance", 128);
  s.eps = c.Double("layer_norm_epsilon", 1e-6);

  // T5Config: "gated-ACT" or "ACT"; "gated-gelu" means gelu_new for backward compatibility.
  const std::string proj = c.String("feed_forward_proj", "relu");
  const size_t dash = proj.find('-');
  s.gated = dash != std::string::npos;
  if (s.gated && (proj.substr(0, dash) != "gated" || proj.find('-', dash + 1) != std::string::npos))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': feed_forward_proj '{}' is neither 'ACT' nor 'gated-ACT' (e.g. "
                            "'relu', 'gated-gelu')",
                            c.origin(), proj));
  s.act = s.gated ? proj.substr(dash + 1) : proj;
  if (proj == "gated-gelu") s.act = "gelu_new";
  ReadSwitchLayers(c, s);

  if (s.heads <= 0 || s.d_kv <= 0 || s.d_model <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': d_model {}, d_kv {} and num_heads {} must be positive",
                            c.origin(), s.d_model, s.d_kv, s.heads));
  // The bucket table saturates at max_distance only when the exact range ends before it.
  if (s.buckets < 4 || s.max_distance <= s.buckets / 2)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': relative_attention_num_buckets {} with "
                            "relative_attention_max_distance {} is not supported (needs at least "
                            "4 buckets and a max distance above half of them)",
                            c.origin(), s.buckets, s.max_distance));
  return s;
}

std::string RmsNorm(GraphBuilder& g, const T5Shape& s, const std::string& x,
                    const std::string& prefix) {
  return T5LayerNorm(g, x, prefix, s.d_model, s.eps);
}

std::string RelativeBuckets(GraphBuilder& g, const T5Shape& s, const std::string& query_pos,
                            const std::string& key_pos, bool bidirectional) {
  return RelativePositionBuckets(
      g, query_pos, key_pos, bidirectional, s.buckets, s.max_distance,
      bidirectional ? "const_t5_buckets_bidirectional" : "const_t5_buckets_causal");
}

// [1, heads, query, key] bias from `prefix`.relative_attention_bias.weight [buckets, heads].
std::string RelativePositionBias(GraphBuilder& g, const T5Shape& s, const std::string& bucket,
                                 const std::string& prefix) {
  const std::string weight = g.Weight(prefix + ".relative_attention_bias.weight",
                                      {s.buckets, s.heads}, WeightInit::kNormal);
  const std::string values = g.Node("Gather", {weight, bucket});  // [query, key, heads]
  const std::string per_head =
      g.Node("Transpose", {values}, {{"perm", std::vector<int64_t>{2, 0, 1}}});
  return g.Node("Unsqueeze", {per_head, g.ConstInt64({0})});
}

// Each layer's attention bias: its position bias (the first layer's table, or its own)
// plus `mask`. `attention(i)` names layer i's attention module.
class LayerBias {
 public:
  template <typename AttentionName>
  LayerBias(GraphBuilder& g, const T5Shape& s, std::string buckets, const AttentionName& attention,
            const std::function<std::string()>& mask)
      : g_(g), s_(s), buckets_(std::move(buckets)), attention_(attention) {
    if (!s.bias_every_layer)
      shared_ = g.Node("Add", {RelativePositionBias(g, s, buckets_, attention(0)), mask()});
    else
      mask_ = mask();
  }
  std::string operator()(int64_t i) const {
    if (!s_.bias_every_layer) return shared_;
    return g_.Node("Add", {RelativePositionBias(g_, s_, buckets_, attention_(i)), mask_});
  }

 private:
  GraphBuilder& g_;
  const T5Shape& s_;
  std::string buckets_, shared_, mask_;
  std::function<std::string(int64_t)> attention_;
};

// LongT5's locality: finfo.min where |key - query| > local_radius, [1, 1, query, key].
std::string LocalMaskBias(GraphBuilder& g, const T5Shape& s, const std::string& positions) {
  const std::string key = g.Node("Unsqueeze", {positions, g.ConstInt64({0})});
  const std::string query = g.Node("Unsqueeze", {positions, g.ConstInt64({1})});
  const std::string distance = g.Node("Abs", {g.Node("Sub", {key, query})});
  const std::string far = g.Node("Greater", {distance, g.ConstInt64({s.local_radius})});
  const std::string bias = g.Node(
      "Where", {far, g.ConstFloat(std::numeric_limits<float>::lowest()), g.ConstFloat(0.0f)});
  return g.Node("Unsqueeze", {bias, g.ConstInt64({0, 1})});
}

// q, k or v of T5Attention `prefix`, split into heads: [batch, heads, seq, d_kv].
std::string ProjectHeads(GraphBuilder& g, const T5Shape& s, const std::string& x,
                         const std::string& prefix, const char* name) {
  return SplitHeads(g, g.Linear(x, prefix + "." + name, s.d_model, s.inner(), false), s.heads,
                    s.d_kv);
}

// softmax(q k^T + bias) v without scaling (T5 folds it into the weights), then o.
std::string AttendAndProject(GraphBuilder& g, const T5Shape& s, const std::string& q,
                             const std::string& k, const std::string& v, const std::string& bias,
                             const std::string& prefix) {
  const std::string ctx = Attend(g, q, k, v, 1.0f, bias);
  return g.Linear(MergeHeads(g, ctx, s.inner()), prefix + ".o", s.inner(), s.d_model, false);
}

// The feed-forward sublayer `prefix` (e.g. "encoder.block.3.layer.1"); `sparse`: Switch's
// mixture of experts under `prefix`.mlp.
std::string FeedForward(GraphBuilder& g, const T5Shape& s, const std::string& x,
                        const std::string& prefix, bool sparse = false) {
  const std::string normed = RmsNorm(g, s, x, prefix + ".layer_norm");
  const std::string dense = prefix + (s.switch_mlp ? ".mlp" : ".DenseReluDense");
  if (sparse) return g.Node("Add", {x, MoeMlp(g, s.moe, normed, dense + ".")});
  std::string h;
  if (s.gated) {
    const std::string gate =
        Activation(g, g.Linear(normed, dense + ".wi_0", s.d_model, s.d_ff, false), s.act);
    h = g.Node("Mul", {gate, g.Linear(normed, dense + ".wi_1", s.d_model, s.d_ff, false)});
  } else {
    h = Activation(g, g.Linear(normed, dense + ".wi", s.d_model, s.d_ff, false), s.act);
  }
  return g.Node("Add", {x, g.Linear(h, dense + ".wo", s.d_ff, s.d_model, false)});
}

std::string Encoder(GraphBuilder& g, const T5Shape& s, const std::string& embedding,
                    const std::string& input_ids, const std::string& attention_mask) {
  std::string h = g.Node("Gather", {embedding, input_ids});
  const std::string positions = PositionRange(g, g.ConstInt64({0}), AxisLength(g, input_ids, 1));
  const char* module = s.local_encoder ? "LocalSelfAttention" : "SelfAttention";
  const auto attention_of = [&](int64_t i) {
    return fmt::format("encoder.block.{}.layer.0.{}", i, module);
  };
  const LayerBias bias(g, s, RelativeBuckets(g, s, positions, positions, /*bidirectional=*/true),
                       attention_of, [&] {
                         const std::string padding = PaddingMaskBias(g, attention_mask);
                         if (!s.local_encoder) return padding;
                         return g.Node("Add", {padding, LocalMaskBias(g, s, positions)});
                       });
  for (int64_t i = 0; i < s.encoder_layers; ++i) {
    const std::string block = fmt::format("encoder.block.{}", i);
    const std::string attention = attention_of(i);
    const std::string normed = RmsNorm(g, s, h, block + ".layer.0.layer_norm");
    const std::string attended =
        AttendAndProject(g, s, ProjectHeads(g, s, normed, attention, "q"),
                         ProjectHeads(g, s, normed, attention, "k"),
                         ProjectHeads(g, s, normed, attention, "v"), bias(i), attention);
    h = g.Node("Add", {h, attended});
    h = FeedForward(g, s, h, block + ".layer.1",
                    s.switch_mlp && s.encoder_sparse[static_cast<size_t>(i)]);
  }
  return RmsNorm(g, s, h, "encoder.final_layer_norm");
}

// The decoder stack. Without a cache, keys and values come from the tokens given and the
// cross-attention's from `encoder_hidden`. With one (`with_past`), the self-attention's are
// appended to past_key_values.{i}.decoder.* (returned as present.{i}.decoder.*) and the
// cross-attention's are past_key_values.{i}.encoder.*; positions start after the past.
std::string Decoder(GraphBuilder& g, const T5Shape& s, const std::string& embedding,
                    const std::string& ids, const std::string& encoder_mask,
                    const std::string& encoder_hidden, bool with_past) {
  std::string h = g.Node("Gather", {embedding, ids});
  const std::string past_length =
      with_past && s.decoder_layers > 0
          ? AxisLength(g, PastKeyValuesName(0, CacheKind::kSelf, CachePart::kKey), 2)
          : g.ConstInt64({0});
  const std::string new_length = AxisLength(g, ids, 1);
  const std::string query_positions = PositionRange(g, past_length, new_length);
  const std::string key_positions =
      PositionRange(g, g.ConstInt64({0}), g.Node("Add", {past_length, new_length}));
  const LayerBias self_bias(
      g, s, RelativeBuckets(g, s, query_positions, key_positions, /*bidirectional=*/false),
      [](int64_t i) { return fmt::format("decoder.block.{}.layer.0.SelfAttention", i); },
      [&] { return CausalMaskBias(g, query_positions, key_positions); });
  // Cross-attention has no position bias: only the encoder's padding mask.
  const std::string cross_bias = PaddingMaskBias(g, encoder_mask);
  for (int64_t i = 0; i < s.decoder_layers; ++i) {
    const std::string block = fmt::format("decoder.block.{}", i);
    const std::string self = block + ".layer.0.SelfAttention";
    std::string normed = RmsNorm(g, s, h, block + ".layer.0.layer_norm");
    std::string k = ProjectHeads(g, s, normed, self, "k");
    std::string v = ProjectHeads(g, s, normed, self, "v");
    if (with_past) {
      k = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kKey), k},
                 {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kKey));
      v = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kValue), v},
                 {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kValue));
    }
    h = g.Node("Add", {h, AttendAndProject(g, s, ProjectHeads(g, s, normed, self, "q"), k, v,
                                           self_bias(i), self)});

    const std::string cross = block + ".layer.1.EncDecAttention";
    normed = RmsNorm(g, s, h, block + ".layer.1.layer_norm");
    const std::string cross_k = with_past ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kKey)
                                          : ProjectHeads(g, s, encoder_hidden, cross, "k");
    const std::string cross_v = with_past
                                    ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kValue)
                                    : ProjectHeads(g, s, encoder_hidden, cross, "v");
    h = g.Node("Add", {h, AttendAndProject(g, s, ProjectHeads(g, s, normed, cross, "q"), cross_k,
                                           cross_v, cross_bias, cross)});
    h = FeedForward(g, s, h, block + ".layer.2",
                    s.switch_mlp && s.decoder_sparse[static_cast<size_t>(i)]);
  }
  return RmsNorm(g, s, h, "decoder.final_layer_norm");
}

}  // namespace

std::string T5LayerNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                        int64_t size, double eps) {
  const std::string weight = g.Weight(prefix + ".weight", {size}, WeightInit::kOnes);
  const std::string mean_sq =
      g.Node("ReduceMean", {g.Node("Mul", {x, x})},
             {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  const std::string rms =
      g.Node("Sqrt", {g.Node("Add", {mean_sq, g.ConstFloat(static_cast<float>(eps))})});
  return g.Node("Mul", {weight, g.Node("Div", {x, rms})});
}

int64_t T5RelativePositionBucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                 int64_t max_distance) {
  int64_t bucket = 0;
  int64_t distance = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    distance = std::llabs(relative_position);
  } else {
    distance = -std::min<int64_t>(relative_position, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  if (distance < max_exact) return bucket + distance;
  // torch: float32 log of a float32 ratio, divided by math.log(...) rounded to float32.
  const float log_ratio = std::log(static_cast<float>(distance) / static_cast<float>(max_exact));
  const auto log_range = static_cast<float>(
      std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const float scaled = log_ratio / log_range * static_cast<float>(num_buckets - max_exact);
  const int64_t large = max_exact + static_cast<int64_t>(scaled);
  return bucket + std::min(large, num_buckets - 1);
}

std::string RelativePositionBuckets(GraphBuilder& g, const std::string& query_pos,
                                    const std::string& key_pos, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance,
                                    const std::string& table_name) {
  // Buckets come from a table over key - query in [-max_distance, max_distance]: HF's buckets
  // are constant beyond max_distance, so clipping first changes nothing.
  const int64_t r = max_distance;
  core::Tensor table = core::Tensor::Zeros(core::DType::kInt64, {2 * r + 1});
  auto buckets = table.values<int64_t>();
  for (int64_t rel = -r; rel <= r; ++rel)
    buckets[rel + r] = T5RelativePositionBucket(rel, bidirectional, num_buckets, max_distance);
  // A constant, not a parameter: named outside HF's namespace.
  g.Initializer(table_name, table);

  const std::string key = g.Node("Unsqueeze", {key_pos, g.ConstInt64({0})});
  const std::string query = g.Node("Unsqueeze", {query_pos, g.ConstInt64({1})});
  const std::string rel = g.Node("Sub", {key, query});  // [query, key]
  const std::string lo = g.Node("Squeeze", {g.ConstInt64({-r}), g.ConstInt64({0})});
  const std::string hi = g.Node("Squeeze", {g.ConstInt64({r}), g.ConstInt64({0})});
  const std::string index = g.Node("Add", {g.Node("Clip", {rel, lo, hi}), g.ConstInt64({r})});
  return g.Node("Gather", {table_name, index});
}

void BuildT5(const HfConfig& config, GraphBuilder& g) {
  const T5Shape s = ReadT5Shape(config);
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

void BuildT5Encoder(const HfConfig& config, GraphBuilder& g) {
  const T5Shape s = ReadT5Shape(config);
  const std::string batch = "batch", sequence = "sequence";
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, sequence});
  const std::string embedding = SharedTokenEmbedding(g, s.vocab, s.d_model);
  const std::string hidden = Encoder(g, s, embedding, "input_ids", "attention_mask");
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
  // Each decoder layer's cross-attention keys and values depend only on the encoder.
  for (int64_t i = 0; i < s.decoder_layers; ++i) {
    const std::string cross = fmt::format("decoder.block.{}.layer.1.EncDecAttention", i);
    g.Node("Identity", {ProjectHeads(g, s, hidden, cross, "k")}, {},
           PresentName(i, CacheKind::kCross, CachePart::kKey));
    g.Node("Identity", {ProjectHeads(g, s, hidden, cross, "v")}, {},
           PresentName(i, CacheKind::kCross, CachePart::kValue));
  }
  DeclarePresentOutputs(g, s.decoder_layers, CacheKind::kCross, s.heads, s.d_kv, sequence);
}

void BuildT5DecoderWithPast(const HfConfig& config, GraphBuilder& g) {
  const T5Shape s = ReadT5Shape(config);
  const std::string batch = "batch", sequence = "sequence";
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("encoder_attention_mask", onnx::TensorProto::INT64,
          {batch, std::string("encoder_sequence")});
  DeclarePastInputs(g, s.decoder_layers, s.heads, s.d_kv);
  const std::string embedding = SharedTokenEmbedding(g, s.vocab, s.d_model);
  const std::string hidden =
      Decoder(g, s, embedding, "input_ids", "encoder_attention_mask", "", /*with_past=*/true);
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
  DeclarePresentOutputs(g, s.decoder_layers, CacheKind::kSelf, s.heads, s.d_kv, "total_sequence");
}

}  // namespace ipfs_accel::models
