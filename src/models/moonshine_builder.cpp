#include "moonshine_builder.h"

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "rotary.h"
#include "seq2seq_attention.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct MoonshineShape {
  int64_t vocab = 0, hidden = 0, intermediate = 0, max_positions = 0;
  int64_t encoder_layers = 0, decoder_layers = 0, encoder_heads = 0, decoder_heads = 0;
  bool attention_bias = false;
  std::string encoder_act, decoder_act;
  RopeSpec encoder_rope, decoder_rope;
};

int64_t Heads(const HfConfig& c, const std::string& stack, int64_t hidden) {
  const int64_t heads = c.Int(stack + "_num_attention_heads", 8);
  const std::string kv_key = stack + "_num_key_value_heads";
  if (!c.json().value(kv_key, nlohmann::json()).is_null() && c.Int(kv_key, heads) != heads)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': {} {} differs from {} heads: grouped key/value heads are not "
                            "built for moonshine",
                            c.origin(), kv_key, c.Int(kv_key, heads), heads));
  if (heads <= 0 || hidden % heads != 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': hidden_size {} is not a multiple of {} {}",
                                                 c.origin(), hidden, stack, heads));
  return heads;
}

MoonshineShape ReadMoonshineShape(const HfConfig& c) {
  MoonshineShape s;
  s.vocab = c.Int("vocab_size", 32768);
  s.hidden = c.Int("hidden_size", 288);
  s.intermediate = c.Int("intermediate_size", 1152);
  s.max_positions = c.Int("max_position_embeddings", 512);
  s.encoder_layers = c.Int("encoder_num_hidden_layers", 6);
  s.decoder_layers = c.Int("decoder_num_hidden_layers", 6);
  s.encoder_heads = Heads(c, "encoder", s.hidden);
  s.decoder_heads = Heads(c, "decoder", s.hidden);
  if (!c.json().value("pad_head_dim_to_multiple_of", nlohmann::json()).is_null())
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("'{}': pad_head_dim_to_multiple_of is not built for moonshine", c.origin()));
  s.attention_bias = c.Bool("attention_bias", false);
  s.encoder_act = c.String("encoder_hidden_act", "gelu");
  s.decoder_act = c.String("decoder_hidden_act", "silu");
  RopeKeys keys;
  keys.default_partial_rotary_factor = 0.9;
  for (auto [rope, heads] :
       {std::pair{&s.encoder_rope, s.encoder_heads}, std::pair{&s.decoder_rope, s.decoder_heads}}) {
    *rope = ReadRope(c, s.hidden / heads, s.max_positions, keys);
    rope->interleaved = true;  // GLM's rotate-every-two
  }
  return s;
}

// nn.LayerNorm(hidden, bias=False).
std::string Norm(GraphBuilder& g, const MoonshineShape& s, const std::string& x,
                 const std::string& prefix) {
  return g.Node("LayerNormalization",
                {x, g.Weight(prefix + ".weight", {s.hidden}, WeightInit::kOnes)},
                {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(kTorchNormEps)}});
}

// Conv1d `name` over [batch, in, T] (bias unless `bias` is false).
std::string MoonshineConv(GraphBuilder& g, const std::string& x, const std::string& name,
                          int64_t in, int64_t out, int64_t kernel, int64_t stride,
                          bool bias = true) {
  std::vector<std::string> inputs = {
      x, g.Weight(name + ".weight", {out, in, kernel}, WeightInit::kNormal)};
  if (bias) inputs.push_back(g.Weight(name + ".bias", {out}, WeightInit::kZeros));
  return g.Node(
      "Conv", inputs,
      {{"kernel_shape", std::vector<int64_t>{kernel}}, {"strides", std::vector<int64_t>{stride}}});
}

