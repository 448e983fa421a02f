#include "whisper_builder.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "architectures.h"
#include "ipfs_accel/core/error.h"
#include "piece_choice.h"
#include "rotary.h"
#include "seq2seq_attention.h"
#include "seq2seq_cache.h"
#include "sinusoidal_positions.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

constexpr int64_t kConvKernel = 3;

struct WhisperStackShape {
  int64_t layers, heads, ffn;
};

struct WhisperShape {
  int64_t vocab, d_model, mel_bins, source_positions, target_positions;
  WhisperStackShape encoder, decoder;
  std::string act;
  bool lm_head;  // WhisperForConditionalGeneration: logits through proj_out
  bool tied;     // proj_out shares decoder.embed_tokens
};

// Which head the config's "architectures" asks for: none (WhisperModel, also when the key
// is absent) or proj_out (WhisperForConditionalGeneration). Other Whisper classes
// (audio classification, the decoder-only WhisperForCausalLM) have other graphs.
bool WantsLmHead(const HfConfig& c) {
  if (!c.Has("architectures") || !c.json()["architectures"].is_array()) return false;
  bool lm_head = false;
  for (const auto& entry : c.json()["architectures"]) {
    const std::string name = entry.is_string() ? entry.get<std::string>() : entry.dump();
    if (name == "WhisperForConditionalGeneration") {
      lm_head = true;
    } else if (name != "WhisperModel") {
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': architectures={} is not supported (known: WhisperModel, "
                              "WhisperForConditionalGeneration)",
                              c.origin(), name));
    }
  }
  return lm_head;
}

void CheckHeads(const HfConfig& c, int64_t d_model, const char* name, int64_t heads) {
  if (heads <= 0 || d_model % heads != 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': d_model {} is not a multiple of {} {}",
                                                 c.origin(), d_model, name, heads));
}

// The encoder's sizes alone (the audio encoders have no decoder keys).
WhisperShape ReadEncoderShape(const HfConfig& c) {
  WhisperShape s{};
  s.d_model = c.Int("d_model", 384);
  s.mel_bins = c.Int("num_mel_bins", 80);
  s.source_positions = c.Int("max_source_positions", 1500);
  s.encoder = {c.Int("encoder_layers", 4), c.Int("encoder_attention_heads", 6),
               c.Int("encoder_ffn_dim", 1536)};
  s.act = c.String("activation_function", "gelu");
  CheckHeads(c, s.d_model, "encoder_attention_heads", s.encoder.heads);
  return s;
}

// WhisperConfig's defaults are whisper-tiny's sizes.
WhisperShape ReadWhisperShape(const HfConfig& c) {
  WhisperShape s = ReadEncoderShape(c);
  s.vocab = c.Int("vocab_size", 51865);
  s.target_positions = c.Int("max_target_positions", 448);
  s.decoder = {c.Int("decoder_layers", 4), c.Int("decoder_attention_heads", 6),
               c.Int("decoder_ffn_dim", 1536)};
  s.lm_head = WantsLmHead(c);
  s.tied = c.Bool("tie_word_embeddings", true);
  CheckHeads(c, s.d_model, "decoder_attention_heads", s.decoder.heads);
  return s;
}

// WhisperAttention's projections of `x`, split into heads: q and v with biases, k without.
std::string Query(GraphBuilder& g, const WhisperShape& s, int64_t heads, const std::string& x,
                  const std::string& prefix) {
  return SplitHeads(g, g.Linear(x, prefix + ".q_proj", s.d_model, s.d_model), heads,
                    s.d_model / heads);
}
std::string Key(GraphBuilder& g, const WhisperShape& s, int64_t heads, const std::string& x,
                const std::string& prefix) {
  return SplitHeads(g, g.Linear(x, prefix + ".k_proj", s.d_model, s.d_model, /*bias=*/false), heads,
                    s.d_model / heads);
}
std::string Value(GraphBuilder& g, const WhisperShape& s, int64_t heads, const std::string& x,
                  const std::string& prefix) {
  return SplitHeads(g, g.Linear(x, prefix + ".v_proj", s.d_model, s.d_model), heads,
                    s.d_model / heads);
}

