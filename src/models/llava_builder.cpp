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
#include "piece_choice.h"
#include "vit_builder.h"
#include "vlm_connectors.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// Piece projector: LLaVA's linear_1/act/linear_2, PaliGemma's one linear, Idefics3's pixel
// shuffle and linear, InternVL's pixel shuffle, layer_norm and MLP, Gemma 3's pooling.
enum class Projector { kMlp, kLinear, kPixelShuffleLinear, kPixelShuffleMlp, kAvgPoolRms };
// Piece image_attention: plain causal; PaliGemma's first-iteration input all one bidirectional
// group; Gemma 3's runs of image tokens each one group.
enum class ImageAttention { kCausal, kPrefillBidirectional, kImageBlocks };

// Everything the two builders read from a LlavaConfig / LlavaNextConfig.
struct LlavaParts {
  HfConfig vision, text;
  ClipFamily family = ClipFamily::kClip;
  ClipVisionShape tower = {};  // the sizes; for a vit tower those its VitShape gives
  bool vit = false;            // InternVL's tower: the vit builder's (vit_builder.h)
  VitVariant vit_variant = {};
  DecoderSizes lm = {};
  std::vector<int64_t> feature_layers = {};  // indices into the tower's hidden_states, in order
  bool drop_class_token = true;              // vision_feature_select_strategy "default"
  std::string projector_act = {};
  bool projector_bias = true;
  bool projector_norm = false;  // VipLLaVA: a LayerNorm over the concatenated features first
  double projector_norm_eps = 1e-5;
  int64_t image_token = 0;
  int64_t tokens_per_image = 0;  // what one image yields after the strategy and the projector
  // The template's pieces for the models built on LLaVA's frame (docs/templates.md).
  Projector projector = Projector::kMlp;
  bool last_hidden_state = false;  // features: the tower's (post-normed) output, no layer choice
  bool scale_by_inverse_sqrt = false;  // PaliGemma: features / sqrt(text hidden)
  ImageAttention attention = ImageAttention::kCausal;
  bool scale_at_lookup = false;  // Gemma 3: only the text rows carry the embedding scale
  int64_t shuffle = 1;           // pixel shuffle factor r
  int64_t pool_kernel = 1;       // Gemma 3's AvgPool2d kernel
  int64_t projection_out = 0;    // PaliGemma's projection_dim
  int64_t images = 1;            // images per sequence (piece images_per_sample)
  bool yes_no_head = false;      // ShieldGemma 2: [yes, no] logits at the last position
  int64_t yes_token = 0, no_token = 0;
};

// Gemma 3's image groups [batch, sequence]: each run of image tokens numbered from 0 in order,
// -1 elsewhere (HF's image_group_ids from its token_type_ids, which mark the image tokens).
std::string ImageRunGroups(GraphBuilder& g, const std::string& input_ids, int64_t image_token) {
  const std::string is_image = g.Node("Equal", {input_ids, g.ConstInt64({image_token})});
  const std::string first =
      g.Node("Slice", {is_image, g.ConstInt64({0}), g.ConstInt64({1}), g.ConstInt64({1})});
  const std::string before =
      g.Node("Slice", {is_image, g.ConstInt64({0}), g.ConstInt64({-1}), g.ConstInt64({1})});
  // is_previous_image: [batch, 1] of false (x AND NOT x) before the first token.
  const std::string none = g.Node("And", {first, g.Node("Not", {first})});
  const std::string previous = g.Node("Concat", {none, before}, {{"axis", int64_t{1}}});
  const std::string starts = g.Node("Cast", {g.Node("And", {is_image, g.Node("Not", {previous})})},
                                    {{"to", int64_t{onnx::TensorProto::INT64}}});
  const std::string number =
      g.Node("Sub", {g.Node("CumSum", {starts, g.ConstInt64({1})}), g.ConstInt64({1})});
  return g.Node("Where", {is_image, number, g.ConstInt64({-1})});
}

