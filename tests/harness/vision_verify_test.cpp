// Runs the vision family's graphs on ONNX Runtime.
//  - The hf-tiny fixtures (vit: ViTModel; clip: CLIPModel) against every output transformers
//    returned, and CLIP's vision and text towers as models of their own (CLIPVisionModel,
//    CLIPTextModel) on the fixture's weights: their pooled outputs, projected and normalised here,
//    must give the fixture's image_embeds and text_embeds.
//  - CLIP's text pooling position: the first eos_token_id, or the argmax of the ids when every
//    row's largest id is 49407 (the rule HF keeps for checkpoints with the legacy eos_token_id 2);
//    its text attention is causal and hides padded keys (left padding, which the fixture's right
//    padding cannot show).
//  - DeiT, ViT without qkv biases, and SiglipModel have no fixture: each test writes a tiny
//    checkpoint under HF's names with seeded values and compares every output with a
//    double-precision forward pass written here from the HF modeling code (DeiT's distillation
//    token at position 1 with the pooler reading token 0; SigLIP's padding mask, last-token text
//    pooling, attention-pooling head, logit scale and bias).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/reference_forward.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace vision_verify_test {

using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::TempDir;

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using nlohmann::json;
using TensorMap = std::map<std::string, Tensor>;
using ipfs_accel::testing::Act;
using ipfs_accel::testing::Attention;
using ipfs_accel::testing::Checkpoint;
using ipfs_accel::testing::Dense;
using ipfs_accel::testing::FloatTensor;
using ipfs_accel::testing::LayerNorm;
using ipfs_accel::testing::Linear;
using ipfs_accel::testing::Vec;

const fs::path kFixtures = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny";
constexpr double kTolerance = 1e-4;

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// The largest difference between a float tensor and a double reference of the same size.
double MaxDiff(const Tensor& actual, const Vec& expected) {
  const Vec a = actual.ToDoubles();
  EXPECT_EQ(a.size(), expected.size());
  if (a.size() != expected.size()) return INFINITY;
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::fabs(a[k] - expected[k]));
  return worst;
}

// ----- The hf-tiny fixtures -------------------------------------------------------------------

class VisionFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VisionFixtureTest, EveryOutputMatchesTransformers) {
  const fs::path dir = kFixtures / GetParam();
  const models::Model model = models::LoadHfFolder(dir.string());
  EXPECT_EQ(model.info.parameters, ReadJson(dir / "fixture.json").at("params").get<int64_t>());
  const ReferenceIo io = LoadReferenceIo((dir / "io.safetensors").string());
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), io.outputs.size());
  for (const OutputComparison& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, kTolerance) << o.name;
    std::cout << GetParam() << ": " << o.name << " max abs error " << o.max_abs_error << "\n";
  }
  EXPECT_TRUE(r.passed);
}

INSTANTIATE_TEST_SUITE_P(HfTiny, VisionFixtureTest, ::testing::Values("vit", "clip"));

TEST(ClipFixtureTest, LogitsPerTextIsTheTransposeOfLogitsPerImage) {
  const fs::path dir = kFixtures / "clip";
  const models::Model model = models::LoadHfFolder(dir.string());
  const ReferenceIo io = LoadReferenceIo((dir / "io.safetensors").string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  TensorMap in = io.inputs;
  // Three texts against the fixture's two images: the two batches need not be equal in HF, and
  // logits_per_image is [images, texts].
  const Tensor ids = io.inputs.at("input_ids");
  const auto row = ids.values<int64_t>();
  std::vector<int64_t> three(row.begin(), row.end());
  three.insert(three.end(), row.begin(), row.begin() + 12);
  in["input_ids"] = Int64Tensor({3, 12}, three);
  in["attention_mask"] = Int64Tensor({3, 12}, std::vector<int64_t>(36, 1));
  const TensorMap out = session->Run(in);
  const Tensor& per_image = out.at("logits_per_image");
  const Tensor& per_text = out.at("logits_per_text");
  ASSERT_EQ(per_image.shape, (core::Shape{2, 3}));
  ASSERT_EQ(per_text.shape, (core::Shape{3, 2}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t t = 0; t < 3; ++t)
      EXPECT_EQ(per_image.values<float>()[i * 3 + t], per_text.values<float>()[t * 2 + i]);
}

// A folder holding the clip fixture's weights with `config` as its config.json (a tower's own
// config: CLIPTextModel and CLIPVisionModel checkpoints use CLIPModel's names).
void TowerFolder(const TempDir& dir, const json& config) {
  std::ofstream(dir.File("config.json")) << config.dump(2);
  fs::copy_file(kFixtures / "clip/model.safetensors", dir.path() / "model.safetensors");
}

// x W^T, then divided by its norm, in double.
Vec ProjectAndNormalize(const Tensor& x, const Tensor& w) {
  const int64_t rows = x.shape[0], in = x.shape[1], out = w.shape[0];
  const Vec xs = x.ToDoubles(), ws = w.ToDoubles();
  Vec y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r) {
    double norm = 0;
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t k = 0; k < in; ++k) s += xs[r * in + k] * ws[o * in + k];
      y[r * out + o] = s;
      norm += s * s;
    }
    for (int64_t o = 0; o < out; ++o) y[r * out + o] /= std::sqrt(norm);
  }
  return y;
}

