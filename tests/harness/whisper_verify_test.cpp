// Runs the Whisper graphs on ONNX Runtime against the hf-tiny fixture made by transformers
// (WhisperModel; no decoder_attention_mask, so HF's default of all ones). Beyond the
// fixture: the fixed input_features length, the causal and padding masks of the decoder,
// WhisperForConditionalGeneration's proj_out (tied and untied; the fixture's weights under
// "model." with logits recomputed here in double precision), and the generation graphs:
// the encoder, then the decoder fed its own KV cache chunk by chunk, must reproduce the
// full forward and the fixture.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/seq2seq_graphs.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/seq2seq_generation.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace whisper_verify_test {

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::DecodeInChunks;
using ipfs_accel::testing::GenerationGraph;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::OpenGraph;
using ipfs_accel::testing::SliceAxis1;
using ipfs_accel::testing::TempDir;
using ::testing::HasSubstr;
using TensorMap = std::map<std::string, Tensor>;

const fs::path kFixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/whisper";
constexpr int64_t kFixtureParameters = 250880;
constexpr int64_t kVocab = 1000, kDModel = 64;

// Largest |a - b| over positions [batch, seq, :] of two [batch, seq, hidden] tensors where
// keep(batch, seq) holds.
template <typename Keep>
double MaxDiffWhere(const Tensor& a, const Tensor& b, Keep keep) {
  EXPECT_EQ(a.shape, b.shape);
  if (a.shape != b.shape || a.shape.size() != 3) return INFINITY;
  const auto x = a.values<float>(), y = b.values<float>();
  const int64_t seq = a.shape[1], hidden = a.shape[2];
  double worst = 0;
  for (int64_t i = 0; i < a.element_count(); ++i)
    if (keep(i / (seq * hidden), (i / hidden) % seq))
      worst = std::max(worst, std::fabs(static_cast<double>(x[i]) - y[i]));
  return worst;
}

// ---- WhisperModel against transformers ----

TEST(WhisperVerifyTest, HfTinyWhisperMatchesTransformers) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  std::ifstream fixture(kFixture / "fixture.json");
  EXPECT_EQ(nlohmann::json::parse(fixture).at("params").get<int64_t>(), kFixtureParameters);
  EXPECT_EQ(model.info.parameters, kFixtureParameters);
  EXPECT_EQ(model.info.modality, "audio");

  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  ASSERT_EQ(io.inputs.size(), 2u);  // input_features, decoder_input_ids
  ASSERT_EQ(io.outputs.size(), 2u);
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, 1e-4);
  ASSERT_EQ(r.outputs.size(), 2u);
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, 1e-4) << o.name;
    std::cout << "[ whisper fixture ] " << o.name << " max abs error " << o.max_abs_error
              << ", max rel error " << o.max_rel_error << "\n";
  }
  EXPECT_TRUE(r.passed);
}

TEST(WhisperVerifyTest, PerturbedReferenceFails) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  for (const char* output : {"last_hidden_state", "encoder_last_hidden_state"}) {
    ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
    io.outputs.at(output).values<float>()[7] += 1e-3f;
    EXPECT_FALSE(Verify(model, {}, io.inputs, io.outputs, 1e-4).passed) << output;
  }
}

// HF raises unless input_features has exactly 2 * max_source_positions frames; the graph's
// fixed dimension makes any other length an error that names the input.
TEST(WhisperRunTest, WrongFeatureLengthIsRefused) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const auto e = CatchError([&] {
    session->Run({{"input_features", Tensor::Zeros(DType::kFloat32, {1, 16, 62})},
                  {"decoder_input_ids", Int64Tensor({1, 2}, {1, 5})},
                  {"decoder_attention_mask", Int64Tensor({1, 2}, {1, 1})}});
  });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("input_features"));

  ShapeRequest request;
  request.seq_len = 4;
  request.overrides["input_features"] = {1, 16, 62};
  const auto shape_error =
      CatchError([&] { ResolveShapes(session->inputs(), model.dim_roles, request); });
  EXPECT_EQ(shape_error.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_THAT(shape_error.what(), HasSubstr("fixed at 64"));
}

