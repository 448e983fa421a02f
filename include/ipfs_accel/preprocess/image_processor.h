#pragma once
// Hugging Face image processors (the slow, PIL-based ones): a preprocessor_config.json read into
// a config with each processor class's defaults, and the pipeline that turns image files into
// `pixel_values`: resize -> center crop -> rescale -> normalize -> channels first, in that order,
// with HF's dtypes (uint8 through crop, rescale in float64 then float32, normalize in float32).
//
// Classes: ViTImageProcessor, CLIPImageProcessor, VideoMAEImageProcessor (X-CLIP uses VideoMAE's),
// also under their *FeatureExtractor and *ImageProcessorFast names. The Fast ones resize with
// torchvision in HF; this follows the PIL path for all of them.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/preprocess/image.h"

namespace ipfs_accel::preprocess {

// transformers' size dict: either a fixed {height, width} or {shortest_edge} (the shorter side
// becomes shortest_edge, the longer one int(shortest_edge * long / short)).
struct ImageSize {
  int64_t height = 0;  // > 0 with width for a fixed size
  int64_t width = 0;
  int64_t shortest_edge = 0;  // > 0 for an aspect-keeping resize
};

struct ImageProcessorConfig {
  std::string processor_class;  // canonical: "ViTImageProcessor", "CLIPImageProcessor", ...
  std::string origin;           // the file it came from, for messages; "defaults" when none
  bool do_resize = true;
  ImageSize size;
  Resample resample = Resample::kBilinear;
  bool do_center_crop = false;
  int64_t crop_height = 0;
  int64_t crop_width = 0;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> image_mean{};
  std::array<float, 3> image_std{};
  // Read for completeness: images arrive already RGB (DecodeImage does load_image's conversion),
  // so HF's processor-level convert_to_rgb has nothing left to do in a pipeline.
  bool do_convert_rgb = false;
};

// The defaults of a processor class (any of the accepted names). Throws kUnsupported for another.
ImageProcessorConfig DefaultImageProcessor(const std::string& processor_class);

// A preprocessor_config.json's object. The class comes from image_processor_type, else
// feature_extractor_type, else `fallback_class`; keys that are absent take that class's defaults;
// int `size`/`crop_size` are read the way the class's get_size_dict reads them. Throws kCorrupt
// for a key of the wrong type, kUnsupported for an unknown class, a step this pipeline lacks
// (do_pad, crop_pct, ...) or a size the class rejects.
ImageProcessorConfig ImageProcessorFromJson(const nlohmann::json& json, const std::string& origin,
                                            const std::string& fallback_class = "");

// `path` is a preprocessor_config.json or a model folder holding one; when the file names no
// class, the class follows config.json's model_type (vit, clip, videomae, x_clip). A folder with
// no preprocessor_config.json (HF itself would refuse it) gets that class's defaults with the
// sizes set to the model's image_size (vision_config.image_size for CLIP and X-CLIP): ViT
// resizes to it, CLIP and VideoMAE resize the shortest edge to it and crop it. Throws kNotFound,
// kCorrupt, kUnsupported.
ImageProcessorConfig LoadImageProcessor(const std::string& path);

// What LoadImageProcessor does for a folder without preprocessor_config.json, from the model's
// config.json object (`origin` names it in messages), e.g. for a catalog model.
ImageProcessorConfig ImageProcessorForModel(const nlohmann::json& model_config,
                                            const std::string& origin);

// The processor's pipeline on one decoded image: float32 [1, 3, H, W].
core::Tensor PixelValues(const RgbImage& image, const ImageProcessorConfig& config);

// DecodeImage + PixelValues: `pixel_values` float32 [1, 3, H, W].
core::Tensor PreprocessImage(const std::string& path, const ImageProcessorConfig& config);

// The image files (.png, .jpg, .jpeg, any case) directly inside `dir`, sorted by name (byte
// order). Throws kNotFound when `dir` is not a folder or holds no image file.
std::vector<std::string> ListFrameFiles(const std::string& dir);

// Which of `total` frames to keep when a model takes `num_frames`: HF's BaseVideoProcessor
// .sample_frames uniform rule, torch.arange(0, total, total / num_frames).int(), i.e. frame
// floor(i * total / num_frames) for i < num_frames. Throws kInvalidArgument when num_frames is not
// in 1..total.
std::vector<int64_t> SampleFrameIndices(int64_t total, int64_t num_frames);

// A clip given as frame images in order -> `pixel_values` float32 [1, frames, 3, H, W], every
// frame through PixelValues (what VideoMAEImageProcessor does to the frames it is handed).
// num_frames = 0 keeps every frame (VideoMAE's processor samples nothing itself); otherwise
// SampleFrameIndices picks them. Throws what DecodeImage throws, kInvalidArgument for no frames,
// too few frames, or frames that come out in different sizes (no center crop).
core::Tensor PreprocessVideo(const std::vector<std::string>& frame_paths,
                             const ImageProcessorConfig& config, int64_t num_frames = 0);

}  // namespace ipfs_accel::preprocess
