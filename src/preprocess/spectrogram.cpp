#include "ipfs_accel/preprocess/spectrogram.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numbers>

#include <fftw3.h>
#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::preprocess {

using core::Error;
using core::ErrorKind;

namespace {

// Slaney's scale: linear (3 mel per 200 Hz) below 1 kHz, logarithmic above.
constexpr double kSlaneyMinLogHertz = 1000.0;
constexpr double kSlaneyMinLogMel = 15.0;

// numpy.linspace(start, stop, num) with endpoint: i * step + start, the last value exactly stop.
std::vector<double> Linspace(double start, double stop, int64_t num) {
  std::vector<double> y(static_cast<size_t>(num));
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double div = static_cast<double>(num - 1);
  const double delta = stop - start;
  const double step = delta / div;
  for (int64_t i = 0; i < num; ++i)
    y[i] = (step == 0.0 ? static_cast<double>(i) / div * delta : static_cast<double>(i) * step) +
           start;
  y[num - 1] = stop;
  return y;
}

// FFTW's planner is not thread-safe; execution of a private plan is.
std::mutex& FftwPlannerMutex() {
  static std::mutex m;
  return m;
}

// An n-point real-to-complex transform with its own buffers.
class RealFft {
 public:
  explicit RealFft(int64_t n) {
    in_ = fftw_alloc_real(static_cast<size_t>(n));
    out_ = fftw_alloc_complex(static_cast<size_t>(n / 2 + 1));
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    plan_ = fftw_plan_dft_r2c_1d(static_cast<int>(n), in_, out_, FFTW_ESTIMATE);
  }
  ~RealFft() {
    {
      std::lock_guard<std::mutex> lock(FftwPlannerMutex());
      fftw_destroy_plan(plan_);
    }
    fftw_free(in_);
    fftw_free(out_);
  }
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  double* input() { return in_; }
  const fftw_complex* Run() {
    fftw_execute(plan_);
    return out_;
  }

 private:
  double* in_ = nullptr;
  fftw_complex* out_ = nullptr;
  fftw_plan plan_ = nullptr;
};

// numpy.pad(mode="reflect") index: mirror about the end samples (not repeating them), repeatedly
// when the padding is longer than the signal.
int64_t ReflectIndex(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

}  // namespace

double HertzToMel(double hertz, MelScale scale) {
  switch (scale) {
    case MelScale::kHtk:
      return 2595.0 * std::log10(1.0 + hertz / 700.0);
    case MelScale::kKaldi:
      return 1127.0 * std::log(1.0 + hertz / 700.0);
    case MelScale::kSlaney:
      if (hertz >= kSlaneyMinLogHertz)
        return kSlaneyMinLogMel + std::log(hertz / kSlaneyMinLogHertz) * (27.0 / std::log(6.4));
      return 3.0 * hertz / 200.0;
  }
  return 0.0;
}

double MelToHertz(double mels, MelScale scale) {
  switch (scale) {
    case MelScale::kHtk:
      return 700.0 * (std::pow(10.0, mels / 2595.0) - 1.0);
    case MelScale::kKaldi:
      return 700.0 * (std::exp(mels / 1127.0) - 1.0);
    case MelScale::kSlaney:
      if (mels >= kSlaneyMinLogMel)
        return kSlaneyMinLogHertz * std::exp(std::log(6.4) / 27.0 * (mels - kSlaneyMinLogMel));
      return 200.0 * mels / 3.0;
  }
  return 0.0;
}

std::vector<double> MelFilterBank(int64_t num_frequency_bins, int64_t num_mel_filters,
                                  double min_frequency, double max_frequency, int64_t sampling_rate,
                                  bool slaney_norm, MelScale scale) {
  if (num_frequency_bins < 2 || num_mel_filters < 1 || min_frequency > max_frequency ||
      sampling_rate < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("no mel filter bank for {} frequency bins, {} filters, {}..{} Hz at "
                            "{} Hz (needs bins >= 2, filters >= 1, min <= max)",
                            num_frequency_bins, num_mel_filters, min_frequency, max_frequency,
                            sampling_rate));
  // Filter edges equally spaced in mel, converted back to Hz.
  const std::vector<double> mel_edges = Linspace(
      HertzToMel(min_frequency, scale), HertzToMel(max_frequency, scale), num_mel_filters + 2);
  std::vector<double> edges(mel_edges.size());
  for (size_t i = 0; i < edges.size(); ++i) edges[i] = MelToHertz(mel_edges[i], scale);
  const std::vector<double> bin_hz =
      Linspace(0.0, static_cast<double>(sampling_rate / 2), num_frequency_bins);

  std::vector<double> bank(static_cast<size_t>(num_frequency_bins * num_mel_filters));
  for (int64_t b = 0; b < num_frequency_bins; ++b) {
    for (int64_t m = 0; m < num_mel_filters; ++m) {
      // Rising edge from edges[m] to edges[m + 1], falling edge to edges[m + 2].
      const double down = -(edges[m] - bin_hz[b]) / (edges[m + 1] - edges[m]);
      const double up = (edges[m + 2] - bin_hz[b]) / (edges[m + 2] - edges[m + 1]);
      double w = std::max(0.0, std::min(down, up));
      if (slaney_norm) w *= 2.0 / (edges[m + 2] - edges[m]);
      bank[static_cast<size_t>(b * num_mel_filters + m)] = w;
    }
  }
  return bank;
}

std::vector<double> PeriodicHannWindow(int64_t length) {
  // numpy.hanning(length + 1)[:-1]: 0.5 - 0.5 cos(2 pi n / length).
  std::vector<double> w(static_cast<size_t>(length));
  for (int64_t n = 0; n < length; ++n)
    w[n] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(n) /
                                static_cast<double>(length));
  return w;
}

