#include "wav2vec2_builder.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "conformer_layer.h"
#include "ipfs_accel/core/error.h"
#include "piece_choice.h"
#include "sew_encoder.h"
#include "t5_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// Eps of the norms HF builds with PyTorch's default (not config.layer_norm_eps): the conv
// layers' GroupNorm / LayerNorm and the adapters' LayerNorms.

std::vector<Wav2Vec2Variant> MakeVariants() {
  Wav2Vec2Variant wav2vec2;
  wav2vec2.model_type = "wav2vec2";
  Wav2Vec2Variant hubert;
  hubert.model_type = "hubert";
  hubert.extract_features_output = false;
  hubert.projection_norm_optional = true;
  hubert.has_adapter = false;
  return {wav2vec2, hubert};
}

// A list of positive integers (conv_dim, ...), or `fallback` when the key is absent.
std::vector<int64_t> Wav2Vec2IntList(const HfConfig& c, const std::string& key,
                                     const std::vector<int64_t>& fallback) {
  if (!c.Has(key)) return fallback;
  const auto& j = c.json()[key];
  std::vector<int64_t> out;
  if (j.is_array())
    for (const auto& v : j) {
      if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
        out.clear();
        break;
      }
      out.push_back(v.get<int64_t>());
    }
  if (out.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': '{}' must be a non-empty list of positive integers, not {}",
                            c.origin(), key, j.dump()));
  return out;
}

// Conv1d with PyTorch's [out, in, kernel] weight `prefix.weight` (and `prefix.bias`).
std::string Conv1d(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                   int64_t out, int64_t kernel, int64_t stride, bool bias, int64_t pad = 0,
                   const std::string& output_name = "") {
  std::vector<std::string> inputs = {
      x, g.Weight(prefix + ".weight", {out, in, kernel}, WeightInit::kNormal)};
  if (bias) inputs.push_back(g.Weight(prefix + ".bias", {out}, WeightInit::kZeros));
  return g.Node("Conv", inputs,
                {{"kernel_shape", std::vector<int64_t>{kernel}},
                 {"strides", std::vector<int64_t>{stride}},
                 {"pads", std::vector<int64_t>{pad, pad}}},
                output_name);
}

// LayerNorm over the channels of a [batch, channels, time] tensor.
std::string ChannelLayerNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                             int64_t channels) {
  const std::string normed =
      g.LayerNorm(Transpose(g, x, {0, 2, 1}), prefix, channels, kTorchNormEps);
  return Transpose(g, normed, {0, 2, 1});
}

// Wav2Vec2FeatureEncoder: [batch, samples] -> [batch, frames, conv_dim[-1]].
std::string FeatureEncoder(GraphBuilder& g, const Wav2Vec2Shape& s) {
  std::string h = g.Node("Unsqueeze", {"input_values", g.ConstInt64({1})});  // [b, 1, samples]
  const int64_t min_samples = Wav2Vec2MinSamples(s);
  for (size_t i = 0; i < s.conv_dim.size(); ++i) {
    const std::string p = fmt::format("feature_extractor.conv_layers.{}", i);
    const int64_t in = i == 0 ? 1 : s.conv_dim[i - 1], out = s.conv_dim[i];
    // ONNX has no assertion op: too-short audio fails in one of these Convs, and ONNX Runtime's
    // message names the node, so the name says what the input lacks.
    const std::string name =
        fmt::format("{}.conv[input_values_needs_at_least_{}_samples]", p, min_samples);
    h = Conv1d(g, h, p + ".conv", in, out, s.conv_kernel[i], s.conv_stride[i], s.conv_bias, 0,
               name);
    if (s.layer_norm_convs) {
      h = ChannelLayerNorm(g, h, p + ".layer_norm", out);
    } else if (i == 0) {
      // GroupNorm with one group per channel normalises each channel over time: exactly
      // InstanceNormalization with a per-channel affine.
      h = g.Node("InstanceNormalization",
                 {h, g.Weight(p + ".layer_norm.weight", {out}, WeightInit::kOnes),
                  g.Weight(p + ".layer_norm.bias", {out}, WeightInit::kZeros)},
                 {{"epsilon", static_cast<float>(kTorchNormEps)}});
    }
    h = Activation(g, h, s.feat_act);
  }
  return Transpose(g, h, {0, 2, 1});
}

