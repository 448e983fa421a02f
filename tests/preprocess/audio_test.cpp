#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/preprocess/audio.h"
#include "ipfs_accel/preprocess/audio_features.h"
#include "ipfs_accel/preprocess/spectrogram.h"
#include "support/catch_error.h"
#include "support/media_writers.h"
#include "support/temp_dir.h"

namespace ipfs_accel::preprocess {
namespace audio_test {

using core::ErrorKind;
using testing::CatchError;
using testing::TempDir;

constexpr double kPi = std::numbers::pi;

// Slaney's mel scale written out: linear 3/200 mel per Hz below 1 kHz, then 27 mel per ln(6.4).
double SlaneyMel(double hz) {
  return hz < 1000.0 ? 3.0 * hz / 200.0 : 15.0 + 27.0 * std::log(hz / 1000.0) / std::log(6.4);
}
double SlaneyHz(double mel) {
  return mel < 15.0 ? 200.0 * mel / 3.0 : 1000.0 * std::exp((mel - 15.0) * std::log(6.4) / 27.0);
}

// Triangle m of a bank whose edges are `edges` (Hz), at frequency f; slaney area normalisation.
double Triangle(const std::vector<double>& edges, int m, double f, bool slaney_norm) {
  const double rise = (f - edges[m]) / (edges[m + 1] - edges[m]);
  const double fall = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
  const double w = std::max(0.0, std::min(rise, fall));
  return slaney_norm ? w * 2.0 / (edges[m + 2] - edges[m]) : w;
}

// Whisper's filter edges: 82 points equally spaced in slaney mel over 0..8 kHz.
std::vector<double> WhisperEdges() {
  std::vector<double> edges(82);
  for (int i = 0; i < 82; ++i) edges[i] = SlaneyHz(SlaneyMel(8000.0) * i / 81.0);
  return edges;
}

float At3(const core::Tensor& t, int64_t a, int64_t b) {  // [1, A, B]
  return t.values<float>()[static_cast<size_t>(a * t.shape[2] + b)];
}

float At4(const core::Tensor& t, int64_t c, int64_t f, int64_t m) {  // [1, C, F, M]
  return t.values<float>()[static_cast<size_t>((c * t.shape[2] + f) * t.shape[3] + m)];
}

// Seeded uniform noise in [-0.5, 0.5).
std::vector<float> Noise(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  }
  return v;
}

// ------------------------------------------------------------------ mel scale and filters

TEST(MelFilterBankTest, SlaneyEntriesMatchTheFormula) {
  EXPECT_DOUBLE_EQ(HertzToMel(1000.0, MelScale::kSlaney), 15.0);
  EXPECT_DOUBLE_EQ(HertzToMel(500.0, MelScale::kSlaney), 7.5);
  EXPECT_NEAR(MelToHertz(HertzToMel(6000.0, MelScale::kSlaney), MelScale::kSlaney), 6000.0, 1e-9);
  EXPECT_NEAR(HertzToMel(1000.0, MelScale::kHtk), 2595.0 * std::log10(1.0 + 1000.0 / 700.0), 1e-12);

  const std::vector<double> bank =
      MelFilterBank(201, 80, 0.0, 8000.0, 16000, true, MelScale::kSlaney);
  ASSERT_EQ(bank.size(), 201u * 80u);
  const std::vector<double> edges = WhisperEdges();
  // Every entry; bins are 40 Hz apart.
  double worst = 0.0;
  for (int bin = 0; bin <= 200; ++bin)
    for (int mel = 0; mel < 80; ++mel)
      worst =
          std::max(worst, std::fabs(bank[bin * 80 + mel] - Triangle(edges, mel, 40.0 * bin, true)));
  EXPECT_LT(worst, 1e-15);
  // Filters in the linear region, at the knee and high up are not empty: the bin nearest each
  // centre has weight (every half-triangle is wider than half a bin).
  for (int mel : {1, 14, 15, 55, 76}) {
    const int bin = static_cast<int>(std::lround(edges[mel + 1] / 40.0));
    EXPECT_GT(bank[bin * 80 + mel], 0.0) << mel;
  }
  EXPECT_EQ(bank[200 * 80 + 0], 0.0);  // 8 kHz is far outside the first triangle
}

TEST(MelFilterBankTest, HtkWithoutNormPeaksAtOne) {
  // CLAP's fusion bank: htk scale, 50..14000 Hz at 48 kHz, no area normalisation.
  const std::vector<double> bank =
      MelFilterBank(513, 64, 50.0, 14000.0, 48000, false, MelScale::kHtk);
  auto htk = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  auto htk_hz = [](double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); };
  std::vector<double> edges(66);
  for (int i = 0; i < 66; ++i) edges[i] = htk_hz(htk(50.0) + (htk(14000.0) - htk(50.0)) * i / 65.0);
  const double bin_hz = 24000.0 / 512.0;
  double worst = 0.0, top = 0.0;
  for (int bin = 0; bin <= 512; ++bin) {
    for (int mel = 0; mel < 64; ++mel) {
      worst = std::max(worst,
                       std::fabs(bank[bin * 64 + mel] - Triangle(edges, mel, bin_hz * bin, false)));
      top = std::max(top, bank[bin * 64 + mel]);
    }
  }
  EXPECT_LT(worst, 1e-12);
  EXPECT_GT(top, 0.9);  // unnormalised triangles reach nearly 1 where a bin meets a centre
  EXPECT_LE(top, 1.0);
}

