// Runs the LLaVA and LLaVA-NeXT graphs on ONNX Runtime.
//  - LLaVA: the hf-tiny fixture against the logits transformers returned, its weights also under
//    the other checkpoint layouts (hub, transformers 4.5x, 5.x in memory); each row of a batch
//    takes its own image (HF's masked_scatter order); a wrong image-token count fails as HF's
//    does, none at all (a decode step) runs; decoding over the cache gives the full pass's logits;
//    generated inputs hold the image tokens where the processor puts them.
//  - Reference data made with transformers 5.17 (tests/harness/llava_reference, see
//    make_reference.py there): two LLaVA-NeXT models (CLIP tower with rows unpadded; SigLIP tower,
//    two feature layers, columns unpadded, no projector bias) and a LLaVA with a SigLIP tower and
//    a tied Qwen2, each batch-2 or with its own image size, against HF's logits.
//  - LLaVA-NeXT: a tiny checkpoint written here under HF's parameter names with
//    seeded values. Causality makes the packing visible: changing one patch of pixel_values (or
//    image_newline) leaves every logit before that patch's first feature token unchanged and
//    changes that one, so the first changed position says where HF's pack_image_features put it
//    (base image first, tiles as one unpadded map row by row, a newline after each row).

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/llava_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/kv_cache_check.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace llava_verify_test {

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::EmptyCache;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::PresentName;
using ipfs_accel::testing::SliceAxis1;
using ipfs_accel::testing::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;
using TensorMap = std::map<std::string, Tensor>;

const fs::path kFixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/llava";
constexpr double kTolerance = 1e-4;
constexpr int64_t kFixtureImageToken = 999;

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

Tensor RandomImages(core::Shape shape, uint64_t seed) {
  Tensor t = Tensor::Zeros(DType::kFloat32, std::move(shape));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : t.values<float>()) v = dist(rng);
  return t;
}

// [n, ...] tensors stacked on axis 0.
Tensor Stack(const std::vector<Tensor>& parts) {
  core::Shape shape = parts[0].shape;
  shape[0] = 0;
  for (const auto& p : parts) shape[0] += p.shape[0];
  Tensor out = Tensor::Zeros(parts[0].dtype, shape);
  size_t at = 0;
  for (const auto& p : parts) {
    std::copy(p.bytes.begin(), p.bytes.end(), out.bytes.begin() + static_cast<std::ptrdiff_t>(at));
    at += p.bytes.size();
  }
  return out;
}

// Row `r` of a [rows, ...] tensor, as [1, ...].
Tensor Row(const Tensor& t, int64_t r) {
  core::Shape shape = t.shape;
  shape[0] = 1;
  Tensor out = Tensor::Zeros(t.dtype, shape);
  const size_t n = out.bytes.size();
  std::copy_n(t.bytes.begin() + static_cast<std::ptrdiff_t>(n * static_cast<size_t>(r)), n,
              out.bytes.begin());
  return out;
}

// One full pass with an empty cache.
TensorMap RunPrompt(runtime::Session& session, const Tensor& ids, const Tensor& pixels) {
  const int64_t batch = ids.shape[0], n = ids.shape[1];
  TensorMap in = EmptyCache(session, batch);
  in["input_ids"] = ids;
  in["attention_mask"] = Int64Tensor({batch, n}, std::vector<int64_t>(batch * n, 1));
  in["pixel_values"] = pixels;
  return session.Run(in);
}

// ---- LLaVA: the hf-tiny fixture ----

TEST(LlavaFixtureTest, MatchesTransformers) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  EXPECT_EQ(model.info.parameters, ReadJson(kFixture / "fixture.json").at("params").get<int64_t>());
  EXPECT_EQ(model.info.modality, "multimodal");
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].shape_matches);
  EXPECT_LT(r.outputs[0].max_abs_error, kTolerance);
  EXPECT_TRUE(r.passed);
  std::cout << "llava: logits max abs error " << r.outputs[0].max_abs_error << "\n";
}

// The fixture's checkpoint as transformers 5.x saves it ("vision_tower.", "language_model.model.",
// "language_model.lm_head.", "multi_modal_projector.") renamed to the other layouts in use.
std::string HubName(const std::string& n) {  // llava-hf checkpoints: CLIPVisionModel nested
  return n.rfind("vision_tower.", 0) == 0 ? "vision_tower.vision_model." + n.substr(13) : n;
}
std::string InMemoryName(const std::string& n) {  // transformers >= 4.52 in memory
  if (n == "language_model.lm_head.weight") return "lm_head.weight";
  if (n.rfind("language_model.model.", 0) == 0) return "model.language_model." + n.substr(21);
  return "model." + n;
}
std::string Saved45Name(const std::string& n) {  // transformers 4.52-4.57 save_pretrained
  const std::string m = InMemoryName(n);
  return m.rfind("model.vision_tower.", 0) == 0 ? "model.vision_tower.vision_model." + m.substr(19)
                                                : m;
}