// Frame-level mask [batch, frames] (1 real, 0 padding) from the sample-level attention_mask, as
// HF's _get_feature_vector_attention_mask makes it: the frame count of each row's real samples
// through every conv (floor division), then frames up to that index. A count below one indexes
// from the end, as Python's negative index does there.
std::string FrameMask(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& features) {
  std::string length =
      g.Node("ReduceSum", {"attention_mask", g.ConstInt64({1})}, {{"keepdims", int64_t{0}}});
  for (size_t i = 0; i < s.conv_kernel.size(); ++i) {
    const std::string stride = g.ConstInt64({s.conv_stride[i]});
    const std::string span = g.Node("Sub", {length, g.ConstInt64({s.conv_kernel[i]})});
    // floor(span / stride) for either sign: ONNX Mod on integers takes the divisor's sign.
    const std::string floor_div =
        g.Node("Div", {g.Node("Sub", {span, g.Node("Mod", {span, stride})}), stride});
    length = g.Node("Add", {floor_div, g.ConstInt64({1})});
  }
  const std::string frames =
      g.Node("Gather", {g.Node("Shape", {features}), g.ConstInt64({1})}, {{"axis", int64_t{0}}});
  const std::string last = g.Node("Sub", {length, g.ConstInt64({1})});
  const std::string wrapped = g.Node(
      "Where", {g.Node("Less", {last, g.ConstInt64({0})}), g.Node("Add", {last, frames}), last});
  auto scalar = [&](const std::string& one_element) { return g.Node("Squeeze", {one_element}); };
  const std::string positions =
      g.Node("Range", {scalar(g.ConstInt64({0})), scalar(frames), scalar(g.ConstInt64({1}))});
  const std::string rows = g.Node("Unsqueeze", {wrapped, g.ConstInt64({1})});  // [b, 1]
  return g.Node("Cast", {g.Node("LessOrEqual", {positions, rows})},
                {{"to", int64_t{onnx::TensorProto::FLOAT}}});
}

// The positional conv's weight-norm parameters g [1, 1, K] and v, under either name scheme.
std::pair<std::string, std::string> PositionalKernelWeights(GraphBuilder& g, const Wav2Vec2Shape& s,
                                                            const std::string& prefix) {
  const core::Shape g_shape = {1, 1, s.pos_kernel};
  const core::Shape v_shape = {s.hidden, s.hidden / s.pos_groups, s.pos_kernel};
  // transformers 5.x writes the parametrization's names; older checkpoints weight_g / weight_v.
  std::string magnitude, direction;
  try {
    magnitude = g.Weight(prefix + ".parametrizations.weight.original0", g_shape, WeightInit::kOnes);
    direction =
        g.Weight(prefix + ".parametrizations.weight.original1", v_shape, WeightInit::kNormal);
  } catch (const Error& current) {
    if (!magnitude.empty()) throw;
    try {
      magnitude = g.Weight(prefix + ".weight_g", g_shape, WeightInit::kOnes);
    } catch (const Error& older) {
      throw Error(current.kind(), fmt::format("{} (nor the older '{}.weight_g': {})",
                                              current.what(), prefix, older.what()));
    }
    direction = g.Weight(prefix + ".weight_v", v_shape, WeightInit::kNormal);
  }
  return {magnitude, direction};
}

