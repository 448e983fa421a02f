#include "ipfs_accel/preprocess/image_processor.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "preprocess/json_fields.h"

namespace ipfs_accel::preprocess {

using core::Error;
using core::ErrorKind;

namespace {

constexpr std::array<float, 3> kImagenetStandardMean = {0.5f, 0.5f, 0.5f};
constexpr std::array<float, 3> kImagenetStandardStd = {0.5f, 0.5f, 0.5f};
constexpr std::array<float, 3> kOpenAiClipMean = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr std::array<float, 3> kOpenAiClipStd = {0.26862954f, 0.26130258f, 0.27577711f};

constexpr const char* kViT = "ViTImageProcessor";
constexpr const char* kClip = "CLIPImageProcessor";
constexpr const char* kVideoMae = "VideoMAEImageProcessor";

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "CLIPFeatureExtractor", "CLIPImageProcessorFast", ... -> "CLIPImageProcessor"; "" if unknown.
std::string CanonicalClass(std::string name) {
  if (EndsWith(name, "Fast")) name.resize(name.size() - 4);
  if (EndsWith(name, "FeatureExtractor"))
    name = name.substr(0, name.size() - std::strlen("FeatureExtractor")) + "ImageProcessor";
  for (const char* known : {kViT, kClip, kVideoMae})
    if (name == known) return name;
  return "";
}

std::string ClassForModelType(const std::string& model_type) {
  if (model_type == "vit") return kViT;
  if (model_type == "clip" || model_type == "clip_vision_model") return kClip;
  if (model_type == "videomae" || model_type == "xclip" || model_type == "x_clip") return kVideoMae;
  return "";
}

// Whether the class's size dict treats a bare int as a square (get_size_dict's
// default_to_square): ViT does; CLIP and VideoMAE read it as the shortest edge.
bool SizeIntIsSquare(const std::string& cls) { return cls == kViT; }

ImageSize ReadSize(const detail::JsonFields& f, const std::string& key, bool int_is_square) {
  const nlohmann::json& v = f.Get(key);
  ImageSize size;
  auto positive = [&](const nlohmann::json& n, const char* what) {
    if (!n.is_number_integer() || n.get<int64_t>() < 1)
      f.Fail(key, fmt::format("{} must be a positive integer", what));
    return n.get<int64_t>();
  };
  if (v.is_number_integer()) {
    if (int_is_square)
      size.height = size.width = positive(v, "a size");
    else
      size.shortest_edge = positive(v, "a size");
  } else if (v.is_array()) {
    if (v.size() != 2) f.Fail(key, "must be [height, width]");
    size.height = positive(v[0], "height");
    size.width = positive(v[1], "width");
  } else if (v.is_object()) {
    if (v.contains("height") || v.contains("width")) {
      if (!v.contains("height") || !v.contains("width")) f.Fail(key, "needs both height and width");
      size.height = positive(v["height"], "height");
      size.width = positive(v["width"], "width");
    } else if (v.contains("shortest_edge")) {
      size.shortest_edge = positive(v["shortest_edge"], "shortest_edge");
    } else {
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': {}={} is not supported; expected {{height, width}} or "
                              "{{shortest_edge}}",
                              f.origin(), key, v.dump()));
    }
  } else {
    f.Fail(key, "must be an integer, [height, width] or an object");
  }
  return size;
}

std::array<float, 3> ReadChannels(const detail::JsonFields& f, const std::string& key,
                                  const std::array<float, 3>& fallback) {
  if (!f.Has(key)) return fallback;
  const nlohmann::json& v = f.Get(key);
  if (v.is_number()) {  // HF broadcasts a single value to every channel
    const float x = v.get<float>();
    return {x, x, x};
  }
  if (!v.is_array() || v.size() != 3 ||
      !std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_number(); }))
    f.Fail(key, "must be a number or a list of 3 numbers (one per RGB channel)");
  // numpy casts mean/std to the image's float32.
  return {v[0].get<float>(), v[1].get<float>(), v[2].get<float>()};
}

// transformers' get_resize_output_image_size(default_to_square=False): the short side becomes
// `edge`, the long side int(edge * long / short). Returns {height, width}.
std::pair<int64_t, int64_t> ShortestEdgeSize(int64_t height, int64_t width, int64_t edge) {
  const int64_t short_side = std::min(height, width), long_side = std::max(height, width);
  const auto new_long =
      static_cast<int64_t>(static_cast<double>(edge * long_side) / static_cast<double>(short_side));
  return width <= height ? std::pair{new_long, edge} : std::pair{edge, new_long};
}

}  // namespace