// The language model on `embeddings` (the table is the token lookup's, for a tied head).
void LanguageModel(const LlavaParts& p, GraphBuilder& g, const std::string& embeddings,
                   const std::string& table, const std::string& input_ids) {
  DecoderEmbeddingsInput in;
  in.embeddings = embeddings;
  in.embedding_table = table;
  in.scaled = p.scale_at_lookup;
  if (p.attention == ImageAttention::kPrefillBidirectional)  // every new token in group 0
    in.bidirectional_groups = g.Node("Mul", {input_ids, g.ConstInt64({0})});
  else if (p.attention == ImageAttention::kImageBlocks)
    in.bidirectional_groups = ImageRunGroups(g, input_ids, p.image_token);
  if (!p.yes_no_head) {
    BuildDecoderFromEmbeddings(p.text, g, in);
    return;
  }
  // ShieldGemma2ForImageClassification: logits[:, -1, [yes, no]] and their softmax.
  in.logits_output = "";
  const std::string logits = BuildDecoderFromEmbeddings(p.text, g, in);
  const std::string last =
      g.Node("Slice", {logits, g.ConstInt64({-1}),
                       g.ConstInt64({std::numeric_limits<int64_t>::max()}), g.ConstInt64({1})});
  const std::string picked = g.Node(
      "Squeeze",
      {g.Node("Gather", {last, g.ConstInt64({p.yes_token, p.no_token})}, {{"axis", int64_t{2}}}),
       g.ConstInt64({1})});
  g.Node("Identity", {picked}, {}, "logits");
  g.Node("Softmax", {picked}, {{"axis", int64_t{-1}}}, "probabilities");
  const Dim batch = std::string("batch");
  g.Output("logits", onnx::TensorProto::FLOAT, {batch, int64_t{2}});
  g.Output("probabilities", onnx::TensorProto::FLOAT, {batch, int64_t{2}});
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
  HfConfig out(std::move(vision), origin);
  const std::string type = out.ModelType();
  if (type == "clip_vision_model" || type == "siglip_vision_model") return out;
  // A tower with a template of its own (Idefics3's: SigLIP's with its pieces).
  const ArchitectureTemplate* t = FindTemplate(type);
  return t ? ApplyTemplate(*t, out) : out;
}

// Whether the tower's template is built by the vit builder (InternVL's).
bool IsVitTower(const HfConfig& vision) {
  const ArchitectureTemplate* t = FindTemplate(vision.ModelType());
  return t && t->builder == "vit";
}

// A vit tower's sizes where the frame reads them; square images and patches, at most a CLS token.
ClipVisionShape VitTowerShape(const HfConfig& c, const VitShape& v, const VitVariant& variant) {
  if (v.image_h != v.image_w || v.patch_h != v.patch_w || variant.leading_tokens.size() > 1)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': the vision tower must have square images and patches and at "
                            "most one token before the patches",
                            c.origin()));
  ClipVisionShape s{};
  s.hidden = v.hidden;
  s.layers = v.layers;
  s.heads = v.heads;
  s.intermediate = v.intermediate;
  s.channels = v.channels;
  s.image_size = v.image_h;
  s.patch_size = v.patch_h;
  s.eps = v.eps;
  s.act = v.act;
  s.class_token = !variant.leading_tokens.empty();
  return s;
}

// The CLIP family that builds the tower: its own, or its template's builder's.
ClipFamily TowerFamily(const HfConfig& c, const HfConfig& vision) {
  std::string type = vision.ModelType();
  if (const ArchitectureTemplate* t = FindTemplate(type)) type = t->builder;
  if (type != "clip_vision_model" && type != "siglip_vision_model")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': vision_config.model_type='{}' is not supported as LLaVA's "
                            "vision tower (CLIP's and SigLIP's, and towers built by their "
                            "builders, are)",
                            c.origin(), vision.ModelType()));
  return ClipFamilyOf(type);
}

