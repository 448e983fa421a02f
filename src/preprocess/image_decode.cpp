// PNG (libpng) and JPEG (libjpeg) decoding to PIL's RGB, with EXIF orientation.
//
// Both libraries report errors by longjmp. Each decoder keeps its state in a struct owned by the
// caller and declares no object with a destructor after its setjmp, so a longjmp skips no
// destructor and reads no indeterminate local.

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/mapped_file.h"
#include "ipfs_accel/preprocess/image.h"

namespace ipfs_accel::preprocess {

using core::Error;
using core::ErrorKind;

namespace {

// PIL refuses images over twice Image.MAX_IMAGE_PIXELS (DecompressionBombError).
constexpr int64_t kMaxPixels = 2 * 89478485;

void CheckSize(int64_t width, int64_t height, const std::string& name) {
  if (width <= 0 || height <= 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': image has no pixels", name));
  if (width * height > kMaxPixels)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': {}x{} pixels is more than {} (PIL's decompression-bomb limit)",
                            name, width, height, kMaxPixels));
}

// ---------------------------------------------------------------- EXIF orientation

// The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 (as stored) when
// absent or unreadable.
int ExifOrientation(std::span<const uint8_t> tiff) {
  if (tiff.size() < 8) return 1;
  bool little;
  if (tiff[0] == 'I' && tiff[1] == 'I')
    little = true;
  else if (tiff[0] == 'M' && tiff[1] == 'M')
    little = false;
  else
    return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? tiff[at] | (tiff[at + 1] << 8) : (tiff[at] << 8) | tiff[at + 1];
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd + 2 > tiff.size()) return 1;
  const uint32_t entries = u16(ifd);
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + 12 * static_cast<size_t>(i);
    if (e + 12 > tiff.size()) break;
    if (u16(e) != 0x0112) continue;
    if (u16(e + 2) != 3) return 1;  // SHORT
    const uint32_t value = u16(e + 8);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

// PIL's ImageOps.exif_transpose: orientation 2..8 -> FLIP_LEFT_RIGHT, ROTATE_180,
// FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90.
RgbImage ApplyOrientation(RgbImage image, int orientation) {
  if (orientation <= 1) return image;
  const int64_t w = image.width, h = image.height;
  const bool swaps = orientation >= 5;
  RgbImage out;
  out.width = swaps ? h : w;
  out.height = swaps ? w : h;
  out.pixels.resize(image.pixels.size());
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      int64_t sx = x, sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;
      }
      std::memcpy(&out.pixels[static_cast<size_t>((y * out.width + x) * 3)],
                  &image.pixels[static_cast<size_t>((sy * w + sx) * 3)], 3);
    }
  }
  return out;
}

// ---------------------------------------------------------------- PNG

struct PngState {
  std::span<const uint8_t> bytes;
  size_t offset = 0;
  char message[256] = {};
  // Results, filled by DecodePngRaw.
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  size_t row_bytes = 0;
  std::vector<uint8_t> data;
  std::vector<png_bytep> rows;
  std::vector<png_color> palette;
  std::vector<uint8_t> exif;
  bool image_read = false;
};

void PngRead(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (length > state->bytes.size() - state->offset) png_error(png, "file ends early (truncated)");
  std::memcpy(out, state->bytes.data() + state->offset, length);
  state->offset += length;
}

void PngError(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}

// False when libpng failed before the pixels were all read; state->message says why. An error
// after the pixels (in the chunks that follow IDAT) is ignored, as PIL ignores it.
bool DecodePngRaw(PngState* state) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, PngError, PngWarning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return state->image_read;
  }
  png_set_read_fn(png, state, PngRead);
  png_read_info(png, info);
  png_get_IHDR(png, info, &state->width, &state->height, &state->bit_depth, &state->color_type,
               nullptr, nullptr, nullptr);
  if (static_cast<int64_t>(state->width) * state->height > kMaxPixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    return true;  // the caller's CheckSize refuses it
  }
  if (state->bit_depth < 8) png_set_packing(png);  // one byte per sample, values unscaled
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  state->row_bytes = png_get_rowbytes(png, info);
  state->data.resize(state->row_bytes * state->height);
  state->rows.resize(state->height);
  for (png_uint_32 y = 0; y < state->height; ++y)
    state->rows[y] = state->data.data() + y * state->row_bytes;
  png_read_image(png, state->rows.data());
  state->image_read = true;
  if (state->color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp palette = nullptr;
    int count = 0;
    if (png_get_PLTE(png, info, &palette, &count) != 0)
      state->palette.assign(palette, palette + count);
  }
  png_read_end(png, info);
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(png, info, &exif_size, &exif) != 0 && exif != nullptr)
    state->exif.assign(exif, exif + exif_size);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