ImageProcessorConfig DefaultImageProcessor(const std::string& processor_class) {
  const std::string cls = CanonicalClass(processor_class);
  ImageProcessorConfig c;
  c.processor_class = cls;
  c.origin = "defaults";
  if (cls == kViT) {
    c.size = {224, 224, 0};
    c.resample = Resample::kBilinear;
    c.image_mean = kImagenetStandardMean;
    c.image_std = kImagenetStandardStd;
  } else if (cls == kClip) {
    c.size.shortest_edge = 224;
    c.resample = Resample::kBicubic;
    c.do_center_crop = true;
    c.crop_height = c.crop_width = 224;
    c.image_mean = kOpenAiClipMean;
    c.image_std = kOpenAiClipStd;
    c.do_convert_rgb = true;
  } else if (cls == kVideoMae) {
    c.size.shortest_edge = 224;
    c.resample = Resample::kBilinear;
    c.do_center_crop = true;
    c.crop_height = c.crop_width = 224;
    c.image_mean = kImagenetStandardMean;
    c.image_std = kImagenetStandardStd;
  } else {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("image processor '{}' is not supported (supported: {}, {}, {})",
                            processor_class, kViT, kClip, kVideoMae));
  }
  return c;
}

ImageProcessorConfig ImageProcessorFromJson(const nlohmann::json& json, const std::string& origin,
                                            const std::string& fallback_class) {
  const detail::JsonFields f(json, origin);
  std::string named = f.String("image_processor_type", f.String("feature_extractor_type", ""));
  if (named.empty()) named = fallback_class;
  if (named.empty())
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}' names no image_processor_type; cannot tell which image "
                            "processor it configures",
                            origin));
  ImageProcessorConfig c = DefaultImageProcessor(named);
  c.origin = origin;
  const std::string& cls = c.processor_class;

  c.do_resize = f.Bool("do_resize", c.do_resize);
  if (f.Has("size")) c.size = ReadSize(f, "size", SizeIntIsSquare(cls));
  // CLIP's legacy option: a square of the shortest edge.
  if (cls == kClip && f.Bool("use_square_size", false) && c.size.shortest_edge > 0)
    c.size = {c.size.shortest_edge, c.size.shortest_edge, 0};
  if (cls == kViT && c.size.height == 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': ViTImageProcessor needs size {{height, width}}, not {}", origin,
                            f.Get("size").dump()));
  c.resample = ResampleFromPil(f.Int("resample", static_cast<int64_t>(c.resample)));
  if (c.resample == Resample::kNearest)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': resample=0 (NEAREST) is not supported; use BILINEAR (2) or "
                            "BICUBIC (3)",
                            origin));

  // ViT's processor has no center crop; HF ignores these keys there, and so does this.
  if (cls != kViT) {
    c.do_center_crop = f.Bool("do_center_crop", c.do_center_crop);
    if (f.Has("crop_size")) {
      const ImageSize crop = ReadSize(f, "crop_size", /*int_is_square=*/true);
      if (crop.height == 0)
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}': crop_size must be {{height, width}}, not {}", origin,
                                f.Get("crop_size").dump()));
      c.crop_height = crop.height;
      c.crop_width = crop.width;
    }
  }
  c.do_rescale = f.Bool("do_rescale", c.do_rescale);
  c.rescale_factor = f.Double("rescale_factor", c.rescale_factor);
  c.do_normalize = f.Bool("do_normalize", c.do_normalize);
  c.image_mean = ReadChannels(f, "image_mean", c.image_mean);
  c.image_std = ReadChannels(f, "image_std", c.image_std);
  if (c.do_normalize)
    for (float s : c.image_std)
      if (s == 0.0f) f.Fail("image_std", "has a zero; normalising would divide by zero");
  c.do_convert_rgb = f.Bool("do_convert_rgb", c.do_convert_rgb);
  return c;
}

ImageProcessorConfig ImageProcessorForModel(const nlohmann::json& model,
                                            const std::string& origin) {
  const std::string model_type =
      model.is_object() && model.contains("model_type") && model["model_type"].is_string()
          ? model["model_type"].get<std::string>()
          : "";
  const std::string cls = ClassForModelType(model_type);
  if (cls.empty())
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}' has no preprocessor_config.json and model_type '{}' has no "
                            "known image processor",
                            origin, model_type));
  ImageProcessorConfig c = DefaultImageProcessor(cls);
  c.origin = fmt::format("{} defaults (model_type {})", cls, model_type);
  const nlohmann::json* vision = &model;
  if (model.contains("vision_config") && model["vision_config"].is_object())
    vision = &model["vision_config"];
  if (vision->contains("image_size") && (*vision)["image_size"].is_number_integer()) {
    const int64_t s = (*vision)["image_size"].get<int64_t>();
    if (s < 1)
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': image_size={} is not a size", origin, s));
    if (c.processor_class == kViT) {
      c.size = {s, s, 0};
    } else {
      c.size.shortest_edge = s;
      c.crop_height = c.crop_width = s;
    }
  }
  return c;
}