// nn.GroupNorm(1, C) over [batch, C, T]: one mean and variance per sample, then per channel.
std::string OneGroupNorm(GraphBuilder& g, const MoonshineShape& s, const std::string& x,
                         const std::string& prefix) {
  const std::vector<Attr> over = {{"axes", std::vector<int64_t>{1, 2}}, {"keepdims", int64_t{1}}};
  const std::string centred = g.Node("Sub", {x, g.Node("ReduceMean", {x}, over)});
  const std::string var = g.Node("ReduceMean", {g.Node("Mul", {centred, centred})}, over);
  const std::string normed =
      g.Node("Div", {centred, g.Node("Sqrt", {g.Node("Add", {var, g.ConstFloat(kTorchNormEps)})})});
  auto per_channel = [&](const char* name, WeightInit init) {
    return g.Node("Reshape",
                  {g.Weight(prefix + "." + name, {s.hidden}, init), g.ConstInt64({s.hidden, 1})});
  };
  return g.Node("Add", {g.Node("Mul", {normed, per_channel("weight", WeightInit::kOnes)}),
                        per_channel("bias", WeightInit::kZeros)});
}

// input_values [batch, samples] -> frames [batch, frames, hidden].
std::string ConvFrontEnd(GraphBuilder& g, const MoonshineShape& s, const std::string& samples) {
  const int64_t h = s.hidden;
  std::string x = g.Node("Unsqueeze", {samples, g.ConstInt64({1})});
  x = g.Node("Tanh", {MoonshineConv(g, x, "encoder.conv1", 1, h, 127, 64, /*bias=*/false)});
  x = OneGroupNorm(g, s, x, "encoder.groupnorm");
  x = Activation(g, MoonshineConv(g, x, "encoder.conv2", h, 2 * h, 7, 3), "gelu");
  x = Activation(g, MoonshineConv(g, x, "encoder.conv3", 2 * h, h, 3, 2), "gelu");
  return g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// MoonshineAttention `prefix`: queries from x, keys and values from `kv`, rotated by `rope`
// where given (self-attention), keys masked by `bias` ("" none).
std::string Attention(GraphBuilder& g, const MoonshineShape& s, int64_t heads, const std::string& x,
                      const std::string& kv, const std::string& prefix, const RopeSpec* rope,
                      const RopeTables& tables, const std::string& bias) {
  const int64_t head_dim = s.hidden / heads;
  auto project = [&](const std::string& in, const char* name) {
    return SplitHeads(g, g.Linear(in, prefix + "." + name, s.hidden, s.hidden, s.attention_bias),
                      heads, head_dim);
  };
  std::string q = project(x, "q_proj"), k = project(kv, "k_proj");
  if (rope != nullptr) {
    q = ApplyRope(g, q, tables, rope->rotary_dim, head_dim);
    k = ApplyRope(g, k, tables, rope->rotary_dim, head_dim);
  }
  const auto scale = static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5));
  const std::string ctx = Attend(g, q, k, project(kv, "v_proj"), scale, bias);
  return g.Linear(MergeHeads(g, ctx, s.hidden), prefix + ".o_proj", s.hidden, s.hidden, false);
}

// cos and sin of positions 0..length-1 of `x`'s axis 1.
RopeTables Rope(GraphBuilder& g, const RopeSpec& spec, const std::string& x,
                const std::string& name) {
  const std::string positions = g.Node(
      "Unsqueeze", {PositionRange(g, g.ConstInt64({0}), AxisLength(g, x, 1)), g.ConstInt64({0})});
  return RopeCosSin(g, spec, positions, name);
}