TEST(ClipTowerRunTest, TowersAsModelsGiveTheFixtureEmbeddings) {
  const json config = ReadJson(kFixtures / "clip/config.json");
  const ReferenceIo io = LoadReferenceIo((kFixtures / "clip/io.safetensors").string());
  auto weights = models::SafetensorsFile::Open((kFixtures / "clip/model.safetensors").string());

  TempDir vision_dir;
  TowerFolder(vision_dir, config.at("vision_config"));
  const models::Model vision = models::LoadHfFolder(vision_dir.path().string());
  const TensorMap v = runtime::OpenOnnxRuntimeSession(vision, {})
                          ->Run({{"pixel_values", io.inputs.at("pixel_values")}});
  EXPECT_LT(MaxDiff(io.outputs.at("image_embeds"),
                    ProjectAndNormalize(v.at("pooler_output"),
                                        weights->Read("visual_projection.weight"))),
            kTolerance);
  EXPECT_EQ(v.at("last_hidden_state").shape, (core::Shape{2, 17, 64}));

  TempDir text_dir;
  TowerFolder(text_dir, config.at("text_config"));
  const models::Model text = models::LoadHfFolder(text_dir.path().string());
  const TensorMap t = runtime::OpenOnnxRuntimeSession(text, {})->Run(
      {{"input_ids", io.inputs.at("input_ids")},
       {"attention_mask", io.inputs.at("attention_mask")}});
  EXPECT_LT(
      MaxDiff(io.outputs.at("text_embeds"),
              ProjectAndNormalize(t.at("pooler_output"), weights->Read("text_projection.weight"))),
      kTolerance);
}

TEST(ClipTowerRunTest, ComponentOfTheCompositeFolderIsTheTower) {
  // "folder:vision_model" builds CLIPVisionModel from the composite's own config and weights.
  const ReferenceIo io = LoadReferenceIo((kFixtures / "clip/io.safetensors").string());
  auto weights = models::SafetensorsFile::Open((kFixtures / "clip/model.safetensors").string());
  const models::Model vision = models::LoadModel((kFixtures / "clip").string() + ":vision_model");
  EXPECT_EQ(vision.info.source, "hf-folder");
  const TensorMap v = runtime::OpenOnnxRuntimeSession(vision, {})
                          ->Run({{"pixel_values", io.inputs.at("pixel_values")}});
  EXPECT_LT(MaxDiff(io.outputs.at("image_embeds"),
                    ProjectAndNormalize(v.at("pooler_output"),
                                        weights->Read("visual_projection.weight"))),
            kTolerance);
}

// ----- CLIP's text pooling position ----------------------------------------------------------

// Row `row` of the pooled output must be row `row`, position `position` of last_hidden_state.
void ExpectPooledAt(const TensorMap& out, int64_t row, int64_t position) {
  const Tensor& last = out.at("last_hidden_state");
  const Tensor& pooled = out.at("pooler_output");
  const int64_t seq = last.shape[1], hidden = last.shape[2];
  for (int64_t c = 0; c < hidden; ++c)
    ASSERT_EQ(pooled.values<float>()[row * hidden + c],
              last.values<float>()[(row * seq + position) * hidden + c])
        << "row " << row << " is not pooled at position " << position;
}

TEST(ClipPoolingTest, FirstEosTokenOrPositionZero) {
  json config = ReadJson(kFixtures / "clip/config.json").at("text_config");
  config["eos_token_id"] = 7;
  TempDir dir;
  TowerFolder(dir, config);
  auto session = runtime::OpenOnnxRuntimeSession(models::LoadHfFolder(dir.path().string()), {});
  // Row 0 has eos at 3 and 5 (and a larger id at 8), row 1 has none.
  const TensorMap out =
      session->Run({{"input_ids", Int64Tensor({2, 8}, {4, 9, 11, 7, 12, 7, 3, 30,  //
                                                       4, 9, 11, 8, 12, 6, 3, 30})},
                    {"attention_mask", Int64Tensor({2, 8}, std::vector<int64_t>(16, 1))}});
  ExpectPooledAt(out, 0, 3);
  ExpectPooledAt(out, 1, 0);
}