// The positional conv's weight from its weight norm: g * v / ||v||, the norm per kernel tap.
std::string WeightNormedPositionalKernel(GraphBuilder& g, const Wav2Vec2Shape& s,
                                         const std::string& prefix) {
  const auto [magnitude, direction] = PositionalKernelWeights(g, s, prefix);
  const std::string norm = g.Node("ReduceL2", {direction},
                                  {{"axes", std::vector<int64_t>{0, 1}}, {"keepdims", int64_t{1}}});
  return g.Node("Mul", {direction, g.Node("Div", {magnitude, norm})});
}

// Wav2Vec2PositionalConvEmbedding: [batch, frames, hidden] -> the same.
std::string PositionalConv(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x) {
  const std::string prefix = "encoder.pos_conv_embed.conv";
  const std::string kernel = WeightNormedPositionalKernel(g, s, prefix);
  const std::string bias = g.Weight(prefix + ".bias", {s.hidden}, WeightInit::kZeros);
  std::string y = g.Node("Conv", {Transpose(g, x, {0, 2, 1}), kernel, bias},
                         {{"kernel_shape", std::vector<int64_t>{s.pos_kernel}},
                          {"pads", std::vector<int64_t>{s.pos_kernel / 2, s.pos_kernel / 2}},
                          {"group", s.pos_groups}});
  // SamePad: an even kernel with padding K/2 makes one frame too many; the last goes.
  if (s.pos_kernel % 2 == 0)
    y = g.Node("Slice", {y, g.ConstInt64({0}), g.ConstInt64({-1}), g.ConstInt64({2})});
  return Transpose(g, Activation(g, y, s.feat_act), {0, 2, 1});
}

// Data2VecAudioPositionalConvEmbedding: pos_conv_layers grouped convs, each trimmed like
// SamePad, then a LayerNorm without affine terms and feat_extract_activation.
std::string PositionalConvLayers(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x) {
  core::Tensor ones = core::Tensor::FromDoubles(core::DType::kFloat32, {s.hidden},
                                                std::vector<double>(s.hidden, 1.0));
  const std::string scale = g.Initializer("const_pos_conv_norm_scale", ones);
  std::string h = Transpose(g, x, {0, 2, 1});
  for (int64_t l = 0; l < s.pos_conv_layers; ++l) {
    const std::string prefix = fmt::format("encoder.pos_conv_embed.layers.{}.conv", l);
    const std::string kernel = g.Weight(
        prefix + ".weight", {s.hidden, s.hidden / s.pos_groups, s.pos_kernel}, WeightInit::kNormal);
    const std::string bias = g.Weight(prefix + ".bias", {s.hidden}, WeightInit::kZeros);
    h = g.Node("Conv", {h, kernel, bias},
               {{"kernel_shape", std::vector<int64_t>{s.pos_kernel}},
                {"pads", std::vector<int64_t>{s.pos_kernel / 2, s.pos_kernel / 2}},
                {"group", s.pos_groups}});
    if (s.pos_kernel % 2 == 0)
      h = g.Node("Slice", {h, g.ConstInt64({0}), g.ConstInt64({-1}), g.ConstInt64({2})});
    h = g.Node("LayerNormalization", {Transpose(g, h, {0, 2, 1}), scale},
               {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(kTorchNormEps)}});
    h = Activation(g, Transpose(g, h, {0, 2, 1}), s.feat_act);
  }
  return Transpose(g, h, {0, 2, 1});
}

// WavLM's position bias, ungated: rel_attn_embed of each (query, key) pair's bucket,
// [1, heads, frames, frames]; the first layer's table serves every layer.
std::string BucketedPositionBias(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x) {
  const std::string frames = g.Node("Shape", {x}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
  const std::string positions =
      g.Node("Range", {g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})}),
                       g.Node("Squeeze", {frames, g.ConstInt64({0})}),
                       g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})})});
  const std::string buckets =
      RelativePositionBuckets(g, positions, positions, /*bidirectional=*/true, s.position_buckets,
                              s.max_bucket_distance, "const_wavlm_buckets");
  const std::string table = g.Weight("encoder.layers.0.attention.rel_attn_embed.weight",
                                     {s.position_buckets, s.heads}, WeightInit::kNormal);
  const std::string values = g.Node("Gather", {table, buckets});  // [frames, frames, heads]
  return g.Node("Unsqueeze", {Transpose(g, values, {2, 0, 1}), g.ConstInt64({0})});
}

