#include "aimv2_builder.h"

#include <fmt/format.h>

#include "activation.h"
#include "clip_builder.h"
#include "ipfs_accel/core/error.h"
#include "t5_builder.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct Aimv2Shape {
  int64_t hidden, intermediate, layers, heads, channels, image, patch;
  double eps;
  std::string act;
  bool qkv_bias, mlp_bias, head;
  int64_t vocab = 0, max_positions = 0, eos_token_id = 0;  // the text tower's
};

Aimv2Shape ReadAimv2Shape(const HfConfig& c) {
  Aimv2Shape s{};
  s.hidden = c.Int("hidden_size", 1024);
  s.intermediate = c.Int("intermediate_size", 2816);
  s.layers = c.Int("num_hidden_layers", 24);
  s.heads = c.Int("num_attention_heads", 8);
  s.channels = c.Int("num_channels", 3);
  s.image = c.Int("image_size", 224);
  s.patch = c.Int("patch_size", 14);
  s.eps = c.Double("rms_norm_eps", 1e-5);
  s.act = c.String("hidden_act", "silu");
  s.qkv_bias = c.Bool("qkv_bias", false);
  s.mlp_bias = c.Bool("mlp_bias", false);
  s.head = c.Bool("use_head", true);
  if (c.Bool("is_native", false))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': is_native (2-D sin-cos positions for any image size) is not "
                            "built; only the learned position table",
                            c.origin()));
  CheckPatchTowerSizes(c, s.hidden, s.heads, s.image, s.patch,
                       {s.intermediate, s.layers, s.channels});
  return s;
}

// Aimv2EncoderLayer: x + out_proj(attn(rms_norm1(x))), then h + down(act(gate(n)) * up(n)).
// `mask`: an additive attention mask (ClipAdditiveMask) or "".
std::string Layer(GraphBuilder& g, const Aimv2Shape& s, int64_t l, const std::string& x,
                  const std::string& mask) {
  const std::string p = fmt::format("encoder.layers.{}.", l);
  const std::string n = T5LayerNorm(g, x, p + "rms_norm1", s.hidden, s.eps);
  auto project = [&](const char* name) {
    return g.Linear(n, p + "attention." + name, s.hidden, s.hidden, s.qkv_bias);
  };
  const std::string ctx =
      ScaledDotProductAttention(g, project("q_proj"), project("k_proj"), project("v_proj"), s.heads,
                                s.hidden / s.heads, mask);
  const std::string h =
      g.Node("Add", {x, g.Linear(ctx, p + "attention.out_proj", s.hidden, s.hidden, s.qkv_bias)});
  const std::string m = T5LayerNorm(g, h, p + "rms_norm2", s.hidden, s.eps);
  const std::string gate =
      Activation(g, g.Linear(m, p + "ffn.gate_proj", s.hidden, s.intermediate, s.mlp_bias), s.act);
  const std::string up = g.Linear(m, p + "ffn.up_proj", s.hidden, s.intermediate, s.mlp_bias);
  return g.Node("Add", {h, g.Linear(g.Node("Mul", {gate, up}), p + "ffn.down_proj", s.intermediate,
                                    s.hidden, s.mlp_bias)});
}

// Aimv2AttentionPoolingHead: the cls_token query attends to k_proj/v_proj of every token (SDPA's
// default head_dim^-0.5 scale); the mean over its one query, then output_proj (with bias).
std::string PoolingHead(GraphBuilder& g, const Aimv2Shape& s, const std::string& x) {
  const std::string query = RepeatOverBatch(
      g, g.Weight("head.cls_token", {1, 1, s.hidden}, WeightInit::kNormal), x, s.hidden);
  const std::string k = g.Linear(x, "head.k_proj", s.hidden, s.hidden, s.qkv_bias);
  const std::string v = g.Linear(x, "head.v_proj", s.hidden, s.hidden, s.qkv_bias);
  const std::string ctx =
      ScaledDotProductAttention(g, query, k, v, s.heads, s.hidden / s.heads, "");
  return g.Linear(TokenAt(g, ctx, 0), "head.output_proj", s.hidden, s.hidden);
}

