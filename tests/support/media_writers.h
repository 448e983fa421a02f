#pragma once
// Test helpers for the preprocess tests: small PNG, JPEG and WAV files written with the same
// Debian libraries (libpng, libjpeg, libsndfile) in their plainest modes, so the pixels and
// samples a test expects are the ones it wrote.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>
#include <sndfile.h>

namespace ipfs_accel::testing {

// A PNG of `color_type` (PNG_COLOR_TYPE_*) and `bit_depth` from packed rows as the PNG format
// stores them (16-bit samples big-endian, sub-byte samples packed high bit first).
inline void WritePng(const std::string& path, uint32_t width, uint32_t height, int color_type,
                     int bit_depth, const std::vector<uint8_t>& rows,
                     const std::vector<png_color>& palette = {}) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    throw std::runtime_error("libpng failed writing " + path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  png_write_info(png, info);
  const size_t stride = rows.size() / height;
  for (uint32_t y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(rows.data() + y * stride));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

// An 8-bit RGB PNG from interleaved pixels.
inline void WriteRgbPng(const std::string& path, uint32_t width, uint32_t height,
                        const std::vector<uint8_t>& rgb) {
  WritePng(path, width, height, PNG_COLOR_TYPE_RGB, 8, rgb);
}

// A baseline JPEG at quality 100 without chroma subsampling (components 1 or 3), optionally with
// an EXIF block whose IFD0 holds only Orientation.
inline void WriteJpeg(const std::string& path, uint32_t width, uint32_t height, int components,
                      const std::vector<uint8_t>& pixels, int exif_orientation = 0) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  for (int c = 0; c < cinfo.num_components; ++c)
    cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  jpeg_start_compress(&cinfo, TRUE);
  if (exif_orientation > 0) {
    // "Exif\0\0", little-endian TIFF header, IFD0 at 8 with one SHORT entry, no next IFD.
    const uint8_t o = static_cast<uint8_t>(exif_orientation);
    const std::vector<uint8_t> exif = {'E', 'x', 'i', 'f', 0, 0,    'I',  'I', 42, 0, 8,
                                       0,   0,   0,   1,   0, 0x12, 0x01, 3,   0,  1, 0,
                                       0,   0,   o,   0,   0, 0,    0,    0,   0,  0};
    jpeg_write_marker(&cinfo, JPEG_APP0 + 1, exif.data(), static_cast<unsigned>(exif.size()));
  }
  const size_t stride = static_cast<size_t>(width) * components;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

// A 16-bit PCM WAV from interleaved integer samples.
inline void WriteWav16(const std::string& path, int rate, int channels,
                       const std::vector<int16_t>& interleaved) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) throw std::runtime_error("cannot write " + path + ": " + sf_strerror(nullptr));
  sf_writef_short(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
}

// A 32-bit float WAV from interleaved samples (stored as they are).
inline void WriteWavFloat(const std::string& path, int rate, int channels,
                          const std::vector<float>& interleaved) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) throw std::runtime_error("cannot write " + path + ": " + sf_strerror(nullptr));
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace ipfs_accel::testing