// A one-layer CLIPTextModel with CLIP's full vocabulary, so that ids can be 49407.
models::Model FullVocabClipText(const TempDir& dir, int64_t eos_token_id) {
  constexpr int64_t kHidden = 8, kVocab = 49408, kPositions = 8;
  const json config = {{"model_type", "clip_text_model"},
                       {"vocab_size", kVocab},
                       {"hidden_size", kHidden},
                       {"intermediate_size", 16},
                       {"num_hidden_layers", 1},
                       {"num_attention_heads", 2},
                       {"max_position_embeddings", kPositions},
                       {"eos_token_id", eos_token_id}};
  std::ofstream(dir.File("config.json")) << config.dump(2);
  std::map<std::string, core::Shape> shapes = {
      {"text_model.embeddings.token_embedding.weight", {kVocab, kHidden}},
      {"text_model.embeddings.position_embedding.weight", {kPositions, kHidden}},
      {"text_model.final_layer_norm.weight", {kHidden}},
      {"text_model.final_layer_norm.bias", {kHidden}}};
  const std::string p = "text_model.encoder.layers.0.";
  for (const char* norm : {"layer_norm1", "layer_norm2"}) {
    shapes[p + norm + ".weight"] = {kHidden};
    shapes[p + norm + ".bias"] = {kHidden};
  }
  for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
    shapes[p + "self_attn." + proj + ".weight"] = {kHidden, kHidden};
    shapes[p + "self_attn." + proj + ".bias"] = {kHidden};
  }
  shapes[p + "mlp.fc1.weight"] = {16, kHidden};
  shapes[p + "mlp.fc1.bias"] = {16};
  shapes[p + "mlp.fc2.weight"] = {kHidden, 16};
  shapes[p + "mlp.fc2.bias"] = {kHidden};
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  TensorMap tensors;
  for (const auto& [name, shape] : shapes) {
    Tensor t = Tensor::Zeros(DType::kFloat32, shape);
    for (float& x : t.values<float>()) x = normal(rng);
    tensors[name] = std::move(t);
  }
  models::WriteSafetensors(dir.File("model.safetensors"), tensors);
  return models::LoadHfFolder(dir.path().string());
}

TEST(ClipPoolingTest, ArgmaxOfIdsWhenEveryRowEndsWithOpenAisEndOfText) {
  TempDir dir;
  // openai/clip-* configs say eos_token_id 2 while their tokenizer ends texts with 49407.
  auto session = runtime::OpenOnnxRuntimeSession(FullVocabClipText(dir, 2), {});
  const Tensor ones = Int64Tensor({2, 6}, std::vector<int64_t>(12, 1));
  // Both rows hold 49407: pooled at its first position, not at the id 2 before it.
  TensorMap out = session->Run({{"input_ids", Int64Tensor({2, 6}, {49406, 2, 9, 49407, 3, 3,  //
                                                                   49406, 49407, 2, 49407, 2, 2})},
                                {"attention_mask", ones}});
  ExpectPooledAt(out, 0, 3);
  ExpectPooledAt(out, 1, 1);
  // One row without 49407: every row is pooled at its first eos_token_id (2) instead.
  out = session->Run({{"input_ids", Int64Tensor({2, 6}, {49406, 2, 9, 49407, 3, 3,  //
                                                         49406, 8, 2, 2, 1, 1})},
                      {"attention_mask", ones}});
  ExpectPooledAt(out, 0, 1);
  ExpectPooledAt(out, 1, 2);
}

TEST(ClipPoolingTest, TextIsCausal) {
  TempDir dir;
  TowerFolder(dir, ReadJson(kFixtures / "clip/config.json").at("text_config"));
  auto session = runtime::OpenOnnxRuntimeSession(models::LoadHfFolder(dir.path().string()), {});
  const Tensor ones = Int64Tensor({1, 6}, std::vector<int64_t>(6, 1));
  const TensorMap a = session->Run(
      {{"input_ids", Int64Tensor({1, 6}, {5, 6, 7, 8, 9, 10})}, {"attention_mask", ones}});
  const TensorMap b = session->Run(
      {{"input_ids", Int64Tensor({1, 6}, {5, 6, 7, 8, 9, 99})}, {"attention_mask", ones}});
  // Changing the last token leaves the first five positions as they were, and moves the last.
  EXPECT_EQ(MaxAbsDiff(ipfs_accel::testing::SliceAxis1(a.at("last_hidden_state"), 0, 5),
                       ipfs_accel::testing::SliceAxis1(b.at("last_hidden_state"), 0, 5)),
            0.0);
  EXPECT_GT(MaxAbsDiff(a.at("last_hidden_state"), b.at("last_hidden_state")), 1e-3);
}

