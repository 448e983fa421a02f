#include "architectures.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"

namespace ipfs_accel::models {

DimRoles TextDimRoles(const HfConfig& c) {
  return {.batch = "batch",
          .sequence = "sequence",
          .max_sequence = c.Int("max_position_embeddings", 0)};
}

DimRoles DecoderDimRoles(int64_t max_sequence, int64_t min_sequence) {
  return {.batch = "batch",
          .sequence = "sequence",
          .max_sequence = max_sequence,
          .past_sequence = "past_sequence",
          .total_sequence = "total_sequence",
          .min_sequence = min_sequence};
}

const std::map<std::string, Architecture>& Builders() {
  static const std::map<std::string, Architecture> builders = [] {
    std::vector<Architecture> v;
    for (auto* family_file :
         {AddEncoderArchitectures, AddDecoderArchitectures, AddSeq2SeqArchitectures,
          AddVisionArchitectures, AddAudioArchitectures, AddClapArchitectures,
          AddDetectionArchitectures, AddMultimodalArchitectures})
      family_file(v);
    std::map<std::string, Architecture> out;
    for (auto& a : v) out.emplace(a.model_type, std::move(a));
    return out;
  }();
  return builders;
}

namespace {

// A composite whose towers have templates (piece `towers`, e.g. OwlViT's) builds its component
// "<x>_model" as the tower template named for "<x>_config".
void TowerComponents(const ArchitectureTemplate& t, Architecture& a) {
  const nlohmann::json& towers = t.pieces.contains("towers") ? t.pieces["towers"] : nullptr;
  if (!towers.is_object()) return;
  for (Component& c : a.components) {
    const std::string key = c.name.substr(0, c.name.rfind("_model")) + "_config";
    if (towers.contains(key) && towers[key].is_string()) c.model_type = towers[key];
  }
}

}  // namespace

Architecture InstantiateTemplate(const ArchitectureTemplate& t) {
  const auto it = Builders().find(t.builder);
  if (it == Builders().end())
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("template '{}' names builder '{}', which this build lacks",
                                  t.source, t.builder));
  Architecture a = it->second;
  const ArchitectureTemplate* tp = &t;  // Templates() lives as long as the program
  a.model_type = t.model_type;
  if (!t.modality.empty()) a.modality = t.modality;
  a.family = t.family;
  if (!t.checkpoint_prefixes.empty()) a.checkpoint_prefixes = t.checkpoint_prefixes;
  a.template_version = t.version;
  TowerComponents(t, a);
  a.build = [build = a.build, tp](const HfConfig& c, GraphBuilder& g) {
    build(ApplyTemplate(*tp, c), g);
  };
  a.input_hints = [hints = a.input_hints, tp](const HfConfig& c) {
    return hints(ApplyTemplate(*tp, c));
  };
  a.dim_roles = [roles = a.dim_roles, tp](const HfConfig& c) {
    return roles(ApplyTemplate(*tp, c));
  };
  return a;
}

const std::vector<Architecture>& Architectures() {
  static const std::vector<Architecture> archs = [] {
    std::vector<Architecture> v;
    for (const ArchitectureTemplate& t : Templates())
      if (!t.abstract) v.push_back(InstantiateTemplate(t));
    return v;
  }();
  return archs;
}

const Architecture& FindArchitecture(const std::string& model_type, const std::string& origin) {
  for (const auto& a : Architectures())
    if (a.model_type == model_type) return a;
  const auto& unsupported = UnsupportedModelTypes();
  if (const auto it = unsupported.find(model_type); it != unsupported.end())
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("'{}' names architecture '{}', which this tool cannot build: {}; "
                                  "export the model to .onnx and pass that file instead",
                                  origin, model_type, it->second));
  throw core::Error(
      core::ErrorKind::kUnsupported,
      fmt::format("'{}' names architecture '{}', which this tool cannot build yet "
                  "({} architectures can be built: `ipfs-accelerate templates list`); "
                  "export the model to .onnx and pass that file instead",
                  origin, model_type, Architectures().size()));
}

}  // namespace ipfs_accel::models
