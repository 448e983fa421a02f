// Audio file reading (libsndfile) and resampling (libsoxr).

#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <sndfile.h>
#include <soxr.h>

#include "ipfs_accel/core/error.h"
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

}  // namespace

Waveform ReadAudio(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorKind::kNotFound,
                fmt::format("audio file '{}' does not exist or is not a file", path));
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) ThrowOpenError(path);
  if (info.channels < 1 || info.samplerate < 1)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}' declares {} channels at {} Hz", path,
                                                 info.channels, info.samplerate));
  if (info.frames < 1)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}' holds no audio samples", path));
  std::vector<float> interleaved(static_cast<size_t>(info.frames * info.channels));
  const sf_count_t got = sf_readf_float(file.get(), interleaved.data(), info.frames);
  if (got < 1 || sf_error(file.get()) != SF_ERR_NO_ERROR)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': decoding failed after {} of {} frames ({})", path,
                            got < 0 ? 0 : got, info.frames, sf_strerror(file.get())));
  Waveform w;
  w.sampling_rate = info.samplerate;
  w.samples.resize(static_cast<size_t>(got));
  const int channels = info.channels;
  for (sf_count_t i = 0; i < got; ++i) {
    // librosa's to_mono: the mean of the channels.
    double sum = 0.0;
    for (int c = 0; c < channels; ++c) sum += interleaved[static_cast<size_t>(i * channels + c)];
    w.samples[static_cast<size_t>(i)] = static_cast<float>(sum / channels);
  }
  return w;
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
