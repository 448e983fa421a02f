#include "llava_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "activation.h"
#include "architectures.h"
#include "clip_builder.h"
#include "decoder_builder.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// Everything the two builders read from a LlavaConfig / LlavaNextConfig.
struct LlavaParts {
  HfConfig vision, text;
  ClipFamily family = ClipFamily::kClip;
  ClipVisionShape tower = {};
  DecoderSizes lm = {};
  std::vector<int64_t> feature_layers = {};  // indices into the tower's hidden_states, in order
  bool drop_class_token = true;              // vision_feature_select_strategy "default"
  std::string projector_act = {};
  bool projector_bias = true;
  bool projector_norm = false;  // VipLLaVA: a LayerNorm over the concatenated features first
  double projector_norm_eps = 1e-5;
  int64_t image_token = 0;
  int64_t tokens_per_image = 0;  // what one tower pass yields after the strategy
};

// The language model on `embeddings` (the table is the token lookup's, for a tied head).
void LanguageModel(const LlavaParts& p, GraphBuilder& g, const std::string& embeddings,
                   const std::string& table) {
  DecoderEmbeddingsInput in;
  in.embeddings = embeddings;
  in.embedding_table = table;
  BuildDecoderFromEmbeddings(p.text, g, in);
}

// The object at `key`, or nullptr when it is absent or null.
const json* SubObject(const HfConfig& c, const std::string& key) {
  if (!c.Has(key)) return nullptr;
  const json& sub = c.json()[key];
  if (!sub.is_object())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': '{}' is not a JSON object", c.origin(), key));
  return &sub;
}

HfConfig VisionConfig(const HfConfig& c) {
  const std::string origin = fmt::format("{} (vision_config)", c.origin());
  json vision;
  if (const json* sub = SubObject(c, "vision_config")) {
    vision = *sub;
    if (!vision.contains("model_type")) vision["model_type"] = "clip_vision_model";
  } else {  // LlavaConfig's own default tower: CLIP ViT-L/14 at 336 pixels
    vision = {{"model_type", "clip_vision_model"},
              {"intermediate_size", 4096},
              {"hidden_size", 1024},
              {"patch_size", 14},
              {"image_size", 336},
              {"num_hidden_layers", 24},
              {"num_attention_heads", 16},
              {"vocab_size", 32000},
              {"projection_dim", 768}};
  }
  return HfConfig(std::move(vision), origin);
}

// text_config (LlamaConfig() when absent) with the LM head's tying made explicit: LlavaConfig ties
// when its own tie_word_embeddings or text_config's is set, LlavaNextConfig by its own alone.
HfConfig TextConfig(const HfConfig& c) {
  const std::string origin = fmt::format("{} (text_config)", c.origin());
  json text = json::object();
  if (const json* sub = SubObject(c, "text_config")) text = *sub;
  if (!text.contains("model_type")) text["model_type"] = "llama";
  bool tied = c.Bool("tie_word_embeddings", false);
  if (c.ModelType() == "llava")  // the text family's own default (GemmaConfig ties)
    tied = tied || DecoderTextConfig(HfConfig(text, origin)).Bool("tie_word_embeddings", false);
  text["tie_word_embeddings"] = tied;
  return DecoderTextConfig(HfConfig(std::move(text), origin));
}

std::vector<int64_t> FeatureLayers(const HfConfig& c, int64_t tower_layers) {
  std::vector<int64_t> layers;
  const json& value = c.Has("vision_feature_layer") ? c.json()["vision_feature_layer"] : json(-2);
  if (value.is_number_integer()) {
    layers.push_back(value.get<int64_t>());
  } else if (value.is_array() && !value.empty()) {
    for (const auto& v : value) {
      if (!v.is_number_integer())
        throw Error(ErrorKind::kCorrupt,
                    fmt::format("'{}': vision_feature_layer must be an integer or a list of "
                                "integers",
                                c.origin()));
      layers.push_back(v.get<int64_t>());
    }
  } else {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': vision_feature_layer must be an integer or a non-empty list of "
                            "integers",
                            c.origin()));
  }
  // hidden_states holds the embeddings and each layer's output; Python indexing.
  const int64_t states = tower_layers + 1;
  for (int64_t& l : layers) {
    const int64_t index = l < 0 ? l + states : l;
    if (index < 0 || index >= states)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': vision_feature_layer {} is outside the tower's {} hidden "
                              "states (-{}..{})",
                              c.origin(), l, states, states, states - 1));
    l = index;
  }
  return layers;
}

