#include "vilt_builder.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "seq2seq_attention.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct ViltShape {
  PreNormLayerShape layer;
  int64_t vocab, layers, max_positions, type_vocab, modality_types, image_size, patch, channels;
  int64_t grid() const { return image_size / patch; }
};

ViltShape ReadViltShape(const HfConfig& c) {
  ViltShape s{};
  s.layer.hidden = c.Int("hidden_size", 768);
  s.layer.heads = c.Int("num_attention_heads", 12);
  s.layer.intermediate = c.Int("intermediate_size", 3072);
  s.layer.eps = c.Double("layer_norm_eps", 1e-12);
  s.layer.act = c.String("hidden_act", "gelu");
  s.layer.qkv_bias = c.Bool("qkv_bias", true);
  s.vocab = c.Int("vocab_size", 30522);
  s.layers = c.Int("num_hidden_layers", 12);
  s.max_positions = c.Int("max_position_embeddings", 40);
  s.type_vocab = c.Int("type_vocab_size", 2);
  s.modality_types = c.Int("modality_type_vocab_size", 2);
  s.image_size = c.Int("image_size", 384);
  s.patch = c.Int("patch_size", 32);
  s.channels = c.Int("num_channels", 3);
  RequirePositive(c, {{"vocab_size", s.vocab},
                      {"hidden_size", s.layer.hidden},
                      {"intermediate_size", s.layer.intermediate},
                      {"num_hidden_layers", s.layers},
                      {"max_position_embeddings", s.max_positions},
                      {"type_vocab_size", s.type_vocab},
                      {"patch_size", s.patch},
                      {"num_channels", s.channels}});
  if (s.layer.heads <= 0 || s.layer.hidden % s.layer.heads != 0 || s.modality_types < 2 ||
      s.image_size < s.patch)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} must split into num_attention_heads {}, "
                            "modality_type_vocab_size {} hold the image's type 1, and image_size "
                            "{} hold a patch of {}",
                            c.origin(), s.layer.hidden, s.layer.heads, s.modality_types,
                            s.image_size, s.patch));
  return s;
}

// TextEmbeddings plus modality type 0: [batch, sequence, hidden].
std::string TextTokens(GraphBuilder& g, const ViltShape& s, const std::string& modalities) {
  const int64_t h = s.layer.hidden;
  std::string x;
  {
    WeightScope scope(g, "embeddings.text_embeddings.");
    const std::string words = g.Node(
        "Gather",
        {g.Weight("word_embeddings.weight", {s.vocab, h}, WeightInit::kNormal), "input_ids"});
    const std::string length =
        g.Node("Shape", {"input_ids"}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
    const std::string positions = g.Node(
        "Slice", {g.Weight("position_embeddings.weight", {s.max_positions, h}, WeightInit::kNormal),
                  g.ConstInt64({0}), length, g.ConstInt64({0})});
    const std::string types = g.Node(
        "Gather", {g.Weight("token_type_embeddings.weight", {s.type_vocab, h}, WeightInit::kNormal),
                   "token_type_ids"});
    x = g.LayerNorm(g.Node("Add", {g.Node("Add", {words, positions}), types}), "LayerNorm", h,
                    s.layer.eps);
  }
  return g.Node("Add", {x, g.Node("Gather", {modalities, g.ConstInt64({0})})});
}

// ViltEmbeddings.visual_embed with every pixel real, plus modality type 1: the class token and
// the patches in row-major order [batch, 1 + patches, hidden].
std::string ImageTokens(GraphBuilder& g, const ViltShape& s, const std::string& modalities) {
  const int64_t h = s.layer.hidden;
  WeightScope scope(g, "embeddings.");
  const std::string kernel = g.Weight("patch_embeddings.projection.weight",
                                      {h, s.channels, s.patch, s.patch}, WeightInit::kNormal);
  const std::string patches =
      g.Node("Conv",
             {"pixel_values", kernel,
              g.Weight("patch_embeddings.projection.bias", {h}, WeightInit::kZeros)},
             {{"strides", std::vector<int64_t>{s.patch, s.patch}}});  // [b, h, ph, pw]
  const std::string table =
      g.Weight("position_embeddings", {1, s.grid() * s.grid() + 1, h}, WeightInit::kNormal);
  // the grid part [1, h, grid, grid] resized to [1, h, ph, pw] (bilinear, align_corners)
  const std::string grid =
      g.Node("Reshape", {g.Node("Transpose",
                                {g.Node("Slice", {table, g.ConstInt64({1}),
                                                  g.ConstInt64({INT64_MAX}), g.ConstInt64({1})})},
                                {{"perm", std::vector<int64_t>{0, 2, 1}}}),
                         g.ConstInt64({1, h, s.grid(), s.grid()})});
  const std::string sizes =
      g.Node("Concat", {g.ConstInt64({1, h}), g.Node("Shape", {patches}, {{"start", int64_t{2}}})},
             {{"axis", int64_t{0}}});
  const std::string resized =
      g.Node("Resize", {grid, "", "", sizes},
             {{"mode", std::string("linear")},
              {"coordinate_transformation_mode", std::string("align_corners")}});
  auto tokens = [&](const std::string& map) {  // [b, h, ph, pw] -> [b, ph * pw, h]
    return g.Node("Transpose", {g.Node("Reshape", {map, g.ConstInt64({0, h, -1})})},
                  {{"perm", std::vector<int64_t>{0, 2, 1}}});
  };
  const std::string body = g.Node("Add", {tokens(patches), tokens(resized)});
  const std::string cls = g.Node(
      "Add", {g.Weight("cls_token", {1, 1, h}, WeightInit::kNormal),
              g.Node("Slice", {table, g.ConstInt64({0}), g.ConstInt64({1}), g.ConstInt64({1})})});
  const std::string all = PrependTokens(g, {cls}, body, h);
  return g.Node("Add", {all, g.Node("Gather", {modalities, g.ConstInt64({1})})});
}

}  // namespace