// softmax(q k^T * head_dim^-0.5 + bias) v, then out_proj.
std::string AttendAndProject(GraphBuilder& g, const WhisperShape& s, int64_t heads,
                             const std::string& q, const std::string& k, const std::string& v,
                             const std::string& bias, const std::string& prefix) {
  const auto scale = static_cast<float>(std::pow(static_cast<double>(s.d_model / heads), -0.5));
  const std::string ctx = Attend(g, q, k, v, scale, bias);
  return g.Linear(MergeHeads(g, ctx, s.d_model), prefix + ".out_proj", s.d_model, s.d_model);
}

// Pre-norm residual FFN: x + fc2(act(fc1(final_layer_norm(x)))).
std::string FeedForward(GraphBuilder& g, const WhisperShape& s, int64_t ffn, const std::string& x,
                        const std::string& layer) {
  const std::string normed = g.LayerNorm(x, layer + ".final_layer_norm", s.d_model, kTorchNormEps);
  std::string h = Activation(g, g.Linear(normed, layer + ".fc1", s.d_model, ffn), s.act);
  h = g.Linear(h, layer + ".fc2", ffn, s.d_model);
  return g.Node("Add", {x, h});
}

// GELU(conv(x)) with a kernel-3, padding-1 Conv1d `name` ([out, in, 3] weight and bias).
std::string ConvGelu(GraphBuilder& g, const std::string& x, const std::string& name, int64_t in,
                     int64_t out, int64_t stride) {
  const std::string w = g.Weight(name + ".weight", {out, in, kConvKernel}, WeightInit::kNormal);
  const std::string b = g.Weight(name + ".bias", {out}, WeightInit::kZeros);
  const std::string y = g.Node("Conv", {x, w, b},
                               {{"kernel_shape", std::vector<int64_t>{kConvKernel}},
                                {"pads", std::vector<int64_t>{1, 1}},
                                {"strides", std::vector<int64_t>{stride}}});
  return Activation(g, y, "gelu");  // HF calls nn.functional.gelu here, not the config's act
}

std::string AveragePairs(GraphBuilder& g, const std::string& h);