TEST(ClipPoolingTest, PaddedKeysAreHidden) {
  TempDir dir;
  TowerFolder(dir, ReadJson(kFixtures / "clip/config.json").at("text_config"));
  auto session = runtime::OpenOnnxRuntimeSession(models::LoadHfFolder(dir.path().string()), {});
  // Left padding: causality alone would let every later token see the two padded ones.
  const Tensor mask = Int64Tensor({1, 6}, {0, 0, 1, 1, 1, 1});
  const TensorMap a = session->Run(
      {{"input_ids", Int64Tensor({1, 6}, {1, 1, 7, 8, 9, 10})}, {"attention_mask", mask}});
  const TensorMap b = session->Run(
      {{"input_ids", Int64Tensor({1, 6}, {400, 500, 7, 8, 9, 10})}, {"attention_mask", mask}});
  EXPECT_LT(MaxAbsDiff(ipfs_accel::testing::SliceAxis1(a.at("last_hidden_state"), 2, 6),
                       ipfs_accel::testing::SliceAxis1(b.at("last_hidden_state"), 2, 6)),
            1e-6);
  const TensorMap unmasked =
      session->Run({{"input_ids", Int64Tensor({1, 6}, {400, 500, 7, 8, 9, 10})},
                    {"attention_mask", Int64Tensor({1, 6}, std::vector<int64_t>(6, 1))}});
  EXPECT_GT(MaxAbsDiff(ipfs_accel::testing::SliceAxis1(a.at("last_hidden_state"), 2, 6),
                       ipfs_accel::testing::SliceAxis1(unmasked.at("last_hidden_state"), 2, 6)),
            1e-3);
}

// ----- A double-precision reference for checkpoints written here ------------------------------

struct LayerSpec {
  int64_t hidden, heads, intermediate;
  double eps;
  std::string act;
  std::string norm1, query, key, value, out, norm2, fc1, fc2;  // HF module names
};

// x + attn(norm1(x)); h + fc2(act(fc1(norm2(h)))) on one sequence of n tokens.
Vec PreNormLayer(const Checkpoint& w, const LayerSpec& s, const Vec& x, int64_t n,
                 const std::vector<int64_t>& visible = {}) {
  const int64_t h = s.hidden;
  const Vec a = LayerNorm(w, s.norm1, x, n, h, s.eps);
  std::vector<bool> allowed;  // every query sees the visible keys
  for (int64_t i = 0; i < n && !visible.empty(); ++i)
    for (int64_t j = 0; j < n; ++j) allowed.push_back(visible[j] != 0);
  const Vec ctx = Attention(Linear(w, s.query, a, n, h, h), n, Linear(w, s.key, a, n, h, h),
                            Linear(w, s.value, a, n, h, h), n, h, s.heads, allowed);
  Vec y = Linear(w, s.out, ctx, n, h, h);
  for (size_t k = 0; k < y.size(); ++k) y[k] += x[k];
  const Vec m = Linear(
      w, s.fc2,
      Act(Linear(w, s.fc1, LayerNorm(w, s.norm2, y, n, h, s.eps), n, h, s.intermediate), s.act), n,
      s.intermediate, h);
  for (size_t k = 0; k < y.size(); ++k) y[k] += m[k];
  return y;
}

// Conv2d(kernel = stride = p) of one [c, size, size] image: [patches, hidden], row-major grid.
Vec Patches(const Checkpoint& w, const std::string& conv, const Vec& image, int64_t c, int64_t size,
            int64_t p, int64_t hidden) {
  const int64_t grid = size / p;
  const Vec& k = w[conv + ".weight"];
  Vec out(static_cast<size_t>(grid * grid * hidden));
  for (int64_t gy = 0; gy < grid; ++gy)
    for (int64_t gx = 0; gx < grid; ++gx)
      for (int64_t o = 0; o < hidden; ++o) {
        double s = w.Has(conv + ".bias") ? w[conv + ".bias"][o] : 0.0;
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t dy = 0; dy < p; ++dy)
            for (int64_t dx = 0; dx < p; ++dx)
              s += k[((o * c + ch) * p + dy) * p + dx] *
                   image[(ch * size + gy * p + dy) * size + gx * p + dx];
        out[(gy * grid + gx) * hidden + o] = s;
      }
  return out;
}

