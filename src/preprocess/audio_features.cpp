#include "ipfs_accel/preprocess/audio_features.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/preprocess/audio.h"
#include "ipfs_accel/preprocess/spectrogram.h"
#include "preprocess/json_fields.h"

namespace ipfs_accel::preprocess {

using core::DType;
using core::Error;
using core::ErrorKind;
using core::Tensor;

namespace {

// Which extractor a model folder's config.json model_type uses.
std::optional<AudioFeatureKind> KindForModelType(const std::string& model_type) {
  if (model_type == "whisper") return AudioFeatureKind::kWhisper;
  if (model_type == "clap") return AudioFeatureKind::kClap;
  for (const char* t : {"wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio",
                        "unispeech", "unispeech-sat", "sew", "sew-d"})
    if (model_type == t) return AudioFeatureKind::kWav2Vec2;
  return std::nullopt;
}

std::optional<AudioFeatureKind> TryParseKind(const std::string& name) {
  if (name == "whisper" || name == "WhisperFeatureExtractor") return AudioFeatureKind::kWhisper;
  if (name == "clap" || name == "ClapFeatureExtractor") return AudioFeatureKind::kClap;
  if (name == "wav2vec2" || name == "Wav2Vec2FeatureExtractor") return AudioFeatureKind::kWav2Vec2;
  return std::nullopt;
}

void RequirePositive(const AudioFeatureConfig& c, const char* key, int64_t value) {
  if (value < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}': {}={} must be at least 1", c.origin, key, value));
}

// A [frames][mels] float32 log-mel block (HF's layout after .T).
using MelBlock = std::vector<float>;

// ClapFeatureExtractor._np_extract_fbank_features: the spectrogram in dB (10 log10 of the
// floored mel power, reference 1), float32, time-major.
MelBlock ClapFbank(std::span<const float> waveform, const AudioFeatureConfig& c,
                   const std::vector<double>& filters, int64_t* frames) {
  const MelSpectrogram spec =
      PowerMelSpectrogram(waveform, c.n_fft, c.hop_length, filters, c.feature_size);
  *frames = spec.num_frames;
  MelBlock block(static_cast<size_t>(spec.num_frames * c.feature_size));
  for (int64_t t = 0; t < spec.num_frames; ++t)
    for (int64_t m = 0; m < c.feature_size; ++m)
      block[static_cast<size_t>(t * c.feature_size + m)] =
          static_cast<float>(10.0 * (std::log10(spec.at(m, t)) - std::log10(1.0)));
  return block;
}

// torch.nn.functional.interpolate(mode="bilinear", align_corners=False) of a [frames][mels]
// block to [out_frames][mels]; the mel axis keeps its size, so only time is interpolated.
MelBlock ShrinkFrames(const MelBlock& mel, int64_t frames, int64_t mels, int64_t out_frames) {
  MelBlock out(static_cast<size_t>(out_frames * mels));
  const float scale = static_cast<float>(frames) / static_cast<float>(out_frames);
  for (int64_t t = 0; t < out_frames; ++t) {
    float src = scale * (static_cast<float>(t) + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    const auto t0 = static_cast<int64_t>(src);
    const int64_t t1 = t0 + (t0 < frames - 1 ? 1 : 0);
    const float lambda1 = std::min(std::max(src - static_cast<float>(t0), 0.0f), 1.0f);
    const float lambda0 = 1.0f - lambda1;
    for (int64_t m = 0; m < mels; ++m)
      out[static_cast<size_t>(t * mels + m)] = lambda0 * mel[static_cast<size_t>(t0 * mels + m)] +
                                               lambda1 * mel[static_cast<size_t>(t1 * mels + m)];
  }
  return out;
}

Tensor StackChannels(const std::vector<const float*>& channels, int64_t frames, int64_t mels) {
  Tensor t =
      Tensor::Zeros(DType::kFloat32, {1, static_cast<int64_t>(channels.size()), frames, mels});
  const size_t block = static_cast<size_t>(frames * mels);
  auto out = t.values<float>();
  for (size_t c = 0; c < channels.size(); ++c)
    std::memcpy(out.data() + c * block, channels[c], block * sizeof(float));
  return t;
}

std::map<std::string, Tensor> Whisper(std::span<const float> waveform,
                                      const AudioFeatureConfig& c) {
  // Cut or pad (with padding_value) to chunk_length seconds.
  const int64_t n_samples = c.max_length > 0 ? c.max_length : c.chunk_length * c.sampling_rate;
  std::vector<float> wave(static_cast<size_t>(n_samples), static_cast<float>(c.padding_value));
  std::copy_n(waveform.begin(), std::min<int64_t>(n_samples, waveform.size()), wave.begin());

  const std::vector<double> filters = MelFilterBank(c.n_fft / 2 + 1, c.feature_size, 0.0, 8000.0,
                                                    c.sampling_rate, true, MelScale::kSlaney);
  const MelSpectrogram spec =
      PowerMelSpectrogram(wave, c.n_fft, c.hop_length, filters, c.feature_size);
  const int64_t frames = spec.num_frames - 1;  // HF drops the last frame
  if (frames < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}': {} samples give no Whisper frame", c.origin, n_samples));
  Tensor t = Tensor::Zeros(DType::kFloat32, {1, c.feature_size, frames});
  auto out = t.values<float>();
  float peak = -std::numeric_limits<float>::infinity();
  for (int64_t m = 0; m < c.feature_size; ++m) {
    for (int64_t f = 0; f < frames; ++f) {
      const float v = static_cast<float>(std::log10(spec.at(m, f)));
      out[static_cast<size_t>(m * frames + f)] = v;
      peak = std::max(peak, v);
    }
  }
  // float32 as numpy computes it: floor at max - 8, then (x + 4) / 4.
  const auto floor_value = static_cast<float>(static_cast<double>(peak) - 8.0);
  for (float& v : out) v = (std::max(v, floor_value) + 4.0f) / 4.0f;
  std::map<std::string, Tensor> result;
  result.emplace("input_features", std::move(t));
  return result;
}

std::map<std::string, Tensor> Clap(std::span<const float> waveform, const AudioFeatureConfig& c) {
  const int64_t max_length = c.max_length > 0 ? c.max_length : c.max_length_s * c.sampling_rate;
  const int64_t n = static_cast<int64_t>(waveform.size());
  const bool fusion = c.truncation == "fusion";
  auto slaney = [&] {
    return MelFilterBank(c.n_fft / 2 + 1, c.feature_size, c.frequency_min, c.frequency_max,
                         c.sampling_rate, true, MelScale::kSlaney);
  };
  auto htk = [&] {
    return MelFilterBank(c.n_fft / 2 + 1, c.feature_size, c.frequency_min, c.frequency_max,
                         c.sampling_rate, false, MelScale::kHtk);
  };
  Tensor features;
  bool longer = false;
  int64_t frames = 0;
  if (n > max_length) {
    if (!fusion) {
      // HF crops at a random offset; the first crop keeps this reproducible.
      longer = true;
      const MelBlock mel =
          ClapFbank(waveform.first(static_cast<size_t>(max_length)), c, slaney(), &frames);
      features = StackChannels({mel.data()}, frames, c.feature_size);
    } else {
      int64_t total = 0;
      const MelBlock mel = ClapFbank(waveform, c, htk(), &total);
      const int64_t chunk = max_length / c.hop_length + 1;
      if (chunk == total) {
        features =
            StackChannels({mel.data(), mel.data(), mel.data(), mel.data()}, total, c.feature_size);
      } else {
        if (c.feature_size != 64)
          throw Error(ErrorKind::kUnsupported,
                      fmt::format("'{}': fusion of audio longer than max_length_s needs "
                                  "feature_size=64 (HF squeezes to 64 mel bins), not {}",
                                  c.origin, c.feature_size));
        longer = true;
        // np.array_split(range(total - chunk + 1), 3); HF picks a random start in each third,
        // this the first of each (a third left empty falls back to 0, as in HF).
        const int64_t starts = total - chunk + 1;
        const int64_t size0 = starts / 3 + (starts % 3 > 0 ? 1 : 0);
        const int64_t size1 = starts / 3 + (starts % 3 > 1 ? 1 : 0);
        const int64_t size2 = starts / 3;
        const int64_t front = 0;
        const int64_t middle = size1 > 0 ? size0 : 0;
        const int64_t back = size2 > 0 ? size0 + size1 : 0;
        const MelBlock shrunk = ShrinkFrames(mel, total, c.feature_size, chunk);
        const auto at = [&](int64_t start) { return mel.data() + start * c.feature_size; };
        features =
            StackChannels({shrunk.data(), at(front), at(middle), at(back)}, chunk, c.feature_size);
      }
    }
  } else {
    std::vector<float> wave(waveform.begin(), waveform.end());
    if (n < max_length) {
      const int64_t repeats = max_length / n;
      if (c.padding == "repeat" || c.padding == "repeatpad") {
        const int64_t copies = c.padding == "repeat" ? repeats + 1 : repeats;
        wave.clear();
        for (int64_t r = 0; r < copies; ++r)
          wave.insert(wave.end(), waveform.begin(), waveform.end());
        if (static_cast<int64_t>(wave.size()) > max_length) wave.resize(max_length);
      }
      wave.resize(static_cast<size_t>(max_length), 0.0f);  // HF pads with 0, not padding_value
    }
    const MelBlock mel = ClapFbank(wave, c, fusion ? htk() : slaney(), &frames);
    features = fusion ? StackChannels({mel.data(), mel.data(), mel.data(), mel.data()}, frames,
                                      c.feature_size)
                      : StackChannels({mel.data()}, frames, c.feature_size);
  }
  // With fusion HF marks a random input of a batch with no long input as longer; a batch of one
  // is always that input.
  if (fusion) longer = true;
  Tensor is_longer = Tensor::Zeros(DType::kBool, {1, 1});
  is_longer.bytes[0] = std::byte{static_cast<unsigned char>(longer ? 1 : 0)};
  std::map<std::string, Tensor> result;
  result.emplace("input_features", std::move(features));
  result.emplace("is_longer", std::move(is_longer));
  return result;
}

std::map<std::string, Tensor> Wav2Vec2(std::span<const float> waveform,
                                       const AudioFeatureConfig& c) {
  const int64_t n = static_cast<int64_t>(waveform.size());
  Tensor values = Tensor::Zeros(DType::kFloat32, {1, n});
  auto out = values.values<float>();
  if (c.do_normalize) {
    double mean = 0.0;
    for (float x : waveform) mean += x;
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (float x : waveform) var += (x - mean) * (x - mean);
    var /= static_cast<double>(n);
    const double scale = 1.0 / std::sqrt(var + 1e-7);
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((waveform[i] - mean) * scale);
  } else {
    std::copy(waveform.begin(), waveform.end(), out.begin());
  }
  std::map<std::string, Tensor> result;
  result.emplace("input_values", std::move(values));
  if (c.return_attention_mask) {
    Tensor mask = Tensor::Zeros(DType::kInt64, {1, n});
    std::fill(mask.values<int64_t>().begin(), mask.values<int64_t>().end(), 1);
    result.emplace("attention_mask", std::move(mask));
  }
  return result;
}

}  // namespace

AudioFeatureKind ParseAudioFeatureKind(const std::string& name) {
  if (auto kind = TryParseKind(name)) return *kind;
  throw Error(ErrorKind::kUnsupported,
              fmt::format("audio feature extractor '{}' is not supported (supported: whisper, "
                          "clap, wav2vec2)",
                          name));
}

const char* AudioFeatureKindName(AudioFeatureKind kind) {
  switch (kind) {
    case AudioFeatureKind::kWhisper:
      return "whisper";
    case AudioFeatureKind::kClap:
      return "clap";
    case AudioFeatureKind::kWav2Vec2:
      return "wav2vec2";
  }
  return "?";
}

AudioFeatureConfig DefaultAudioFeatureExtractor(AudioFeatureKind kind) {
  AudioFeatureConfig c;
  c.kind = kind;
  c.origin = "defaults";
  switch (kind) {
    case AudioFeatureKind::kWhisper:
      break;  // the struct's defaults are Whisper's
    case AudioFeatureKind::kClap:
      c.sampling_rate = 48000;
      c.feature_size = 64;
      c.n_fft = 1024;
      c.hop_length = 480;
      break;
    case AudioFeatureKind::kWav2Vec2:
      c.feature_size = 1;
      break;
  }
  return c;
}

AudioFeatureConfig AudioFeatureExtractorFromJson(AudioFeatureKind kind, const nlohmann::json& json,
                                                 const std::string& origin) {
  const detail::JsonFields f(json, origin);
  if (auto named = f.OptionalString("feature_extractor_type")) {
    const auto file_kind = TryParseKind(*named);
    if (!file_kind)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': feature_extractor_type '{}' is not supported (supported: "
                              "WhisperFeatureExtractor, ClapFeatureExtractor, "
                              "Wav2Vec2FeatureExtractor)",
                              origin, *named));
    if (*file_kind != kind)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("'{}' configures {} but a {} feature extractor was asked for", origin,
                              *named, AudioFeatureKindName(kind)));
  }
  AudioFeatureConfig c = DefaultAudioFeatureExtractor(kind);
  c.origin = origin;
  c.sampling_rate = f.Int("sampling_rate", c.sampling_rate);
  c.feature_size = f.Int("feature_size", c.feature_size);
  c.padding_value = f.Double("padding_value", c.padding_value);
  RequirePositive(c, "sampling_rate", c.sampling_rate);
  RequirePositive(c, "feature_size", c.feature_size);
  switch (kind) {
    case AudioFeatureKind::kWhisper: {
      c.n_fft = f.Int("n_fft", c.n_fft);
      c.hop_length = f.Int("hop_length", c.hop_length);
      c.chunk_length = f.Int("chunk_length", c.chunk_length);
      const double dither = f.Double("dither", 0.0);
      if (dither != 0.0)
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}': dither={} is not supported (it adds random noise); set "
                                "it to 0.0",
                                origin, dither));
      RequirePositive(c, "chunk_length", c.chunk_length);
      break;
    }
    case AudioFeatureKind::kClap: {
      c.n_fft = f.Int("fft_window_size", c.n_fft);
      c.hop_length = f.Int("hop_length", c.hop_length);
      c.max_length_s = f.Int("max_length_s", c.max_length_s);
      c.frequency_min = f.Double("frequency_min", c.frequency_min);
      c.frequency_max = f.Double("frequency_max", c.frequency_max);
      c.truncation = f.String("truncation", c.truncation);
      c.padding = f.String("padding", c.padding);
      if (c.truncation != "fusion" && c.truncation != "rand_trunc")
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}': truncation='{}' is not supported (fusion, rand_trunc)",
                                origin, c.truncation));
      if (c.padding != "repeatpad" && c.padding != "repeat" && c.padding != "pad")
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}': padding='{}' is not supported (repeatpad, repeat, pad)",
                                origin, c.padding));
      RequirePositive(c, "max_length_s", c.max_length_s);
      if (c.frequency_min > c.frequency_max)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("'{}': frequency_min {} is above frequency_max {}", origin,
                                c.frequency_min, c.frequency_max));
      break;
    }
    case AudioFeatureKind::kWav2Vec2:
      c.do_normalize = f.Bool("do_normalize", c.do_normalize);
      c.return_attention_mask = f.Bool("return_attention_mask", c.return_attention_mask);
      if (c.feature_size != 1)
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}': feature_size={} is not supported; Wav2Vec2 takes one "
                                "value per sample",
                                origin, c.feature_size));
      break;
  }
  if (kind != AudioFeatureKind::kWav2Vec2) {
    if (c.n_fft < 2)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("'{}': an FFT of {} points makes no spectrogram", origin, c.n_fft));
    RequirePositive(c, "hop_length", c.hop_length);
  }
  return c;
}

