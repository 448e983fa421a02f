// PIL's convolution resampling (Pillow's Resample.c, 8 bits per channel) and HF's center crop.

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/preprocess/image.h"

namespace ipfs_accel::preprocess {

using core::Error;
using core::ErrorKind;

namespace {

struct Filter {
  double (*weight)(double x);
  double support;  // half-width in input pixels at scale 1
};

double BoxWeight(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

double TriangleWeight(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double HammingWeight(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= std::numbers::pi;
  // PIL writes the Hamming constants as float literals; their rounding shows in the pixels.
  return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

// Keys' cubic convolution with a = -0.5, as PIL uses.
double BicubicWeight(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double LanczosWeight(double x) { return x >= -3.0 && x < 3.0 ? Sinc(x) * Sinc(x / 3.0) : 0.0; }

Filter FilterFor(Resample r) {
  switch (r) {
    case Resample::kBox:
      return {BoxWeight, 0.5};
    case Resample::kBilinear:
      return {TriangleWeight, 1.0};
    case Resample::kHamming:
      return {HammingWeight, 1.0};
    case Resample::kBicubic:
      return {BicubicWeight, 2.0};
    case Resample::kLanczos:
      return {LanczosWeight, 3.0};
    case Resample::kNearest:
      break;
  }
  throw Error(ErrorKind::kUnsupported,
              "resample=0 (NEAREST) is not supported; use BILINEAR (2) or BICUBIC (3)");
}

// Weights are normalised per output pixel, then stored in fixed point with this many fraction
// bits: 8 bits of pixel and 2 spare bits for filters with negative lobes fit in 32-bit sums.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int64_t ksize = 0;             // weights per output pixel (some trailing ones zero)
  std::vector<int64_t> first;    // first input index per output pixel
  std::vector<int64_t> count;    // input pixels used per output pixel
  std::vector<int32_t> weights;  // out_size * ksize, fixed point
};

// Output pixel i covers input [in0 + i * scale, in0 + (i + 1) * scale); its centre's neighbours
// within support * max(scale, 1) get filter((x + 0.5 - centre) / max(scale, 1)).
Coefficients Precompute(int64_t in_size, double in0, double in1, int64_t out_size,
                        const Filter& filter) {
  const double scale = (in1 - in0) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  Coefficients c;
  c.ksize = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size * c.ksize), 0);
  std::vector<double> w(static_cast<size_t>(c.ksize));
  const double inv_scale = 1.0 / filter_scale;
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = in0 + (static_cast<double>(i) + 0.5) * scale;
    // Truncation toward zero after +0.5, as PIL rounds these bounds.
    int64_t xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      w[x] = filter.weight((static_cast<double>(x + xmin) - center + 0.5) * inv_scale);
      total += w[x];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double v = total != 0.0 ? w[x] / total : w[x];
      c.weights[static_cast<size_t>(i * c.ksize + x)] =
          v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[i] = xmin;
    c.count[i] = xmax;
  }
  return c;
}

inline uint8_t Clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;  // arithmetic shift: floor
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Rows [row0, row0 + rows) of `in` resampled along x.
RgbImage Horizontal(const RgbImage& in, int64_t row0, int64_t rows, int64_t out_width,
                    const Coefficients& c) {
  RgbImage out;
  out.width = out_width;
  out.height = rows;
  out.pixels.resize(static_cast<size_t>(out_width * rows * 3));
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* line = &in.pixels[static_cast<size_t>((y + row0) * in.width * 3)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y * out_width * 3)];
    for (int64_t x = 0; x < out_width; ++x) {
      const int32_t* k = &c.weights[static_cast<size_t>(x * c.ksize)];
      const uint8_t* src = line + c.first[x] * 3;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int64_t i = 0; i < c.count[x]; ++i) {
        s0 += src[i * 3 + 0] * k[i];
        s1 += src[i * 3 + 1] * k[i];
        s2 += src[i * 3 + 2] * k[i];
      }
      dst[x * 3 + 0] = Clip8(s0);
      dst[x * 3 + 1] = Clip8(s1);
      dst[x * 3 + 2] = Clip8(s2);
    }
  }
  return out;
}