TEST(WhisperRunTest, GeneratedInputsFitTheGraph) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  ShapeRequest request;
  request.batch_size = 2;
  request.seq_len = 5;  // sizes decoder_sequence
  const auto shapes = ResolveShapes(session->inputs(), model.dim_roles, request);
  EXPECT_EQ(shapes.at("input_features"), (core::Shape{2, 16, 64}));
  EXPECT_EQ(shapes.at("decoder_input_ids"), (core::Shape{2, 5}));
  const TensorMap out =
      session->Run(GenerateInputs(session->inputs(), shapes, model.input_hints, 3));
  EXPECT_EQ(out.at("last_hidden_state").shape, (core::Shape{2, 5, kDModel}));
  request.seq_len = 33;  // past max_target_positions 32: cut to 32 unless asked for
  EXPECT_EQ(ResolveShapes(session->inputs(), model.dim_roles, request).at("decoder_input_ids"),
            (core::Shape{2, 32}));
  request.seq_len_explicit = true;
  EXPECT_EQ(CatchError([&] { ResolveShapes(session->inputs(), model.dim_roles, request); }).kind(),
            core::ErrorKind::kInvalidArgument);
}

TEST(WhisperRunTest, DecoderIsCausal) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  auto run = [&](const std::vector<int64_t>& ids) {
    return session
        ->Run({{"input_features", io.inputs.at("input_features")},
               {"decoder_input_ids", Int64Tensor({2, 4}, ids)},
               {"decoder_attention_mask", Int64Tensor({2, 4}, std::vector<int64_t>(8, 1))}})
        .at("last_hidden_state");
  };
  const Tensor a = run({1, 7, 11, 19, 1, 23, 29, 31});
  const Tensor b = run({1, 7, 11, 44, 1, 23, 29, 55});
  // Changing the last decoder token changes only the last decoder position.
  EXPECT_LT(MaxDiffWhere(a, b, [](int64_t, int64_t s) { return s < 3; }), 1e-6);
  EXPECT_GT(MaxDiffWhere(a, b, [](int64_t, int64_t s) { return s == 3; }), 1e-3);
}

TEST(WhisperRunTest, DecoderAttentionMaskHidesPaddedTokens) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  auto run = [&](const std::vector<int64_t>& ids, const std::vector<int64_t>& mask) {
    return session
        ->Run({{"input_features", io.inputs.at("input_features")},
               {"decoder_input_ids", Int64Tensor({2, 6}, ids)},
               {"decoder_attention_mask", Int64Tensor({2, 6}, mask)}})
        .at("last_hidden_state");
  };
  // Row 1 is left-padded by two; other tokens there must change nothing after them.
  const std::vector<int64_t> ids = {1, 5, 8, 13, 21, 34, 0, 0, 7, 11, 19, 23};
  std::vector<int64_t> other = ids;
  other[6] = 42;
  other[7] = 17;
  const std::vector<int64_t> mask = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1};
  auto unpadded = [](int64_t b, int64_t s) { return b == 0 || s >= 2; };
  EXPECT_LT(MaxDiffWhere(run(ids, mask), run(other, mask), unpadded), 1e-6);
  // Unmasked, the same change reaches the later positions: the check above can fail.
  const std::vector<int64_t> ones(12, 1);
  EXPECT_GT(MaxDiffWhere(run(ids, ones), run(other, ones), unpadded), 1e-3);
}

// ---- WhisperForConditionalGeneration: the fixture's weights under "model." ----

TensorMap FixtureWeights() {
  const auto file = models::SafetensorsFile::Open((kFixture / "model.safetensors").string());
  TensorMap out;
  for (const auto& [name, entry] : file->entries()) out[name] = file->Read(name);
  return out;
}

