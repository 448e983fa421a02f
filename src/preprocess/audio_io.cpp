// Audio file reading (libsndfile) and resampling (libsoxr).

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <sndfile.h>
#include <soxr.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/mapped_file.h"
#include "ipfs_accel/preprocess/audio.h"

namespace ipfs_accel::preprocess {

using core::Error;
using core::ErrorKind;

namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

[[noreturn]] void ThrowOpenError(const std::string& path) {
  const int code = sf_error(nullptr);
  const std::string why = sf_strerror(nullptr);
  switch (code) {
    case SF_ERR_UNRECOGNISED_FORMAT:
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}' is not an audio file libsndfile can read ({}); convert it to "
                              "WAV or FLAC",
                              path, why));
    case SF_ERR_SYSTEM:
      throw Error(ErrorKind::kIo, fmt::format("cannot read audio file '{}': {}", path, why));
    case SF_ERR_UNSUPPORTED_ENCODING:
      throw Error(
          ErrorKind::kUnsupported,
          fmt::format("'{}' uses an audio encoding libsndfile cannot decode ({})", path, why));
    default:  // SF_ERR_MALFORMED_FILE and libsndfile's format-specific codes
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}' is a damaged audio file ({})", path, why));
  }
}

// libsndfile reading from bytes in memory (its virtual I/O), so a file is mapped once and a
// fuzzer can feed bytes.
struct MemoryFile {
  std::span<const uint8_t> bytes;
  sf_count_t position;

  static MemoryFile& Of(void* user) { return *static_cast<MemoryFile*>(user); }
  static SF_VIRTUAL_IO Io() {
    SF_VIRTUAL_IO io{};
    io.get_filelen = [](void* user) { return static_cast<sf_count_t>(Of(user).bytes.size()); };
    io.seek = [](sf_count_t offset, int whence, void* user) {
      MemoryFile& m = Of(user);
      const sf_count_t size = static_cast<sf_count_t>(m.bytes.size());
      const sf_count_t base = whence == SEEK_CUR ? m.position : whence == SEEK_END ? size : 0;
      m.position = std::clamp<sf_count_t>(base + offset, 0, size);
      return m.position;
    };
    io.read = [](void* out, sf_count_t count, void* user) {
      MemoryFile& m = Of(user);
      const sf_count_t left = static_cast<sf_count_t>(m.bytes.size()) - m.position;
      const sf_count_t n = std::clamp<sf_count_t>(count, 0, left);
      std::memcpy(out, m.bytes.data() + m.position, static_cast<size_t>(n));
      m.position += n;
      return n;
    };
    io.write = [](const void*, sf_count_t, void*) -> sf_count_t { return 0; };
    io.tell = [](void* user) { return Of(user).position; };
    return io;
  }
};

constexpr sf_count_t kBlockFrames = 65536;
constexpr int kMaxChannels = 1024;
// A gigabyte of float samples: hours of audio, far past what a model takes in. A small
// compressed file can decode to far more (FLAC's constant subframes).
constexpr size_t kMaxSamples = size_t{1} << 28;

}  // namespace

Waveform DecodeAudio(std::span<const uint8_t> bytes, const std::string& name) {
  MemoryFile memory{bytes, 0};
  SF_VIRTUAL_IO io = MemoryFile::Io();
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open_virtual(&io, SFM_READ, &info, &memory));
  if (!file) ThrowOpenError(name);
  if (info.channels < 1 || info.channels > kMaxChannels || info.samplerate < 1)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}' declares {} channels at {} Hz", name,
                                                 info.channels, info.samplerate));
  // The header's frame count is not trusted for an allocation (a damaged FLAC can claim 2^40
  // frames): frames are read a block at a time until the decoder has no more.
  const int channels = info.channels;
  std::vector<float> block(static_cast<size_t>(kBlockFrames * channels));
  Waveform w;
  w.sampling_rate = info.samplerate;
  for (;;) {
    const sf_count_t got = sf_readf_float(file.get(), block.data(), kBlockFrames);
    if (sf_error(file.get()) != SF_ERR_NO_ERROR)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': decoding failed after {} frames ({})", name, w.samples.size(),
                              sf_strerror(file.get())));
    if (got <= 0) break;
    if (w.samples.size() + static_cast<size_t>(got) > kMaxSamples)
      throw Error(
          ErrorKind::kUnsupported,
          fmt::format("'{}' decodes to more than {} samples ({:.0f} minutes at {} Hz); "
                      "cut it to the part the model should hear",
                      name, kMaxSamples, kMaxSamples / 60.0 / info.samplerate, info.samplerate));
    for (sf_count_t i = 0; i < got; ++i) {
      // librosa's to_mono: the mean of the channels.
      double sum = 0.0;
      for (int c = 0; c < channels; ++c) sum += block[static_cast<size_t>(i * channels + c)];
      w.samples.push_back(static_cast<float>(sum / channels));
    }
  }
  if (w.samples.empty())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}' holds no audio samples", name));
  return w;
}

Waveform ReadAudio(const std::string& path) {
  const core::MappedFile file(path);
  return DecodeAudio({reinterpret_cast<const uint8_t*>(file.data()), file.size()}, path);
}

std::vector<float> ResampleAudio(std::span<const float> samples, int64_t from_rate,
                                 int64_t to_rate) {
  if (from_rate < 1 || to_rate < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("cannot resample from {} Hz to {} Hz", from_rate, to_rate));
  if (from_rate == to_rate || samples.empty())
    return std::vector<float>(samples.begin(), samples.end());
  const int64_t n = static_cast<int64_t>(samples.size());
  // librosa.resample's length: ceil(n * to / from).
  const int64_t out_len = (n * to_rate + from_rate - 1) / from_rate;
  std::vector<float> out(static_cast<size_t>(out_len), 0.0f);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  const soxr_error_t error =
      soxr_oneshot(static_cast<double>(from_rate), static_cast<double>(to_rate), 1, samples.data(),
                   samples.size(), nullptr, out.data(), out.size(), &done, &io, &quality, nullptr);
  if (error != nullptr)
    throw Error(ErrorKind::kRuntime, fmt::format("soxr failed to resample {} Hz to {} Hz: {}",
                                                 from_rate, to_rate, error));
  return out;  // samples past `done` stay zero, as librosa's fix_length pads
}

Waveform LoadAudio(const std::string& path, int64_t sampling_rate) {
  Waveform w = ReadAudio(path);
  if (w.sampling_rate != sampling_rate) {
    w.samples = ResampleAudio(w.samples, w.sampling_rate, sampling_rate);
    w.sampling_rate = sampling_rate;
  }
  return w;
}

}  // namespace ipfs_accel::preprocess