// WavLMAttention's gate on the position bias from the attention's input x, per frame and
// head: gate_a * (gate_b * gru_rel_pos_const - 1) + 2, with gate_a, gate_b the sigmoids of
// gru_rel_pos_linear's two halves (each the sum of 4 outputs). Returns gate * bias.
std::string GatedPositionBias(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                              const std::string& prefix, const std::string& position_bias) {
  const int64_t head_dim = s.hidden / s.heads;
  const std::string per_head =
      Transpose(g, g.Node("Reshape", {x, g.ConstInt64({0, 0, s.heads, head_dim})}), {0, 2, 1, 3});
  const std::string projected = g.Linear(per_head, prefix + "gru_rel_pos_linear", head_dim, 8);
  const std::string halves =
      g.Node("ReduceSum",
             {g.Node("Reshape", {projected, g.ConstInt64({0, 0, 0, 2, 4})}), g.ConstInt64({-1})},
             {{"keepdims", int64_t{0}}});  // [b, h, t, 2]
  const auto gates = g.NodeN("Split", {g.Node("Sigmoid", {halves})}, 2, {{"axis", int64_t{-1}}});
  const std::string constant =
      g.Weight(prefix + "gru_rel_pos_const", {1, s.heads, 1, 1}, WeightInit::kOnes);
  const std::string inner =
      g.Node("Sub", {g.Node("Mul", {gates[1], constant}), g.ConstFloat(1.0f)});
  const std::string gate = g.Node("Add", {g.Node("Mul", {gates[0], inner}), g.ConstFloat(2.0f)});
  return g.Node("Mul", {gate, position_bias});  // [b, h, t, 1] * [1, h, t, t]
}

// Wav2Vec2Attention (eager): scaled dot-product self-attention with an optional additive mask
// [batch, 1, 1, frames].
std::string SelfAttention(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                          const std::string& prefix, const std::string& additive_mask,
                          const std::string& position_bias) {
  const int64_t head_dim = s.hidden / s.heads;
  const std::string split = g.ConstInt64({0, 0, s.heads, head_dim});
  auto heads = [&](const char* proj, std::vector<int64_t> perm) {
    const std::string y = g.Linear(x, prefix + proj, s.hidden, s.hidden);
    return Transpose(g, g.Node("Reshape", {y, split}), std::move(perm));
  };
  const std::string q = heads("q_proj", {0, 2, 1, 3});  // [b, h, t, d]
  const std::string k = heads("k_proj", {0, 2, 3, 1});  // [b, h, d, t]
  const std::string v = heads("v_proj", {0, 2, 1, 3});
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  std::string scores = g.Node("Mul", {g.Node("MatMul", {q, k}), g.ConstFloat(scale)});
  if (!position_bias.empty())
    scores = g.Node("Add", {scores, GatedPositionBias(g, s, x, prefix, position_bias)});
  if (!additive_mask.empty()) scores = g.Node("Add", {scores, additive_mask});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  std::string ctx = Transpose(g, g.Node("MatMul", {probs, v}), {0, 2, 1, 3});
  ctx = g.Node("Reshape", {ctx, g.ConstInt64({0, 0, s.hidden})});
  return g.Linear(ctx, prefix + "out_proj", s.hidden, s.hidden);
}