Vec Row(const Vec& x, int64_t row, int64_t width) {
  return Vec(x.begin() + row * width, x.begin() + (row + 1) * width);
}

Vec SeededPixels(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Vec v(static_cast<size_t>(count));
  for (double& x : v) x = static_cast<float>(normal(rng));
  return v;
}

// ----- ViT / DeiT ------------------------------------------------------------------------------

constexpr int64_t kHidden = 16, kHeads = 2, kInter = 24, kChannels = 3, kImage = 8, kPatch = 4;
constexpr int64_t kPatches = (kImage / kPatch) * (kImage / kPatch);

struct TinyVit {
  bool deit = false, qkv_bias = true;
  int64_t layers = 2;

  int64_t tokens() const { return kPatches + (deit ? 2 : 1); }
  json Config() const {
    return {{"model_type", deit ? "deit" : "vit"},
            {"hidden_size", kHidden},
            {"num_hidden_layers", layers},
            {"num_attention_heads", kHeads},
            {"intermediate_size", kInter},
            {"image_size", kImage},
            {"patch_size", kPatch},
            {"num_channels", kChannels},
            {"qkv_bias", qkv_bias},
            {"layer_norm_eps", 1e-12},
            {"hidden_act", "gelu"}};
  }
  LayerSpec Layer(int64_t l) const {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    return {kHidden,
            kHeads,
            kInter,
            1e-12,
            "gelu",
            p + "layernorm_before",
            p + "attention.attention.query",
            p + "attention.attention.key",
            p + "attention.attention.value",
            p + "attention.output.dense",
            p + "layernorm_after",
            p + "intermediate.dense",
            p + "output.dense"};
  }
  Checkpoint Weights() const {
    Checkpoint w(deit ? 21 : 22);
    w.Add("embeddings.patch_embeddings.projection.weight", {kHidden, kChannels, kPatch, kPatch},
          0.2);
    w.Add("embeddings.patch_embeddings.projection.bias", {kHidden}, 0.1);
    w.Add("embeddings.cls_token", {1, 1, kHidden}, 0.5);
    if (deit) w.Add("embeddings.distillation_token", {1, 1, kHidden}, 0.5);
    w.Add("embeddings.position_embeddings", {1, tokens(), kHidden}, 0.5);
    for (int64_t l = 0; l < layers; ++l) {
      const LayerSpec s = Layer(l);
      w.Norm(s.norm1, kHidden);
      w.Linear(s.query, kHidden, kHidden, qkv_bias);
      w.Linear(s.key, kHidden, kHidden, qkv_bias);
      w.Linear(s.value, kHidden, kHidden, qkv_bias);
      w.Linear(s.out, kHidden, kHidden);
      w.Norm(s.norm2, kHidden);
      w.Linear(s.fc1, kHidden, kInter);
      w.Linear(s.fc2, kInter, kHidden);
    }
    w.Norm("layernorm", kHidden);
    w.Linear("pooler.dense", kHidden, kHidden);
    return w;
  }
  // last_hidden_state [batch, tokens, hidden] and pooler_output [batch, hidden], flattened.
  std::pair<Vec, Vec> Forward(const Checkpoint& w, const Vec& pixels, int64_t batch) const {
    const int64_t image = kChannels * kImage * kImage;
    Vec last, pooled;
    for (int64_t b = 0; b < batch; ++b) {
      const Vec patches = Patches(w, "embeddings.patch_embeddings.projection",
                                  Vec(pixels.begin() + b * image, pixels.begin() + (b + 1) * image),
                                  kChannels, kImage, kPatch, kHidden);
      Vec x = w["embeddings.cls_token"];
      if (deit)
        x.insert(x.end(), w["embeddings.distillation_token"].begin(),
                 w["embeddings.distillation_token"].end());
      x.insert(x.end(), patches.begin(), patches.end());
      for (size_t k = 0; k < x.size(); ++k) x[k] += w["embeddings.position_embeddings"][k];
      for (int64_t l = 0; l < layers; ++l) x = PreNormLayer(w, Layer(l), x, tokens());
      x = LayerNorm(w, "layernorm", x, tokens(), kHidden, 1e-12);
      last.insert(last.end(), x.begin(), x.end());
      const Vec p = Act(Linear(w, "pooler.dense", Row(x, 0, kHidden), 1, kHidden, kHidden), "tanh");
      pooled.insert(pooled.end(), p.begin(), p.end());
    }
    return {last, pooled};
  }
};

