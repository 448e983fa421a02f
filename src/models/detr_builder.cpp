#include "detr_builder.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "seq2seq_attention.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;

namespace {

constexpr int64_t kLearnedPositions = 50;  // DetrLearnedPositionEmbedding's table size

bool NamesArchitecture(const HfConfig& c, const std::string& name) {
  if (!c.Has("architectures") || !c.json()["architectures"].is_array()) return false;
  for (const auto& a : c.json()["architectures"])
    if (a.is_string() && a.get<std::string>() == name) return true;
  return false;
}

// timm's features_only resnet as DETR's legacy use_timm_backbone configs build it.
ResNetShape TimmBackbone(const HfConfig& c) {
  if (c.Bool("dilation", false))
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("{}: dilation=true (a dilated last stage, DC5) is not supported", c.origin()));
  ResNetShape s = TimmResNetShape(c.String("backbone", "resnet50"), c.origin());
  s.num_channels = c.Int("num_channels", 3);
  s.out_index = 4;  // DetrConvEncoder's default out_indices (1, 2, 3, 4): layer4
  if (c.Has("backbone_kwargs")) {
    const auto& kwargs = c.json()["backbone_kwargs"];
    if (!kwargs.is_object())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': backbone_kwargs is not an object", c.origin()));
    for (const auto& [key, value] : kwargs.items()) {
      if (key == "in_chans" && value.is_number_integer()) {
        s.num_channels = value.get<int64_t>();
      } else if (key == "out_indices" && value.is_array() && !value.empty() &&
                 value.back().is_number_integer()) {
        // timm's feature indices: 0 act1 (before the max pool), 1..4 layer1..layer4.
        int64_t index = value.back().get<int64_t>();
        if (index < 0) index += 5;
        if (index < 0 || index > 4)
          throw Error(ErrorKind::kCorrupt, fmt::format("'{}': backbone_kwargs.out_indices {} is "
                                                       "outside timm's resnet features 0..4",
                                                       c.origin(), value.dump()));
        s.out_index = index;
      } else {
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("{}: backbone_kwargs.{}={} is not supported (in_chans and "
                                "out_indices are)",
                                c.origin(), key, value.dump()));
      }
    }
  }
  return s;
}

ResNetShape Backbone(const HfConfig& c) {
  if (c.Has("backbone_config")) {
    const auto& b = c.json()["backbone_config"];
    if (!b.is_object())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': backbone_config is not an object", c.origin()));
    const HfConfig backbone(b, c.origin() + ":backbone_config");
    const std::string type = backbone.String("model_type", "");
    if (type != "resnet")
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("{}: backbone_config.model_type={} is not supported (DETR is built "
                              "with HF's ResNet backbone, or timm's resnets through "
                              "use_timm_backbone=true and backbone=resnet50)",
                              c.origin(), type.empty() ? "(none)" : type));
    return ReadResNetShape(backbone);
  }
  if (c.Bool("use_timm_backbone", true)) return TimmBackbone(c);
  // DetrConfig's default backbone_config: ResNetConfig(out_features=["stage4"]).
  return ReadResNetShape(HfConfig(nlohmann::json::object(), c.origin() + ":backbone_config"));
}

int64_t NumLabels(const HfConfig& c) {
  if (c.Has("id2label") && c.json()["id2label"].is_object() && !c.json()["id2label"].empty())
    return static_cast<int64_t>(c.json()["id2label"].size());
  return c.Int("num_labels", 2);
}

// DetrSelfAttention / DetrCrossAttention: position embeddings are already in query_in and
// key_in; values come from value_in as it is. `bias` masks keys (may be empty).
std::string Attention(GraphBuilder& g, const std::string& prefix, const std::string& query_in,
                      const std::string& key_in, const std::string& value_in, int64_t d,
                      int64_t heads, const std::string& bias) {
  const int64_t head_dim = d / heads;
  const std::string q =
      SplitHeads(g, g.Linear(query_in, prefix + ".q_proj", d, d), heads, head_dim);
  const std::string k = SplitHeads(g, g.Linear(key_in, prefix + ".k_proj", d, d), heads, head_dim);
  const std::string v =
      SplitHeads(g, g.Linear(value_in, prefix + ".v_proj", d, d), heads, head_dim);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const std::string attended = MergeHeads(g, Attend(g, q, k, v, scale, bias), d);
  return g.Linear(attended, prefix + ".out_proj", d, d);
}