AudioFeatureConfig AudioFeatureExtractorForModel(AudioFeatureKind kind,
                                                 const nlohmann::json& model) {
  const std::string model_type =
      model.is_object() && model.contains("model_type") && model["model_type"].is_string()
          ? model["model_type"].get<std::string>()
          : "";
  AudioFeatureConfig c = DefaultAudioFeatureExtractor(kind);
  c.origin = fmt::format("{} defaults (model_type {})", AudioFeatureKindName(kind), model_type);
  const nlohmann::json* audio = &model;
  if (model.is_object() && model.contains("audio_config") && model["audio_config"].is_object())
    audio = &model["audio_config"];
  if (kind != AudioFeatureKind::kWav2Vec2 && audio->is_object() &&
      audio->contains("num_mel_bins") && (*audio)["num_mel_bins"].is_number_integer())
    c.feature_size = (*audio)["num_mel_bins"].get<int64_t>();
  if (kind == AudioFeatureKind::kClap) {
    const bool fusion = audio->is_object() && audio->contains("enable_fusion") &&
                        (*audio)["enable_fusion"].is_boolean() &&
                        (*audio)["enable_fusion"].get<bool>();
    c.truncation = fusion ? "fusion" : "rand_trunc";
  }
  RequirePositive(c, "num_mel_bins", c.feature_size);
  return c;
}

