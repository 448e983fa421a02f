#include "nystromformer_builder.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "bert_like_encoder.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct NystromShape {
  int64_t vocab, hidden, layers, heads, head_dim, intermediate, max_positions, type_vocab;
  int64_t landmarks, segment, conv_kernel;  // conv_kernel 0: none
  double eps;
  std::string act;
  bool nystrom() const { return landmarks != segment; }
};

NystromShape ReadNystromShape(const HfConfig& c) {
  NystromShape s{};
  s.vocab = c.Int("vocab_size", 30000);
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = c.Int("intermediate_size", 3072);
  s.max_positions = c.Int("max_position_embeddings", 510);
  s.type_vocab = c.Int("type_vocab_size", 2);
  s.landmarks = c.Int("num_landmarks", 64);
  s.segment = c.Int("segment_means_seq_len", 64);
  s.conv_kernel = c.Has("conv_kernel_size") ? c.Int("conv_kernel_size") : 0;
  s.eps = c.Double("layer_norm_eps", 1e-5);
  s.act = c.String("hidden_act", "gelu_new");
  if (c.Bool("inv_coeff_init_option", false))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': inv_coeff_init_option is not supported (HF's code then reads "
                            "config['inv_init_coeff_option'])",
                            c.origin()));
  RequirePositive(c, {{"vocab_size", s.vocab},
                      {"hidden_size", s.hidden},
                      {"num_hidden_layers", s.layers},
                      {"intermediate_size", s.intermediate},
                      {"max_position_embeddings", s.max_positions},
                      {"type_vocab_size", s.type_vocab},
                      {"num_landmarks", s.landmarks},
                      {"segment_means_seq_len", s.segment}});
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.segment % s.landmarks != 0 ||
      (s.conv_kernel > 0 && s.conv_kernel % 2 == 0) || (s.nystrom() && s.segment > s.max_positions))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} must split into {} heads, num_landmarks {} "
                            "divide segment_means_seq_len {} (at most max_position_embeddings "
                            "{}), and conv_kernel_size {} be odd",
                            c.origin(), s.hidden, s.heads, s.landmarks, s.segment, s.max_positions,
                            s.conv_kernel));
  s.head_dim = s.hidden / s.heads;
  return s;
}

std::string Softmax(GraphBuilder& g, const std::string& x) {
  return g.Node("Softmax", {x}, {{"axis", int64_t{-1}}});
}

// HF's iterative_inv ("original"): V = K^T / max(column sums of K over the batch), then six
// V = 0.25 V (13 I - KV (15 I - KV (7 I - KV))).
std::string IterativeInverse(GraphBuilder& g, const NystromShape& s, const std::string& k) {
  const std::string column_sums =
      g.Node("ReduceSum", {k, g.ConstInt64({-2})}, {{"keepdims", int64_t{0}}});
  const std::string largest = g.Node("ReduceMax", {column_sums}, {{"keepdims", int64_t{0}}});
  std::string v = g.Node("Div", {Transpose(g, k, {0, 1, 3, 2}), largest});
  std::vector<int64_t> eye(static_cast<size_t>(s.landmarks * s.landmarks), 0);
  for (int64_t i = 0; i < s.landmarks; ++i) eye[static_cast<size_t>(i * (s.landmarks + 1))] = 1;
  const std::string identity = g.Node(
      "Reshape", {g.Node("Cast", {g.ConstInt64(eye)}, {{"to", int64_t{onnx::TensorProto::FLOAT}}}),
                  g.ConstInt64({s.landmarks, s.landmarks})});
  auto scaled_eye = [&](float f) { return g.Node("Mul", {identity, g.ConstFloat(f)}); };
  for (int i = 0; i < 6; ++i) {
    const std::string kv = g.Node("MatMul", {k, v});
    const std::string inner = g.Node("Sub", {scaled_eye(7.0f), kv});
    const std::string middle = g.Node("Sub", {scaled_eye(15.0f), g.Node("MatMul", {kv, inner})});
    const std::string outer = g.Node("Sub", {scaled_eye(13.0f), g.Node("MatMul", {kv, middle})});
    v = g.Node("MatMul", {g.Node("Mul", {v, g.ConstFloat(0.25f)}), outer});
  }
  return v;
}

// [b, h, S, d] -> segment means [b, h, landmarks, d] over the fixed segment length.
std::string Landmarks(GraphBuilder& g, const NystromShape& s, const std::string& x) {
  const std::string split = g.Node(
      "Reshape", {x, g.ConstInt64({0, s.heads, s.landmarks, s.segment / s.landmarks, s.head_dim})});
  return g.Node("ReduceMean", {split},
                {{"axes", std::vector<int64_t>{3}}, {"keepdims", int64_t{0}}});
}

