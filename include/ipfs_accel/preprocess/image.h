#pragma once
// Decoded images and the pixel operations Hugging Face image processors apply to them.
// Pixels stay 8-bit RGB (PIL's "RGB" mode) until the processor turns them into floats, because
// the slow HF processors resize through PIL on uint8 images and PIL's fixed-point rounding is part
// of the numbers a model sees.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ipfs_accel::preprocess {

struct RgbImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes, rows top to bottom, RGB interleaved

  uint8_t at(int64_t y, int64_t x, int channel) const {
    return pixels[static_cast<size_t>((y * width + x) * 3 + channel)];
  }
};

// Reads a PNG or JPEG file, recognised by its signature (not its name), the way HF pipelines load
// an image (transformers.image_utils.load_image): EXIF orientation applied (PIL's exif_transpose),
// then PIL's convert("RGB"): grey replicated, alpha dropped (not composited), palette looked up,
// 1/2/4-bit grey scaled to 0..255, 16-bit colour/grey+alpha reduced to the high byte, 16-bit grey
// clipped at 255 (PIL's I;16 -> RGB), CMYK JPEG inverted as Adobe writes it (PIL's "CMYK;I").
// Throws core::Error: kNotFound (no such file), kUnsupported (neither PNG nor JPEG), kCorrupt (a
// PNG/JPEG that does not decode, truncated included), kIo (the file cannot be read).
RgbImage DecodeImage(const std::string& path);
// The same from bytes in memory; `name` stands for the file in error messages.
RgbImage DecodeImage(std::span<const uint8_t> bytes, const std::string& name);

// PIL's resampling filters, numbered as PIL numbers them (the "resample" key of a
// preprocessor_config.json).
enum class Resample {
  kNearest = 0,
  kLanczos = 1,
  kBilinear = 2,
  kBicubic = 3,
  kBox = 4,
  kHamming = 5
};
// Throws kUnsupported for a number that is not a PIL filter, and for NEAREST (PIL resizes with
// NEAREST through another code path that is not implemented here).
Resample ResampleFromPil(int64_t code);
const char* ResampleName(Resample filter);

// PIL's Image.resize((width, height), filter) on an RGB image, i.e. Pillow's ImagingResample: a
// separable convolution whose support widens by the scale factor when downscaling (antialiasing),
// weights normalised per output pixel and rounded to 22-bit fixed point, the horizontal pass first
// into an 8-bit intermediate, then the vertical pass. Bit-exact with Pillow for every filter but
// NEAREST (kUnsupported). REQUIRES: width, height >= 1.
RgbImage ResizeImage(const RgbImage& image, int64_t width, int64_t height, Resample filter);

// transformers.image_transforms.center_crop: the window of (height, width) centred with the
// offsets rounded down; where the window is larger than the image the image is first centred in a
// zero canvas (offsets rounded up). REQUIRES: width, height >= 1.
RgbImage CenterCropImage(const RgbImage& image, int64_t width, int64_t height);

}  // namespace ipfs_accel::preprocess