// Whisper's conv front end: [batch, mel, frames] -> [batch, frames / 2, d_model].
std::string ConvFrontEnd(GraphBuilder& g, const WhisperShape& s, const std::string& features,
                         const std::string& prefix) {
  std::string h = ConvGelu(g, features, prefix + "conv1", s.mel_bins, s.d_model, 1);
  h = ConvGelu(g, h, prefix + "conv2", s.d_model, s.d_model, 2);  // [batch, d_model, positions]
  return g.Node("Transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// The pre-norm WhisperEncoderLayers on h [batch, positions, d_model]; `bias` masks keys.
std::string WhisperLayers(GraphBuilder& g, const WhisperShape& s, std::string h,
                          const std::string& prefix, const std::string& bias) {
  const int64_t heads = s.encoder.heads;
  for (int64_t i = 0; i < s.encoder.layers; ++i) {
    const std::string layer = prefix + fmt::format("layers.{}", i);
    const std::string self = layer + ".self_attn";
    const std::string x = g.LayerNorm(h, self + "_layer_norm", s.d_model, kTorchNormEps);
    h = g.Node("Add", {h, AttendAndProject(g, s, heads, Query(g, s, heads, x, self),
                                           Key(g, s, heads, x, self), Value(g, s, heads, x, self),
                                           bias, self)});
    h = FeedForward(g, s, s.encoder.ffn, h, layer);
  }
  return h;
}

// input_features [batch, mel, 2 * positions] -> the conv front end, positions and pre-norm
// layers under `prefix` ("encoder." in WhisperModel, "" in the audio encoders), before the
// final layer_norm. `bias` masks keys (empty: every frame is seen).
std::string EncoderLayers(GraphBuilder& g, const WhisperShape& s, const std::string& features,
                          const std::string& prefix, const std::string& bias) {
  std::string h = ConvFrontEnd(g, s, features, prefix);
  const std::string positions = g.Weight(prefix + "embed_positions.weight",
                                         {s.source_positions, s.d_model}, WeightInit::kNormal);
  h = g.Node("Add", {h, positions});
  return WhisperLayers(g, s, h, prefix, bias);
}

// Qwen2.5-Omni's audio encoder on full-length clips: the frames cut into chunks of 2 * n_window,
// each through the conv front end with sinusoidal positions from 0 and attending only within
// itself (HF's cu_seqlens blocks), then each clip's positions pooled in pairs, ln_post and proj
// to output_dim; audio_bos_eos_token is counted but unused by HF's forward.
std::string ChunkedEncoder(GraphBuilder& g, const HfConfig& c, const WhisperShape& s,
                           const std::string& features, int64_t output_dim) {
  const int64_t chunk = 2 * c.Int("n_window", 100), frames = 2 * s.source_positions;
  if (chunk <= 0 || frames % chunk != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': {} frames are not whole chunks of 2 * n_window = {}", c.origin(),
                            frames, chunk));
  const int64_t chunks = frames / chunk;
  std::string x = g.Node("Reshape", {features, g.ConstInt64({0, s.mel_bins, chunks, chunk})});
  x = g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  x = g.Node("Reshape", {x, g.ConstInt64({-1, s.mel_bins, chunk})});  // [batch * chunks, ...]
  std::string h = ConvFrontEnd(g, s, x, "");
  const std::string table =
      g.Initializer("positional_embedding", FairseqSinusoids(chunk / 2, s.d_model, std::nullopt));
  h = WhisperLayers(g, s, g.Node("Add", {h, table}), "", "");
  h = g.Node("Reshape", {h, g.Node("Concat",
                                   {g.Node("Slice", {g.Node("Shape", {features}), g.ConstInt64({0}),
                                                     g.ConstInt64({1})}),
                                    g.ConstInt64({-1, s.d_model})},
                                   {{"axis", int64_t{0}}})});
  h = g.LayerNorm(AveragePairs(g, h), "ln_post", s.d_model, kTorchNormEps);
  g.UnusedWeight("audio_bos_eos_token.weight", {2, output_dim}, WeightInit::kNormal);
  return g.Linear(h, "proj", s.d_model, output_dim);
}

std::string Encoder(GraphBuilder& g, const WhisperShape& s, const std::string& features) {
  return g.LayerNorm(EncoderLayers(g, s, features, "encoder.", ""), "encoder.layer_norm", s.d_model,
                     kTorchNormEps);
}

struct DecoderInputs {
  std::string ids;             // int64 [batch, new tokens]
  std::string self_bias;       // additive [batch or 1, 1, new, past + new]
  std::string past_length;     // 1-D int64, one element
  std::string encoder_hidden;  // empty when the cross-attention cache is given (with_past)
  bool with_past;
};

// The decoder stack: token + position embeddings, layers, layer_norm. With a cache
// (`with_past`), the self-attention keys and values are appended to
// past_key_values.{i}.decoder.* (returned as present.{i}.decoder.*) and the cross-attention's
// are past_key_values.{i}.encoder.*. Returns the hidden states and the embedding table.
std::pair<std::string, std::string> Decoder(GraphBuilder& g, const WhisperShape& s,
                                            const DecoderInputs& in) {
  const std::string table =
      g.Weight("decoder.embed_tokens.weight", {s.vocab, s.d_model}, WeightInit::kNormal);
  const std::string position_table = g.Weight("decoder.embed_positions.weight",
                                              {s.target_positions, s.d_model}, WeightInit::kNormal);
  const std::string end = g.Node("Add", {in.past_length, AxisLength(g, in.ids, 1)});
  const std::string positions =
      g.Node("Slice", {position_table, in.past_length, end, g.ConstInt64({0})});
  std::string h = g.Node("Add", {g.Node("Gather", {table, in.ids}), positions});

  const int64_t heads = s.decoder.heads;
  for (int64_t i = 0; i < s.decoder.layers; ++i) {
    const std::string layer = fmt::format("decoder.layers.{}", i);
    const std::string self = layer + ".self_attn";
    std::string x = g.LayerNorm(h, self + "_layer_norm", s.d_model, kTorchNormEps);
    std::string k = Key(g, s, heads, x, self);
    std::string v = Value(g, s, heads, x, self);
    if (in.with_past) {
      k = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kKey), k},
                 {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kKey));
      v = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kValue), v},
                 {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kValue));
    }
    h = g.Node("Add", {h, AttendAndProject(g, s, heads, Query(g, s, heads, x, self), k, v,
                                           in.self_bias, self)});

    const std::string cross = layer + ".encoder_attn";
    x = g.LayerNorm(h, cross + "_layer_norm", s.d_model, kTorchNormEps);
    const std::string cross_k = in.with_past
                                    ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kKey)
                                    : Key(g, s, heads, in.encoder_hidden, cross);
    const std::string cross_v = in.with_past
                                    ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kValue)
                                    : Value(g, s, heads, in.encoder_hidden, cross);
    // Whisper's encoder has no padding: the cross-attention sees every frame.
    h = g.Node("Add", {h, AttendAndProject(g, s, heads, Query(g, s, heads, x, cross), cross_k,
                                           cross_v, "", cross)});
    h = FeedForward(g, s, s.decoder.ffn, h, layer);
  }
  return {g.LayerNorm(h, "decoder.layer_norm", s.d_model, kTorchNormEps), table};
}

