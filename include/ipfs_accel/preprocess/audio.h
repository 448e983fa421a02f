#pragma once
// Audio files to mono waveforms at the rate a feature extractor wants, the way
// transformers.audio_utils.load_audio does it without torchcodec (librosa.load): samples as
// float32 in [-1, 1) (libsndfile's normalisation, which soundfile uses too), channels averaged,
// then resampled with soxr at "HQ" quality (librosa's default res_type "soxr_hq") to
// ceil(n * to / from) samples.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ipfs_accel::preprocess {

struct Waveform {
  int64_t sampling_rate = 0;
  std::vector<float> samples;  // mono
};

// Any format libsndfile reads (WAV in any PCM/float encoding, FLAC, OGG, ...), mixed down to mono
// by the mean of the channels. Throws core::Error: kNotFound (no such file), kUnsupported (not a
// format libsndfile knows), kCorrupt (a known format that does not decode, or holds no samples),
// kIo (unreadable).
// kInvalidArgument (not a regular file). The header's frame count is never trusted for an
// allocation.
Waveform ReadAudio(const std::string& path);
// The same from bytes in memory; `name` stands for the file in error messages.
Waveform DecodeAudio(std::span<const uint8_t> bytes, const std::string& name);

// soxr HQ resampling of mono float32 audio; returns ceil(n * to_rate / from_rate) samples (zero
// padded if soxr delivers fewer). The input itself when the rates are equal. Throws
// kInvalidArgument for a rate <= 0, kRuntime when soxr fails.
std::vector<float> ResampleAudio(std::span<const float> samples, int64_t from_rate,
                                 int64_t to_rate);

// ReadAudio, then ResampleAudio to `sampling_rate`.
Waveform LoadAudio(const std::string& path, int64_t sampling_rate);

}  // namespace ipfs_accel::preprocess
