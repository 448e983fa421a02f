#include "ipfs_accel/harness/media_inputs.h"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/preprocess/audio_features.h"
#include "ipfs_accel/preprocess/image_processor.h"

namespace ipfs_accel::harness {

namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

// The model's config.json object: its folder's, or its catalog entry's.
nlohmann::json ModelConfig(const models::Model& model) {
  if (model.info.source == "hf-folder")
    return models::HfConfig::Load(model.info.source_path).json();
  if (model.info.source == "catalog")
    if (auto entry = models::FindInCatalog(model.info.name)) return entry->config.json();
  return nlohmann::json::object();
}

const runtime::TensorSpec* FindSpec(const std::vector<runtime::TensorSpec>& inputs,
                                    const std::string& name) {
  for (const auto& s : inputs)
    if (s.name == name) return &s;
  return nullptr;
}

const runtime::TensorSpec& RequireSpec(const models::Model& model,
                                       const std::vector<runtime::TensorSpec>& inputs,
                                       const std::string& name, const std::string& what) {
  if (const auto* s = FindSpec(inputs, name)) return *s;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("model '{}' ({}) has no '{}' input, so it takes no {}", model.info.name,
                          model.info.architecture, name, what));
}

preprocess::ImageProcessorConfig ImageProcessor(const models::Model& model,
                                                const MediaFiles& files) {
  if (!files.preprocessor.empty()) return preprocess::LoadImageProcessor(files.preprocessor);
  if (model.info.source == "hf-folder")
    return preprocess::LoadImageProcessor(model.info.source_path);
  return preprocess::ImageProcessorForModel(ModelConfig(model), model.info.name);
}

preprocess::AudioFeatureConfig AudioExtractor(const models::Model& model, const MediaFiles& files) {
  if (!files.preprocessor.empty())
    return preprocess::LoadAudioFeatureExtractor("", files.preprocessor);
  if (model.info.source == "hf-folder")
    return preprocess::LoadAudioFeatureExtractor("", model.info.source_path);
  const auto kind = preprocess::AudioFeatureKindForModelType(model.info.architecture);
  if (!kind)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("model '{}' ({}) has no audio feature extractor this tool knows; "
                            "pass --preprocessor with its preprocessor_config.json",
                            model.info.name, model.info.architecture));
  return preprocess::AudioFeatureExtractorForModel(*kind, ModelConfig(model));
}

std::string Describe(const std::string& cls, const std::string& origin) {
  return fmt::format("{} ({})", cls, origin);
}

}  // namespace

MediaInputs MakeMediaInputs(const models::Model& model,
                            const std::vector<runtime::TensorSpec>& inputs,
                            const MediaFiles& files) {
  const int given = !files.image.empty() + !files.audio.empty() + !files.video.empty();
  if (given > 1)
    throw Error(ErrorKind::kInvalidArgument, "give at most one of --image, --audio, --video");
  MediaInputs out;
  if (given == 0) {
    // No file: every input comes from elsewhere (token ids, defaults, generated values).
  } else if (!files.image.empty()) {
    RequireSpec(model, inputs, "pixel_values", "image");
    const auto config = ImageProcessor(model, files);
    out.tensors["pixel_values"] = preprocess::PreprocessImage(files.image, config);
    out.processor = Describe(config.processor_class, config.origin);
  } else if (!files.video.empty()) {
    const auto& spec = RequireSpec(model, inputs, "pixel_values", "video");
    if (spec.shape.size() != 5)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("model '{}' takes images, not video (pixel_values has rank {}); "
                              "use --image",
                              model.info.name, spec.shape.size()));
    std::vector<std::string> frames = files.video;
    if (frames.size() == 1 && fs::is_directory(frames[0]))
      frames = preprocess::ListFrameFiles(frames[0]);
    const auto config = ImageProcessor(model, files);
    const int64_t num_frames = spec.shape[1] > 0 ? spec.shape[1] : 0;
    out.tensors["pixel_values"] = preprocess::PreprocessVideo(frames, config, num_frames);
    out.processor = Describe(config.processor_class, config.origin);
  } else {
    auto config = AudioExtractor(model, files);
    const char* name =
        config.kind == preprocess::AudioFeatureKind::kWav2Vec2 ? "input_values" : "input_features";
    const auto& spec = RequireSpec(model, inputs, name, "audio");
    // A graph built for fewer frames than the extractor's default length (a small Whisper or
    // CLAP config) takes the audio length those frames hold, as HF's max_length does.
    if (config.kind == preprocess::AudioFeatureKind::kWhisper && spec.shape.size() == 3 &&
        spec.shape[2] > 0)
      config.max_length = spec.shape[2] * config.hop_length;
    if (config.kind == preprocess::AudioFeatureKind::kClap && spec.shape.size() == 4 &&
        spec.shape[2] > 0)
      config.max_length = (spec.shape[2] - 1) * config.hop_length;
    out.tensors = preprocess::PreprocessAudio(files.audio, config);
    for (auto it = out.tensors.begin(); it != out.tensors.end();)
      it = FindSpec(inputs, it->first) ? std::next(it) : out.tensors.erase(it);
    out.processor = Describe(preprocess::AudioFeatureKindName(config.kind), config.origin);
  }
  // An encoder-decoder (Whisper) starts decoding from its decoder start token, as HF's
  // generate does; the caller may replace it with a longer prompt.
  if (FindSpec(inputs, "decoder_input_ids")) {
    const nlohmann::json config = ModelConfig(model);
    core::Tensor start = core::Tensor::Zeros(core::DType::kInt64, {1, 1});
    start.values<int64_t>()[0] = config.value("decoder_start_token_id", int64_t{0});
    out.tensors["decoder_input_ids"] = std::move(start);
  }
  return out;
}

}  // namespace ipfs_accel::harness