LlavaParts ReadParts(const HfConfig& c) {
  LlavaParts p{VisionConfig(c), TextConfig(c)};
  const std::string vision_type = p.vision.ModelType();
  if (vision_type != "clip_vision_model" && vision_type != "siglip_vision_model")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': vision_config.model_type='{}' is not supported as LLaVA's "
                            "vision tower (clip_vision_model, siglip_vision_model are)",
                            c.origin(), vision_type));
  p.family = ClipFamilyOf(vision_type);
  p.tower = ReadClipVisionShape(p.vision, p.family);
  if (!DecoderTakesEmbeddings(p.text))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': text_config.model_type='{}' cannot be LLaVA's language model: "
                            "only LLaMA-like decoders (template layout \"llama\") take image "
                            "features among their input embeddings",
                            c.origin(), p.text.ModelType()));
  p.lm = ReadDecoderSizes(p.text);
  p.feature_layers = FeatureLayers(c, p.tower.layers);
  const std::string strategy = c.String("vision_feature_select_strategy", "default");
  if (strategy != "default" && strategy != "full")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': vision_feature_select_strategy='{}' is neither 'default' nor "
                            "'full'",
                            c.origin(), strategy));
  p.drop_class_token = strategy == "default";
  p.projector_act = c.String("projector_hidden_act", "gelu");
  p.projector_bias = c.Bool("multimodal_projector_bias", true);
  p.projector_norm = c.PieceBool("projector_layernorm", false);
  p.projector_norm_eps = c.Double("projector_layernorm_eps", 1e-5);
  // Not checked against the vocabulary: LlavaConfig's own defaults put it just outside
  // LlamaConfig's (32000 of 32000), which HF builds and only its embedding lookup refuses.
  p.image_token = c.Id("image_token_index", c.Id("image_token_id", 32000));
  // SigLIP has no class token: "default" drops a patch there, as HF does.
  p.tokens_per_image =
      p.tower.patches() + (p.family == ClipFamily::kClip ? 1 : 0) - (p.drop_class_token ? 1 : 0);
  if (p.tokens_per_image <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the vision tower leaves no image features", c.origin()));
  return p;
}

// The projected image features [images, tokens_per_image, text hidden] of `pixels` [images,
// channels, image_size, image_size]: LlavaModel.get_image_features.
std::string ImageFeatures(GraphBuilder& g, const LlavaParts& p, const std::string& pixels) {
  const ClipTowerOutputs tower = BuildClipVisionTower(p.vision, g, pixels, p.family);
  std::vector<std::string> picked;
  for (int64_t l : p.feature_layers) picked.push_back(tower.hidden_states[l]);
  std::string x =
      picked.size() == 1 ? picked[0] : g.Node("Concat", picked, {{"axis", int64_t{-1}}});
  if (p.drop_class_token)
    x = g.Node("Slice", {x, g.ConstInt64({1}), g.ConstInt64({std::numeric_limits<int64_t>::max()}),
                         g.ConstInt64({1})});
  const int64_t in = p.tower.hidden * static_cast<int64_t>(p.feature_layers.size());
  if (p.projector_norm)
    x = g.LayerNorm(x, "multi_modal_projector.projector_layernorm", in, p.projector_norm_eps);
  x = g.Linear(x, "multi_modal_projector.linear_1", in, p.lm.hidden, p.projector_bias);
  x = Activation(g, x, p.projector_act);
  return g.Linear(x, "multi_modal_projector.linear_2", p.lm.hidden, p.lm.hidden, p.projector_bias);
}