// text_config (LlamaConfig() when absent) with the LM head's tying made explicit: LlavaConfig ties
// when its own tie_word_embeddings or text_config's is set, LlavaNextConfig by its own alone.
HfConfig LlavaTextConfig(const HfConfig& c) {
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

// The pieces of the models built on LLaVA's frame (docs/templates.md, LLaVA pieces).
void ReadPieces(const HfConfig& c, LlavaParts& p) {
  p.projector = static_cast<Projector>(
      PieceChoice(c, "projector", "llava",
                  {"mlp", "linear", "pixel_shuffle_linear", "pixel_shuffle_mlp", "avg_pool_rms"}));
  p.last_hidden_state =
      PieceChoice(c, "features", "llava", {"hidden_states", "last_hidden_state"}) == 1;
  p.scale_by_inverse_sqrt =
      PieceChoice(c, "image_scale", "llava", {"none", "inverse_sqrt_text_hidden"}) == 1;
  p.attention = static_cast<ImageAttention>(PieceChoice(
      c, "image_attention", "llava", {"causal", "prefill_bidirectional", "image_blocks"}));
  p.scale_at_lookup = c.PieceBool("embedding_scale_at_lookup", false);
  p.yes_no_head = c.PieceBool("yes_no_head", false);
  if (p.yes_no_head) {
    p.yes_token = c.Id("yes_token_index", 10784);
    p.no_token = c.Id("no_token_index", 3771);
    for (const int64_t t : {p.yes_token, p.no_token})
      if (t < 0 || t >= p.lm.vocab)
        throw Error(ErrorKind::kCorrupt,
                    fmt::format("'{}': yes/no token {} is outside the vocabulary of {}", c.origin(),
                                t, p.lm.vocab));
  }
  p.images = c.PieceBool("images_per_sample", false) ? c.Int("graph_images", 1) : 1;
  p.shuffle = PieceInt(c, "pixel_shuffle_factor", 1);
  if (!c.Piece("pixel_shuffle_ratio").is_null()) {  // InternVL's downsample_ratio: r = 1 / ratio
    const double ratio = c.PieceDouble("pixel_shuffle_ratio", 1);
    p.shuffle = ratio > 0 ? static_cast<int64_t>(1.0 / ratio) : 0;
  }
  if (p.projector == Projector::kLinear) p.projection_out = c.Int("projection_dim", 2048);
  if (p.projector == Projector::kLinear && p.projection_out != p.lm.hidden)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': projection_dim {} is not the language model's hidden_size {}: "
                            "the image features could not take the image tokens' places",
                            c.origin(), p.projection_out, p.lm.hidden));
  if (p.shuffle < 1 || p.images < 1)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the pixel shuffle factor ({}) and graph_images ({}) must be "
                            "positive",
                            c.origin(), p.shuffle, p.images));
}

// The image tokens one image yields from `tokens` tower tokens after the projector.
int64_t ProjectedTokens(const HfConfig& c, LlavaParts& p, int64_t tokens) {
  const int64_t side = p.tower.image_size / p.tower.patch_size;
  if (p.projector == Projector::kPixelShuffleLinear || p.projector == Projector::kPixelShuffleMlp) {
    if (tokens != side * side || side % p.shuffle != 0)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': a pixel shuffle by {} needs the features to be a square "
                              "grid whose side it divides; the tower gives {} tokens",
                              c.origin(), p.shuffle, tokens));
    tokens /= p.shuffle * p.shuffle;
  } else if (p.projector == Projector::kAvgPoolRms) {
    // Gemma3MultiModalProjector: kernel = patches_per_image // int(sqrt(mm_tokens_per_image)).
    const auto per_side =
        static_cast<int64_t>(std::sqrt(static_cast<double>(c.Int("mm_tokens_per_image", 256))));
    p.pool_kernel = per_side > 0 ? side / per_side : 0;
    if (tokens != side * side || p.pool_kernel < 1)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': Gemma 3's pooling of a {}x{} patch grid to {} tokens a side "
                              "has a kernel of {}, which AvgPool2d cannot run",
                              c.origin(), side, side, per_side, p.pool_kernel));
    tokens = (side / p.pool_kernel) * (side / p.pool_kernel);
  }
  if (tokens <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the vision tower leaves no image features", c.origin()));
  return tokens;
}

