// Vision builders: the ViT family (vit_builder: ViT, DeiT and the models that are ViT with other
// pieces), ConvNeXt, Swin, the Mix Transformer, PoolFormer, MobileNet and RegNet, and the
// CLIP/SigLIP dual encoders with their towers as models of their own (clip_builder). Templates
// name them (data/templates/vision); each reads its template's pieces from the config.

#include <functional>

#include "aimv2_builder.h"
#include "architectures.h"
#include "bit_builder.h"
#include "clip_builder.h"
#include "convnext_builder.h"
#include "cvt_builder.h"
#include "efficientnet_builder.h"
#include "hgnet_v2_builder.h"
#include "levit_builder.h"
#include "llama4_vision_builder.h"
#include "mobilenet_builder.h"
#include "pix2struct_builder.h"
#include "pixtral_builder.h"
#include "poolformer_builder.h"
#include "pp_lcnet_builder.h"
#include "pvt_builder.h"
#include "regnet_builder.h"
#include "rt_detr_resnet_builder.h"
#include "sam_vision_builder.h"
#include "segformer_builder.h"
#include "swiftformer_builder.h"
#include "swin_builder.h"
#include "textnet_builder.h"
#include "timesformer_builder.h"
#include "vit_builder.h"
#include "vitdet_builder.h"
#include "xclip_builder.h"