// Aimv2TextConfig's sizes (its defaults: hidden 768, 6 heads, ffn 2048, 77 positions).
Aimv2Shape ReadTextShape(const HfConfig& c) {
  Aimv2Shape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.intermediate = c.Int("intermediate_size", 2048);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 6);
  s.vocab = c.Int("vocab_size", 49408);
  s.max_positions = c.Int("max_position_embeddings", 77);
  s.eos_token_id = c.Id("eos_token_id", 49407);
  s.eps = c.Double("rms_norm_eps", 1e-5);
  s.act = c.String("hidden_act", "silu");
  s.qkv_bias = c.Bool("qkv_bias", false);
  s.mlp_bias = c.Bool("mlp_bias", false);
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.intermediate <= 0 || s.layers <= 0 ||
      s.vocab <= 0 || s.max_positions <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': sizes must be positive and hidden_size ({}) a multiple of "
                            "num_attention_heads ({})",
                            c.origin(), s.hidden, s.heads));
  return s;
}

}  // namespace

int64_t Aimv2TextVocab(const HfConfig& config) { return ReadTextShape(config).vocab; }
int64_t Aimv2TextMaxPositions(const HfConfig& config) {
  return ReadTextShape(config).max_positions;
}

void BuildAimv2Text(const HfConfig& config, GraphBuilder& g) {
  const Aimv2Shape s = ReadTextShape(config);
  const std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  const std::string seq_len =
      g.Node("Slice", {g.Node("Shape", {"input_ids"}), g.ConstInt64({1}), g.ConstInt64({2})});
  std::string x =
      g.Node("Add", {g.Node("Gather", {g.Weight("embeddings.token_embedding.weight",
                                                {s.vocab, s.hidden}, WeightInit::kNormal),
                                       "input_ids"}),
                     g.Node("Slice", {g.Weight("embeddings.position_embedding.weight",
                                               {s.max_positions, s.hidden}, WeightInit::kNormal),
                                      g.ConstInt64({0}), seq_len, g.ConstInt64({0})})});
  // With an attention_mask HF builds a causal mask (create_causal_mask) over the padding.
  const std::string mask = ClipAdditiveMask(g, "input_ids", "attention_mask", /*causal=*/true);
  for (int64_t l = 0; l < s.layers; ++l) x = Layer(g, s, l, x, mask);
  x = T5LayerNorm(g, x, "rms_norm", s.hidden, s.eps);
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {tokens[0], tokens[1], s.hidden});
  const std::string ids32 =
      g.Node("Cast", {"input_ids"}, {{"to", int64_t{onnx::TensorProto::INT32}}});
  g.Node("GatherND", {x, FirstPositionOf(g, ids32, s.eos_token_id)}, {{"batch_dims", int64_t{1}}},
         "pooler_output");
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {tokens[0], s.hidden});
}

void BuildAimv2Vision(const HfConfig& config, GraphBuilder& g) {
  const Aimv2Shape s = ReadAimv2Shape(config);
  const Dim batch = std::string("batch");
  const int64_t patches = (s.image / s.patch) * (s.image / s.patch);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image, s.image});
  std::string x = PatchEmbeddings(g, "pixel_values", "embeddings.patch_embed", s.channels, s.hidden,
                                  s.patch, s.patch, /*bias=*/true);
  x = T5LayerNorm(g, x, "embeddings.rms_norm", s.hidden, s.eps);
  x = g.Node("Add", {x, g.Weight("embeddings.position_embedding.weight", {patches, s.hidden},
                                 WeightInit::kNormal)});
  for (int64_t l = 0; l < s.layers; ++l) x = Layer(g, s, l, x, "");
  x = T5LayerNorm(g, x, "rms_norm", s.hidden, s.eps);
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, patches, s.hidden});
  if (!s.head) return;
  g.Node("Identity", {PoolingHead(g, s, x)}, {}, "pooler_output");
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {batch, s.hidden});
}

}  // namespace ipfs_accel::models