void ExpectVitMatchesReference(const TinyVit& v, const std::string& label) {
  const Checkpoint w = v.Weights();
  TempDir dir;
  w.Save(dir, v.Config());
  const models::Model model = models::LoadHfFolder(dir.path().string());
  EXPECT_EQ(model.info.parameters, w.parameter_count());
  const Vec pixels = SeededPixels(2 * kChannels * kImage * kImage, 3);
  const TensorMap out = runtime::OpenOnnxRuntimeSession(model, {})->Run(
      {{"pixel_values", FloatTensor({2, kChannels, kImage, kImage}, pixels)}});
  const auto [last, pooled] = v.Forward(w, pixels, 2);
  EXPECT_EQ(out.at("last_hidden_state").shape, (core::Shape{2, v.tokens(), kHidden}));
  const double e_last = MaxDiff(out.at("last_hidden_state"), last);
  const double e_pooled = MaxDiff(out.at("pooler_output"), pooled);
  EXPECT_LT(e_last, kTolerance) << label;
  EXPECT_LT(e_pooled, kTolerance) << label;
  std::cout << label << ": last_hidden_state " << e_last << ", pooler_output " << e_pooled
            << " from the double-precision reference\n";
}

TEST(VitReferenceTest, DeitWithDistillationToken) {
  ExpectVitMatchesReference({.deit = true}, "deit");
}

TEST(VitReferenceTest, VitWithoutQkvBias) {
  ExpectVitMatchesReference({.deit = false, .qkv_bias = false}, "vit qkv_bias=false");
}

TEST(VitReferenceTest, DeitPoolerReadsTheClsTokenNotTheDistillationToken) {
  // The pooled output must follow token 0: it does not change when only the distillation token's
  // final state could (the reference above checks values; this checks the position directly).
  const TinyVit v{.deit = true};
  const Checkpoint w = v.Weights();
  TempDir dir;
  w.Save(dir, v.Config());
  const TensorMap out =
      runtime::OpenOnnxRuntimeSession(models::LoadHfFolder(dir.path().string()), {})
          ->Run({{"pixel_values",
                  FloatTensor({1, kChannels, kImage, kImage}, SeededPixels(3 * 64, 4))}});
  const Vec last = out.at("last_hidden_state").ToDoubles();
  const Vec from_cls =
      Act(Linear(w, "pooler.dense", Row(last, 0, kHidden), 1, kHidden, kHidden), "tanh");
  const Vec from_distill =
      Act(Linear(w, "pooler.dense", Row(last, 1, kHidden), 1, kHidden, kHidden), "tanh");
  EXPECT_LT(MaxDiff(out.at("pooler_output"), from_cls), kTolerance);
  EXPECT_GT(MaxDiff(out.at("pooler_output"), from_distill), 1e-2);
}

TEST(VitReferenceTest, ClassifierCheckpointWithPrefixAndNoPooler) {
  // DeiTForImageClassificationWithTeacher saves the base model under "deit." without a pooler.
  TinyVit v{.deit = true};
  Checkpoint w = v.Weights();
  json config = v.Config();
  config["architectures"] = {"DeiTForImageClassificationWithTeacher"};
  TempDir dir;
  TensorMap heads = {{"cls_classifier.weight", Tensor::Zeros(DType::kFloat32, {5, kHidden})},
                     {"cls_classifier.bias", Tensor::Zeros(DType::kFloat32, {5})}};
  w.Save(dir, config, "deit.", heads);
  const models::Model model = models::LoadHfFolder(dir.path().string());
  EXPECT_EQ(model.info.parameters, w.parameter_count() - kHidden * kHidden - kHidden);
  const Vec pixels = SeededPixels(2 * kChannels * kImage * kImage, 3);
  const TensorMap out = runtime::OpenOnnxRuntimeSession(model, {})->Run(
      {{"pixel_values", FloatTensor({2, kChannels, kImage, kImage}, pixels)}});
  EXPECT_EQ(out.count("pooler_output"), 0u);
  EXPECT_LT(MaxDiff(out.at("last_hidden_state"), v.Forward(w, pixels, 2).first), kTolerance);
}

// ----- SigLIP ------------------------------------------------------------------------------------

constexpr int64_t kVocab = 40, kPositions = 10;

LayerSpec SiglipLayer(const std::string& tower, int64_t l) {
  const std::string p = tower + ".encoder.layers." + std::to_string(l) + ".";
  return {kHidden,
          kHeads,
          kInter,
          1e-6,
          "gelu_pytorch_tanh",
          p + "layer_norm1",
          p + "self_attn.q_proj",
          p + "self_attn.k_proj",
          p + "self_attn.v_proj",
          p + "self_attn.out_proj",
          p + "layer_norm2",
          p + "mlp.fc1",
          p + "mlp.fc2"};
}

