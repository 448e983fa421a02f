// CLAP (HF ClapModel): a RoBERTa-like text tower and the HTSAT audio tower in one graph.

#include "architectures.h"
#include "clap_builder.h"

namespace ipfs_accel::models {

void AddClapArchitectures(std::vector<Architecture>& out) {
  auto build = [](const HfConfig& c, GraphBuilder& g) {
    BuildClap(c, g, ClapInputFrames(ReadClapShape(c)));
  };
  auto hints = [](const HfConfig& c) {
    const ClapShape s = ReadClapShape(c);
    std::map<std::string, InputHint> out = {
        {"input_ids", {InputHint::Kind::kIndexRange, 0, s.text.vocab}},
        {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
    };
    if (s.audio.fusion) out["is_longer"] = {InputHint::Kind::kIndexRange, 0, 2};
    return out;
  };
  auto roles = [](const HfConfig& c) {
    return DimRoles{.batch = "batch",
                    .sequence = "sequence",
                    .max_sequence = ReadClapShape(c).text.max_sequence};
  };
  // ClapModel checkpoints name weights from the root (text_model., audio_model., ...).
  out.push_back({"clap", "multimodal", {}, build, hints, roles});
  // ClapAudioModel alone; ClapModel and ClapAudioModelWithProjection hold it as "audio_model.".
  out.push_back(
      {"clap_audio_model",
       "audio",
       {"audio_model."},
       BuildClapAudioModel,
       [](const HfConfig& c) {
         std::map<std::string, InputHint> out = {{"input_features", {InputHint::Kind::kAny, 0, 0}}};
         if (ReadHtsatShape(c).fusion) out["is_longer"] = {InputHint::Kind::kIndexRange, 0, 2};
         return out;
       },
       [](const HfConfig&) { return DimRoles{.batch = "batch"}; }});
}

}  // namespace ipfs_accel::models