TEST(LlavaFixtureTest, EveryCheckpointLayout) {
  const auto source = models::SafetensorsFile::Open((kFixture / "model.safetensors").string());
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  for (auto rename : {&HubName, &InMemoryName, &Saved45Name}) {
    TempDir dir;
    fs::copy_file(kFixture / "config.json", dir.path() / "config.json");
    TensorMap renamed;
    for (const auto& [name, entry] : source->entries()) renamed[rename(name)] = source->Read(name);
    ASSERT_EQ(renamed.count(rename("vision_tower.pre_layrnorm.weight")), 1u);
    models::WriteSafetensors(dir.File("model.safetensors"), renamed);
    const models::Model model = models::LoadHfFolder(dir.path().string());
    const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
    EXPECT_TRUE(r.passed) << rename("vision_tower.pre_layrnorm.weight");
  }
}

// ---- Reference data made with transformers ----

struct HfReference {
  std::string folder;
  int64_t parameters;  // sum(p.numel() for p in model.parameters()) as HF printed it
};

class LlavaHfReferenceTest : public ::testing::TestWithParam<HfReference> {};

TEST_P(LlavaHfReferenceTest, MatchesTransformers) {
  const fs::path dir =
      fs::path(IPFS_ACCEL_SOURCE_DIR) / "tests/harness/llava_reference" / GetParam().folder;
  const models::Model model = models::LoadHfFolder(dir.string());
  EXPECT_EQ(model.info.parameters, GetParam().parameters);
  const ReferenceIo io = LoadReferenceIo((dir / "io.safetensors").string());
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].shape_matches);
  EXPECT_LT(r.outputs[0].max_abs_error, kTolerance);
  EXPECT_TRUE(r.passed);
  std::cout << GetParam().folder << ": logits max abs error " << r.outputs[0].max_abs_error << "\n";
}

INSTANTIATE_TEST_SUITE_P(Transformers517, LlavaHfReferenceTest,
                         ::testing::Values(HfReference{"next_clip", 65408},
                                           HfReference{"next_siglip", 75488},
                                           HfReference{"llava_siglip", 79248}),
                         [](const auto& info) { return info.param.folder; });

// ---- LLaVA: behaviour around the image tokens ----

class LlavaRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = models::LoadHfFolder(kFixture.string());
    session_ = runtime::OpenOnnxRuntimeSession(model_, {});
    io_ = LoadReferenceIo((kFixture / "io.safetensors").string());
  }
  models::Model model_;
  std::unique_ptr<runtime::Session> session_;
  ReferenceIo io_;
};

TEST_F(LlavaRunTest, EachRowTakesItsOwnImage) {
  const Tensor ids = io_.inputs.at("input_ids");
  const Tensor first = io_.inputs.at("pixel_values"), second = RandomImages(first.shape, 5);
  const Tensor both = RunPrompt(*session_, Stack({ids, ids}), Stack({first, second})).at("logits");
  const Tensor alone_first = RunPrompt(*session_, ids, first).at("logits");
  const Tensor alone_second = RunPrompt(*session_, ids, second).at("logits");
  EXPECT_LT(MaxAbsDiff(Row(both, 0), alone_first), kTolerance);
  EXPECT_LT(MaxAbsDiff(Row(both, 1), alone_second), kTolerance);
  EXPECT_GT(MaxAbsDiff(alone_first, alone_second), 1e-3);  // the image matters
  EXPECT_LT(MaxAbsDiff(alone_first, io_.outputs.at("logits")), kTolerance);
}

TEST_F(LlavaRunTest, ImageTokenCountMustMatchTheFeatures) {
  std::vector<int64_t> ids(io_.inputs.at("input_ids").values<int64_t>().begin(),
                           io_.inputs.at("input_ids").values<int64_t>().end());
  const Tensor pixels = io_.inputs.at("pixel_values");
  std::vector<int64_t> one_short = ids;
  one_short[2] = 5;  // 15 image tokens for 16 features: HF raises
  EXPECT_EQ(CatchError([&] {
              RunPrompt(*session_, Int64Tensor({1, 24}, one_short), pixels);
            }).kind(),
            core::ErrorKind::kRuntime);
  std::vector<int64_t> none = ids;
  for (auto& t : none)
    if (t == kFixtureImageToken) t = 7;
  const Tensor text_only = RunPrompt(*session_, Int64Tensor({1, 24}, none), pixels).at("logits");
  EXPECT_EQ(text_only.shape, (core::Shape{1, 24, 1000}));
}