LlavaParts ReadLlavaParts(const HfConfig& c) {
  LlavaParts p{VisionConfig(c), LlavaTextConfig(c)};
  p.vit = IsVitTower(p.vision);
  if (p.vit) {
    p.vit_variant = VitVariantOf(p.vision);
    p.tower = VitTowerShape(c, ReadVitShape(p.vision, p.vit_variant), p.vit_variant);
  } else {
    p.family = TowerFamily(c, p.vision);
    p.tower = ReadClipVisionShape(p.vision, p.family);
  }
  if (!DecoderTakesEmbeddings(p.text))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': text_config.model_type='{}' cannot be LLaVA's language model: "
                            "only LLaMA-like decoders (template layout \"llama\") take image "
                            "features among their input embeddings",
                            c.origin(), p.text.ModelType()));
  p.lm = ReadDecoderSizes(p.text);
  ReadPieces(c, p);
  if (p.last_hidden_state) {
    p.drop_class_token = false;
    p.tokens_per_image = ProjectedTokens(c, p, p.tower.patches() + (p.tower.class_token ? 1 : 0));
    return p;
  }
  p.feature_layers = FeatureLayers(c, p.tower.layers);
  // InternVL takes last_hidden_state at -1: the last layer's output only where the final
  // layernorm is an Identity (use_mean_pooling).
  if (p.vit && !IdentityFinalNorm(ReadVitShape(p.vision, p.vit_variant), p.vit_variant))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a vision tower with a final layernorm (use_mean_pooling "
                            "false) is not built here",
                            c.origin()));
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
  p.tokens_per_image = ProjectedTokens(
      c, p, p.tower.patches() + (p.tower.class_token ? 1 : 0) - (p.drop_class_token ? 1 : 0));
  return p;
}

// The tower's hidden_states and last_hidden_state on `pixels`.
ClipTowerOutputs Tower(GraphBuilder& g, const LlavaParts& p, const std::string& pixels) {
  if (!p.vit) return BuildClipVisionTower(p.vision, g, pixels, p.family);
  VitTowerOutputs vit = BuildVitTower(p.vision, p.vit_variant, g, pixels);
  return {std::move(vit.hidden_states), std::move(vit.last_hidden_state), ""};
}

// The projectors other than LLaVA's on one layer's features `x` [images, tokens, tower hidden].
std::string ProjectGrid(GraphBuilder& g, const LlavaParts& p, const std::string& x) {
  const int64_t hidden = p.tower.hidden, side = p.tower.image_size / p.tower.patch_size;
  switch (p.projector) {
    case Projector::kLinear: {  // PaliGemma, then / sqrt(text hidden) as get_image_features does
      const std::string y =
          g.Linear(x, "multi_modal_projector.linear", hidden, p.projection_out, true);
      if (!p.scale_by_inverse_sqrt) return y;
      return g.Node(
          "Div",
          {y, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(p.lm.hidden))))});
    }
    case Projector::kPixelShuffleLinear:  // Idefics3Connector
      return g.Linear(PixelShuffle(g, x, side, hidden, p.shuffle),
                      "connector.modality_projection.proj", hidden * p.shuffle * p.shuffle,
                      p.lm.hidden, false);
    case Projector::kPixelShuffleMlp: {  // InternVLMultiModalProjector
      const int64_t in = hidden * p.shuffle * p.shuffle;
      std::string y = g.LayerNorm(PixelShuffle(g, x, side, hidden, p.shuffle),
                                  "multi_modal_projector.layer_norm", in, 1e-5);
      y = Activation(g, g.Linear(y, "multi_modal_projector.linear_1", in, p.lm.hidden),
                     p.projector_act);
      return g.Linear(y, "multi_modal_projector.linear_2", p.lm.hidden, p.lm.hidden);
    }
    case Projector::kAvgPoolRms: {  // Gemma3MultiModalProjector
      const std::string pooled = AvgPoolTokens(g, x, side, hidden, p.pool_kernel);
      const std::string normed =
          DecoderRmsNorm(g, pooled, "multi_modal_projector.mm_soft_emb_norm", hidden, p.tower.eps,
                         /*plus_one=*/true);
      return g.Node("MatMul", {normed, g.Weight("multi_modal_projector.mm_input_projection_weight",
                                                {hidden, p.lm.hidden}, WeightInit::kNormal)});
    }
    case Projector::kMlp:
      break;
  }
  throw Error(ErrorKind::kInternal, "ProjectGrid: LLaVA's projector is ImageFeatures' own");
}