// Wav2Vec2EncoderLayer (post-norm) or Wav2Vec2EncoderLayerStableLayerNorm (pre-norm, with the
// optional attention adapter).
std::string EncoderLayer(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                         int64_t index, const std::string& mask, const std::string& position_bias) {
  const std::string p = fmt::format("encoder.layers.{}.", index);
  if (!s.stable_layer_norm) {
    std::string h =
        g.Node("Add", {x, SelfAttention(g, s, x, p + "attention.", mask, position_bias)});
    h = g.LayerNorm(h, p + "layer_norm", s.hidden, s.eps);
    h = g.Node("Add", {h, Wav2Vec2FeedForward(g, s, h, p + "feed_forward.")});
    return g.LayerNorm(h, p + "final_layer_norm", s.hidden, s.eps);
  }
  const std::string normed = g.LayerNorm(x, p + "layer_norm", s.hidden, s.eps);
  std::string h =
      g.Node("Add", {x, SelfAttention(g, s, normed, p + "attention.", mask, position_bias)});
  const std::string ff_in = g.LayerNorm(h, p + "final_layer_norm", s.hidden, s.eps);
  h = g.Node("Add", {h, Wav2Vec2FeedForward(g, s, ff_in, p + "feed_forward.")});
  if (s.attn_adapter_dim > 0) {  // Wav2Vec2AttnAdapterLayer
    const std::string a = p + "adapter_layer.";
    std::string y = g.LayerNorm(h, a + "norm", s.hidden, kTorchNormEps);
    y = g.Node("Relu", {g.Linear(y, a + "linear_1", s.hidden, s.attn_adapter_dim)});
    h = g.Node("Add", {h, g.Linear(y, a + "linear_2", s.attn_adapter_dim, s.hidden)});
  }
  return h;
}

// Wav2Vec2Adapter: [batch, frames, hidden] -> [batch, adapter_frames, output_hidden_size].
std::string Adapter(GraphBuilder& g, const Wav2Vec2Shape& s, std::string h) {
  if (s.output_hidden != s.hidden) {
    h = g.Linear(h, "adapter.proj", s.hidden, s.output_hidden);
    h = g.LayerNorm(h, "adapter.proj_layer_norm", s.output_hidden, kTorchNormEps);
  }
  h = Transpose(g, h, {0, 2, 1});
  for (int64_t l = 0; l < s.adapter_layers; ++l) {
    h = Conv1d(g, h, fmt::format("adapter.layers.{}.conv", l), s.output_hidden, 2 * s.output_hidden,
               s.adapter_kernel, s.adapter_stride, true, 1);
    const auto halves = g.NodeN("Split", {h}, 2, {{"axis", int64_t{1}}});  // GLU over channels
    h = g.Node("Mul", {halves[0], g.Node("Sigmoid", {halves[1]})});
  }
  return Transpose(g, h, {0, 2, 1});
}

// Wav2Vec2Encoder / Wav2Vec2EncoderStableLayerNorm from the projected features.
std::string TransformerEncoder(GraphBuilder& g, const Wav2Vec2Shape& s, std::string h,
                               const std::string& mask) {
  h = g.Node("Add",
             {h, s.pos_conv_layers > 0 ? PositionalConvLayers(g, s, h) : PositionalConv(g, s, h)});
  if (!s.stable_layer_norm) h = g.LayerNorm(h, "encoder.layer_norm", s.hidden, s.eps);
  const std::string position_bias =
      s.gated_position_bias && s.layers > 0 ? BucketedPositionBias(g, s, h) : "";
  for (int64_t l = 0; l < s.layers; ++l) h = EncoderLayer(g, s, h, l, mask, position_bias);
  if (s.stable_layer_norm) h = g.LayerNorm(h, "encoder.layer_norm", s.hidden, s.eps);
  return h;
}

// Wav2Vec2ConformerEncoder: no positional conv in the sum (its weights exist and count), relative
// positions, conformer layers, then the LayerNorm.
std::string ConformerEncoder(GraphBuilder& g, const Wav2Vec2Shape& s, std::string h,
                             const std::string& mask) {
  const std::string prefix = "encoder.pos_conv_embed.conv";
  PositionalKernelWeights(g, s, prefix);
  g.Weight(prefix + ".bias", {s.hidden}, WeightInit::kZeros);
  const std::string positions = ConformerRelativePositions(g, s, h);
  for (int64_t l = 0; l < s.layers; ++l) h = ConformerLayer(g, s, h, l, mask, positions);
  return g.LayerNorm(h, "encoder.layer_norm", s.hidden, s.eps);
}

}  // namespace