MelSpectrogram PowerMelSpectrogram(std::span<const float> waveform, int64_t n_fft,
                                   int64_t hop_length, std::span<const double> mel_filters,
                                   int64_t num_mel_filters) {
  const int64_t bins = n_fft / 2 + 1;
  if (waveform.empty() || n_fft < 2 || hop_length < 1 || num_mel_filters < 1 ||
      static_cast<int64_t>(mel_filters.size()) != bins * num_mel_filters)
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("no spectrogram of {} samples with n_fft={}, hop_length={} and {} "
                    "filter values for {} mel bins",
                    waveform.size(), n_fft, hop_length, mel_filters.size(), num_mel_filters));
  const int64_t n = static_cast<int64_t>(waveform.size());
  const int64_t pad = n_fft / 2;
  const int64_t padded = n + 2 * pad;
  MelSpectrogram spec;
  spec.num_mel_filters = num_mel_filters;
  spec.num_frames = 1 + (padded - n_fft) / hop_length;
  spec.values.assign(static_cast<size_t>(num_mel_filters * spec.num_frames), 0.0);

  const std::vector<double> window = PeriodicHannWindow(n_fft);
  RealFft fft(n_fft);
  std::vector<double> power(static_cast<size_t>(bins));
  for (int64_t t = 0; t < spec.num_frames; ++t) {
    double* frame = fft.input();
    for (int64_t i = 0; i < n_fft; ++i) {
      const int64_t source = ReflectIndex(t * hop_length + i - pad, n);
      frame[i] = static_cast<double>(waveform[static_cast<size_t>(source)]) * window[i];
    }
    const fftw_complex* bins_out = fft.Run();
    for (int64_t k = 0; k < bins; ++k) {
      // HF keeps the STFT as complex64, then takes |.| in float64.
      const double re = static_cast<float>(bins_out[k][0]);
      const double im = static_cast<float>(bins_out[k][1]);
      const double magnitude = std::hypot(re, im);
      power[k] = magnitude * magnitude;
    }
    for (int64_t m = 0; m < num_mel_filters; ++m) {
      double sum = 0.0;
      for (int64_t k = 0; k < bins; ++k)
        sum += mel_filters[static_cast<size_t>(k * num_mel_filters + m)] * power[k];
      spec.values[static_cast<size_t>(m * spec.num_frames + t)] = std::max(1e-10, sum);
    }
  }
  return spec;
}

}  // namespace ipfs_accel::preprocess