// LlavaNextModel.pack_image_features for one fixed layout: `features` [batch * num_patches,
// side * side, hidden] (the base image, then the tiles row by row) to [batch, image_tokens,
// hidden]: the base image's tokens, then the tiles' unpadded feature map row by row, each row
// followed by image_newline.
std::string PackAnyResFeatures(GraphBuilder& g, const std::string& features,
                               const LlavaNextLayout& l, int64_t side, int64_t hidden) {
  const int64_t tile_tokens = side * side;
  const std::string per_image =
      g.Node("Reshape", {features, g.ConstInt64({-1, l.num_patches, tile_tokens, hidden})});
  auto patches = [&](int64_t begin, int64_t end) {
    return g.Node("Slice",
                  {per_image, g.ConstInt64({begin}), g.ConstInt64({end}), g.ConstInt64({1})});
  };
  const std::string base =
      g.Node("Reshape", {patches(0, 1), g.ConstInt64({-1, tile_tokens, hidden})});
  // [b, grid_rows, grid_cols, side, side, h] -> [b, grid_rows, side, grid_cols, side, h]: the
  // tiles' features as one map (HF's permute(4, 0, 2, 1, 3), channels last here).
  std::string map =
      g.Node("Reshape", {patches(1, l.num_patches),
                         g.ConstInt64({-1, l.grid_rows, l.grid_cols, side, side, hidden})});
  map = g.Node("Transpose", {map}, {{"perm", std::vector<int64_t>{0, 1, 3, 2, 4, 5}}});
  map =
      g.Node("Reshape", {map, g.ConstInt64({-1, l.grid_rows * side, l.grid_cols * side, hidden})});
  map = g.Node("Slice",
               {map, g.ConstInt64({l.row_begin, l.col_begin}),
                g.ConstInt64({l.row_begin + l.rows, l.col_begin + l.cols}), g.ConstInt64({1, 2})});
  const std::string one_column =
      g.Node("Slice", {map, g.ConstInt64({0}), g.ConstInt64({1}), g.ConstInt64({2})});
  const std::string newline =
      g.Node("Expand", {g.Node("Reshape", {g.Weight("image_newline", {hidden}, WeightInit::kNormal),
                                           g.ConstInt64({1, 1, 1, hidden})}),
                        g.Node("Shape", {one_column})});
  map = g.Node("Concat", {map, newline}, {{"axis", int64_t{2}}});
  const std::string tail =
      g.Node("Reshape", {map, g.ConstInt64({-1, l.rows * (l.cols + 1), hidden})});
  return g.Node("Concat", {base, tail}, {{"axis", int64_t{1}}});
}

// HF computes int(round(x, 7)): rounding at the 7th decimal first absorbs float error in a
// product that should be whole (47.99999999 -> 48).
int64_t TruncateAfterRounding7(double x) {
  return static_cast<int64_t>(std::floor(x * 1e7 + 0.5) / 1e7);
}

LlavaNextLayout LayoutFor(const HfConfig& c, const LlavaParts& p) {
  const auto [height, width] = LlavaNextGraphImageSize(c);
  return ComputeLlavaNextLayout(height, width, LlavaNextPinpoints(c), p.tower.image_size,
                                p.tower.image_size / p.tower.patch_size);
}

// A tile's tokens must form the side x side grid that pack_image_features views them as.
void RequireSquareTileTokens(const HfConfig& c, const LlavaParts& p) {
  const int64_t side = p.tower.image_size / p.tower.patch_size;
  if (p.tokens_per_image != side * side)
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("'{}': llava_next with a {} tower and vision_feature_select_strategy="
                    "'{}' leaves {} tokens per tile, not the {}x{} grid HF's "
                    "pack_image_features views them as",
                    c.origin(), p.family == ClipFamily::kClip ? "CLIP" : "SigLIP",
                    p.drop_class_token ? "default" : "full", p.tokens_per_image, side, side));
}

// LLaVA-NeXT's tiling: "llava_next" and the templates built by its builder (llava_next_video).
bool IsAnyRes(const HfConfig& config) {
  const ArchitectureTemplate* t = FindTemplate(config.ModelType());
  return t ? t->builder == "llava_next" : config.ModelType() == "llava_next";
}

int64_t BosToken(const LlavaParts& p) {
  const int64_t bos = p.text.Id("bos_token_id", -1);  // the text template's default
  return bos >= 0 && bos < p.lm.vocab && bos != p.image_token ? bos : -1;
}

Architecture LlavaArchitecture(const std::string& model_type,
                               void (*build)(const HfConfig&, GraphBuilder&)) {
  return {
      .model_type = model_type,
      .modality = "multimodal",
      .checkpoint_prefixes = LlavaCheckpointPrefixes(),
      .build = build,
      .input_hints =
          [](const HfConfig& c) {
            const LlavaParts p = ReadParts(c);
            InputHint ids{InputHint::Kind::kIndexRangeWithRun, 0, p.lm.vocab};
            ids.run_value = p.image_token;
            ids.run_length = LlavaImageTokens(c);
            ids.first = BosToken(p);
            return std::map<std::string, InputHint>{
                {"input_ids", ids},
                {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
            };
          },
      .dim_roles =
          [](const HfConfig& c) {
            const LlavaParts p = ReadParts(c);
            return DimRoles{.batch = "batch",
                            .sequence = "sequence",
                            .max_sequence = DecoderMaxPositions(p.text),
                            .past_sequence = "past_sequence",
                            .total_sequence = "total_sequence",
                            .min_sequence = LlavaImageTokens(c) + (BosToken(p) >= 0 ? 1 : 0)};
          },
  };
}

}  // namespace

