#include "pix2struct_builder.h"

#include <cmath>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "t5_builder.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct Pix2StructShape {
  int64_t hidden, patch_features, d_ff, d_kv, layers, heads, table_rows;
  double eps;
  std::string act;
  bool scaled;  // Kosmos-2.5 scales the scores by d_kv^-0.5; Pix2Struct does not
};

Pix2StructShape ReadPix2StructShape(const HfConfig& c, const nlohmann::json& pieces) {
  Pix2StructShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.patch_features = c.Int("patch_embed_hidden_size", 768);
  s.d_ff = c.Int("d_ff", 2048);
  s.d_kv = c.Int("d_kv", 64);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.table_rows = c.Int("seq_len", 4096);
  s.eps = c.Double("layer_norm_eps", 1e-6);
  s.act = c.String("dense_act_fn", "gelu_new");
  const nlohmann::json scale = pieces.value("attention_scale", nlohmann::json("none"));
  if (scale != "none" && scale != "inverse_sqrt")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the pix2struct_vision builder's piece attention_scale = {} is "
                            "not one it knows (docs/templates.md)",
                            c.origin(), scale.dump()));
  s.scaled = scale == "inverse_sqrt";
  RequirePositive(c, {{"hidden_size", s.hidden},
                      {"patch_embed_hidden_size", s.patch_features},
                      {"d_ff", s.d_ff},
                      {"d_kv", s.d_kv},
                      {"num_hidden_layers", s.layers},
                      {"num_attention_heads", s.heads},
                      {"seq_len", s.table_rows}});
  return s;
}

std::string Columns(GraphBuilder& g, const std::string& x, int64_t begin, int64_t end) {
  return g.Node("Slice",
                {x, g.ConstInt64({begin}), g.ConstInt64({end}), g.ConstInt64({2})});  // axis 2
}

// Pix2StructVisionEmbeddings: patch_projection(values) + row_embedder(rows) +
// column_embedder(cols), the indices the first two features truncated to integers (torch's
// .long()).
std::string Embeddings(GraphBuilder& g, const Pix2StructShape& s, const std::string& patches) {
  auto index = [&](int64_t at) {
    const std::string column =
        g.Node("Squeeze", {Columns(g, patches, at, at + 1), g.ConstInt64({2})});
    return g.Node("Cast", {column}, {{"to", int64_t{onnx::TensorProto::INT64}}});
  };
  const std::string values = Columns(g, patches, 2, 2 + s.patch_features);
  const std::string projected =
      g.Linear(values, "embeddings.patch_projection", s.patch_features, s.hidden);
  auto table = [&](const std::string& name) {
    return g.Weight("embeddings." + name + ".weight", {s.table_rows, s.hidden},
                    WeightInit::kNormal);
  };
  const std::string rows = g.Node("Gather", {table("row_embedder"), index(0)});
  const std::string cols = g.Node("Gather", {table("column_embedder"), index(1)});
  return g.Node("Add", {g.Node("Add", {projected, rows}), cols});
}

// [batch, 1, 1, patches]: 0 for a patch whose values are not all zero (HF's attention_mask
// default, flattened_patches.sum(-1) != 0), float32's lowest for one that is.
std::string PaddingMask(GraphBuilder& g, const std::string& patches) {
  const std::string sum =
      g.Node("ReduceSum", {patches, g.ConstInt64({-1})}, {{"keepdims", int64_t{0}}});
  const std::string kept = g.Node("Not", {g.Node("Equal", {sum, g.ConstFloat(0.0f)})});
  const std::string mask = g.Node(
      "Where", {kept, g.ConstFloat(0.0f), g.ConstFloat(std::numeric_limits<float>::lowest())});
  return g.Node("Unsqueeze", {mask, g.ConstInt64({1, 2})});
}

// Pix2StructVisionLayer: x + output(attn(norm(x))), then h + wo(act(wi_0(n)) * wi_1(n)).
std::string Layer(GraphBuilder& g, const Pix2StructShape& s, int64_t l, const std::string& x,
                  const std::string& mask) {
  const std::string p = fmt::format("encoder.layer.{}.", l);
  const int64_t inner = s.heads * s.d_kv;
  const std::string n = T5LayerNorm(g, x, p + "pre_attention_layer_norm", s.hidden, s.eps);
  auto project = [&](const char* name) {
    return g.Linear(n, p + "attention." + name, s.hidden, inner, /*bias=*/false);
  };
  const std::string ctx = ScaledDotProductAttention(
      g, project("query"), project("key"), project("value"), s.heads, s.d_kv, mask, s.scaled);
  const std::string h =
      g.Node("Add", {g.Linear(ctx, p + "attention.output", inner, s.hidden, false), x});
  const std::string m = T5LayerNorm(g, h, p + "pre_mlp_layer_norm", s.hidden, s.eps);
  const std::string gate =
      Activation(g, g.Linear(m, p + "mlp.wi_0", s.hidden, s.d_ff, false), s.act);
  const std::string up = g.Linear(m, p + "mlp.wi_1", s.hidden, s.d_ff, false);
  const std::string down =
      g.Linear(g.Node("Mul", {gate, up}), p + "mlp.wo", s.d_ff, s.hidden, false);
  return g.Node("Add", {down, h});
}

}  // namespace

void BuildPix2StructVision(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  const Pix2StructShape s = ReadPix2StructShape(config, pieces);
  const Dim batch = std::string("batch"), patches = std::string("sequence");
  g.Input("flattened_patches", onnx::TensorProto::FLOAT, {batch, patches, 2 + s.patch_features});
  const std::string mask = PaddingMask(g, "flattened_patches");
  std::string x = Embeddings(g, s, "flattened_patches");
  for (int64_t l = 0; l < s.layers; ++l) x = Layer(g, s, l, x, mask);
  g.Node("Identity", {T5LayerNorm(g, x, "layernorm", s.hidden, s.eps)}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, patches, s.hidden});
}

std::map<std::string, InputHint> Pix2StructVisionHints(const HfConfig&) {
  InputHint patches{
      .kind = InputHint::Kind::kComputed, .compute = [](const core::Shape& shape, uint64_t seed) {
        core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, shape);
        auto v = t.values<float>();
        const int64_t n = shape.at(1), features = shape.at(2);
        const auto width = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
        std::mt19937_64 rng(seed);
        std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
        for (int64_t b = 0; b < shape.at(0); ++b)
          for (int64_t i = 0; i < n; ++i) {
            float* row = &v[static_cast<size_t>((b * n + i) * features)];
            row[0] = static_cast<float>(i / width + 1);
            row[1] = static_cast<float>(i % width + 1);
            for (int64_t f = 2; f < features; ++f) row[f] = uniform(rng);
          }
        return t;
      }};
  return {{"flattened_patches", patches}};
}

}  // namespace ipfs_accel::models
