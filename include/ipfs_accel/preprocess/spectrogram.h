#pragma once
// The pieces of transformers.audio_utils the feature extractors use: mel scales, mel filter
// banks, windows and the power (mel) spectrogram. Computed in float64 as numpy does; the STFT is
// FFTW's real-to-complex transform, its bins rounded to complex64 as HF stores them.

#include <cstdint>
#include <span>
#include <vector>

namespace ipfs_accel::preprocess {

enum class MelScale { kHtk, kSlaney, kKaldi };

// audio_utils.hertz_to_mel / mel_to_hertz.
double HertzToMel(double hertz, MelScale scale);
double MelToHertz(double mels, MelScale scale);

// audio_utils.mel_filter_bank (triangles in Hz, FFT bin frequencies linspace(0, sr // 2, bins)):
// row-major [num_frequency_bins][num_mel_filters]. `slaney_norm` divides each triangle by half its
// width in Hz (norm="slaney"). Throws kInvalidArgument for num_frequency_bins < 2, a filter count
// < 1 or min_frequency > max_frequency.
std::vector<double> MelFilterBank(int64_t num_frequency_bins, int64_t num_mel_filters,
                                  double min_frequency, double max_frequency, int64_t sampling_rate,
                                  bool slaney_norm, MelScale scale);

// audio_utils.window_function(length, "hann"), periodic: 0.5 - 0.5 cos(2 pi n / length).
std::vector<double> PeriodicHannWindow(int64_t length);

// A mel power spectrogram, row-major [num_mel_filters][num_frames].
struct MelSpectrogram {
  int64_t num_mel_filters = 0;
  int64_t num_frames = 0;
  std::vector<double> values;

  double at(int64_t mel, int64_t frame) const {
    return values[static_cast<size_t>(mel * num_frames + frame)];
  }
};

// audio_utils.spectrogram(waveform, periodic hann(n_fft), frame_length=n_fft, hop_length,
// power=2.0, center=True, pad_mode="reflect", onesided=True, mel_filters, mel_floor=1e-10) before
// any log: frames of the reflect-padded waveform, |rfft|^2, projected on the filters, floored at
// 1e-10. `mel_filters` is MelFilterBank's layout with n_fft / 2 + 1 rows. Reflection repeats
// as numpy's does when the waveform is shorter than n_fft / 2. Throws kInvalidArgument for an
// empty waveform, n_fft < 2, hop_length < 1 or filters of the wrong size.
MelSpectrogram PowerMelSpectrogram(std::span<const float> waveform, int64_t n_fft,
                                   int64_t hop_length, std::span<const double> mel_filters,
                                   int64_t num_mel_filters);

}  // namespace ipfs_accel::preprocess