Checkpoint SiglipWeights() {
  Checkpoint w(31);
  w.Add("text_model.embeddings.token_embedding.weight", {kVocab, kHidden}, 0.5);
  w.Add("text_model.embeddings.position_embedding.weight", {kPositions, kHidden}, 0.5);
  w.Add("vision_model.embeddings.patch_embedding.weight", {kHidden, kChannels, kPatch, kPatch},
        0.2);
  w.Add("vision_model.embeddings.patch_embedding.bias", {kHidden}, 0.1);
  w.Add("vision_model.embeddings.position_embedding.weight", {kPatches, kHidden}, 0.5);
  for (const char* tower : {"text_model", "vision_model"}) {
    const LayerSpec s = SiglipLayer(tower, 0);
    w.Norm(s.norm1, kHidden);
    for (const std::string& proj : {s.query, s.key, s.value, s.out})
      w.Linear(proj, kHidden, kHidden);
    w.Norm(s.norm2, kHidden);
    w.Linear(s.fc1, kHidden, kInter);
    w.Linear(s.fc2, kInter, kHidden);
  }
  w.Norm("text_model.final_layer_norm", kHidden);
  w.Linear("text_model.head", kHidden, kHidden);
  w.Norm("vision_model.post_layernorm", kHidden);
  w.Add("vision_model.head.probe", {1, 1, kHidden}, 0.5);
  w.Add("vision_model.head.attention.in_proj_weight", {3 * kHidden, kHidden}, 0.3);
  w.Add("vision_model.head.attention.in_proj_bias", {3 * kHidden}, 0.1);
  w.Linear("vision_model.head.attention.out_proj", kHidden, kHidden);
  w.Norm("vision_model.head.layernorm", kHidden);
  w.Linear("vision_model.head.mlp.fc1", kHidden, kInter);
  w.Linear("vision_model.head.mlp.fc2", kInter, kHidden);
  w.Add("logit_scale", {1}, 0.3, 1.0);
  w.Add("logit_bias", {1}, 0.3, -2.0);
  return w;
}

json SiglipConfig() {
  const json tower = {{"hidden_size", kHidden},
                      {"num_hidden_layers", 1},
                      {"num_attention_heads", kHeads},
                      {"intermediate_size", kInter}};
  json text = tower, vision = tower;
  text.update({{"vocab_size", kVocab}, {"max_position_embeddings", kPositions}});
  vision.update({{"image_size", kImage}, {"patch_size", kPatch}, {"num_channels", kChannels}});
  return {{"model_type", "siglip"}, {"text_config", text}, {"vision_config", vision}};
}

void Normalize(Vec& x) {
  double n = 0;
  for (double v : x) n += v * v;
  for (double& v : x) v /= std::sqrt(n);
}