RgbImage DecodePng(std::span<const uint8_t> bytes, const std::string& name) {
  PngState state;
  state.bytes = bytes;
  if (!DecodePngRaw(&state))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' is not a readable PNG ({})", name,
                            state.message[0] ? state.message : "libpng failed"));
  CheckSize(state.width, state.height, name);
  RgbImage image;
  image.width = state.width;
  image.height = state.height;
  image.pixels.resize(static_cast<size_t>(image.width * image.height * 3));
  const bool wide = state.bit_depth == 16;
  const int samples = state.color_type == PNG_COLOR_TYPE_GRAY         ? 1
                      : state.color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                      : state.color_type == PNG_COLOR_TYPE_RGB        ? 3
                      : state.color_type == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                                                                      : 1;  // palette index
  const int bytes_per_sample = wide ? 2 : 1;
  // PIL unpacks 1/2/4-bit grey as "1", "L;2", "L;4": 0/255, x*85, x*17.
  const int grey_scale = state.bit_depth < 8 ? 255 / ((1 << state.bit_depth) - 1) : 1;
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* row = state.rows[y];
    uint8_t* out = &image.pixels[static_cast<size_t>(y * image.width * 3)];
    for (int64_t x = 0; x < image.width; ++x, out += 3) {
      const uint8_t* px = row + x * samples * bytes_per_sample;
      switch (state.color_type) {
        case PNG_COLOR_TYPE_GRAY: {
          uint8_t v;
          if (wide) {
            const int value = (px[0] << 8) | px[1];  // PIL's I;16 -> RGB clips, not scales
            v = value > 255 ? 255 : static_cast<uint8_t>(value);
          } else {
            v = static_cast<uint8_t>(px[0] * grey_scale);
          }
          out[0] = out[1] = out[2] = v;
          break;
        }
        case PNG_COLOR_TYPE_GRAY_ALPHA:
          out[0] = out[1] = out[2] = px[0];  // high byte when 16-bit (PIL's LA;16B)
          break;
        case PNG_COLOR_TYPE_RGB:
        case PNG_COLOR_TYPE_RGB_ALPHA:
          for (int c = 0; c < 3; ++c) out[c] = px[c * bytes_per_sample];
          break;
        case PNG_COLOR_TYPE_PALETTE: {
          const size_t index = px[0];
          if (index < state.palette.size()) {
            out[0] = state.palette[index].red;
            out[1] = state.palette[index].green;
            out[2] = state.palette[index].blue;
          } else {
            out[0] = out[1] = out[2] = 0;
          }
          break;
        }
        default:
          throw Error(
              ErrorKind::kUnsupported,
              fmt::format("'{}': PNG colour type {} is not supported", name, state.color_type));
      }
    }
  }
  return ApplyOrientation(std::move(image), ExifOrientation(state.exif));
}

// ---------------------------------------------------------------- JPEG

struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

struct JpegState {
  std::span<const uint8_t> bytes;
  jpeg_decompress_struct cinfo;
  JpegErrorManager error;
  int components = 0;
  bool cmyk = false;
  JDIMENSION width = 0, height = 0;
  std::vector<uint8_t> data;
  std::vector<uint8_t> exif;
};

void JpegErrorExit(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

// Warnings do not stop libjpeg; a premature end does stop PIL ("image file is truncated").
void JpegEmitMessage(j_common_ptr cinfo, int level) {
  auto* error = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) error->truncated = true;
}

void JpegOutputMessage(j_common_ptr) {}