// fc1, activation, fc2.
std::string FeedForward(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t d,
                        int64_t ffn, const std::string& act) {
  const std::string h = Activation(g, g.Linear(x, prefix + ".fc1", d, ffn), act);
  return g.Linear(h, prefix + ".fc2", ffn, d);
}

std::string AddNorm(GraphBuilder& g, const std::string& residual, const std::string& x,
                    const std::string& norm, int64_t d) {
  return g.LayerNorm(g.Node("Add", {residual, x}), norm, d, kTorchNormEps);
}

}  // namespace

std::string DetrSinePositions(GraphBuilder& g, const std::string& mask, int64_t d_model) {
  const int64_t features = d_model / 2;
  std::vector<float> dim_t(features);
  core::Tensor even = core::Tensor::Zeros(core::DType::kBool, {features});
  for (int64_t i = 0; i < features; ++i) {
    const float exponent = static_cast<float>(2 * (i / 2)) / static_cast<float>(features);
    dim_t[i] = static_cast<float>(std::pow(10000.0, static_cast<double>(exponent)));
    even.bytes[i] = std::byte{i % 2 == 0};
  }
  core::Tensor dim_t_tensor = core::Tensor::Zeros(core::DType::kFloat32, {features});
  std::copy(dim_t.begin(), dim_t.end(), dim_t_tensor.values<float>().begin());
  const std::string dim_t_name = g.Initializer("position_dim_t", dim_t_tensor);
  const std::string even_name = g.Initializer("position_sin_at", even);
  const float scale = static_cast<float>(2 * M_PI);
  auto embed = [&](int64_t axis) {
    const std::string cumulative = g.Node("CumSum", {mask, g.ConstInt64({axis})});
    // cumulative / (cumulative's last entry along the axis + 1e-6) * 2 pi
    const std::string last = g.Node(
        "Slice", {cumulative, g.ConstInt64({-1}), g.ConstInt64({INT64_MAX}), g.ConstInt64({axis})});
    const std::string normalized =
        g.Node("Div", {cumulative, g.Node("Add", {last, g.ConstFloat(1e-6f)})});
    const std::string scaled = g.Node("Mul", {normalized, g.ConstFloat(scale)});
    const std::string angles =
        g.Node("Div", {g.Node("Unsqueeze", {scaled, g.ConstInt64({3})}), dim_t_name});
    return g.Node("Where", {even_name, g.Node("Sin", {angles}), g.Node("Cos", {angles})});
  };
  const std::string pos = g.Node("Concat", {embed(1), embed(2)}, {{"axis", int64_t{3}}});
  return g.Node("Reshape", {pos, g.ConstInt64({0, -1, d_model})});
}

std::string DetrLearnedPositions(GraphBuilder& g, const std::string& feature_map, int64_t d_model) {
  const int64_t features = d_model / 2;
  const std::string rows = g.Weight("backbone.position_embedding.row_embeddings.weight",
                                    {kLearnedPositions, features}, WeightInit::kNormal);
  const std::string columns = g.Weight("backbone.position_embedding.column_embeddings.weight",
                                       {kLearnedPositions, features}, WeightInit::kNormal);
  const std::string h = AxisLength(g, feature_map, 2), w = AxisLength(g, feature_map, 3);
  const std::string zero = g.ConstInt64({0});
  auto lookup = [&](const std::string& table, const std::string& length) {
    return g.Node("Gather", {table, PositionRange(g, zero, length)});
  };
  const std::string grid =
      g.Node("Concat", {h, w, g.ConstInt64({features})}, {{"axis", int64_t{0}}});
  const std::string x =
      g.Node("Expand", {g.Node("Unsqueeze", {lookup(columns, w), g.ConstInt64({0})}), grid});
  const std::string y =
      g.Node("Expand", {g.Node("Unsqueeze", {lookup(rows, h), g.ConstInt64({1})}), grid});
  const std::string pos = g.Node("Concat", {x, y}, {{"axis", int64_t{-1}}});
  return g.Node("Reshape", {pos, g.ConstInt64({1, -1, d_model})});
}