// ScatterND refuses a count of places other than the features' rows; a Reshape to the token
// count would not do as this check: ONNX Runtime's Reshape fusion turns its one computed
// dimension into -1.
std::string ScatterFeaturesAtTokens(GraphBuilder& g, const std::string& input_ids,
                                    const std::string& embeddings, const std::string& features,
                                    int64_t token, int64_t hidden) {
  const std::string rows = g.Node("Reshape", {embeddings, g.ConstInt64({-1, hidden})});
  const std::string is_token =
      g.Node("Reshape", {g.Node("Equal", {input_ids, g.ConstInt64({token})}), g.ConstInt64({-1})});
  // [count, 1]: the flat positions of the tokens, in order.
  const std::string places =
      g.Node("Transpose", {g.Node("NonZero", {is_token})}, {{"perm", std::vector<int64_t>{1, 0}}});
  const std::string flat = g.Node("Reshape", {features, g.ConstInt64({-1, hidden})});
  auto first_dim = [&](const std::string& x) {
    return g.Node("Slice", {g.Node("Shape", {x}), g.ConstInt64({0}), g.ConstInt64({1})});
  };
  const std::string take = g.Node("Where", {g.Node("Equal", {first_dim(places), g.ConstInt64({0})}),
                                            g.ConstInt64({0}), first_dim(flat)});
  const std::string updates = g.Node("Slice", {flat, g.ConstInt64({0}), take, g.ConstInt64({0})});
  const std::string merged = g.Node("ScatterND", {rows, places, updates});
  return g.Node("Reshape", {merged, g.Node("Shape", {embeddings})});
}

std::vector<std::string> LlavaCheckpointPrefixes() {
  return {"model.language_model.", "language_model.model.",
          "language_model.",       "model.vision_tower.vision_model.",
          "model.vision_tower.",   "vision_tower.vision_model.",
          "vision_tower.",         "model."};
}

void BuildLlava(const HfConfig& config, GraphBuilder& g) {
  const LlavaParts p = ReadParts(config);
  const Dim batch = std::string("batch");
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, std::string("sequence")});
  g.Input("pixel_values", onnx::TensorProto::FLOAT,
          {batch, p.tower.channels, p.tower.image_size, p.tower.image_size});
  const DecoderTokens tokens = DecoderTokenEmbeddings(p.text, g, "input_ids");
  const std::string features = ImageFeatures(g, p, "pixel_values");
  const std::string merged = ScatterFeaturesAtTokens(g, "input_ids", tokens.embeddings, features,
                                                     p.image_token, p.lm.hidden);
  LanguageModel(p, g, merged, tokens.table);
}

void BuildLlavaNext(const HfConfig& config, GraphBuilder& g) {
  const LlavaParts p = ReadParts(config);
  RequireSquareTileTokens(config, p);
  const LlavaNextLayout layout = LayoutFor(config, p);
  const int64_t size = p.tower.image_size, channels = p.tower.channels;
  const Dim batch = std::string("batch");
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, std::string("sequence")});
  g.Input("pixel_values", onnx::TensorProto::FLOAT,
          {batch, layout.num_patches, channels, size, size});
  const DecoderTokens tokens = DecoderTokenEmbeddings(p.text, g, "input_ids");
  // Every image has num_patches patches (the processor's padding adds none at a fixed size), so
  // HF's per-image pix_val[:num_patches] is all of them.
  const std::string patches =
      g.Node("Reshape", {"pixel_values", g.ConstInt64({-1, channels, size, size})});
  const std::string packed =
      PackAnyResFeatures(g, ImageFeatures(g, p, patches), layout,
                         p.tower.image_size / p.tower.patch_size, p.lm.hidden);
  const std::string merged = ScatterFeaturesAtTokens(g, "input_ids", tokens.embeddings, packed,
                                                     p.image_token, p.lm.hidden);
  LanguageModel(p, g, merged, tokens.table);
}

int64_t LlavaImageTokens(const HfConfig& config) {
  const LlavaParts p = ReadParts(config);
  if (!IsAnyRes(config)) return p.tokens_per_image;
  RequireSquareTileTokens(config, p);
  return LayoutFor(config, p).image_tokens;
}