int64_t ViltVocab(const HfConfig& config) { return ReadViltShape(config).vocab; }
int64_t ViltTypeVocab(const HfConfig& config) { return ReadViltShape(config).type_vocab; }

void BuildVilt(const HfConfig& config, GraphBuilder& g) {
  const ViltShape s = ReadViltShape(config);
  const int64_t h = s.layer.hidden;
  const Dim batch = std::string("batch"), sequence = std::string("sequence");
  for (const char* name : {"input_ids", "attention_mask", "token_type_ids"})
    g.Input(name, onnx::TensorProto::INT64, {batch, sequence});
  g.Input("pixel_values", onnx::TensorProto::FLOAT,
          {batch, s.channels, std::string("height"), std::string("width")});
  const std::string modalities = g.Weight("embeddings.token_type_embeddings.weight",
                                          {s.modality_types, h}, WeightInit::kNormal);
  const std::string text = TextTokens(g, s, modalities);
  const std::string image = ImageTokens(g, s, modalities);
  std::string x = g.Node("Concat", {text, image}, {{"axis", int64_t{1}}});
  // the text's mask, then ones for the class token and every patch
  const std::string image_ones = g.Node(
      "Expand", {g.ConstInt64({1}),
                 g.Node("Concat",
                        {g.Node("Shape", {image}, {{"start", int64_t{0}}, {"end", int64_t{1}}}),
                         g.Node("Shape", {image}, {{"start", int64_t{1}}, {"end", int64_t{2}}})},
                        {{"axis", int64_t{0}}})});
  const std::string mask =
      PaddingMaskBias(g, g.Node("Concat", {"attention_mask", image_ones}, {{"axis", int64_t{1}}}));
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("encoder.layer.{}.", l);
    x = PreNormEncoderLayer(
        g, s.layer,
        {p + "layernorm_before", p + "attention.attention.query", p + "attention.attention.key",
         p + "attention.attention.value", p + "attention.output.dense", p + "layernorm_after",
         p + "intermediate.dense", p + "output.dense"},
        x, mask);
  }
  x = g.LayerNorm(x, "layernorm", h, s.layer.eps);
  g.Output(g.Node("Identity", {x}, {}, "last_hidden_state"), onnx::TensorProto::FLOAT,
           {batch, std::string("sequence_and_image"), h});
  const std::string pooled = g.Node("Tanh", {g.Linear(TokenAt(g, x, 0), "pooler.dense", h, h)});
  g.Output(g.Node("Identity", {pooled}, {}, "pooler_output"), onnx::TensorProto::FLOAT, {batch, h});
}

}  // namespace ipfs_accel::models