const std::vector<Wav2Vec2Variant>& Wav2Vec2Variants() {
  static const std::vector<Wav2Vec2Variant> variants = MakeVariants();
  return variants;
}

const Wav2Vec2Variant& FindWav2Vec2Variant(const std::string& model_type) {
  for (const auto& v : Wav2Vec2Variants())
    if (v.model_type == model_type) return v;
  throw Error(
      ErrorKind::kInternal,
      fmt::format("no wav2vec2 variant '{}' (a registration names an unknown type)", model_type));
}

Wav2Vec2Shape ReadWav2Vec2Shape(const HfConfig& c, const Wav2Vec2Variant& v) {
  // Defaults are Wav2Vec2Config's and HubertConfig's __init__ defaults (transformers 5.x); the
  // two agree on every key both have.
  const std::string& origin = c.origin();
  Wav2Vec2Shape s;
  s.conv_dim = Wav2Vec2IntList(c, "conv_dim", {512, 512, 512, 512, 512, 512, 512});
  s.conv_stride = Wav2Vec2IntList(c, "conv_stride", {5, 2, 2, 2, 2, 2, 2});
  s.conv_kernel = Wav2Vec2IntList(c, "conv_kernel", {10, 3, 3, 3, 3, 2, 2});
  if (s.conv_stride.size() != s.conv_dim.size() || s.conv_kernel.size() != s.conv_dim.size())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': conv_dim, conv_stride and conv_kernel must be equally long "
                            "(they are {}, {} and {} long)",
                            origin, s.conv_dim.size(), s.conv_stride.size(), s.conv_kernel.size()));
  s.conv_bias = c.Bool("conv_bias", false);
  // Piece conv_norm "layer": the convs always have LayerNorms (Data2VecAudio has no
  // feat_extract_norm key); otherwise feat_extract_norm says.
  const std::string norm = PieceChoice(c, "conv_norm", "wav2vec2", {"feat_extract_norm", "layer"})
                               ? "layer"
                               : c.String("feat_extract_norm", "group");
  if (norm != "group" && norm != "layer")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': feat_extract_norm is '{}'; it must be 'group' or 'layer'",
                            origin, norm));
  s.layer_norm_convs = norm == "layer";
  s.feat_act = c.String("feat_extract_activation", "gelu");
  s.hidden_act = c.String("hidden_act", "gelu");
  s.projection_norm = v.projection_norm_optional ? c.Bool("feat_proj_layer_norm", true) : true;
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = c.Int("intermediate_size", 3072);
  if (PieceChoice(c, "positional_conv", "wav2vec2", {"weight_norm", "layers"}) == 1) {
    s.pos_conv_layers = c.Int("num_conv_pos_embeddings", 5);
    s.pos_kernel = c.Int("conv_pos_kernel_size", 19);
  } else {
    s.pos_kernel = c.Int("num_conv_pos_embeddings", 128);
  }
  const int64_t layout = PieceChoice(c, "layout", "wav2vec2", {"wav2vec2", "sew", "sew_d"});
  s.sew = layout >= 1;
  s.sew_d = layout == 2;
  if (s.sew) {
    s.squeeze_factor = c.Int("squeeze_factor", 2);
    if (s.squeeze_factor <= 0 || s.hidden % s.squeeze_factor != 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': squeeze_factor {} must be positive and divide hidden_size {}",
                              origin, s.squeeze_factor, s.hidden));
    if (s.layer_norm_convs)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': SEW with feat_extract_norm 'layer' is not supported (its "
                              "padding mask over squeezed frames is not built)",
                              origin));
  }
  s.conformer = PieceChoice(c, "layer", "wav2vec2", {"transformer", "conformer"}) == 1;
  if (s.conformer) {
    s.depthwise_kernel = c.Int("conv_depthwise_kernel_size", 31);
    if (s.depthwise_kernel % 2 == 0 || s.hidden % 2 != 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': conv_depthwise_kernel_size {} must be odd and hidden_size {} "
                              "even (HF's conformer needs both)",
                              origin, s.depthwise_kernel, s.hidden));
  }
  s.gated_position_bias =
      PieceChoice(c, "relative_position_bias", "wav2vec2", {"none", "gated"}) == 1;
  if (s.gated_position_bias) {
    s.position_buckets = c.Int("num_buckets", 320);
    s.max_bucket_distance = c.Int("max_bucket_distance", 800);
    if (s.position_buckets < 4 || s.max_bucket_distance <= s.position_buckets / 2)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': num_buckets {} with max_bucket_distance {} is not supported "
                              "(needs at least 4 buckets and a max distance above half of them)",
                              origin, s.position_buckets, s.max_bucket_distance));
  }
  s.pos_groups = c.Int("num_conv_pos_embedding_groups", 16);
  s.eps = c.Double("layer_norm_eps", 1e-5);
  s.feature_eps = s.sew_d ? c.Double("feature_layer_norm_eps", 1e-5) : s.eps;
  if (s.sew_d) s.deberta = ReadDebertaShape(c, false);
  s.stable_layer_norm = c.Bool("do_stable_layer_norm", false);
  s.masked_spec_embed =
      c.Double("mask_time_prob", 0.05) > 0.0 || c.Double("mask_feature_prob", 0.0) > 0.0;
  // Piece adapter false: the model class has no adapter whatever add_adapter says (UniSpeech).
  s.adapter =
      v.has_adapter && c.PieceBool("adapter", true) && !s.sew && c.Bool("add_adapter", false);
  s.output_hidden = c.Int("output_hidden_size", s.hidden);
  s.adapter_kernel = c.Int("adapter_kernel_size", 3);
  s.adapter_stride = c.Int("adapter_stride", 2);
  s.adapter_layers = c.Int("num_adapter_layers", 3);
  // Only the pre-norm layer has the attention adapter (HF reads it with getattr, so a HuBERT
  // config that names it gets it too).
  s.attn_adapter_dim = s.stable_layer_norm ? c.Int("adapter_attn_dim", 0) : 0;

  RequirePositive(c, {{"hidden_size", s.hidden},
                      {"num_hidden_layers", s.layers},
                      {"num_attention_heads", s.heads},
                      {"intermediate_size", s.intermediate},
                      {"num_conv_pos_embeddings", s.pos_kernel},
                      {"num_conv_pos_embedding_groups", s.pos_groups},
                      {"output_hidden_size", s.output_hidden},
                      {"adapter_kernel_size", s.adapter_kernel},
                      {"adapter_stride", s.adapter_stride}});
  if (s.adapter_layers < 0 || s.attn_adapter_dim < 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': num_adapter_layers ({}) and adapter_attn_dim ({}) must not be "
                            "negative",
                            origin, s.adapter_layers, s.attn_adapter_dim));
  if (s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            origin, s.hidden, s.heads));
  if (s.hidden % s.pos_groups != 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': hidden_size {} is not a multiple of "
                                                 "num_conv_pos_embedding_groups {}",
                                                 origin, s.hidden, s.pos_groups));
  if (v.model_type == "hubert" && c.Bool("conv_pos_batch_norm", false))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': conv_pos_batch_norm=true is not supported (its BatchNorm "
                            "running statistics are buffers, which this build cannot read "
                            "without counting them as parameters); use a HuBERT checkpoint with "
                            "the weight-normed positional conv",
                            origin));
  return s;
}