// A WhisperForConditionalGeneration folder: the fixture's weights as "model.*", plus
// proj_out.weight when `proj_out` is given (tie_word_embeddings false).
void WriteConditionalGeneration(const fs::path& dir, const Tensor* proj_out) {
  std::ifstream in(kFixture / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["architectures"] = {"WhisperForConditionalGeneration"};
  config["tie_word_embeddings"] = proj_out == nullptr;
  std::ofstream(dir / "config.json") << config.dump(2);
  TensorMap weights;
  for (auto& [name, tensor] : FixtureWeights()) weights["model." + name] = std::move(tensor);
  if (proj_out != nullptr) weights["proj_out.weight"] = *proj_out;
  models::WriteSafetensors((dir / "model.safetensors").string(), weights);
}

// hidden [batch, seq, d] @ table[vocab, d]^T in double precision.
std::vector<double> Logits(const Tensor& hidden, const Tensor& table) {
  const auto h = hidden.values<float>(), w = table.values<float>();
  const int64_t rows = hidden.element_count() / kDModel;
  std::vector<double> out;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < kVocab; ++v) {
      double acc = 0;
      for (int64_t k = 0; k < kDModel; ++k)
        acc += static_cast<double>(h[r * kDModel + k]) * w[v * kDModel + k];
      out.push_back(acc);
    }
  return out;
}

double MaxDiff(const Tensor& actual, const std::vector<double>& expected) {
  const auto a = actual.values<float>();
  EXPECT_EQ(a.size(), expected.size());
  if (a.size() != expected.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - expected[i]));
  return worst;
}

TEST(WhisperConditionalGenerationTest, LogitsAreTheTiedProjection) {
  TempDir tmp;
  WriteConditionalGeneration(tmp.path(), nullptr);
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  EXPECT_EQ(model.info.parameters, kFixtureParameters);  // proj_out is the embedding
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const TensorMap out = session->Run(CompleteInputs(session->inputs(), model, io.inputs, 0));
  ASSERT_EQ(out.count("last_hidden_state"), 0u);  // Seq2SeqLMOutput has logits instead
  EXPECT_EQ(out.at("logits").shape, (core::Shape{2, 6, kVocab}));
  const Tensor embedding = FixtureWeights().at("decoder.embed_tokens.weight");
  const double error =
      MaxDiff(out.at("logits"), Logits(io.outputs.at("last_hidden_state"), embedding));
  std::cout << "[ whisper lm head ] logits max abs error " << error << "\n";
  EXPECT_LT(error, 1e-4);
  EXPECT_LT(
      MaxAbsDiff(out.at("encoder_last_hidden_state"), io.outputs.at("encoder_last_hidden_state")),
      1e-4);
}

TEST(WhisperConditionalGenerationTest, UntiedProjOutIsItsOwnWeight) {
  Tensor proj_out = Tensor::Zeros(DType::kFloat32, {kVocab, kDModel});
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  for (float& v : proj_out.values<float>()) v = normal(rng);
  TempDir tmp;
  WriteConditionalGeneration(tmp.path(), &proj_out);
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  EXPECT_EQ(model.info.parameters, kFixtureParameters + kVocab * kDModel);
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const Tensor logits =
      session->Run(CompleteInputs(session->inputs(), model, io.inputs, 0)).at("logits");
  const Tensor& hidden = io.outputs.at("last_hidden_state");
  EXPECT_LT(MaxDiff(logits, Logits(hidden, proj_out)), 1e-4);
  EXPECT_GT(MaxDiff(logits, Logits(hidden, FixtureWeights().at("decoder.embed_tokens.weight"))),
            1e-2);
}

// ---- Generation graphs: the encoder, then the decoder step by step with a KV cache ----

using Generated = ipfs_accel::testing::ChunkedDecoding;

Generated GenerateInChunks(GenerationGraph& encoder, GenerationGraph& decoder,
                           const Tensor& features, const Tensor& decoder_ids,
                           const std::vector<int64_t>& chunks, const std::string& output) {
  return DecodeInChunks(encoder, decoder, {{"input_features", features}}, {}, decoder_ids, chunks,
                        output);
}

// The worst difference between each chunk's output and the same positions of `full`.
double MaxStepDiff(const Generated& g, const Tensor& full) {
  double worst = 0;
  int64_t done = 0;
  for (const Tensor& step : g.steps) {
    const int64_t n = step.shape[1];
    worst = std::max(worst, MaxAbsDiff(step, SliceAxis1(full, done, done + n)));
    done += n;
  }
  return worst;
}

const std::vector<std::vector<int64_t>> kChunkings = {{1, 1, 1, 1, 1, 1}, {2, 3, 1}, {6}};