namespace ipfs_accel::models {

namespace {

// The template's pieces named `names` (HfConfig::Piece, "$key" resolved), over `base`: the
// object the vision builders read their variant from.
nlohmann::json TemplatePieces(const HfConfig& c, const std::vector<std::string>& names,
                              nlohmann::json base = nlohmann::json::object()) {
  for (const std::string& name : names)
    if (nlohmann::json v = c.Piece(name); !v.is_null()) base[name] = std::move(v);
  return base;
}

// A builder prototype of an image (or spectrogram) model: `build` with the batch as its only role.
Architecture ImageBuilder(const std::string& name,
                          std::function<void(const HfConfig&, GraphBuilder&)> build) {
  auto hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  return {name, "vision", {}, std::move(build), hints, roles};
}

// The vit builder (docs/templates.md, ViT pieces); `base` holds the pieces a builder named for an
// earlier model type (deit) has without a template saying so.
Architecture Vit(const std::string& name, const std::string& prefix,
                 const nlohmann::json& base = nlohmann::json::object()) {
  Architecture a = ImageBuilder(name, [base](const HfConfig& c, GraphBuilder& g) {
    BuildVit(c, VitVariantOf(c, base), VitHasPooler(c), g);
  });
  a.checkpoint_prefixes = {prefix};
  return a;
}

// A builder reading the template's pieces `names` and passing them on.
Architecture WithPieces(const std::string& name, std::vector<std::string> names,
                        void (*builder)(const HfConfig&, const nlohmann::json&, GraphBuilder&)) {
  return ImageBuilder(name,
                      [names = std::move(names), builder](const HfConfig& c, GraphBuilder& g) {
                        builder(c, TemplatePieces(c, names), g);
                      });
}

void BuildConvNextFromPieces(const HfConfig& c, const nlohmann::json& pieces, GraphBuilder& g) {
  BuildConvNext(c, ReadConvNextVariant(pieces, c), g);
}

std::map<std::string, InputHint> TextHints(const ClipTextShape& s) {
  return {{"input_ids", {InputHint::Kind::kIndexRange, 0, s.vocab}},
          {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
}

DimRoles TextRoles(const ClipTextShape& s) {
  return DimRoles{.batch = "batch", .sequence = "sequence", .max_sequence = s.max_positions};
}

// CLIPModel / SiglipModel: no task head wraps them, so their checkpoints carry no prefix.
Architecture DualEncoder(const std::string& model_type, ClipFamily family) {
  auto build = [family](const HfConfig& c, GraphBuilder& g) { BuildClipModel(c, family, g); };
  auto text = [family](const HfConfig& c) {
    return ReadClipTextShape(ClipSubConfig(c, "text_config"), family);
  };
  auto hints = [text](const HfConfig& c) { return TextHints(text(c)); };
  auto roles = [text](const HfConfig& c) { return TextRoles(text(c)); };
  Architecture a{model_type, "multimodal", {}, build, hints, roles};
  const std::string prefix = family == ClipFamily::kClip ? "clip" : "siglip";
  a.components = {{"text_model", prefix + "_text_model",
                   [](const HfConfig& c) { return ClipSubConfig(c, "text_config"); }},
                  {"vision_model", prefix + "_vision_model",
                   [](const HfConfig& c) { return ClipSubConfig(c, "vision_config"); }}};
  return a;
}

Architecture TextTower(const std::string& model_type, ClipFamily family) {
  auto build = [family](const HfConfig& c, GraphBuilder& g) { BuildClipTextModel(c, family, g); };
  auto hints = [family](const HfConfig& c) { return TextHints(ReadClipTextShape(c, family)); };
  auto roles = [family](const HfConfig& c) { return TextRoles(ReadClipTextShape(c, family)); };
  Architecture a{model_type, "text", {}, build, hints, roles};
  a.optional_prefixes = {"text_model."};
  return a;
}

Architecture VisionTower(const std::string& model_type, ClipFamily family) {
  auto build = [family](const HfConfig& c, GraphBuilder& g) { BuildClipVisionModel(c, family, g); };
  auto hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  Architecture a{model_type, "vision", {}, build, hints, roles};
  a.optional_prefixes = {"vision_model."};
  return a;
}

// Aimv2TextModel (aimv2_builder.h): a text model with input_ids and attention_mask.
Architecture Aimv2Text() {
  auto hints = [](const HfConfig& c) {
    return std::map<std::string, InputHint>{
        {"input_ids", {InputHint::Kind::kIndexRange, 0, Aimv2TextVocab(c)}},
        {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
  };
  auto roles = [](const HfConfig& c) {
    return DimRoles{
        .batch = "batch", .sequence = "sequence", .max_sequence = Aimv2TextMaxPositions(c)};
  };
  Architecture a{"aimv2_text", "text", {}, BuildAimv2Text, hints, roles};
  a.optional_prefixes = {"text_model."};
  return a;
}

// Pix2Struct's and Kosmos-2.5's vision encoders: flattened patches, a patch axis of any length.
Architecture Pix2StructVision() {
  auto build = [](const HfConfig& c, GraphBuilder& g) {
    BuildPix2StructVision(c, TemplatePieces(c, {"attention_scale"}), g);
  };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch", .sequence = "sequence"}; };
  return {"pix2struct_vision", "vision", {}, build, Pix2StructVisionHints, roles};
}

}  // namespace

void AddVisionArchitectures(std::vector<Architecture>& out) {
  // The family builders vision templates instantiate (data/templates/vision, audio/ for AST).
  out.push_back(Vit("vit", "vit."));
  out.push_back(Vit("deit", "deit.", {{"leading_tokens", {"cls_token", "distillation_token"}}}));
  out.push_back(WithPieces("convnext", {"names", "block"}, BuildConvNextFromPieces));
  out.push_back(
      WithPieces("swin", {"final_norm", "block", "shift_single_window_stages"}, BuildSwin));
  out.push_back(WithPieces("segformer", {"names"}, BuildSegformer));
  out.push_back(WithPieces("poolformer", {}, BuildPoolFormer));
  out.push_back(WithPieces("mobilenet_v1", {}, BuildMobileNetV1));
  out.push_back(WithPieces("mobilenet_v2", {}, BuildMobileNetV2));
  out.push_back(WithPieces("regnet", {}, BuildRegNet));
  out.push_back(WithPieces("bit", {}, BuildBit));
  out.push_back(WithPieces("textnet", {}, BuildTextNet));
  out.push_back(WithPieces("efficientnet", {"top_conv"}, BuildEfficientNet));
  out.push_back(WithPieces("hgnet_v2", {}, BuildHgNetV2));
  out.push_back(WithPieces("pp_lcnet", {"layer"}, BuildPpLcNet));
  out.push_back(WithPieces("rt_detr_resnet", {}, BuildRtDetrResNet));
  out.push_back(WithPieces("levit", {}, BuildLevit));
  out.push_back(WithPieces("swiftformer", {}, BuildSwiftFormer));
  out.push_back(WithPieces("cvt", {}, BuildCvt));
  out.push_back(WithPieces("pvt", {}, BuildPvt));
  out.push_back(Pix2StructVision());
  out.push_back(WithPieces(
      "vitdet", {},
      [](const HfConfig& c, const nlohmann::json&, GraphBuilder& g) { BuildVitDet(c, g); }));
  out.push_back(WithPieces(
      "aimv2_vision", {},
      [](const HfConfig& c, const nlohmann::json&, GraphBuilder& g) { BuildAimv2Vision(c, g); }));
  out.push_back(Aimv2Text());
  out.push_back(WithPieces(
      "pixtral_vision", {},
      [](const HfConfig& c, const nlohmann::json&, GraphBuilder& g) { BuildPixtralVision(c, g); }));
  out.push_back(WithPieces("sam_vision", {"intermediate_embeddings"}, BuildSamVision));
  out.push_back(WithPieces(
      "llama4_vision", {},
      [](const HfConfig& c, const nlohmann::json&, GraphBuilder& g) { BuildLlama4Vision(c, g); }));
  out.push_back(WithPieces(
      "timesformer", {},
      [](const HfConfig& c, const nlohmann::json&, GraphBuilder& g) { BuildTimesformer(c, g); }));
  out.push_back(DualEncoder("clip", ClipFamily::kClip));
  out.push_back(DualEncoder("siglip", ClipFamily::kSiglip));
  out.push_back(TextTower("clip_text_model", ClipFamily::kClip));
  out.push_back(VisionTower("clip_vision_model", ClipFamily::kClip));
  out.push_back(TextTower("siglip_text_model", ClipFamily::kSiglip));
  out.push_back(VisionTower("siglip_vision_model", ClipFamily::kSiglip));
  AddXclipArchitectures(out);
}

}  // namespace ipfs_accel::models