std::string Wav2Vec2PositionalKernel(GraphBuilder& g, const Wav2Vec2Shape& s,
                                     const std::string& prefix) {
  return WeightNormedPositionalKernel(g, s, prefix);
}

std::string Wav2Vec2EncoderLayer(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                                 int64_t index, const std::string& mask) {
  return EncoderLayer(g, s, x, index, mask, "");
}

std::string Wav2Vec2FeedForward(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                                const std::string& prefix) {
  const std::string h = Activation(
      g, g.Linear(x, prefix + "intermediate_dense", s.hidden, s.intermediate), s.hidden_act);
  return g.Linear(h, prefix + "output_dense", s.intermediate, s.hidden);
}

int64_t Wav2Vec2Frames(const Wav2Vec2Shape& s, int64_t samples) {
  int64_t length = samples;
  for (size_t i = 0; i < s.conv_kernel.size(); ++i) {
    if (length < s.conv_kernel[i]) return 0;
    length = (length - s.conv_kernel[i]) / s.conv_stride[i] + 1;
  }
  return length;
}

int64_t Wav2Vec2MinSamples(const Wav2Vec2Shape& s) {
  int64_t needed = 1;  // frames out of the last layer
  for (size_t i = s.conv_kernel.size(); i-- > 0;)
    needed = (needed - 1) * s.conv_stride[i] + s.conv_kernel[i];
  return needed;
}