std::pair<int64_t, int64_t> SelectBestResolution(int64_t height, int64_t width,
                                                 const Resolutions& pinpoints) {
  std::pair<int64_t, int64_t> best{0, 0};
  int64_t max_effective = 0;
  int64_t min_wasted = std::numeric_limits<int64_t>::max();
  for (const auto& [h, w] : pinpoints) {
    // Python's float arithmetic and int() truncation, in the same order.
    const double scale = std::min(static_cast<double>(w) / static_cast<double>(width),
                                  static_cast<double>(h) / static_cast<double>(height));
    const auto scaled_w = static_cast<int64_t>(static_cast<double>(width) * scale);
    const auto scaled_h = static_cast<int64_t>(static_cast<double>(height) * scale);
    const int64_t effective = std::min(scaled_w * scaled_h, width * height);
    const int64_t wasted = w * h - effective;
    if (effective > max_effective || (effective == max_effective && wasted < min_wasted)) {
      max_effective = effective;
      min_wasted = wasted;
      best = {h, w};
    }
  }
  return best;
}

LlavaNextLayout ComputeLlavaNextLayout(int64_t height, int64_t width, const Resolutions& pinpoints,
                                       int64_t tile, int64_t side) {
  if (height <= 0 || width <= 0 || tile <= 0 || side <= 0 || pinpoints.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("LLaVA-NeXT tiling needs a positive image size ({}x{}), tile size "
                            "({}) and feature grid ({}), and at least one grid pinpoint",
                            height, width, tile, side));
  LlavaNextLayout l;
  std::tie(l.best_height, l.best_width) = SelectBestResolution(height, width, pinpoints);
  if (l.best_height % tile != 0 || l.best_width % tile != 0 || l.best_height <= 0 ||
      l.best_width <= 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("image_grid_pinpoints [{}, {}] is not a whole number of {}-pixel "
                            "tiles, so HF's tiles and feature grid would not line up",
                            l.best_height, l.best_width, tile));
  l.grid_rows = l.best_height / tile;
  l.grid_cols = l.best_width / tile;
  l.num_patches = l.grid_rows * l.grid_cols + 1;
  const int64_t map_rows = l.grid_rows * side, map_cols = l.grid_cols * side;
  l.rows = map_rows;
  l.cols = map_cols;
  const double image_aspect = static_cast<double>(width) / static_cast<double>(height);
  const double map_aspect = static_cast<double>(map_cols) / static_cast<double>(map_rows);
  if (image_aspect > map_aspect) {  // wider than the map: padding above and below
    const double scale = static_cast<double>(map_cols) / static_cast<double>(width);
    const int64_t kept = TruncateAfterRounding7(static_cast<double>(height) * scale);
    l.row_begin = (map_rows - kept) / 2;
    l.rows = map_rows - 2 * l.row_begin;
  } else {  // padding left and right
    const double scale = static_cast<double>(map_rows) / static_cast<double>(height);
    const int64_t kept = TruncateAfterRounding7(static_cast<double>(width) * scale);
    l.col_begin = (map_cols - kept) / 2;
    l.cols = map_cols - 2 * l.col_begin;
  }
  l.base_tokens = side * side;
  l.image_tokens = l.base_tokens + l.rows * (l.cols + 1);
  return l;
}

Resolutions LlavaNextPinpoints(const HfConfig& config) {
  if (!config.Has("image_grid_pinpoints"))
    return {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
  const json& list = config.json()["image_grid_pinpoints"];
  Resolutions out;
  if (list.is_array())
    for (const auto& pair : list) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() ||
          !pair[1].is_number_integer() || pair[0].get<int64_t>() <= 0 ||
          pair[1].get<int64_t>() <= 0) {
        out.clear();
        break;
      }
      out.emplace_back(pair[0].get<int64_t>(), pair[1].get<int64_t>());
    }
  if (out.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': image_grid_pinpoints must be a non-empty list of [height, "
                            "width] pairs of positive integers",
                            config.origin()));
  return out;
}

std::pair<int64_t, int64_t> LlavaNextGraphImageSize(const HfConfig& config) {
  if (!config.Has("graph_image_size")) return LlavaNextPinpoints(config).front();
  const json& size = config.json()["graph_image_size"];
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() ||
      !size[1].is_number_integer() || size[0].get<int64_t>() <= 0 || size[1].get<int64_t>() <= 0)
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': graph_image_size must be [height, width] in pixels", config.origin()));
  return {size[0].get<int64_t>(), size[1].get<int64_t>()};
}

void AddLlavaArchitectures(std::vector<Architecture>& out) {
  out.push_back(LlavaArchitecture("llava", &BuildLlava));
  out.push_back(LlavaArchitecture("llava_next", &BuildLlavaNext));
}

}  // namespace ipfs_accel::models