// A 20-token prefill (all 16 image tokens) then 4 single-token steps over the cache, pixel_values
// fed every time (the steps hold no image token): the logits and cache of one full pass.
TEST_F(LlavaRunTest, CachedDecodeMatchesFullPass) {
  const Tensor ids = io_.inputs.at("input_ids"), pixels = io_.inputs.at("pixel_values");
  const TensorMap full = RunPrompt(*session_, ids, pixels);
  TensorMap cache = EmptyCache(*session_, 1);
  double worst = 0;
  int64_t position = 0;
  for (int64_t chunk : {20, 1, 1, 1, 1}) {
    TensorMap step = cache;
    step["input_ids"] = SliceAxis1(ids, position, position + chunk);
    step["attention_mask"] =
        Int64Tensor({1, position + chunk}, std::vector<int64_t>(position + chunk, 1));
    step["pixel_values"] = pixels;
    const TensorMap out = session_->Run(step);
    worst = std::max(worst, MaxAbsDiff(out.at("logits"),
                                       SliceAxis1(full.at("logits"), position, position + chunk)));
    for (auto& [name, tensor] : cache) tensor = out.at(PresentName(name));
    position += chunk;
  }
  EXPECT_LT(worst, kTolerance);
  for (const auto& [name, tensor] : cache)
    EXPECT_LT(MaxAbsDiff(tensor, full.at(PresentName(name))), kTolerance) << name;
}

TEST_F(LlavaRunTest, GeneratedInputsHoldTheImageRun) {
  ShapeRequest request;
  request.batch_size = 2;
  request.seq_len = 24;
  const auto shapes = ResolveShapes(session_->inputs(), model_.dim_roles, request);
  const TensorMap in = GenerateInputs(session_->inputs(), shapes, model_.input_hints, 3);
  const auto ids = in.at("input_ids").values<int64_t>();
  for (int64_t r = 0; r < 2; ++r) {
    EXPECT_EQ(ids[r * 24], 1) << "BOS";  // text_config.bos_token_id
    for (int64_t c = 1; c < 24; ++c) {
      const int64_t id = ids[r * 24 + c];
      EXPECT_EQ(id == kFixtureImageToken, c <= 16) << "row " << r << " position " << c;
      EXPECT_GE(id, 0);
      EXPECT_LT(id, 1000);
    }
  }
  EXPECT_EQ(session_->Run(in).at("logits").shape, (core::Shape{2, 24, 1000}));
  // 16 image tokens after a BOS do not fit in 10 positions: a default length grows to 17, an
  // explicit one is an error.
  request.seq_len = 10;
  EXPECT_EQ(ResolveShapes(session_->inputs(), model_.dim_roles, request).at("input_ids"),
            (core::Shape{2, 17}));
  request.seq_len_explicit = true;
  const auto e = CatchError([&] { ResolveShapes(session_->inputs(), model_.dim_roles, request); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("--seq-len 17"));
  EXPECT_THAT(CatchError([&] {
                GenerateInputs(session_->inputs(),
                               {{"input_ids", {1, 10}},
                                {"attention_mask", {1, 10}},
                                {"pixel_values", {1, 3, 32, 32}},
                                {"past_key_values.0.key", {1, 2, 0, 16}},
                                {"past_key_values.0.value", {1, 2, 0, 16}},
                                {"past_key_values.1.key", {1, 2, 0, 16}},
                                {"past_key_values.1.value", {1, 2, 0, 16}}},
                               model_.input_hints, 3);
              }).what(),
              HasSubstr("--seq-len 17"));
}

// ---- LLaVA-NeXT: a tiny checkpoint written here ----

// A CLIP tower of 16-pixel tiles in 4-pixel patches (a 4x4 feature grid per tile), a one-layer
// LLaMA, and a 30x40 image: best resolution 32x32 (scales 0.53, 0.4, 0.8 keep 336, 192, 768
// pixels), 2x2 tiles, an 8x8 map; the image is wider than the map, so 30 * 8/40 = 6 rows are kept
// (padding 1 above and below): 16 base tokens + 6 rows of (8 + newline) = 70 image tokens.
json TinyNextConfig() {
  return {{"model_type", "llava_next"},
          {"image_token_index", 99},
          {"image_grid_pinpoints", {{16, 32}, {32, 16}, {32, 32}}},
          {"graph_image_size", {30, 40}},
          {"vision_feature_layer", -1},
          {"vision_config",
           {{"model_type", "clip_vision_model"},
            {"hidden_size", 32},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"intermediate_size", 64},
            {"image_size", 16},
            {"patch_size", 4}}},
          {"text_config",
           {{"model_type", "llama"},
            {"hidden_size", 48},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"intermediate_size", 64},
            {"vocab_size", 100},
            {"bos_token_id", 1}}}};
}
constexpr int64_t kNextImageTokens = 70, kNextPatches = 5, kNextImageToken = 99;