void BuildWav2Vec2(const HfConfig& config, const Wav2Vec2Variant& v, GraphBuilder& g) {
  const Wav2Vec2Shape s = ReadWav2Vec2Shape(config, v);
  const Dim batch = std::string("batch"), samples = std::string("samples"),
            frames = std::string("frames");
  g.Input("input_values", onnx::TensorProto::FLOAT, {batch, samples});
  if (s.layer_norm_convs) g.Input("attention_mask", onnx::TensorProto::INT64, {batch, samples});

  const std::string features = FeatureEncoder(g, s);
  const int64_t feature_dim = s.conv_dim.back();
  std::string normed = features;
  std::string h;
  if (s.sew) {
    h = SewFeatureProjection(g, s, features);
  } else {
    if (s.projection_norm)
      normed = g.LayerNorm(features, "feature_projection.layer_norm", feature_dim, s.eps);
    h = g.Linear(normed, "feature_projection.projection", feature_dim, s.hidden);
  }

  if (s.masked_spec_embed) {
    // Counted as HF counts it; a checkpoint without it is what HF would initialise randomly.
    try {
      g.Weight("masked_spec_embed", {s.hidden}, WeightInit::kNormal);
    } catch (const Error&) {
    }
  }

  std::string additive_mask;
  if (s.layer_norm_convs) {
    const std::string frame_mask = FrameMask(g, s, h);  // [b, frames] float
    h = g.Node("Mul", {h, g.Node("Unsqueeze", {frame_mask, g.ConstInt64({2})})});  // pads -> 0
    const std::string inverted = g.Node("Sub", {g.ConstFloat(1.0f), frame_mask});
    additive_mask = g.Node(
        "Unsqueeze", {g.Node("Mul", {inverted, g.ConstFloat(std::numeric_limits<float>::lowest())}),
                      g.ConstInt64({1, 2})});
  }

  if (s.conformer)
    h = ConformerEncoder(g, s, h, additive_mask);
  else if (s.sew)
    h = SewEncoder(g, s, h, additive_mask);
  else
    h = TransformerEncoder(g, s, h, additive_mask);
  if (s.adapter) h = Adapter(g, s, h);

  g.Node("Identity", {h}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, s.adapter ? Dim(std::string("adapter_frames")) : frames,
            s.adapter ? s.output_hidden : s.hidden});
  if (v.extract_features_output && !s.sew) {
    g.Node("Identity", {normed}, {}, "extract_features");
    g.Output("extract_features", onnx::TensorProto::FLOAT, {batch, frames, feature_dim});
  }
}

}  // namespace ipfs_accel::models