// ------------------------------------------------------------------ reading and resampling

TEST(AudioReadTest, StereoIsAveragedAndFloatIsKept) {
  TempDir dir;
  testing::WriteWav16(dir.File("s.wav"), 8000, 2, {1000, -3000, 32767, 32767, -32768, 0});
  const Waveform s = ReadAudio(dir.File("s.wav"));
  EXPECT_EQ(s.sampling_rate, 8000);
  ASSERT_EQ(s.samples.size(), 3u);
  EXPECT_EQ(s.samples[0], -1000.0f / 32768.0f);  // 16-bit PCM reads as value / 32768
  EXPECT_EQ(s.samples[1], 32767.0f / 32768.0f);
  EXPECT_EQ(s.samples[2], -0.5f);

  testing::WriteWavFloat(dir.File("f.wav"), 22050, 1, {0.1f, -0.25f, 1.5f});
  const Waveform f = ReadAudio(dir.File("f.wav"));
  EXPECT_EQ(f.samples, (std::vector<float>{0.1f, -0.25f, 1.5f}));
}

TEST(AudioReadTest, ResamplingKeepsTheToneAndTheLength) {
  TempDir dir;
  std::vector<float> tone(4001);
  for (size_t i = 0; i < tone.size(); ++i)
    tone[i] = static_cast<float>(0.5 * std::sin(2.0 * kPi * 440.0 * i / 8000.0));
  testing::WriteWavFloat(dir.File("t.wav"), 8000, 1, tone);
  const Waveform w = LoadAudio(dir.File("t.wav"), 16000);
  EXPECT_EQ(w.sampling_rate, 16000);
  ASSERT_EQ(w.samples.size(), 8002u);  // ceil(4001 * 16000 / 8000)
  double worst = 0.0;
  for (size_t n = 1000; n < 7000; ++n)
    worst =
        std::max(worst, std::fabs(w.samples[n] - 0.5 * std::sin(2.0 * kPi * 440.0 * n / 16000.0)));
  EXPECT_LT(worst, 1e-3);
}

TEST(AudioReadTest, BadFilesGiveTheRightErrorKind) {
  TempDir dir;
  EXPECT_EQ(CatchError([&] { ReadAudio(dir.File("missing.wav")); }).kind(), ErrorKind::kNotFound);
  testing::WriteBytes(dir.File("text.wav"), "hello, this is a text file and not a RIFF WAVE\n");
  const core::Error text = CatchError([&] { ReadAudio(dir.File("text.wav")); });
  EXPECT_EQ(text.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(text.what()).find("text.wav"), std::string::npos);
  testing::WriteWav16(dir.File("empty.wav"), 16000, 1, {});
  EXPECT_EQ(CatchError([&] { ReadAudio(dir.File("empty.wav")); }).kind(), ErrorKind::kCorrupt);
}