// proj_out: hidden [batch, seq, d_model] -> logits [batch, seq, vocab]. Tied, Gemm reads the
// [vocab, d_model] embedding transposed in place instead of holding a second copy.
std::string ProjOut(GraphBuilder& g, const WhisperShape& s, const std::string& hidden,
                    const std::string& embedding) {
  const std::string table =
      s.tied ? embedding : g.Weight("proj_out.weight", {s.vocab, s.d_model}, WeightInit::kNormal);
  const std::string rows = g.Node("Reshape", {hidden, g.ConstInt64({-1, s.d_model})});
  const std::string y = g.Node("Gemm", {rows, table}, {{"transB", int64_t{1}}});
  const std::string batch_and_sequence =
      g.Node("Slice", {g.Node("Shape", {hidden}), g.ConstInt64({0}), g.ConstInt64({2})});
  return g.Node("Reshape", {y, g.Node("Concat", {batch_and_sequence, g.ConstInt64({s.vocab})},
                                      {{"axis", int64_t{0}}})});
}

// The decoder's output: last_hidden_state, or logits with the LM head.
void DecoderOutput(GraphBuilder& g, const WhisperShape& s, const std::string& hidden,
                   const std::string& embedding, const std::string& sequence) {
  const std::string batch = "batch";
  if (s.lm_head) {
    g.Node("Identity", {ProjOut(g, s, hidden, embedding)}, {}, "logits");
    g.Output("logits", onnx::TensorProto::FLOAT, {batch, sequence, s.vocab});
  } else {
    g.Node("Identity", {hidden}, {}, "last_hidden_state");
    g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
  }
}

void DeclareFeatures(GraphBuilder& g, const WhisperShape& s) {
  // HF's WhisperEncoder raises unless the frames are exactly 2 * max_source_positions.
  g.Input("input_features", onnx::TensorProto::FLOAT,
          {std::string("batch"), s.mel_bins, 2 * s.source_positions});
}

// HF's eager decoder mask: key k is visible to query q when k <= q and the key is not
// padding; visible -> 0, hidden -> finfo(float32).min (a fully hidden row stays uniform).
std::string CausalPaddingBias(GraphBuilder& g, const std::string& ids, const std::string& mask) {
  const std::string positions = PositionRange(g, g.ConstInt64({0}), AxisLength(g, ids, 1));
  const std::string query = g.Node("Unsqueeze", {positions, g.ConstInt64({1})});  // [q, 1]
  const std::string key = g.Node("Unsqueeze", {positions, g.ConstInt64({0})});    // [1, k]
  const std::string causal = g.Node("LessOrEqual", {key, query});
  const std::string padding =
      g.Node("Unsqueeze", {g.Node("Cast", {mask}, {{"to", int64_t{onnx::TensorProto::BOOL}}}),
                           g.ConstInt64({1, 2})});  // [batch, 1, 1, k]
  return g.Node("Where", {g.Node("And", {padding, causal}), g.ConstFloat(0.0f),
                          g.ConstFloat(std::numeric_limits<float>::lowest())});
}