// SiglipModel in double: text_embeds, image_embeds (normalised), logits_per_text.
struct SiglipOutputs {
  Vec text, image, per_text;
};
SiglipOutputs SiglipForward(const Checkpoint& w, const std::vector<int64_t>& ids,
                            const std::vector<int64_t>& mask, int64_t texts, int64_t seq,
                            const Vec& pixels, int64_t images) {
  SiglipOutputs o;
  for (int64_t t = 0; t < texts; ++t) {
    Vec x(static_cast<size_t>(seq * kHidden));
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t c = 0; c < kHidden; ++c)
        x[s * kHidden + c] =
            w["text_model.embeddings.token_embedding.weight"][ids[t * seq + s] * kHidden + c] +
            w["text_model.embeddings.position_embedding.weight"][s * kHidden + c];
    const std::vector<int64_t> visible(mask.begin() + t * seq, mask.begin() + (t + 1) * seq);
    x = PreNormLayer(w, SiglipLayer("text_model", 0), x, seq, visible);
    x = LayerNorm(w, "text_model.final_layer_norm", x, seq, kHidden, 1e-6);
    Vec e = Linear(w, "text_model.head", Row(x, seq - 1, kHidden), 1, kHidden, kHidden);
    Normalize(e);
    o.text.insert(o.text.end(), e.begin(), e.end());
  }
  const int64_t image = kChannels * kImage * kImage;
  for (int64_t i = 0; i < images; ++i) {
    Vec x = Patches(w, "vision_model.embeddings.patch_embedding",
                    Vec(pixels.begin() + i * image, pixels.begin() + (i + 1) * image), kChannels,
                    kImage, kPatch, kHidden);
    for (size_t k = 0; k < x.size(); ++k)
      x[k] += w["vision_model.embeddings.position_embedding.weight"][k];
    x = PreNormLayer(w, SiglipLayer("vision_model", 0), x, kPatches);
    x = LayerNorm(w, "vision_model.post_layernorm", x, kPatches, kHidden, 1e-6);
    // The head: the probe attends over the tokens with nn.MultiheadAttention's packed in_proj.
    const Vec& in_w = w["vision_model.head.attention.in_proj_weight"];
    const Vec& in_b = w["vision_model.head.attention.in_proj_bias"];
    const Vec q = Dense(w["vision_model.head.probe"], 1, kHidden, kHidden, in_w, &in_b, 0);
    const Vec k = Dense(x, kPatches, kHidden, kHidden, in_w, &in_b, kHidden);
    const Vec v = Dense(x, kPatches, kHidden, kHidden, in_w, &in_b, 2 * kHidden);
    Vec h = Linear(w, "vision_model.head.attention.out_proj",
                   Attention(q, 1, k, v, kPatches, kHidden, kHeads), 1, kHidden, kHidden);
    const Vec m =
        Linear(w, "vision_model.head.mlp.fc2",
               Act(Linear(w, "vision_model.head.mlp.fc1",
                          LayerNorm(w, "vision_model.head.layernorm", h, 1, kHidden, 1e-6), 1,
                          kHidden, kInter),
                   "gelu_pytorch_tanh"),
               1, kInter, kHidden);
    for (int64_t c = 0; c < kHidden; ++c) h[c] += m[c];
    Normalize(h);
    o.image.insert(o.image.end(), h.begin(), h.end());
  }
  const double scale = std::exp(w["logit_scale"][0]), bias = w["logit_bias"][0];
  for (int64_t t = 0; t < texts; ++t)
    for (int64_t i = 0; i < images; ++i) {
      double dot = 0;
      for (int64_t c = 0; c < kHidden; ++c)
        dot += o.text[t * kHidden + c] * o.image[i * kHidden + c];
      o.per_text.push_back(dot * scale + bias);  // logits, no sigmoid, as HF returns them
    }
  return o;
}

TEST(SiglipReferenceTest, EveryOutputMatchesADoublePrecisionForward) {
  const Checkpoint w = SiglipWeights();
  TempDir dir;
  w.Save(dir, SiglipConfig());
  const models::Model model = models::LoadHfFolder(dir.path().string());
  EXPECT_EQ(model.info.parameters, w.parameter_count());
  EXPECT_EQ(model.info.modality, "multimodal");
  // Two texts (the second padded in its last three positions, still pooled at the last one) and
  // two images.
  const std::vector<int64_t> ids = {3, 17, 5, 9, 22, 1, 39, 0, 12, 8, 30, 2, 1, 1};
  const std::vector<int64_t> mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
  const Vec pixels = SeededPixels(2 * kChannels * kImage * kImage, 9);
  const TensorMap out = runtime::OpenOnnxRuntimeSession(model, {})->Run(
      {{"input_ids", Int64Tensor({2, 7}, ids)},
       {"attention_mask", Int64Tensor({2, 7}, mask)},
       {"pixel_values", FloatTensor({2, kChannels, kImage, kImage}, pixels)}});
  const SiglipOutputs ref = SiglipForward(w, ids, mask, 2, 7, pixels, 2);
  Vec per_image(4);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t t = 0; t < 2; ++t) per_image[i * 2 + t] = ref.per_text[t * 2 + i];
  for (const auto& [name, expected] :
       std::vector<std::pair<std::string, Vec>>{{"text_embeds", ref.text},
                                                {"image_embeds", ref.image},
                                                {"logits_per_text", ref.per_text},
                                                {"logits_per_image", per_image}}) {
    const double e = MaxDiff(out.at(name), expected);
    EXPECT_LT(e, kTolerance) << name;
    std::cout << "siglip: " << name << " " << e << " from the double-precision reference\n";
  }
  // The padding mask matters: unmasked, the second text's embedding moves.
  const TensorMap unmasked = runtime::OpenOnnxRuntimeSession(model, {})->Run(
      {{"input_ids", Int64Tensor({2, 7}, ids)},
       {"attention_mask", Int64Tensor({2, 7}, std::vector<int64_t>(14, 1))},
       {"pixel_values", FloatTensor({2, kChannels, kImage, kImage}, pixels)}});
  EXPECT_GT(MaxAbsDiff(unmasked.at("text_embeds"), out.at("text_embeds")), 1e-3);
}

}  // namespace vision_verify_test
}  // namespace ipfs_accel::harness