// ------------------------------------------------------------------ Whisper

TEST(WhisperFeaturesTest, SineLandsInItsMelBinAndMatchesADirectDft) {
  TempDir dir;
  std::vector<int16_t> pcm(16000);
  for (size_t i = 0; i < pcm.size(); ++i)
    pcm[i] =
        static_cast<int16_t>(std::lround(16384.0 * std::sin(2.0 * kPi * 1000.0 * i / 16000.0)));
  testing::WriteWav16(dir.File("sine.wav"), 16000, 1, pcm);

  const auto features = PreprocessAudio(dir.File("sine.wav"),
                                        DefaultAudioFeatureExtractor(AudioFeatureKind::kWhisper));
  const core::Tensor& t = features.at("input_features");
  ASSERT_EQ(t.shape, (core::Shape{1, 80, 3000}));

  // The mel bin whose triangle weighs 1000 Hz (FFT bin 25) most.
  const std::vector<double> edges = WhisperEdges();
  int expected_bin = 0;
  for (int m = 1; m < 80; ++m)
    if (Triangle(edges, m, 1000.0, true) > Triangle(edges, expected_bin, 1000.0, true))
      expected_bin = m;
  const int64_t frame = 50;  // centred on sample 8000, well inside the tone
  int64_t peak_bin = 0;
  for (int64_t m = 1; m < 80; ++m)
    if (At3(t, m, frame) > At3(t, peak_bin, frame)) peak_bin = m;
  EXPECT_EQ(peak_bin, expected_bin);

  // That value from first principles: periodic Hann window, 400-point DFT, power, triangle sum.
  std::vector<double> power(201);
  for (int k = 0; k <= 200; ++k) {
    std::complex<double> sum = 0.0;
    for (int i = 0; i < 400; ++i) {
      const double x = pcm[frame * 160 - 200 + i] / 32768.0;
      const double w = 0.5 - 0.5 * std::cos(2.0 * kPi * i / 400.0);
      sum += x * w * std::polar(1.0, -2.0 * kPi * k * i / 400.0);
    }
    power[k] = std::norm(sum);
  }
  double mel = 0.0;
  for (int k = 0; k <= 200; ++k) mel += Triangle(edges, expected_bin, 40.0 * k, true) * power[k];
  const double expected = (std::log10(mel) + 4.0) / 4.0;
  EXPECT_NEAR(At3(t, expected_bin, frame), expected, 2e-6);

  // Silence after the second of tone sits at the floor: 8 (log10) below the peak, i.e. 2 below
  // after (x + 4) / 4.
  const auto values = t.values<float>();
  const float top = *std::max_element(values.begin(), values.end());
  EXPECT_FLOAT_EQ(At3(t, 0, 2999), top - 2.0f);
  EXPECT_FLOAT_EQ(At3(t, 79, 200), top - 2.0f);
}

TEST(WhisperFeaturesTest, MaxLengthAndFeatureSizeSetTheShape) {
  AudioFeatureConfig c = DefaultAudioFeatureExtractor(AudioFeatureKind::kWhisper);
  c.feature_size = 128;
  c.max_length = 64 * 160;
  const auto f = ExtractAudioFeatures(Noise(30000, 7), c);
  EXPECT_EQ(f.at("input_features").shape, (core::Shape{1, 128, 64}));
}

// ------------------------------------------------------------------ CLAP

