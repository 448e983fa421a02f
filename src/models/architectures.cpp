#include "architectures.h"

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

DimRoles TextDimRoles(const HfConfig& c) {
  return {.batch = "batch",
          .sequence = "sequence",
          .max_sequence = c.Int("max_position_embeddings", 0)};
}

const std::vector<Architecture>& Architectures() {
  static const std::vector<Architecture> archs = [] {
    std::vector<Architecture> v;
    const auto add = [&v](void (*family_file)(std::vector<Architecture>&), const char* family) {
      const size_t first = v.size();
      family_file(v);
      for (size_t i = first; i < v.size(); ++i) v[i].family = family;
    };
    add(AddEncoderArchitectures, "embedding");
    add(AddDecoderArchitectures, "text_generation");
    add(AddSeq2SeqArchitectures, "text_generation");
    add(AddVisionArchitectures, "vision");
    add(AddAudioArchitectures, "audio");
    add(AddClapArchitectures, "audio");
    add(AddDetectionArchitectures, "vision");
    add(AddMultimodalArchitectures, "multimodal");
    return v;
  }();
  return archs;
}

const Architecture& FindArchitecture(const std::string& model_type, const std::string& origin) {
  for (const auto& a : Architectures())
    if (a.model_type == model_type) return a;
  std::vector<std::string> known;
  for (const auto& a : Architectures()) known.push_back(a.model_type);
  throw core::Error(core::ErrorKind::kUnsupported,
                    fmt::format("'{}' names architecture '{}', which this tool cannot build yet "
                                "(known: {}); export the model to .onnx and pass that file instead",
                                origin, model_type, fmt::join(known, ", ")));
}

}  // namespace ipfs_accel::models