std::string Encoder(GraphBuilder& g, const MoonshineShape& s, const std::string& samples) {
  std::string h = ConvFrontEnd(g, s, samples);
  const RopeTables tables = Rope(g, s.encoder_rope, h, "encoder.rope.inv_freq");
  for (int64_t i = 0; i < s.encoder_layers; ++i) {
    const std::string layer = fmt::format("encoder.layers.{}", i);
    const std::string x = Norm(g, s, h, layer + ".input_layernorm");
    h = g.Node("Add", {h, Attention(g, s, s.encoder_heads, x, x, layer + ".self_attn",
                                    &s.encoder_rope, tables, "")});
    const std::string y = Norm(g, s, h, layer + ".post_attention_layernorm");
    const std::string mid =
        Activation(g, g.Linear(y, layer + ".mlp.fc1", s.hidden, s.intermediate), s.encoder_act);
    h = g.Node("Add", {h, g.Linear(mid, layer + ".mlp.fc2", s.intermediate, s.hidden)});
  }
  return Norm(g, s, h, "encoder.layer_norm");
}

// MoonshineDecoderMLP: fc1 to [value | gate], act(gate) * value, fc2.
std::string GatedMlp(GraphBuilder& g, const MoonshineShape& s, const std::string& x,
                     const std::string& prefix) {
  const auto halves = g.NodeN("Split",
                              {g.Linear(x, prefix + ".fc1", s.hidden, 2 * s.intermediate),
                               g.ConstInt64({s.intermediate, s.intermediate})},
                              2, {{"axis", int64_t{-1}}});
  const std::string mid = g.Node("Mul", {Activation(g, halves[1], s.decoder_act), halves[0]});
  return g.Linear(mid, prefix + ".fc2", s.intermediate, s.hidden);
}

std::string Decoder(GraphBuilder& g, const MoonshineShape& s, const std::string& ids,
                    const std::string& encoder_hidden) {
  const std::string embedding =
      g.Weight("decoder.embed_tokens.weight", {s.vocab, s.hidden}, WeightInit::kNormal);
  std::string h = g.Node("Gather", {embedding, ids});
  const RopeTables tables = Rope(g, s.decoder_rope, ids, "decoder.rope.inv_freq");
  const std::string positions = PositionRange(g, g.ConstInt64({0}), AxisLength(g, ids, 1));
  const std::string causal = CausalMaskBias(g, positions, positions);
  for (int64_t i = 0; i < s.decoder_layers; ++i) {
    const std::string layer = fmt::format("decoder.layers.{}", i);
    const std::string x = Norm(g, s, h, layer + ".input_layernorm");
    h = g.Node("Add", {h, Attention(g, s, s.decoder_heads, x, x, layer + ".self_attn",
                                    &s.decoder_rope, tables, causal)});
    const std::string y = Norm(g, s, h, layer + ".post_attention_layernorm");
    h = g.Node("Add", {h, Attention(g, s, s.decoder_heads, y, encoder_hidden,
                                    layer + ".encoder_attn", nullptr, {}, "")});
    h = g.Node("Add",
               {h, GatedMlp(g, s, Norm(g, s, h, layer + ".final_layernorm"), layer + ".mlp")});
  }
  return Norm(g, s, h, "decoder.norm");
}

}  // namespace

int64_t MoonshineMinSamples() {
  // conv3 (k3 s2) needs 3 frames of conv2 (k7 s3), which needs 13 of conv1 (k127 s64).
  return (13 - 1) * 64 + 127;
}

void BuildMoonshine(const HfConfig& config, GraphBuilder& g) {
  const MoonshineShape s = ReadMoonshineShape(config);
  const std::string batch = "batch", decoder_sequence = "decoder_sequence";
  g.Input("input_values", onnx::TensorProto::FLOAT, {batch, std::string("samples")});
  g.Input("decoder_input_ids", onnx::TensorProto::INT64, {batch, decoder_sequence});
  const std::string encoder_hidden = Encoder(g, s, "input_values");
  g.Node("Identity", {Decoder(g, s, "decoder_input_ids", encoder_hidden)}, {}, "last_hidden_state");
  g.Node("Identity", {encoder_hidden}, {}, "encoder_last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, decoder_sequence, s.hidden});
  g.Output("encoder_last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, std::string("frames"), s.hidden});
}

}  // namespace ipfs_accel::models