ImageProcessorConfig LoadImageProcessor(const std::string& path) {
  const detail::PreprocessorFiles files = detail::FindPreprocessorFiles(path);
  if (files.preprocessor_config.empty()) return ImageProcessorForModel(files.model_config, path);
  return ImageProcessorFromJson(detail::ReadJsonObject(files.preprocessor_config),
                                files.preprocessor_config, ClassForModelType(files.model_type));
}

core::Tensor PixelValues(const RgbImage& image, const ImageProcessorConfig& config) {
  RgbImage img = image;
  if (config.do_resize) {
    int64_t h = config.size.height, w = config.size.width;
    if (config.size.shortest_edge > 0)
      std::tie(h, w) = ShortestEdgeSize(img.height, img.width, config.size.shortest_edge);
    if (h < 1 || w < 1)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("'{}': resizing a {}x{} image gives {}x{}", config.origin, img.width,
                              img.height, w, h));
    img = ResizeImage(img, w, h, config.resample);
  }
  if (config.do_center_crop) img = CenterCropImage(img, config.crop_width, config.crop_height);

  core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, {1, 3, img.height, img.width});
  auto out = t.values<float>();
  const int64_t plane = img.height * img.width;
  for (int c = 0; c < 3; ++c) {
    for (int64_t i = 0; i < plane; ++i) {
      const uint8_t p = img.pixels[static_cast<size_t>(i * 3 + c)];
      // HF: rescale multiplies in float64 and stores float32; normalize is float32 arithmetic.
      float v =
          config.do_rescale ? static_cast<float>(p * config.rescale_factor) : static_cast<float>(p);
      if (config.do_normalize) v = (v - config.image_mean[c]) / config.image_std[c];
      out[static_cast<size_t>(c * plane + i)] = v;
    }
  }
  return t;
}

core::Tensor PreprocessImage(const std::string& path, const ImageProcessorConfig& config) {
  return PixelValues(DecodeImage(path), config);
}

std::vector<std::string> ListFrameFiles(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::kNotFound, fmt::format("frame folder '{}' does not exist", dir));
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(entry.path().string());
  }
  if (ec)
    throw Error(ErrorKind::kIo,
                fmt::format("cannot list frame folder '{}': {}", dir, ec.message()));
  if (files.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("frame folder '{}' holds no .png/.jpg/.jpeg file", dir));
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<int64_t> SampleFrameIndices(int64_t total, int64_t num_frames) {
  if (num_frames < 1 || num_frames > total)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("cannot sample {} frames from {}; the model needs num_frames frames "
                            "and at least that many must be given",
                            num_frames, total));
  // torch.arange(0, total, total / num_frames) in float32, then .int() (truncation).
  const double step = static_cast<double>(total) / static_cast<double>(num_frames);
  std::vector<int64_t> indices(static_cast<size_t>(num_frames));
  for (int64_t i = 0; i < num_frames; ++i)
    indices[i] = static_cast<int64_t>(static_cast<float>(step * static_cast<double>(i)));
  return indices;
}

core::Tensor PreprocessVideo(const std::vector<std::string>& frame_paths,
                             const ImageProcessorConfig& config, int64_t num_frames) {
  if (frame_paths.empty())
    throw Error(ErrorKind::kInvalidArgument, "a video needs at least one frame image");
  std::vector<int64_t> indices;
  if (num_frames == 0) {
    for (size_t i = 0; i < frame_paths.size(); ++i) indices.push_back(static_cast<int64_t>(i));
  } else {
    indices = SampleFrameIndices(static_cast<int64_t>(frame_paths.size()), num_frames);
  }
  core::Tensor video;
  size_t frame_bytes = 0;
  for (size_t f = 0; f < indices.size(); ++f) {
    const std::string& path = frame_paths[static_cast<size_t>(indices[f])];
    const core::Tensor frame = PreprocessImage(path, config);
    if (f == 0) {
      video = core::Tensor::Zeros(core::DType::kFloat32, {1, static_cast<int64_t>(indices.size()),
                                                          3, frame.shape[2], frame.shape[3]});
      frame_bytes = frame.bytes.size();
    } else if (frame.shape[2] != video.shape[3] || frame.shape[3] != video.shape[4]) {
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("frame '{}' comes out {}x{} but the first frame {}x{}; frames of a "
                      "clip must share a size (or the processor must center-crop)",
                      path, frame.shape[3], frame.shape[2], video.shape[4], video.shape[3]));
    }
    std::memcpy(video.bytes.data() + f * frame_bytes, frame.bytes.data(), frame_bytes);
  }
  return video;
}

}  // namespace ipfs_accel::preprocess