TEST(WhisperGenerationTest, EncoderThenCachedDecoderMatchesTransformers) {
  GenerationGraph encoder =
      OpenGraph(kFixture.string(), {"model."}, models::Seq2SeqGraph::kEncoder);
  GenerationGraph decoder =
      OpenGraph(kFixture.string(), {"model."}, models::Seq2SeqGraph::kDecoderWithPast);
  // Every parameter is in exactly one of the two graphs (cross-attention k/v: the encoder's).
  EXPECT_EQ(encoder.model.info.parameters + decoder.model.info.parameters, kFixtureParameters);

  const models::Model full = models::LoadHfFolder(kFixture.string());
  auto full_session = runtime::OpenOnnxRuntimeSession(full, {});
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  const TensorMap reference =
      full_session->Run(CompleteInputs(full_session->inputs(), full, io.inputs, 0));
  const Tensor& decoder_ids = io.inputs.at("decoder_input_ids");
  ASSERT_EQ(decoder_ids.shape[1], 6);
  for (const auto& chunks : kChunkings) {
    SCOPED_TRACE(::testing::PrintToString(chunks));
    const Generated g = GenerateInChunks(encoder, decoder, io.inputs.at("input_features"),
                                         decoder_ids, chunks, "last_hidden_state");
    EXPECT_LT(MaxAbsDiff(g.encoder_hidden, io.outputs.at("encoder_last_hidden_state")), 1e-4);
    EXPECT_LT(MaxAbsDiff(g.encoder_hidden, reference.at("encoder_last_hidden_state")), 1e-5);
    const double vs_transformers = MaxStepDiff(g, io.outputs.at("last_hidden_state"));
    EXPECT_LT(vs_transformers, 1e-4);
    EXPECT_LT(MaxStepDiff(g, reference.at("last_hidden_state")), 1e-5);
    std::cout << "[ whisper cached decoding ] chunks " << ::testing::PrintToString(chunks)
              << " max abs error vs transformers " << vs_transformers << "\n";
  }
}

TEST(WhisperGenerationTest, CachedLogitsMatchFullForward) {
  TempDir tmp;
  WriteConditionalGeneration(tmp.path(), nullptr);
  GenerationGraph encoder =
      OpenGraph(tmp.path().string(), {"model."}, models::Seq2SeqGraph::kEncoder);
  GenerationGraph decoder =
      OpenGraph(tmp.path().string(), {"model."}, models::Seq2SeqGraph::kDecoderWithPast);
  const models::Model full = models::LoadHfFolder(tmp.path().string());
  auto full_session = runtime::OpenOnnxRuntimeSession(full, {});
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  const TensorMap reference =
      full_session->Run(CompleteInputs(full_session->inputs(), full, io.inputs, 0));
  for (const auto& chunks : kChunkings) {
    SCOPED_TRACE(::testing::PrintToString(chunks));
    const Generated g = GenerateInChunks(encoder, decoder, io.inputs.at("input_features"),
                                         io.inputs.at("decoder_input_ids"), chunks, "logits");
    EXPECT_LT(MaxStepDiff(g, reference.at("logits")), 1e-5);
  }
}

TEST(WhisperGenerationTest, DecoderRolesResolveCacheShapes) {
  GenerationGraph decoder =
      OpenGraph(kFixture.string(), {"model."}, models::Seq2SeqGraph::kDecoderWithPast);
  ShapeRequest request;
  request.batch_size = 2;
  request.seq_len = 1;
  request.past_len = 3;
  request.overrides["encoder_sequence"] = {32};  // no role: max_source_positions
  const auto shapes =
      ResolveShapes(decoder.session->inputs(), models::Seq2SeqDecoderDimRoles(), request);
  EXPECT_EQ(shapes.at("input_ids"), (core::Shape{2, 1}));
  EXPECT_EQ(shapes.at("past_key_values.1.decoder.value"), (core::Shape{2, 4, 3, 16}));
  EXPECT_EQ(shapes.at("past_key_values.0.encoder.key"), (core::Shape{2, 4, 32, 16}));
  const TensorMap out =
      decoder.session->Run(GenerateInputs(decoder.session->inputs(), shapes, {}, 5));
  EXPECT_EQ(out.at("present.0.decoder.key").shape, (core::Shape{2, 4, 4, 16}));
}

}  // namespace whisper_verify_test
}  // namespace ipfs_accel::harness