bool DecodeJpegRaw(JpegState* state) {
  jpeg_decompress_struct* cinfo = &state->cinfo;
  cinfo->err = jpeg_std_error(&state->error.pub);
  state->error.pub.error_exit = JpegErrorExit;
  state->error.pub.emit_message = JpegEmitMessage;
  state->error.pub.output_message = JpegOutputMessage;
  state->error.truncated = false;
  state->error.message[0] = '\0';
  if (setjmp(state->error.jump)) {
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, state->bytes.data(), static_cast<unsigned long>(state->bytes.size()));
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
  switch (cinfo->num_components) {
    case 1:
      cinfo->out_color_space = JCS_GRAYSCALE;
      break;
    case 3:
      cinfo->out_color_space = JCS_RGB;
      break;
    case 4:  // PIL's "CMYK" (libjpeg turns YCCK into CMYK)
      cinfo->out_color_space = JCS_CMYK;
      state->cmyk = true;
      break;
    default:
      std::snprintf(state->error.message, sizeof(state->error.message),
                    "%d colour components are not supported", cinfo->num_components);
      jpeg_destroy_decompress(cinfo);
      return false;
  }
  if (static_cast<int64_t>(cinfo->image_width) * cinfo->image_height > kMaxPixels) {
    state->width = cinfo->image_width;
    state->height = cinfo->image_height;
    jpeg_destroy_decompress(cinfo);
    return true;  // the caller's CheckSize refuses it
  }
  jpeg_start_decompress(cinfo);
  state->width = cinfo->output_width;
  state->height = cinfo->output_height;
  state->components = cinfo->output_components;
  const size_t stride = static_cast<size_t>(state->width) * state->components;
  state->data.resize(stride * state->height);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = state->data.data() + cinfo->output_scanline * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != nullptr; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
        std::memcmp(m->data, "Exif\0\0", 6) == 0) {
      state->exif.assign(m->data + 6, m->data + m->data_length);
      break;
    }
  }
  jpeg_finish_decompress(cinfo);
  jpeg_destroy_decompress(cinfo);
  return true;
}

// Pillow's MULDIV255: a * b / 255, rounded.
inline int MulDiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

RgbImage DecodeJpeg(std::span<const uint8_t> bytes, const std::string& name) {
  JpegState state;
  state.bytes = bytes;
  const bool ok = DecodeJpegRaw(&state);
  if (!ok)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' is not a readable JPEG ({})", name,
                            state.error.message[0] ? state.error.message : "libjpeg failed"));
  if (state.error.truncated)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' is a truncated JPEG (the data ends before the image)", name));
  CheckSize(state.width, state.height, name);
  RgbImage image;
  image.width = state.width;
  image.height = state.height;
  const size_t count = static_cast<size_t>(image.width * image.height);
  image.pixels.resize(count * 3);
  for (size_t i = 0; i < count; ++i) {
    uint8_t* out = &image.pixels[i * 3];
    const uint8_t* in = &state.data[i * state.components];
    if (state.components == 1) {
      out[0] = out[1] = out[2] = in[0];
    } else if (!state.cmyk) {
      std::memcpy(out, in, 3);
    } else {
      // PIL reads 4-component JPEGs as inverted CMYK ("CMYK;I", Adobe's convention), then
      // converts with cmyk2rgb.
      // With every channel inverted first, cmyk2rgb's 255 - k is the stored k.
      const int nk = in[3];
      for (int c = 0; c < 3; ++c) {
        const int v = nk - MulDiv255(255 - in[c], nk);
        out[c] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
  return ApplyOrientation(std::move(image), ExifOrientation(state.exif));
}

bool StartsWith(std::span<const uint8_t> bytes, std::initializer_list<uint8_t> prefix) {
  if (bytes.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

}  // namespace

RgbImage DecodeImage(std::span<const uint8_t> bytes, const std::string& name) {
  if (StartsWith(bytes, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}))
    return DecodePng(bytes, name);
  if (StartsWith(bytes, {0xFF, 0xD8, 0xFF})) return DecodeJpeg(bytes, name);
  throw Error(
      ErrorKind::kUnsupported,
      fmt::format("'{}' is neither a PNG nor a JPEG file; convert it to one of those", name));
}

RgbImage DecodeImage(const std::string& path) {
  const core::MappedFile file(path);
  return DecodeImage({reinterpret_cast<const uint8_t*>(file.data()), file.size()}, path);
}

}  // namespace ipfs_accel::preprocess