std::optional<AudioFeatureKind> AudioFeatureKindForModelType(const std::string& model_type) {
  return KindForModelType(model_type);
}

AudioFeatureConfig LoadAudioFeatureExtractor(const std::string& kind, const std::string& path) {
  const detail::PreprocessorFiles files = detail::FindPreprocessorFiles(path);
  std::optional<nlohmann::json> json;
  if (!files.preprocessor_config.empty()) json = detail::ReadJsonObject(files.preprocessor_config);
  std::optional<AudioFeatureKind> k;
  if (!kind.empty()) {
    k = ParseAudioFeatureKind(kind);
  } else if (json && json->contains("feature_extractor_type") &&
             (*json)["feature_extractor_type"].is_string()) {
    k = ParseAudioFeatureKind((*json)["feature_extractor_type"].get<std::string>());
  } else {
    k = KindForModelType(files.model_type);
  }
  if (!k)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("cannot tell which audio feature extractor '{}' needs (model_type "
                            "'{}'); name one: whisper, clap or wav2vec2",
                            path, files.model_type));
  if (!json) return AudioFeatureExtractorForModel(*k, files.model_config);
  return AudioFeatureExtractorFromJson(*k, *json, files.preprocessor_config);
}

std::map<std::string, Tensor> ExtractAudioFeatures(std::span<const float> waveform,
                                                   const AudioFeatureConfig& config) {
  if (waveform.empty())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}': an empty waveform has no features", config.origin));
  switch (config.kind) {
    case AudioFeatureKind::kWhisper:
      return Whisper(waveform, config);
    case AudioFeatureKind::kClap:
      return Clap(waveform, config);
    case AudioFeatureKind::kWav2Vec2:
      return Wav2Vec2(waveform, config);
  }
  throw Error(ErrorKind::kInternal, "unknown audio feature kind");
}

std::map<std::string, Tensor> PreprocessAudio(const std::string& path,
                                              const AudioFeatureConfig& config) {
  const Waveform w = LoadAudio(path, config.sampling_rate);
  return ExtractAudioFeatures(w.samples, config);
}

}  // namespace ipfs_accel::preprocess
