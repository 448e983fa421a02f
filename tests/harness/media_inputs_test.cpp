// Model inputs from real files (harness/media_inputs.h) for the hf-tiny fixtures, against values
// computed here from the files the test writes: a solid-colour PNG through ViT's processor, a
// silent WAV through Whisper's log-mel, a tone through Wav2Vec2's normalisation.

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/media_inputs.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/catch_error.h"
#include "support/media_writers.h"
#include "support/temp_dir.h"

namespace ipfs_accel::harness {
namespace media_inputs_test {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny";

MediaFiles ImageFile(const std::string& path) {
  MediaFiles f;
  f.image = path;
  return f;
}
MediaFiles AudioFile(const std::string& path) {
  MediaFiles f;
  f.audio = path;
  return f;
}

std::vector<runtime::TensorSpec> GraphInputs(const models::Model& model) {
  return runtime::OpenOnnxRuntimeSession(model, {})->inputs();
}

TEST(MediaInputs, SolidPngThroughVitProcessorGivesTheNormalisedColour) {
  testing::TempDir dir;
  const std::string png = dir.File("solid.png");
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 40 * 30; ++i) rgb.insert(rgb.end(), {200, 100, 50});
  testing::WriteRgbPng(png, 40, 30, rgb);

  const models::Model vit = models::LoadHfFolder((kFixtures / "vit").string());
  const MediaInputs in = MakeMediaInputs(vit, GraphInputs(vit), ImageFile(png));
  const core::Tensor& px = in.tensors.at("pixel_values");
  ASSERT_EQ(px.shape, (core::Shape{1, 3, 32, 32}));  // the fixture's image_size
  // ViTImageProcessor: x / 255, then (x - 0.5) / 0.5; a solid colour survives any resize.
  const double want[3] = {(200 / 255.0 - 0.5) / 0.5, (100 / 255.0 - 0.5) / 0.5,
                          (50 / 255.0 - 0.5) / 0.5};
  const auto v = px.values<float>();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 32 * 32; ++i) ASSERT_NEAR(v[c * 1024 + i], want[c], 1e-6) << c << " " << i;
}

TEST(MediaInputs, SilentWavThroughWhisperIsTheLogFloorEverywhere) {
  testing::TempDir dir;
  const std::string wav = dir.File("silence.wav");
  testing::WriteWav16(wav, 16000, 1, std::vector<int16_t>(8000, 0));
  const models::Model whisper = models::LoadHfFolder((kFixtures / "whisper").string());
  const MediaInputs in = MakeMediaInputs(whisper, GraphInputs(whisper), AudioFile(wav));
  const core::Tensor& f = in.tensors.at("input_features");
  ASSERT_EQ(f.shape, (core::Shape{1, 16, 64}));  // the graph's mel bins and frames
  // log10(max(1e-10, 0)) = -10 everywhere; the floor max - 8 changes nothing; (x + 4) / 4.
  for (float x : f.values<float>()) ASSERT_FLOAT_EQ(x, -1.5f);
  // Decoding starts from the config's decoder_start_token_id (1 in the fixture).
  ASSERT_EQ(in.tensors.at("decoder_input_ids").shape, (core::Shape{1, 1}));
  EXPECT_EQ(in.tensors.at("decoder_input_ids").values<int64_t>()[0], 1);
}

TEST(MediaInputs, ToneThroughWav2Vec2IsZeroMeanUnitVariance) {
  testing::TempDir dir;
  const std::string wav = dir.File("tone.wav");
  std::vector<int16_t> pcm(4000);
  for (size_t i = 0; i < pcm.size(); ++i)
    pcm[i] = static_cast<int16_t>(9000 * std::sin(2 * M_PI * 440 * double(i) / 16000) + 1000);
  testing::WriteWav16(wav, 16000, 1, pcm);
  const models::Model w2v = models::LoadHfFolder((kFixtures / "wav2vec2").string());
  const MediaInputs in = MakeMediaInputs(w2v, GraphInputs(w2v), AudioFile(wav));
  const core::Tensor& x = in.tensors.at("input_values");
  ASSERT_EQ(x.shape, (core::Shape{1, 4000}));
  double mean = 0, var = 0;
  for (int16_t s : pcm) mean += s / 32768.0;
  mean /= double(pcm.size());
  for (int16_t s : pcm) var += std::pow(s / 32768.0 - mean, 2);
  var /= double(pcm.size());
  const auto v = x.values<float>();
  for (size_t i : {size_t{0}, size_t{17}, size_t{1234}, size_t{3999}})
    EXPECT_NEAR(v[i], (pcm[i] / 32768.0 - mean) / std::sqrt(var + 1e-7), 1e-5) << i;
}

TEST(MediaInputs, AFileTheModelTakesNoInputForIsRefused) {
  testing::TempDir dir;
  const std::string wav = dir.File("x.wav");
  testing::WriteWav16(wav, 16000, 1, std::vector<int16_t>(1600, 0));
  const models::Model vit = models::LoadHfFolder((kFixtures / "vit").string());
  const auto e =
      testing::CatchError([&] { MakeMediaInputs(vit, GraphInputs(vit), AudioFile(wav)); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported) << e.what();
  const auto missing = testing::CatchError(
      [&] { MakeMediaInputs(vit, GraphInputs(vit), ImageFile(dir.File("absent.png"))); });
  EXPECT_EQ(missing.kind(), core::ErrorKind::kNotFound) << missing.what();
}

}  // namespace media_inputs_test
}  // namespace ipfs_accel::harness