// The projected image features [images, tokens_per_image, text hidden] of `pixels` [images,
// channels, image_size, image_size]: LlavaModel.get_image_features.
std::string ImageFeatures(GraphBuilder& g, const LlavaParts& p, const std::string& pixels) {
  const ClipTowerOutputs tower = Tower(g, p, pixels);
  if (p.last_hidden_state) return ProjectGrid(g, p, tower.last_hidden_state);
  std::vector<std::string> picked;
  for (int64_t l : p.feature_layers) picked.push_back(tower.hidden_states[l]);
  std::string x =
      picked.size() == 1 ? picked[0] : g.Node("Concat", picked, {{"axis", int64_t{-1}}});
  if (p.drop_class_token)
    x = g.Node("Slice", {x, g.ConstInt64({1}), g.ConstInt64({std::numeric_limits<int64_t>::max()}),
                         g.ConstInt64({1})});
  const int64_t in = p.tower.hidden * static_cast<int64_t>(p.feature_layers.size());
  if (p.projector != Projector::kMlp) return ProjectGrid(g, p, x);
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

// LLaVA-OneVision's vision_aspect_ratio "anyres_max_N" (piece anyres_max): the unpadded tiles'
// map is bilinearly shrunk when sqrt(rows * cols / (N * side^2)) > 1.1, which is not built here.
void RequireNoAnyResShrink(const HfConfig& c, const LlavaNextLayout& l, int64_t side) {
  const nlohmann::json piece = c.Piece("anyres_max");
  if (piece.is_null()) return;
  const std::string text = piece.is_string() ? piece.get<std::string>() : "";
  const std::string prefix = "anyres_max_";
  int64_t most = 0;
  if (text.rfind(prefix, 0) == 0 && text.size() > prefix.size() &&
      text.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
    most = std::stoll(text.substr(prefix.size()));
  if (most <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': vision_aspect_ratio '{}' is not anyres_max_N", c.origin(),
                            piece.dump()));
  const double ratio =
      std::sqrt(static_cast<double>(l.rows * l.cols) / static_cast<double>(most * side * side));
  if (ratio > 1.1)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': at graph_image_size the {}x{} feature map exceeds {} tiles by "
                            "a ratio of {:.3f} > 1.1, where HF shrinks it bilinearly; that is not "
                            "built: choose a smaller graph_image_size",
                            c.origin(), l.rows, l.cols, text, ratio));
}

LlavaNextLayout LayoutFor(const HfConfig& c, const LlavaParts& p) {
  const auto [height, width] = LlavaNextGraphImageSize(c);
  const int64_t side = p.tower.image_size / p.tower.patch_size;
  const LlavaNextLayout l =
      ComputeLlavaNextLayout(height, width, LlavaNextPinpoints(c), p.tower.image_size, side);
  RequireNoAnyResShrink(c, l, side);
  return l;
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
            const LlavaParts p = ReadLlavaParts(c);
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
            const LlavaParts p = ReadLlavaParts(c);
            return DecoderDimRoles(DecoderMaxPositions(p.text),
                                   LlavaImageTokens(c) + (BosToken(p) >= 0 ? 1 : 0));
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
  const LlavaParts p = ReadLlavaParts(config);
  const Dim batch = std::string("batch");
  const int64_t size = p.tower.image_size, channels = p.tower.channels;
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, std::string("sequence")});
  std::string pixels = "pixel_values";
  if (p.images > 1 || config.PieceBool("images_per_sample", false)) {
    // Idefics3: [batch, images, c, h, w], every image real (no all-zero padding images).
    g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, p.images, channels, size, size});
    pixels = g.Node("Reshape", {pixels, g.ConstInt64({-1, channels, size, size})});
  } else {
    g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, channels, size, size});
  }
  DecoderTokens tokens = DecoderTokenEmbeddings(p.text, g, "input_ids");
  if (p.scale_at_lookup)
    tokens.embeddings = DecoderScaleTokenEmbeddings(p.text, g, tokens.embeddings);
  const std::string features = ImageFeatures(g, p, pixels);
  const std::string merged = ScatterFeaturesAtTokens(g, "input_ids", tokens.embeddings, features,
                                                     p.image_token, p.lm.hidden);
  LanguageModel(p, g, merged, tokens.table, "input_ids");
}

void BuildLlavaNext(const HfConfig& config, GraphBuilder& g) {
  const LlavaParts p = ReadLlavaParts(config);
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
  LanguageModel(p, g, merged, tokens.table, "input_ids");
}

int64_t LlavaImageTokens(const HfConfig& config) {
  const LlavaParts p = ReadLlavaParts(config);
  if (!IsAnyRes(config)) return p.tokens_per_image * p.images;
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