TEST(ClapFeaturesTest, RepeatpadRepeatsWholeCopiesThenPadsWithSilence) {
  AudioFeatureConfig c = DefaultAudioFeatureExtractor(AudioFeatureKind::kClap);
  ASSERT_EQ(c.truncation, "fusion");
  const std::vector<float> wave = Noise(100000, 11);
  // 480000 / 100000 -> 4 whole copies = 400000 samples, then zeros. Frame t sees samples
  // [480 t - 512, 480 t + 512): from t = 835 on only zeros, floored at 1e-10 = -100 dB.
  const auto fused = ExtractAudioFeatures(wave, c);
  const core::Tensor& t = fused.at("input_features");
  ASSERT_EQ(t.shape, (core::Shape{1, 4, 1001, 64}));
  EXPECT_EQ(fused.at("is_longer").bytes[0], std::byte{1});  // a lone input counts as longer
  EXPECT_GT(At4(t, 0, 833, 10), -100.0f);
  for (int64_t f : {835, 900, 1000}) EXPECT_EQ(At4(t, 0, f, 10), -100.0f) << f;
  EXPECT_EQ(At4(t, 3, 500, 20), At4(t, 0, 500, 20));  // four copies when short
  // 96000 samples repeat exactly 5 times: frame t and t + 200 (96000 / 480) see the same samples.
  const auto five = ExtractAudioFeatures(Noise(96000, 13), c);
  EXPECT_EQ(At4(five.at("input_features"), 0, 100, 30), At4(five.at("input_features"), 0, 300, 30));
  EXPECT_EQ(At4(five.at("input_features"), 0, 797, 3), At4(five.at("input_features"), 0, 997, 3));
  EXPECT_NE(At4(five.at("input_features"), 0, 100, 30), At4(five.at("input_features"), 0, 101, 30));
  c.truncation = "rand_trunc";
  const auto single = ExtractAudioFeatures(wave, c);
  EXPECT_EQ(single.at("input_features").shape, (core::Shape{1, 1, 1001, 64}));
  EXPECT_EQ(single.at("is_longer").bytes[0], std::byte{0});
  EXPECT_EQ(At4(single.at("input_features"), 0, 900, 5), -100.0f);

  c.padding = "repeat";  // copies cut at 480000: no silence
  EXPECT_GT(At4(ExtractAudioFeatures(wave, c).at("input_features"), 0, 1000, 5), -100.0f);
  c.padding = "pad";  // zeros right after the waveform: frame 210 onwards
  const auto padded = ExtractAudioFeatures(wave, c);
  EXPECT_GT(At4(padded.at("input_features"), 0, 208, 5), -100.0f);
  EXPECT_EQ(At4(padded.at("input_features"), 0, 211, 5), -100.0f);
}

TEST(ClapFeaturesTest, FusionOfLongAudioStacksShrunkAndCroppedMels) {
  AudioFeatureConfig c = DefaultAudioFeatureExtractor(AudioFeatureKind::kClap);
  const std::vector<float> longer = Noise(48000 * 11, 3);  // 1101 frames, chunks of 1001
  const auto fused = ExtractAudioFeatures(longer, c);
  const core::Tensor& t = fused.at("input_features");
  ASSERT_EQ(t.shape, (core::Shape{1, 4, 1001, 64}));
  EXPECT_EQ(fused.at("is_longer").bytes[0], std::byte{1});
  // Channel 1 is the first chunk: the same frames as the first 10 s alone, but for the last two,
  // whose windows reach past sample 480000.
  const auto first = ExtractAudioFeatures(std::span(longer).first(480000), c);
  for (int64_t f : {0, 400, 998})
    EXPECT_EQ(At4(t, 1, f, 7), At4(first.at("input_features"), 0, f, 7)) << f;
  // 101 possible starts split 34/34/33: the middle and back chunks start at frames 34 and 68.
  EXPECT_EQ(At4(t, 2, 0, 9), At4(t, 1, 34, 9));
  EXPECT_EQ(At4(t, 3, 500, 9), At4(t, 1, 568, 9));
  // Channel 0 squeezes 1101 frames into 1001 (bilinear, half-pixel centres): output frame 0
  // reads source 1101/1001 * 0.5 - 0.5 between frames 0 and 1.
  const double src = 1101.0 / 1001.0 * 0.5 - 0.5;
  const double expected = (1.0 - src) * At4(t, 1, 0, 9) + src * At4(t, 1, 1, 9);
  EXPECT_NEAR(At4(t, 0, 0, 9), expected, 1e-4);
}

// ------------------------------------------------------------------ Wav2Vec2