// AudioFlamingo3's key mask: input_features_mask [batch, 2 * positions] counts each sample's
// frames; conv2 (stride 2) leaves (count - 1) // 2 + 1 = (count + 1) / 2 positions, and
// later keys are hidden (finfo.min) from every query.
std::string FramePaddingBias(GraphBuilder& g, const WhisperShape& s, const std::string& mask) {
  const std::string frames =
      g.Node("ReduceSum", {mask, g.ConstInt64({-1})}, {{"keepdims", int64_t{1}}});
  const std::string kept =
      g.Node("Div", {g.Node("Add", {frames, g.ConstInt64({1})}), g.ConstInt64({2})});
  const std::string positions =
      PositionRange(g, g.ConstInt64({0}), g.ConstInt64({s.source_positions}));
  const std::string visible = g.Node("Less", {positions, kept});  // [batch, positions]
  return g.Node("Where", {g.Node("Unsqueeze", {visible, g.ConstInt64({1, 2})}), g.ConstFloat(0.0f),
                          g.ConstFloat(std::numeric_limits<float>::lowest())});
}

// nn.AvgPool1d(2, stride=2) over time: [batch, positions, d] -> [batch, positions / 2, d].
std::string AveragePairs(GraphBuilder& g, const std::string& h) {
  const std::string channels_first =
      g.Node("Transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const std::string pooled =
      g.Node("AveragePool", {channels_first},
             {{"kernel_shape", std::vector<int64_t>{2}}, {"strides", std::vector<int64_t>{2}}});
  return g.Node("Transpose", {pooled}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// GlmAsrEncoderLayer: pre-norm attention with LLaMA's names (q, v and o_proj biased, k_proj
// not) and rope on the first rotary_dim features of q and k, then the fc1/fc2 MLP.
std::string RotaryLayer(GraphBuilder& g, const WhisperShape& s, const std::string& h,
                        const RopeTables& rope, int64_t rotary_dim, const std::string& layer) {
  const int64_t d = s.d_model, heads = s.encoder.heads, head_dim = d / heads;
  const std::string attn = layer + ".self_attn";
  std::string x = g.LayerNorm(h, layer + ".input_layernorm", d, kTorchNormEps);
  auto project = [&](const char* name, bool bias) {
    return SplitHeads(g, g.Linear(x, attn + "." + name, d, d, bias), heads, head_dim);
  };
  const std::string q = ApplyRope(g, project("q_proj", true), rope, rotary_dim, head_dim);
  const std::string k = ApplyRope(g, project("k_proj", false), rope, rotary_dim, head_dim);
  const std::string v = project("v_proj", true);
  const auto scale = static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5));
  const std::string ctx = MergeHeads(g, Attend(g, q, k, v, scale, ""), d);
  const std::string out = g.Node("Add", {h, g.Linear(ctx, attn + ".o_proj", d, d)});
  x = g.LayerNorm(out, layer + ".post_attention_layernorm", d, kTorchNormEps);
  const std::string up = Activation(g, g.Linear(x, layer + ".mlp.fc1", d, s.encoder.ffn), s.act);
  return g.Node("Add", {out, g.Linear(up, layer + ".mlp.fc2", s.encoder.ffn, d)});
}

// GlmAsrEncoder: Whisper's conv front end without a position table, rotary layers, `norm`.
std::string RotaryEncoder(GraphBuilder& g, const HfConfig& c, const WhisperShape& s,
                          const std::string& features) {
  if (c.Int("num_key_value_heads", s.encoder.heads) != s.encoder.heads)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': num_key_value_heads other than num_attention_heads is not "
                            "supported by the rotary audio encoder",
                            c.origin()));
  std::string h = ConvGelu(g, features, "conv1", s.mel_bins, s.d_model, 1);
  h = ConvGelu(g, h, "conv2", s.d_model, s.d_model, 2);
  h = g.Node("Transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const RopeSpec spec = ReadRope(c, s.d_model / s.encoder.heads, s.source_positions,
                                 RopeKeys{.default_partial_rotary_factor = 0.5});
  const std::string positions = g.Node(
      "Unsqueeze", {PositionRange(g, g.ConstInt64({0}), AxisLength(g, h, 1)), g.ConstInt64({0})});
  // Named apart from a language model's table when the tower is part of a composite.
  const RopeTables rope = RopeCosSin(g, spec, positions, g.weight_prefix() + "rope.inv_freq");
  for (int64_t i = 0; i < s.encoder.layers; ++i)
    h = RotaryLayer(g, s, h, rope, spec.rotary_dim, fmt::format("layers.{}", i));
  return g.LayerNorm(h, "norm", s.d_model, kTorchNormEps);
}

}  // namespace

