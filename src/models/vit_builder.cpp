#include "vit_builder.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// An int or a two-element [height, width] list (HF's collections.abc.Iterable case).
std::pair<int64_t, int64_t> SizePair(const HfConfig& c, const std::string& key, int64_t fallback) {
  if (!c.Has(key)) return {fallback, fallback};
  const nlohmann::json& v = c.json()[key];
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
    return {v[0].get<int64_t>(), v[1].get<int64_t>()};
  const int64_t n = c.Int(key);  // throws kCorrupt for anything else
  return {n, n};
}

PreNormLayerNames LayerNames(int64_t l) {
  const std::string p = fmt::format("encoder.layer.{}.", l);
  return {p + "layernorm_before",        p + "attention.attention.query",
          p + "attention.attention.key", p + "attention.attention.value",
          p + "attention.output.dense",  p + "layernorm_after",
          p + "intermediate.dense",      p + "output.dense"};
}

}  // namespace

VitShape ReadVitShape(const HfConfig& c) {
  // ViTConfig and DeiTConfig share these defaults (vit-base-patch16-224).
  VitShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = c.Int("intermediate_size", 3072);
  s.channels = c.Int("num_channels", 3);
  std::tie(s.image_h, s.image_w) = SizePair(c, "image_size", 224);
  std::tie(s.patch_h, s.patch_w) = SizePair(c, "patch_size", 16);
  s.pooler_size = c.Int("pooler_output_size", s.hidden);
  s.eps = c.Double("layer_norm_eps", 1e-12);
  s.act = c.String("hidden_act", "gelu");
  s.pooler_act = c.String("pooler_act", "tanh");
  s.qkv_bias = c.Bool("qkv_bias", true);

  const std::string& origin = c.origin();
  if (s.heads <= 0 || s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            origin, s.hidden, s.heads));
  for (const auto& [key, value] : {std::pair<const char*, int64_t>{"num_hidden_layers", s.layers},
                                   {"intermediate_size", s.intermediate},
                                   {"num_channels", s.channels},
                                   {"patch_size", std::min(s.patch_h, s.patch_w)},
                                   {"pooler_output_size", s.pooler_size}})
    if (value <= 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': {} is {}; it must be positive", origin, key, value));
  if (s.image_h < s.patch_h || s.image_w < s.patch_w)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': image_size {}x{} is smaller than "
                            "patch_size {}x{}",
                            origin, s.image_h, s.image_w, s.patch_h, s.patch_w));
  return s;
}

bool VitHasPooler(const HfConfig& c) {
  if (!c.Has("architectures") || !c.json()["architectures"].is_array()) return true;
  for (const auto& a : c.json()["architectures"]) {
    if (!a.is_string()) continue;
    const std::string name = a.get<std::string>();
    for (const char* head :
         {"ViTForImageClassification", "ViTForMaskedImageModeling", "DeiTForImageClassification",
          "DeiTForImageClassificationWithTeacher", "DeiTForMaskedImageModeling"})
      if (name == head) return false;
  }
  return true;
}

void BuildVit(const HfConfig& config, VitKind kind, bool pooler, GraphBuilder& g) {
  const VitShape s = ReadVitShape(config);
  const Dim batch = std::string("batch");
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image_h, s.image_w});

  std::string x = PatchEmbeddings(g, "pixel_values", "embeddings.patch_embeddings.projection",
                                  s.channels, s.hidden, s.patch_h, s.patch_w, /*bias=*/true);
  std::vector<std::string> extra = {
      g.Weight("embeddings.cls_token", {1, 1, s.hidden}, WeightInit::kNormal)};
  if (kind == VitKind::kDeiT)
    extra.push_back(
        g.Weight("embeddings.distillation_token", {1, 1, s.hidden}, WeightInit::kNormal));
  x = PrependTokens(g, extra, x, s.hidden);
  const int64_t tokens = s.patches() + static_cast<int64_t>(extra.size());
  x = g.Node("Add", {x, g.Weight("embeddings.position_embeddings", {1, tokens, s.hidden},
                                 WeightInit::kNormal)});

  const PreNormLayerShape layer{.hidden = s.hidden,
                                .heads = s.heads,
                                .intermediate = s.intermediate,
                                .eps = s.eps,
                                .act = s.act,
                                .qkv_bias = s.qkv_bias};
  for (int64_t l = 0; l < s.layers; ++l) x = PreNormEncoderLayer(g, layer, LayerNames(l), x, "");
  x = g.LayerNorm(x, "layernorm", s.hidden, s.eps);
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, tokens, s.hidden});

  if (!pooler) return;
  // Token 0 is the CLS token (DeiT's distillation token is token 1 and is not pooled).
  const std::string dense = g.Linear(TokenAt(g, x, 0), "pooler.dense", s.hidden, s.pooler_size);
  g.Node("Identity", {Activation(g, dense, s.pooler_act)}, {}, "pooler_output");
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {batch, s.pooler_size});
}

}  // namespace ipfs_accel::models
