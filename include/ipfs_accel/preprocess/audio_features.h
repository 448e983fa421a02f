#pragma once
// Hugging Face audio feature extractors: WhisperFeatureExtractor, ClapFeatureExtractor and
// Wav2Vec2FeatureExtractor, from a preprocessor_config.json with each class's defaults, applied to
// one mono waveform at the extractor's sampling rate. Outputs are named as the models' inputs
// are, batch 1, float32 unless said otherwise.
//
// Whisper  input_features [1, feature_size, chunk_length * sr / hop_length]: the waveform cut or
//          zero padded to chunk_length seconds, periodic-hann STFT (reflect centre padding),
//          power, slaney mel filters 0..8 kHz, log10 of max(1e-10, mel), last frame dropped,
//          floored at max - 8, (x + 4) / 4.
// CLAP     input_features [1, 1, frames, feature_size] ("rand_trunc") or [1, 4, frames, 64]
//          ("fusion"), is_longer bool [1, 1]. Power-to-dB mel spectrogram (slaney scale and norm
//          for rand_trunc, htk without norm for fusion) of max_length_s seconds. Shorter input is
//          padded per `padding` ("repeatpad": whole repeats then zeros; "repeat": repeats cut to
//          length; "pad": zeros). Longer input is cropped where HF crops at random; this takes the
//          FIRST candidate every time so the result is reproducible: rand_trunc keeps the first
//          max_length samples; fusion takes the first start of each third of the possible starts,
//          beside the whole mel squeezed to chunk length (torch bilinear, align_corners=False).
//          With fusion HF marks a lone input is_longer=true even when it is short; so does this.
//          `top_db` is stored but unused, as in HF.
// Wav2Vec2 input_values [1, samples], zero mean / unit variance (over 1e-7) when do_normalize;
//          attention_mask int64 [1, samples] of ones when return_attention_mask.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::preprocess {

enum class AudioFeatureKind { kWhisper, kClap, kWav2Vec2 };

// "whisper", "clap", "wav2vec2" or a class name ("WhisperFeatureExtractor", ...). Throws
// kUnsupported naming the accepted values.
AudioFeatureKind ParseAudioFeatureKind(const std::string& name);
const char* AudioFeatureKindName(AudioFeatureKind kind);  // "whisper", "clap", "wav2vec2"

struct AudioFeatureConfig {
  AudioFeatureKind kind = AudioFeatureKind::kWhisper;
  std::string origin;  // the file it came from, for messages; "defaults" when none
  int64_t sampling_rate = 16000;
  int64_t feature_size = 80;  // mel bins (Whisper, CLAP); 1 for Wav2Vec2
  double padding_value = 0.0;
  // HF's __call__(max_length=...) in samples: the length Whisper pads/cuts to and CLAP's
  // max_length; 0 means the class's own (chunk_length or max_length_s seconds). Unused by
  // Wav2Vec2. Not read from JSON (HF takes it per call): set it for models trained on other
  // lengths.
  int64_t max_length = 0;
  // Whisper
  int64_t n_fft = 400;  // CLAP: fft_window_size
  int64_t hop_length = 160;
  int64_t chunk_length = 30;  // seconds
  // CLAP
  int64_t max_length_s = 10;
  double frequency_min = 0.0;
  double frequency_max = 14000.0;
  std::string truncation = "fusion";  // "fusion" or "rand_trunc"
  std::string padding = "repeatpad";  // "repeatpad", "repeat" or "pad"
  // Wav2Vec2
  bool do_normalize = true;
  bool return_attention_mask = false;
};

// The class's __init__ defaults.
AudioFeatureConfig DefaultAudioFeatureExtractor(AudioFeatureKind kind);

// A preprocessor_config.json's object read on top of `kind`'s defaults (the kind of a
// feature_extractor_type in the file must agree). Throws kCorrupt for a key of the wrong type,
// kUnsupported for a setting this cannot reproduce (Whisper dither != 0, an unknown truncation or
// padding), kInvalidArgument for sizes that make no spectrogram.
AudioFeatureConfig AudioFeatureExtractorFromJson(AudioFeatureKind kind, const nlohmann::json& json,
                                                 const std::string& origin);

// `path` is a preprocessor_config.json or a model folder holding one. The kind is `kind` when not
// empty, else the file's feature_extractor_type, else the folder's config.json model_type
// (whisper, clap, wav2vec2 and its relatives). A folder with no preprocessor_config.json but a
// known model_type (HF itself would refuse it) gets that class's defaults adjusted to the model:
// feature_size from num_mel_bins (Whisper; CLAP's audio_config), and CLAP truncation
// "rand_trunc" unless audio_config.enable_fusion. Throws kNotFound, kCorrupt, kUnsupported.
AudioFeatureConfig LoadAudioFeatureExtractor(const std::string& kind, const std::string& path);

// What LoadAudioFeatureExtractor does for a folder without preprocessor_config.json, from the
// model's config.json object, e.g. for a catalog model.
AudioFeatureConfig AudioFeatureExtractorForModel(AudioFeatureKind kind,
                                                 const nlohmann::json& model_config);
// The extractor a model_type takes (whisper, clap, wav2vec2 and its relatives), if known.
std::optional<AudioFeatureKind> AudioFeatureKindForModelType(const std::string& model_type);

// The extractor on one mono waveform already at config.sampling_rate. Throws kInvalidArgument
// for an empty waveform.
std::map<std::string, core::Tensor> ExtractAudioFeatures(std::span<const float> waveform,
                                                         const AudioFeatureConfig& config);

// LoadAudio(path, config.sampling_rate) + ExtractAudioFeatures. Throws what ReadAudio throws.
std::map<std::string, core::Tensor> PreprocessAudio(const std::string& path,
                                                    const AudioFeatureConfig& config);

}  // namespace ipfs_accel::preprocess