void BuildWhisper(const HfConfig& config, GraphBuilder& g) {
  const WhisperShape s = ReadWhisperShape(config);
  const std::string batch = "batch", decoder_sequence = "decoder_sequence";
  DeclareFeatures(g, s);
  g.Input("decoder_input_ids", onnx::TensorProto::INT64, {batch, decoder_sequence});
  g.Input("decoder_attention_mask", onnx::TensorProto::INT64, {batch, decoder_sequence});

  const std::string encoder_hidden = Encoder(g, s, "input_features");
  const auto [hidden, embedding] =
      Decoder(g, s,
              {.ids = "decoder_input_ids",
               .self_bias = CausalPaddingBias(g, "decoder_input_ids", "decoder_attention_mask"),
               .past_length = g.ConstInt64({0}),
               .encoder_hidden = encoder_hidden,
               .with_past = false});
  DecoderOutput(g, s, hidden, embedding, decoder_sequence);
  g.Node("Identity", {encoder_hidden}, {}, "encoder_last_hidden_state");
  g.Output("encoder_last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, s.source_positions, s.d_model});
}

void BuildWhisperEncoder(const HfConfig& config, GraphBuilder& g) {
  const WhisperShape s = ReadWhisperShape(config);
  DeclareFeatures(g, s);
  const std::string hidden = Encoder(g, s, "input_features");
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {std::string("batch"), s.source_positions, s.d_model});
  // Each decoder layer's cross-attention keys and values depend only on the encoder.
  const int64_t heads = s.decoder.heads;
  for (int64_t i = 0; i < s.decoder.layers; ++i) {
    const std::string cross = fmt::format("decoder.layers.{}.encoder_attn", i);
    g.Node("Identity", {Key(g, s, heads, hidden, cross)}, {},
           PresentName(i, CacheKind::kCross, CachePart::kKey));
    g.Node("Identity", {Value(g, s, heads, hidden, cross)}, {},
           PresentName(i, CacheKind::kCross, CachePart::kValue));
  }
  DeclarePresentOutputs(g, s.decoder.layers, CacheKind::kCross, heads, s.d_model / heads,
                        "encoder_sequence");
}

void BuildWhisperDecoderWithPast(const HfConfig& config, GraphBuilder& g) {
  const WhisperShape s = ReadWhisperShape(config);
  const std::string batch = "batch", sequence = "sequence";
  const int64_t heads = s.decoder.heads, head_dim = s.d_model / heads;
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  DeclarePastInputs(g, s.decoder.layers, heads, head_dim);
  const std::string past_length =
      s.decoder.layers > 0
          ? AxisLength(g, PastKeyValuesName(0, CacheKind::kSelf, CachePart::kKey), 2)
          : g.ConstInt64({0});
  const std::string new_length = AxisLength(g, "input_ids", 1);
  const std::string self_bias =
      CausalMaskBias(g, PositionRange(g, past_length, new_length),
                     PositionRange(g, g.ConstInt64({0}), g.Node("Add", {past_length, new_length})));
  const auto [hidden, embedding] = Decoder(g, s,
                                           {.ids = "input_ids",
                                            .self_bias = self_bias,
                                            .past_length = past_length,
                                            .encoder_hidden = "",
                                            .with_past = true});
  DecoderOutput(g, s, hidden, embedding, sequence);
  DeclarePresentOutputs(g, s.decoder.layers, CacheKind::kSelf, heads, head_dim, "total_sequence");
}