// `in` resampled along y; `c.first` is relative to in's first row minus `row_shift`.
RgbImage Vertical(const RgbImage& in, int64_t out_height, const Coefficients& c,
                  int64_t row_shift) {
  RgbImage out;
  out.width = in.width;
  out.height = out_height;
  out.pixels.resize(static_cast<size_t>(in.width * out_height * 3));
  const int64_t stride = in.width * 3;
  for (int64_t y = 0; y < out_height; ++y) {
    const int32_t* k = &c.weights[static_cast<size_t>(y * c.ksize)];
    const uint8_t* src = &in.pixels[static_cast<size_t>((c.first[y] - row_shift) * stride)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y * stride)];
    for (int64_t x = 0; x < stride; ++x) {
      int32_t s = 1 << (kPrecisionBits - 1);
      for (int64_t i = 0; i < c.count[y]; ++i) s += src[i * stride + x] * k[i];
      dst[x] = Clip8(s);
    }
  }
  return out;
}

}  // namespace

Resample ResampleFromPil(int64_t code) {
  switch (code) {
    case 0:
      return Resample::kNearest;
    case 1:
      return Resample::kLanczos;
    case 2:
      return Resample::kBilinear;
    case 3:
      return Resample::kBicubic;
    case 4:
      return Resample::kBox;
    case 5:
      return Resample::kHamming;
  }
  throw Error(ErrorKind::kUnsupported,
              fmt::format("resample={} is not a PIL resampling filter (0..5)", code));
}

const char* ResampleName(Resample filter) {
  switch (filter) {
    case Resample::kNearest:
      return "NEAREST";
    case Resample::kLanczos:
      return "LANCZOS";
    case Resample::kBilinear:
      return "BILINEAR";
    case Resample::kBicubic:
      return "BICUBIC";
    case Resample::kBox:
      return "BOX";
    case Resample::kHamming:
      return "HAMMING";
  }
  return "?";
}

RgbImage ResizeImage(const RgbImage& image, int64_t width, int64_t height, Resample filter) {
  if (width < 1 || height < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("cannot resize an image to {}x{}", width, height));
  const Filter f = FilterFor(filter);
  const bool horizontal = width != image.width;
  const bool vertical = height != image.height;
  if (!horizontal && !vertical) return image;
  const Coefficients cx = Precompute(image.width, 0.0, static_cast<double>(image.width), width, f);
  const Coefficients cy =
      Precompute(image.height, 0.0, static_cast<double>(image.height), height, f);
  if (!horizontal) return Vertical(image, height, cy, 0);
  // Only the rows the vertical pass reads go through the horizontal pass.
  const int64_t first_row = cy.first.front();
  const int64_t last_row = cy.first.back() + cy.count.back();
  RgbImage temp = Horizontal(image, first_row, last_row - first_row, width, cx);
  if (!vertical) return temp;
  return Vertical(temp, height, cy, first_row);
}

RgbImage CenterCropImage(const RgbImage& image, int64_t width, int64_t height) {
  if (width < 1 || height < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("cannot center-crop an image to {}x{}", width, height));
  auto floor_div2 = [](int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  int64_t top = floor_div2(image.height - height);
  int64_t left = floor_div2(image.width - width);
  int64_t bottom = top + height, right = left + width;
  // The image on a zero canvas at least as large as the crop (offsets rounded up), as HF pads.
  const int64_t canvas_h = std::max(height, image.height);
  const int64_t canvas_w = std::max(width, image.width);
  const int64_t pad_top = (canvas_h - image.height + 1) / 2;
  const int64_t pad_left = (canvas_w - image.width + 1) / 2;
  top += pad_top;
  bottom += pad_top;
  left += pad_left;
  right += pad_left;
  const int64_t y0 = std::max<int64_t>(0, top), y1 = std::min(canvas_h, bottom);
  const int64_t x0 = std::max<int64_t>(0, left), x1 = std::min(canvas_w, right);
  RgbImage out;
  out.width = x1 - x0;
  out.height = y1 - y0;
  out.pixels.assign(static_cast<size_t>(out.width * out.height * 3), 0);
  for (int64_t y = y0; y < y1; ++y) {
    const int64_t sy = y - pad_top;
    if (sy < 0 || sy >= image.height) continue;
    for (int64_t x = x0; x < x1; ++x) {
      const int64_t sx = x - pad_left;
      if (sx < 0 || sx >= image.width) continue;
      for (int ch = 0; ch < 3; ++ch)
        out.pixels[static_cast<size_t>(((y - y0) * out.width + (x - x0)) * 3 + ch)] =
            image.at(sy, sx, ch);
    }
  }
  return out;
}

}  // namespace ipfs_accel::preprocess