// Seeded values for every weight the graph asks for, by HF name (ones/zeros-centred where HF
// initialises norms and biases so, but never exactly, so every term counts).
class SeededRecorder : public models::WeightProvider {
 public:
  TensorMap weights;

 protected:
  Tensor Fetch(const std::string& name, const core::Shape& shape,
               models::WeightInit init) override {
    Tensor t = Tensor::Zeros(DType::kFloat32, shape);
    std::mt19937_64 rng(std::hash<std::string>{}(name));
    std::normal_distribution<float> dist(0.0f, 0.1f);
    const float centre = init == models::WeightInit::kOnes ? 1.0f : 0.0f;
    for (float& v : t.values<float>()) v = centre + dist(rng);
    weights[name] = t;
    return t;
  }
};

TensorMap SeededWeights(const json& config) {
  SeededRecorder recorder;
  onnx::GraphProto graph;
  models::GraphBuilder g(&graph, &recorder);
  const models::HfConfig c(config, "test");
  models::FindArchitecture(c.ModelType(), "test").build(c, g);
  return recorder.weights;
}

bool IsTowerName(const std::string& n) {
  for (const char* p : {"embeddings.", "encoder.", "pre_layrnorm.", "post_layernorm."})
    if (n.rfind(p, 0) == 0) return true;
  return false;
}

// The llava-hf hub layout, or transformers >= 4.52's in-memory one.
std::string CheckpointName(const std::string& n, bool hub) {
  if (n == "lm_head.weight") return hub ? "language_model.lm_head.weight" : n;
  if (IsTowerName(n)) return (hub ? "vision_tower.vision_model." : "model.vision_tower.") + n;
  if (n.rfind("multi_modal_projector.", 0) == 0 || n == "image_newline")
    return hub ? n : "model." + n;
  return (hub ? "language_model.model." : "model.language_model.") + n;
}

models::Model WriteAndLoad(const TempDir& dir, const json& config, const TensorMap& weights,
                           bool hub) {
  std::ofstream(dir.File("config.json")) << config.dump();
  TensorMap named;
  for (const auto& [name, t] : weights) named[CheckpointName(name, hub)] = t;
  models::WriteSafetensors(dir.File("model.safetensors"), named);
  return models::LoadHfFolder(dir.path().string());
}

Tensor NextPrompt() {
  std::vector<int64_t> ids = {1};
  ids.insert(ids.end(), kNextImageTokens, kNextImageToken);
  for (int64_t t : {5, 6, 7, 8}) ids.push_back(t);
  return Int64Tensor({1, static_cast<int64_t>(ids.size())}, ids);
}

// The first position whose logits differ; every earlier one must be bit-for-bit unchanged
// (causality), and the difference there must be clear.
int64_t FirstChangedPosition(const Tensor& a, const Tensor& b) {
  const int64_t positions = a.shape[1];
  for (int64_t p = 0; p < positions; ++p) {
    const double d = MaxAbsDiff(SliceAxis1(a, p, p + 1), SliceAxis1(b, p, p + 1));
    if (d > 0) {
      EXPECT_GT(d, 1e-4) << "position " << p;
      return p;
    }
  }
  return -1;
}

class LlavaNextTinyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = SeededWeights(TinyNextConfig());
    model_ = WriteAndLoad(dir_, TinyNextConfig(), weights_, /*hub=*/true);
    session_ = runtime::OpenOnnxRuntimeSession(model_, {});
    pixels_ = RandomImages({1, kNextPatches, 3, 16, 16}, 11);
  }
  TempDir dir_;
  TensorMap weights_;
  models::Model model_;
  std::unique_ptr<runtime::Session> session_;
  Tensor pixels_;
};