bool WhisperAudioTowerMasked(const HfConfig& config) {
  return PieceChoice(config, "frame_mask", "whisper_audio_encoder", {"none", "features_mask"}) == 1;
}

WhisperAudioTower WhisperAudioTowerOn(const HfConfig& config, GraphBuilder& g,
                                      const std::string& features,
                                      const std::string& features_mask) {
  const WhisperShape s = ReadEncoderShape(config);
  const char* builder = "whisper_audio_encoder";
  const bool rotary = PieceChoice(config, "layer", builder, {"whisper", "rotary"}) == 1;
  const bool pooled = PieceChoice(config, "pooling", builder, {"none", "average_pairs"}) == 1;
  const bool masked = WhisperAudioTowerMasked(config);
  const bool chunked = PieceChoice(config, "chunks", builder, {"none", "n_window"}) == 1;
  WhisperAudioTower out{"", pooled ? s.source_positions / 2 : s.source_positions, s.d_model};
  if (chunked && !rotary && pooled && !masked) {
    out.d_model = config.Int("output_dim", 3584);
    out.hidden = ChunkedEncoder(g, config, s, features, out.d_model);
    return out;
  }
  if (chunked)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': template '{}' chunks a rotary, unpooled or masked audio "
                            "encoder, which the {} builder does not build",
                            config.origin(), config.template_name(), builder));
  if (rotary && !pooled && !masked) {
    out.hidden = RotaryEncoder(g, config, s, features);
    return out;
  }
  if (rotary)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': template '{}' pools or masks a rotary audio encoder, which "
                            "the {} builder does not build",
                            config.origin(), config.template_name(), builder));
  const std::string bias = masked ? FramePaddingBias(g, s, features_mask) : "";
  std::string h = EncoderLayers(g, s, features, "", bias);
  if (pooled) h = AveragePairs(g, h);
  out.hidden = g.LayerNorm(h, "layer_norm", s.d_model, kTorchNormEps);
  return out;
}

void BuildWhisperAudioEncoder(const HfConfig& config, GraphBuilder& g) {
  const WhisperShape s = ReadEncoderShape(config);
  DeclareFeatures(g, s);
  const bool masked = WhisperAudioTowerMasked(config);
  if (masked)
    g.Input("input_features_mask", onnx::TensorProto::INT64,
            {std::string("batch"), 2 * s.source_positions});
  const WhisperAudioTower tower =
      WhisperAudioTowerOn(config, g, "input_features", masked ? "input_features_mask" : "");
  g.Node("Identity", {tower.hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {std::string("batch"), tower.positions, tower.d_model});
}

void AddWhisperArchitectures(std::vector<Architecture>& out) {
  // WhisperForConditionalGeneration checkpoints hold WhisperModel under "model.".
  out.push_back(
      {"whisper",
       "audio",
       {"model."},
       BuildWhisper,
       [](const HfConfig& c) {
         return std::map<std::string, InputHint>{
             {"decoder_input_ids", {InputHint::Kind::kIndexRange, 0, c.Int("vocab_size", 51865)}},
             {"decoder_attention_mask", {InputHint::Kind::kOnes, 0, 0}},
         };
       },
       [](const HfConfig& c) {
         return DimRoles{.batch = "batch",
                         .decoder_sequence = "decoder_sequence",
                         .max_decoder_sequence = c.Int("max_target_positions", 448)};
       }});
  out.push_back({"whisper_audio_encoder",
                 "audio",
                 {"audio_tower."},
                 BuildWhisperAudioEncoder,
                 [](const HfConfig&) {
                   return std::map<std::string, InputHint>{
                       {"input_features", {InputHint::Kind::kAny, 0, 0}},
                       {"input_features_mask", {InputHint::Kind::kOnes, 0, 0}},
                   };
                 },
                 [](const HfConfig&) { return DimRoles{.batch = "batch"}; }});
}

}  // namespace ipfs_accel::models