TEST(Wav2Vec2FeaturesTest, NormalisesToZeroMeanUnitVariance) {
  AudioFeatureConfig c = DefaultAudioFeatureExtractor(AudioFeatureKind::kWav2Vec2);
  std::vector<float> wave = Noise(16000, 5);
  for (float& x : wave) x = 0.3f + 0.2f * x;
  c.return_attention_mask = true;
  const auto f = ExtractAudioFeatures(wave, c);
  const core::Tensor& v = f.at("input_values");
  ASSERT_EQ(v.shape, (core::Shape{1, 16000}));
  double mean = 0.0, var = 0.0;
  for (float x : v.values<float>()) mean += x;
  mean /= 16000.0;
  for (float x : v.values<float>()) var += (x - mean) * (x - mean);
  var /= 16000.0;
  EXPECT_NEAR(mean, 0.0, 1e-6);
  EXPECT_NEAR(var, 1.0, 1e-4);
  const core::Tensor& mask = f.at("attention_mask");
  EXPECT_EQ(mask.dtype, core::DType::kInt64);
  EXPECT_EQ(mask.values<int64_t>()[15999], 1);

  c.do_normalize = false;
  EXPECT_EQ(ExtractAudioFeatures(wave, c).at("input_values").values<float>()[3], wave[3]);
}

// ------------------------------------------------------------------ configs

TEST(AudioConfigTest, FilesFoldersAndRefusals) {
  TempDir dir;
  testing::WriteBytes(dir.File("preprocessor_config.json"),
                      R"({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128,
                          "mel_filters": [[0.0]], "nb_max_frames": 3000})");
  const AudioFeatureConfig w = LoadAudioFeatureExtractor("", dir.path().string());
  EXPECT_EQ(w.kind, AudioFeatureKind::kWhisper);
  EXPECT_EQ(w.feature_size, 128);
  EXPECT_EQ(w.hop_length, 160);
  EXPECT_EQ(CatchError([&] { LoadAudioFeatureExtractor("clap", dir.path().string()); }).kind(),
            ErrorKind::kInvalidArgument);

  const std::string shared = IPFS_ACCEL_SHARED_DIR;
  const AudioFeatureConfig tiny_whisper =
      LoadAudioFeatureExtractor("", shared + "/fixtures/hf-tiny/whisper");
  EXPECT_EQ(tiny_whisper.feature_size, 16);  // num_mel_bins
  const AudioFeatureConfig tiny_clap =
      LoadAudioFeatureExtractor("", shared + "/fixtures/hf-tiny/clap");
  EXPECT_EQ(tiny_clap.kind, AudioFeatureKind::kClap);
  EXPECT_EQ(tiny_clap.feature_size, 16);
  EXPECT_EQ(tiny_clap.truncation, "rand_trunc");  // audio_config.enable_fusion is false
  EXPECT_EQ(LoadAudioFeatureExtractor("", shared + "/fixtures/hf-tiny/wav2vec2").kind,
            AudioFeatureKind::kWav2Vec2);

  EXPECT_EQ(CatchError([] {
              AudioFeatureExtractorFromJson(AudioFeatureKind::kWhisper,
                                            nlohmann::json{{"dither", 0.5}}, "w.json");
            }).kind(),
            ErrorKind::kUnsupported);
  EXPECT_EQ(CatchError([] {
              AudioFeatureExtractorFromJson(AudioFeatureKind::kClap,
                                            nlohmann::json{{"truncation", "middle"}}, "c.json");
            }).kind(),
            ErrorKind::kUnsupported);
  EXPECT_EQ(CatchError([] {
              AudioFeatureExtractorFromJson(AudioFeatureKind::kClap,
                                            nlohmann::json{{"hop_length", "480"}}, "c.json");
            }).kind(),
            ErrorKind::kCorrupt);
  EXPECT_EQ(CatchError([] { ParseAudioFeatureKind("speech2text"); }).kind(),
            ErrorKind::kUnsupported);
}

}  // namespace audio_test
}  // namespace ipfs_accel::preprocess