// NystromformerSelfAttention: the context [b, S, hidden] before attention.output.
std::string SelfAttention(GraphBuilder& g, const NystromShape& s, const std::string& x,
                          const std::string& mask) {
  WeightScope scope(g, "attention.self.");
  auto heads = [&](const char* name) {
    const std::string y = g.Linear(x, name, s.hidden, s.hidden);
    return Transpose(g, g.Node("Reshape", {y, g.ConstInt64({0, 0, s.heads, s.head_dim})}),
                     {0, 2, 1, 3});
  };
  const std::string quarter =
      g.ConstFloat(1.0f / std::sqrt(std::sqrt(static_cast<float>(s.head_dim))));
  const std::string q = g.Node("Mul", {heads("query"), quarter});
  const std::string k = g.Node("Mul", {heads("key"), quarter});
  const std::string v = heads("value");
  auto t = [&](const std::string& m) { return Transpose(g, m, {0, 1, 3, 2}); };
  std::string ctx;
  if (!s.nystrom()) {
    ctx = g.Node("MatMul", {Softmax(g, g.Node("Add", {g.Node("MatMul", {q, t(k)}), mask})), v});
  } else {
    const std::string q_l = Landmarks(g, s, q), k_l = Landmarks(g, s, k);
    const std::string kernel_1 = Softmax(g, g.Node("MatMul", {q, t(k_l)}));
    const std::string kernel_2 = Softmax(g, g.Node("MatMul", {q_l, t(k_l)}));
    const std::string kernel_3 = Softmax(g, g.Node("Add", {g.Node("MatMul", {q_l, t(k)}), mask}));
    const std::string probs = g.Node("MatMul", {kernel_1, IterativeInverse(g, s, kernel_2)});
    ctx = g.Node("MatMul", {probs, g.Node("MatMul", {kernel_3, v})});
  }
  if (s.conv_kernel > 0) {  // Conv2d over [b, heads, S, d]: each head along the sequence
    const std::string w =
        g.Weight("conv.weight", {s.heads, 1, s.conv_kernel, 1}, WeightInit::kNormal);
    const int64_t pad = s.conv_kernel / 2;
    ctx = g.Node(
        "Add", {ctx, g.Node("Conv", {v, w},
                            {{"group", s.heads}, {"pads", std::vector<int64_t>{pad, 0, pad, 0}}})});
  }
  return g.Node("Reshape", {Transpose(g, ctx, {0, 2, 1, 3}), g.ConstInt64({0, 0, s.hidden})});
}

std::string Layer(GraphBuilder& g, const NystromShape& s, int64_t index, const std::string& x,
                  const std::string& mask) {
  WeightScope scope(g, fmt::format("encoder.layer.{}.", index));
  const std::string ctx = SelfAttention(g, s, x, mask);
  const std::string h =
      g.LayerNorm(g.Node("Add", {g.Linear(ctx, "attention.output.dense", s.hidden, s.hidden), x}),
                  "attention.output.LayerNorm", s.hidden, s.eps);
  const std::string inner =
      Activation(g, g.Linear(h, "intermediate.dense", s.hidden, s.intermediate), s.act);
  return g.LayerNorm(g.Node("Add", {g.Linear(inner, "output.dense", s.intermediate, s.hidden), h}),
                     "output.LayerNorm", s.hidden, s.eps);
}

// NystromformerEmbeddings: position ids 2 .. S + 1 (its table has max_position_embeddings + 2
// rows).
std::string Embeddings(GraphBuilder& g, const NystromShape& s) {
  WeightScope scope(g, "embeddings.");
  const std::string words = g.Node(
      "Gather",
      {g.Weight("word_embeddings.weight", {s.vocab, s.hidden}, WeightInit::kNormal), "input_ids"});
  const std::string end =
      g.Node("Add", {g.Node("Shape", {"input_ids"}, {{"start", int64_t{1}}, {"end", int64_t{2}}}),
                     g.ConstInt64({2})});
  const std::string positions = g.Node(
      "Slice",
      {g.Weight("position_embeddings.weight", {s.max_positions + 2, s.hidden}, WeightInit::kNormal),
       g.ConstInt64({2}), end, g.ConstInt64({0})});
  const std::string types = g.Node(
      "Gather",
      {g.Weight("token_type_embeddings.weight", {s.type_vocab, s.hidden}, WeightInit::kNormal),
       "token_type_ids"});
  return g.LayerNorm(g.Node("Add", {g.Node("Add", {words, positions}), types}), "LayerNorm",
                     s.hidden, s.eps);
}

}  // namespace

int64_t NystromformerVocab(const HfConfig& config) { return ReadNystromShape(config).vocab; }
int64_t NystromformerTypeVocab(const HfConfig& config) {
  return ReadNystromShape(config).type_vocab;
}
int64_t NystromformerFixedSequence(const HfConfig& config) {
  const NystromShape s = ReadNystromShape(config);
  return s.nystrom() ? s.segment : 0;
}

void BuildNystromformer(const HfConfig& config, GraphBuilder& g) {
  const NystromShape s = ReadNystromShape(config);
  const Dim sequence = s.nystrom() ? Dim(s.segment) : Dim(std::string("sequence"));
  BertLikeEncoder(
      g, sequence, s.layers, s.hidden, [&] { return Embeddings(g, s); },
      [&](int64_t l, const std::string& x, const std::string& mask) {
        return Layer(g, s, l, x, mask);
      });
}

}  // namespace ipfs_accel::models