std::string DetrResizedMask(GraphBuilder& g, const std::string& pixel_mask,
                            const std::string& feature_map) {
  const std::string as_bool =
      g.Node("Cast", {pixel_mask}, {{"to", int64_t{onnx::TensorProto::BOOL}}});
  const std::string as_float =
      g.Node("Cast", {as_bool}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string mask4 = g.Node("Unsqueeze", {as_float, g.ConstInt64({1})});
  const std::string sizes =
      g.Node("Concat",
             {g.Node("Shape", {mask4}, {{"start", int64_t{0}}, {"end", int64_t{2}}}),
              g.Node("Shape", {feature_map}, {{"start", int64_t{2}}, {"end", int64_t{4}}})},
             {{"axis", int64_t{0}}});
  const std::string resized = g.Node("Resize", {mask4, "", "", sizes},
                                     {{"mode", std::string("nearest")},
                                      {"coordinate_transformation_mode", std::string("asymmetric")},
                                      {"nearest_mode", std::string("floor")}});
  const std::string binary =
      g.Node("Cast", {g.Node("Cast", {resized}, {{"to", int64_t{onnx::TensorProto::BOOL}}})},
             {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  return g.Node("Squeeze", {binary, g.ConstInt64({1})});
}

DetrShape ReadDetrShape(const HfConfig& c) {
  DetrShape s;
  s.d_model = c.Int("d_model", s.d_model);
  s.encoder_layers = c.Int("encoder_layers", s.encoder_layers);
  s.decoder_layers = c.Int("decoder_layers", s.decoder_layers);
  s.encoder_heads = c.Int("encoder_attention_heads", s.encoder_heads);
  s.decoder_heads = c.Int("decoder_attention_heads", s.decoder_heads);
  s.encoder_ffn = c.Int("encoder_ffn_dim", s.encoder_ffn);
  s.decoder_ffn = c.Int("decoder_ffn_dim", s.decoder_ffn);
  s.num_queries = c.Int("num_queries", s.num_queries);
  s.activation = c.String("activation_function", s.activation);
  const std::string positions = c.String("position_embedding_type", "sine");
  if (positions != "sine" && positions != "learned")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: position_embedding_type={} is not supported (DETR has sine and "
                            "learned)",
                            c.origin(), positions));
  s.learned_positions = positions == "learned";
  if (NamesArchitecture(c, "DetrForSegmentation"))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: architectures=DetrForSegmentation is not supported (its mask "
                            "head is not built); DetrForObjectDetection and DetrModel are",
                            c.origin()));
  s.detection_head = NamesArchitecture(c, "DetrForObjectDetection");
  s.num_labels = NumLabels(c);
  s.backbone = Backbone(c);
  s.num_channels = s.backbone.num_channels;
  if (s.d_model <= 0 || s.d_model % 2 != 0 || s.encoder_heads <= 0 || s.decoder_heads <= 0 ||
      s.d_model % s.encoder_heads != 0 || s.d_model % s.decoder_heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': d_model {} must be even and divisible by the attention heads "
                            "({} encoder, {} decoder)",
                            c.origin(), s.d_model, s.encoder_heads, s.decoder_heads));
  if (s.encoder_layers < 0 || s.decoder_layers < 0 || s.encoder_ffn <= 0 || s.decoder_ffn <= 0 ||
      s.num_queries <= 0 || s.num_labels < 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': DETR layer counts, ffn sizes, num_queries and num_labels must "
                            "be positive",
                            c.origin()));
  return s;
}

