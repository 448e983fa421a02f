// Vision architectures: ViT and DeiT (vit_builder), and the CLIP/SigLIP dual encoders with their
// towers as models of their own (clip_builder).

#include "architectures.h"
#include "clip_builder.h"
#include "convnext_builder.h"
#include "mobilenet_builder.h"
#include "poolformer_builder.h"
#include "regnet_builder.h"
#include "segformer_builder.h"
#include "swin_builder.h"
#include "vit_builder.h"
#include "xclip_builder.h"

namespace ipfs_accel::models {

namespace {

// A ViT-family model: the vit builder with `pieces` (docs/templates.md).
Architecture Vit(const std::string& model_type, const nlohmann::json& pieces,
                 const std::string& prefix, const std::string& modality = "vision") {
  auto build = [pieces](const HfConfig& c, GraphBuilder& g) {
    BuildVit(c, ReadVitVariant(pieces, c), VitHasPooler(c), g);
  };
  auto hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  return {model_type, modality, {prefix}, build, hints, roles};
}

// A ConvNeXt-family model: the convnext builder with `pieces`.
Architecture ConvNext(const std::string& model_type, const nlohmann::json& pieces,
                      const std::string& prefix) {
  auto build = [pieces](const HfConfig& c, GraphBuilder& g) {
    BuildConvNext(c, ReadConvNextVariant(pieces, c), g);
  };
  auto hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  return {model_type, "vision", {prefix}, build, hints, roles};
}

// A Swin-family model: the swin builder with `pieces`.
Architecture Swin(const std::string& model_type, const nlohmann::json& pieces) {
  auto build = [pieces](const HfConfig& c, GraphBuilder& g) { BuildSwin(c, pieces, g); };
  auto hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  return {model_type, "vision", {"swin."}, build, hints, roles};
}

// A Mix Transformer encoder (SegFormer, GLPN, PVTv2): the segformer builder with `pieces`.
Architecture Segformer(const std::string& model_type, const nlohmann::json& pieces,
                       const std::string& prefix) {
  auto build = [pieces](const HfConfig& c, GraphBuilder& g) { BuildSegformer(c, pieces, g); };
  auto hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  return {model_type, "vision", {prefix}, build, hints, roles};
}

// An image model whose builder takes pieces and no other argument.
Architecture ImageModel(const std::string& model_type, const std::string& prefix,
                        void (*builder)(const HfConfig&, const nlohmann::json&, GraphBuilder&)) {
  auto build = [builder](const HfConfig& c, GraphBuilder& g) {
    builder(c, nlohmann::json::object(), g);
  };
  auto hints = [](const HfConfig&) { return std::map<std::string, InputHint>{}; };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  return {model_type, "vision", {prefix}, build, hints, roles};
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

}  // namespace

void AddVisionArchitectures(std::vector<Architecture>& out) {
  out.push_back(Vit("vit", nlohmann::json::object(), "vit."));
  out.push_back(Vit("deit", {{"leading_tokens", {"cls_token", "distillation_token"}}}, "deit."));
  const nlohmann::json dinov2 = {
      {"layer", "dinov2"}, {"swiglu", "$use_swiglu_ffn"}, {"pooler", "first_token"}};
  nlohmann::json with_mask = dinov2, with_registers = dinov2;
  with_mask["mask_token"] = "$use_mask_token";
  with_registers.update({{"mask_token", true}, {"registers", "$num_register_tokens"}});
  out.push_back(Vit("dinov2", with_mask, "dinov2."));
  out.push_back(Vit("dinov2_with_registers", with_registers, "dinov2_with_registers."));
  out.push_back(Vit("vit_msn", {{"pooler", "none"}}, "vit."));
  out.push_back(
      Vit("ijepa", {{"leading_tokens", nlohmann::json::array()}, {"pooler", "none"}}, "ijepa."));
  out.push_back(Vit("vivit", {{"patches", "tubelet"}}, "vivit."));
  out.push_back(
      Vit("yolos",
          {{"trailing_tokens", {{"name", "detection_tokens"}, {"count", "$num_detection_tokens"}}},
           {"mid_position_embeddings", "$use_mid_position_embeddings"}},
          "vit."));
  out.push_back(Vit("audio-spectrogram-transformer",
                    {{"patches", "spectrogram"},
                     {"leading_tokens", {"cls_token", "distillation_token"}},
                     {"pooler", "mean_first_two"}},
                    "audio_spectrogram_transformer.", "audio"));
  const nlohmann::json beit = {
      {"layer", "beit"},
      {"mask_token", "$use_mask_token"},
      {"position_embeddings", "$use_absolute_position_embeddings"},
      {"relative_position_bias", "$use_relative_position_bias"},
      {"shared_relative_position_bias", "$use_shared_relative_position_bias"},
      {"pooler", "beit"}};
  nlohmann::json data2vec = beit;
  data2vec["pooler_classes"] = {"Data2VecVisionForImageClassification"};
  out.push_back(Vit("beit", beit, "beit."));
  out.push_back(Vit("data2vec-vision", data2vec, "data2vec_vision."));
  out.push_back(ImageModel("poolformer", "poolformer.", BuildPoolFormer));
  out.push_back(ImageModel("mobilenet_v1", "mobilenet_v1.", BuildMobileNetV1));
  out.push_back(ImageModel("mobilenet_v2", "mobilenet_v2.", BuildMobileNetV2));
  out.push_back(ImageModel("regnet", "regnet.", BuildRegNet));
  out.push_back(Segformer("segformer", nlohmann::json::object(), "segformer."));
  out.push_back(Segformer("glpn", nlohmann::json::object(), "glpn."));
  out.push_back(Segformer("pvt_v2", {{"names", "pvt_v2"}}, "pvt_v2."));
  out.push_back(Swin("swin", nlohmann::json::object()));
  out.push_back(Swin("donut-swin", {{"final_norm", false}}));
  out.push_back(ConvNext("convnext", nlohmann::json::object(), "convnext."));
  out.push_back(ConvNext("convnextv2", {{"block", "grn"}}, "convnextv2."));
  out.push_back(ConvNext("dinov3_convnext", {{"names", "dinov3"}}, "dinov3_convnext."));
  out.push_back(DualEncoder("clip", ClipFamily::kClip));
  out.push_back(DualEncoder("siglip", ClipFamily::kSiglip));
  out.push_back(TextTower("clip_text_model", ClipFamily::kClip));
  out.push_back(VisionTower("clip_vision_model", ClipFamily::kClip));
  out.push_back(TextTower("siglip_text_model", ClipFamily::kSiglip));
  out.push_back(VisionTower("siglip_vision_model", ClipFamily::kSiglip));
  AddXclipArchitectures(out);
}

}  // namespace ipfs_accel::models