TEST_F(LlavaNextTinyTest, LayoutAndInputs) {
  const models::LlavaNextLayout l =
      models::ComputeLlavaNextLayout(30, 40, {{16, 32}, {32, 16}, {32, 32}}, 16, 4);
  EXPECT_EQ(l.num_patches, kNextPatches);
  EXPECT_EQ(l.row_begin, 1);
  EXPECT_EQ(l.rows, 6);
  EXPECT_EQ(l.cols, 8);
  EXPECT_EQ(l.image_tokens, kNextImageTokens);
  EXPECT_EQ(models::LlavaImageTokens(models::HfConfig(TinyNextConfig(), "t")), kNextImageTokens);
  bool found = false;
  for (const auto& spec : session_->inputs()) {
    if (spec.name != "pixel_values") continue;
    found = true;
    EXPECT_EQ(spec.shape, (core::Shape{-1, kNextPatches, 3, 16, 16}));
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(RunPrompt(*session_, NextPrompt(), pixels_).at("logits").shape,
            (core::Shape{1, 1 + kNextImageTokens + 4, 100}));
}

// Changing patch p of pixel_values first changes the logits where HF's packing puts p's first
// kept feature: the base image (p = 0) right after BOS; tile (r, c) at 1 + 16 + (kept map row -
// 0) * 9 + column, its first kept map row being 1 for r = 0 (row 0 is padding) and 4 for r = 1.
TEST_F(LlavaNextTinyTest, PackingOrder) {
  const Tensor ids = NextPrompt();
  const Tensor reference = RunPrompt(*session_, ids, pixels_).at("logits");
  const std::vector<int64_t> expected = {1, 17, 21, 17 + 3 * 9, 17 + 3 * 9 + 4};
  for (int64_t p = 0; p < kNextPatches; ++p) {
    Tensor changed = pixels_;
    auto v = changed.values<float>();
    const size_t per_patch = 3 * 16 * 16;
    for (size_t i = 0; i < per_patch; ++i) v[static_cast<size_t>(p) * per_patch + i] += 0.5f;
    EXPECT_EQ(FirstChangedPosition(reference, RunPrompt(*session_, ids, changed).at("logits")),
              expected[static_cast<size_t>(p)])
        << "patch " << p;
  }
}

// image_newline first appears after the first kept row of 8 features: position 1 + 16 + 8. The
// second checkpoint uses transformers' in-memory names ("model.image_newline", ...).
TEST_F(LlavaNextTinyTest, NewlineAfterEachRow) {
  const Tensor ids = NextPrompt();
  const Tensor reference = RunPrompt(*session_, ids, pixels_).at("logits");
  TensorMap other = weights_;
  for (float& x : other.at("image_newline").values<float>()) x += 0.5f;
  TempDir dir;
  const models::Model model = WriteAndLoad(dir, TinyNextConfig(), other, /*hub=*/false);
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  EXPECT_EQ(FirstChangedPosition(reference, RunPrompt(*session, ids, pixels_).at("logits")), 25);
  // Same weights under the other names: the same logits.
  TempDir same_dir;
  auto same = runtime::OpenOnnxRuntimeSession(
      WriteAndLoad(same_dir, TinyNextConfig(), weights_, /*hub=*/false), {});
  EXPECT_EQ(MaxAbsDiff(RunPrompt(*same, ids, pixels_).at("logits"), reference), 0.0);
}

TEST_F(LlavaNextTinyTest, BatchRowsAndTokenCount) {
  const Tensor ids = NextPrompt();
  const Tensor other = RandomImages(pixels_.shape, 12);
  const Tensor both = RunPrompt(*session_, Stack({ids, ids}), Stack({pixels_, other})).at("logits");
  EXPECT_LT(MaxAbsDiff(Row(both, 0), RunPrompt(*session_, ids, pixels_).at("logits")), kTolerance);
  EXPECT_LT(MaxAbsDiff(Row(both, 1), RunPrompt(*session_, ids, other).at("logits")), kTolerance);
  std::vector<int64_t> short_ids(ids.values<int64_t>().begin(), ids.values<int64_t>().end());
  short_ids[1] = 5;  // 69 image tokens for 70 features
  EXPECT_EQ(
      CatchError([&] { RunPrompt(*session_, Int64Tensor(ids.shape, short_ids), pixels_); }).kind(),
      core::ErrorKind::kRuntime);
}

}  // namespace llava_verify_test
}  // namespace ipfs_accel::harness