void BuildDetr(const HfConfig& config, GraphBuilder& g) {
  const DetrShape s = ReadDetrShape(config);
  const int64_t d = s.d_model;
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.num_channels, height, width});
  g.Input("pixel_mask", onnx::TensorProto::INT64, {"batch", height, width});

  std::string feature_map;
  {
    WeightScope scope(g, "backbone.conv_encoder.model.");
    feature_map = BuildResNetFeatures(g, s.backbone, "pixel_values", {.frozen_batch_norm = true})
                      .at(s.backbone.out_index);
  }
  const int64_t channels = ResNetFeatureChannels(s.backbone, s.backbone.out_index);
  const std::string mask = DetrResizedMask(g, "pixel_mask", feature_map);
  const std::string positions =
      s.learned_positions ? DetrLearnedPositions(g, feature_map, d) : DetrSinePositions(g, mask, d);

  // input_projection (1x1 Conv2d with bias), flattened to [batch, h * w, d_model].
  const std::string projected = g.Node(
      "Conv",
      {feature_map, g.Weight("input_projection.weight", {d, channels, 1, 1}, WeightInit::kNormal),
       g.Weight("input_projection.bias", {d}, WeightInit::kZeros)},
      {{"kernel_shape", std::vector<int64_t>{1, 1}}});
  std::string h = g.Node("Transpose", {g.Node("Reshape", {projected, g.ConstInt64({0, 0, -1})})},
                         {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const std::string key_bias = PaddingMaskBias(g, g.Node("Reshape", {mask, g.ConstInt64({0, -1})}));

  for (int64_t i = 0; i < s.encoder_layers; ++i) {
    const std::string p = fmt::format("encoder.layers.{}", i);
    const std::string with_pos = g.Node("Add", {h, positions});
    h = AddNorm(g, h,
                Attention(g, p + ".self_attn", with_pos, with_pos, h, d, s.encoder_heads, key_bias),
                p + ".self_attn_layer_norm", d);
    h = AddNorm(g, h, FeedForward(g, h, p, d, s.encoder_ffn, s.activation), p + ".final_layer_norm",
                d);
  }
  const std::string memory = h;
  const std::string memory_keys = g.Node("Add", {memory, positions});

  // Object queries: learned positions on decoder inputs that start at zero.
  const std::string queries =
      g.Node("Unsqueeze",
             {g.Weight("query_position_embeddings.weight", {s.num_queries, d}, WeightInit::kNormal),
              g.ConstInt64({0})});
  const std::string zeros_shape =
      g.Node("Concat", {AxisLength(g, "pixel_values", 0), g.ConstInt64({s.num_queries, d})},
             {{"axis", int64_t{0}}});
  h = g.Node("ConstantOfShape", {zeros_shape});  // float32 zeros
  for (int64_t i = 0; i < s.decoder_layers; ++i) {
    const std::string p = fmt::format("decoder.layers.{}", i);
    const std::string self_in = g.Node("Add", {h, queries});
    h = AddNorm(g, h, Attention(g, p + ".self_attn", self_in, self_in, h, d, s.decoder_heads, ""),
                p + ".self_attn_layer_norm", d);
    const std::string cross_in = g.Node("Add", {h, queries});
    h = AddNorm(g, h,
                Attention(g, p + ".encoder_attn", cross_in, memory_keys, memory, d, s.decoder_heads,
                          key_bias),
                p + ".encoder_attn_layer_norm", d);
    h = AddNorm(g, h, FeedForward(g, h, p, d, s.decoder_ffn, s.activation), p + ".final_layer_norm",
                d);
  }
  g.Node("Identity", {g.LayerNorm(h, "decoder.layernorm", d, kTorchNormEps)}, {},
         "last_hidden_state");

  if (s.detection_head) {
    g.Node("Identity",
           {g.Linear("last_hidden_state", "class_labels_classifier", d, s.num_labels + 1)}, {},
           "logits");
    std::string box =
        g.Node("Relu", {g.Linear("last_hidden_state", "bbox_predictor.layers.0", d, d)});
    box = g.Node("Relu", {g.Linear(box, "bbox_predictor.layers.1", d, d)});
    g.Node("Sigmoid", {g.Linear(box, "bbox_predictor.layers.2", d, 4)}, {}, "pred_boxes");
    g.Output("logits", onnx::TensorProto::FLOAT, {"batch", s.num_queries, s.num_labels + 1});
    g.Output("pred_boxes", onnx::TensorProto::FLOAT, {"batch", s.num_queries, 4});
  }
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", s.num_queries, d});
}

}  // namespace ipfs_accel::models
