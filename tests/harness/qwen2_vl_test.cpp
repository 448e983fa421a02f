// Qwen2-VL run on tiny checkpoints written here under HF's parameter names with seeded values
// (there is no transformers fixture), checking what a wrong implementation would break:
//  - the decoder fed embeddings (BuildDecoderFromEmbeddings, the language model of composite
//    models) gives BuildDecoder's logits and cache;
//  - with the same positions in all three planes the multimodal rotary is Qwen2's: text-only
//    logits equal the qwen2 graph's on the same weights; with one section holding every
//    frequency, only that section's plane matters (temporal, height, width in that order);
//  - the vision tower equals a double-precision recomputation of HF's forward (Conv3d patch
//    embedding, 2-D rotary in the processor's 2 x 2 block order, attention, quick_gelu MLP,
//    PatchMerger); frames attend only within themselves, and the merger joins 4 consecutive
//    patches;
//  - a changed patch of image 0 changes row 0's logits from its first image token on and
//    nothing else;
//  - prefill with the image, then cached steps at HF's decode positions, equal one full pass;
//  - the inputs the harness generates (kComputed hints) run the catalog-style graph.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/architectures.h"
#include "models/decoder_builder.h"
#include "models/graph_builder.h"
#include "models/qwen2_vl_builder.h"
#include "models/qwen2_vl_positions.h"
#include "models/weights.h"
#include "support/kv_cache_check.h"
#include "support/qwen2_vl_checkpoint.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace qwen2_vl_test {

namespace fs = std::filesystem;
using core::DType;
using core::Shape;
using core::Tensor;
using ipfs_accel::testing::EmptyCache;
using ipfs_accel::testing::ExpectCacheConsistent;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::LlamaLikeNames;
using ipfs_accel::testing::MakePrompt;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::PresentName;
using ipfs_accel::testing::Prompt;
using ipfs_accel::testing::SliceAxis1;
using ipfs_accel::testing::TempDir;
using models::Qwen2VlGrid;
using nlohmann::json;

// ---- tiny checkpoints (support/qwen2_vl_checkpoint.h) ----

using namespace ipfs_accel::testing::qwen2_vl;  // NOLINT: the checkpoint's sizes and writers
const models::Qwen2VlTokens kTokens{
    .image = kImage, .video = kVideo, .vision_start = kStart, .vision_end = kEnd};

// The same language model as a qwen2 config.
json Qwen2Config() {
  json c = TinyConfig();
  for (const char* key : {"rope_scaling", "image_token_id", "video_token_id",
                          "vision_start_token_id", "vision_end_token_id", "vision_config"})
    c.erase(key);
  c["model_type"] = "qwen2";
  c["tie_word_embeddings"] = false;
  return c;
}

// A graph `build` makes from the folder's config and weights, checked as LoadModel checks.
models::Model BuildGraph(
    const fs::path& dir,
    const std::function<void(const models::HfConfig&, models::GraphBuilder&)>& build) {
  const models::HfConfig config = models::HfConfig::Load(dir.string());
  models::SafetensorsWeights weights(
      dir.string(), models::FindArchitecture(config.ModelType(), "test").checkpoint_prefixes);
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.add_opset_import()->set_version(models::kOpsetVersion);
  proto.mutable_graph()->set_name("test");
  models::GraphBuilder g(proto.mutable_graph(), &weights);
  build(config, g);
  onnx::checker::check_model(proto);
  onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(true, 1, false));
  models::Model m;
  m.info.name = "test";
  EXPECT_TRUE(proto.SerializeToString(&m.onnx_bytes));
  return m;
}

models::Model Qwen2VlGraph(const fs::path& dir, const Qwen2VlGrid& grid) {
  return BuildGraph(dir, [&](const models::HfConfig& c, models::GraphBuilder& g) {
    models::BuildQwen2Vl(c, g, grid);
  });
}

Tensor Normal(Shape shape, uint64_t seed) {
  Tensor t = Tensor::Zeros(DType::kFloat32, std::move(shape));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : t.values<float>()) v = normal(rng);
  return t;
}

// position_ids [3, batch, S] with `planes[p]` (one row of S values) in every row of plane p.
Tensor Planes(int64_t batch, const std::array<std::vector<int64_t>, 3>& planes) {
  const auto seq = static_cast<int64_t>(planes[0].size());
  Tensor t = Tensor::Zeros(DType::kInt64, {3, batch, seq});
  auto v = t.values<int64_t>();
  for (int64_t p = 0; p < 3; ++p)
    for (int64_t b = 0; b < batch; ++b)
      std::copy(planes[p].begin(), planes[p].end(), v.begin() + (p * batch + b) * seq);
  return t;
}

std::vector<int64_t> Arange(int64_t n, int64_t start = 0, int64_t step = 1) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + i * step;
  return v;
}

// ---- the decoder fed embeddings ----

// input_ids looked up and handed to BuildDecoderFromEmbeddings, optionally with explicit
// position ids [batch, sequence]: BuildDecoder's graph by another road.
models::Model FromEmbeddings(const fs::path& dir, bool position_ids) {
  return BuildGraph(dir, [&](const models::HfConfig& raw, models::GraphBuilder& g) {
    const models::HfConfig c = models::DecoderTextConfig(raw);
    g.Input("input_ids", onnx::TensorProto::INT64, {std::string("batch"), std::string("sequence")});
    if (position_ids)
      g.Input("position_ids", onnx::TensorProto::INT64,
              {std::string("batch"), std::string("sequence")});
    const auto tokens = models::DecoderTokenEmbeddings(c, g, "input_ids");
    models::BuildDecoderFromEmbeddings(c, g,
                                       {.embeddings = tokens.embeddings,
                                        .embedding_table = tokens.table,
                                        .rope = models::RopeTables(),
                                        .position_ids = position_ids ? "position_ids" : "",
                                        .scaled = false,
                                        .bidirectional_groups = "",
                                        .logits_output = "logits"});
  });
}

TEST(DecoderFromEmbeddingsTest, GivesBuildDecodersLogitsAndCache) {
  TempDir tmp;
  struct Case {
    std::string model_type;
    bool tied;
  };
  for (const Case& c : {Case{"qwen2", false}, Case{"gemma", true}}) {
    const fs::path dir = tmp.path() / c.model_type;
    json config = Qwen2Config();
    config["model_type"] = c.model_type;
    config["tie_word_embeddings"] = c.tied;
    config["head_dim"] = kHeadDim;  // Gemma's default is 256
    ShapeMap names = LlamaLikeNames(kKvHeads, kHeadDim, c.tied, kLayers);
    if (c.model_type == "qwen2") names = LanguageNames("model.");
    WriteFolder(dir, config, Seeded(names, 3));
    const models::Model plain = models::LoadHfFolder(dir.string());
    const models::Model fed = FromEmbeddings(dir, false);
    const models::Model positioned = FromEmbeddings(dir, true);
    const Prompt p = MakePrompt(2, kVocab, 7);
    auto run = [&](const models::Model& m, bool with_positions) {
      auto session = runtime::OpenOnnxRuntimeSession(m, {});
      TensorMap in = EmptyCache(*session, 2);
      in["input_ids"] = p.ids;
      in["attention_mask"] = p.mask;
      if (with_positions)
        in["position_ids"] = Int64Tensor({2, 12}, [] {
          std::vector<int64_t> v = Arange(12);
          v.insert(v.end(), v.begin(), v.end());
          return v;
        }());
      return session->Run(in);
    };
    const TensorMap want = run(plain, false);
    const std::vector<std::pair<std::string, TensorMap>> runs = {
        {"default positions", run(fed, false)}, {"position_ids", run(positioned, true)}};
    for (const auto& [label, got] : runs)
      for (const auto& [name, tensor] : want)
        EXPECT_LT(MaxAbsDiff(got.at(name), tensor), 1e-6)
            << c.model_type << " " << label << " " << name;
    // The cache convention holds: steps over present.* equal the full pass.
    ExpectCacheConsistent(fed, kVocab, std::string(c.model_type) + " from embeddings");
  }
}

// ---- the multimodal rotary ----

TEST(Qwen2VlRopeTest, EqualPlanesAreQwen2AndEachSectionReadsItsPlane) {
  TempDir tmp;
  const TensorMap weights = Seeded(Merge(LanguageNames("model."), VisionNames("visual.", 2, 2)), 5);
  WriteFolder(tmp.path() / "qwen2", Qwen2Config(), weights);
  const Prompt p = MakePrompt(2, kStart, 9);  // text only: ids below the special tokens
  auto qwen2_session =
      runtime::OpenOnnxRuntimeSession(models::LoadHfFolder((tmp.path() / "qwen2").string()), {});
  TensorMap text_in = EmptyCache(*qwen2_session, 2);
  text_in["input_ids"] = p.ids;
  text_in["attention_mask"] = p.mask;
  const Tensor want = qwen2_session->Run(text_in).at("logits");

  const std::vector<int64_t> pos = Arange(12), odd = Arange(12, 7, 5), other = Arange(12, 300, -9);
  struct Case {
    std::vector<int64_t> sections;
    std::array<std::vector<int64_t>, 3> planes;
    bool equal;  // to qwen2's logits
  };
  const std::vector<Case> cases = {
      {{2, 3, 3}, {pos, pos, pos}, true},    // text: one position in all planes
      {{8, 0, 0}, {pos, odd, other}, true},  // every frequency reads the temporal plane
      {{0, 8, 0}, {odd, pos, other}, true},  // ... the height plane
      {{0, 0, 8}, {odd, other, pos}, true},  // ... the width plane
      {{8, 0, 0}, {odd, pos, pos}, false},   // positions do matter
      {{2, 3, 3}, {pos, pos, odd}, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path dir = tmp.path() / ("vl" + std::to_string(i));
    json config = TinyConfig();
    config["rope_scaling"]["mrope_section"] = cases[i].sections;
    WriteFolder(dir, config, weights);
    auto session = runtime::OpenOnnxRuntimeSession(Qwen2VlGraph(dir, {1, 4, 4}), {});
    TensorMap in = text_in;
    in["position_ids"] = Planes(2, cases[i].planes);
    in["pixel_values"] = Normal({2, 16, kChannels * kFrames * 4}, 1);
    const double diff = MaxAbsDiff(session->Run(in).at("logits"), want);
    if (cases[i].equal)
      EXPECT_LT(diff, 1e-5) << "case " << i;
    else
      EXPECT_GT(diff, 1e-3) << "case " << i;
  }
}

// ---- the vision tower ----

models::Model VisionGraph(const fs::path& dir, const Qwen2VlGrid& grid, int64_t images) {
  return BuildGraph(dir, [&](const models::HfConfig& c, models::GraphBuilder& g) {
    const int64_t patch = c.json()["vision_config"]["patch_size"].get<int64_t>();
    const int64_t patches = grid.t * grid.h * grid.w;
    g.Input("pixel_values", onnx::TensorProto::FLOAT,
            {images, patches, kChannels * kFrames * patch * patch});
    const std::string f = models::Qwen2VlVisionTower(c, g, grid, "pixel_values");
    g.Node("Identity", {f}, {}, "features");
    g.Output("features", onnx::TensorProto::FLOAT, {images, patches / 4, kHidden});
  });
}

using Matrix = std::vector<std::vector<double>>;  // rows

Matrix Rows(const Tensor& t, int64_t rows) {
  const auto v = t.ToDoubles();
  const auto cols = static_cast<int64_t>(v.size()) / rows;
  Matrix m(rows);
  for (int64_t r = 0; r < rows; ++r) m[r].assign(v.begin() + r * cols, v.begin() + (r + 1) * cols);
  return m;
}

// x W^T + b with HF's [out, in] weight.
Matrix Linear(const Matrix& x, const TensorMap& w, const std::string& prefix, bool bias = true) {
  const Tensor& weight = w.at(prefix + ".weight");
  const int64_t out = weight.shape[0];
  const Matrix wm = Rows(weight, out);
  const std::vector<double> b =
      bias ? w.at(prefix + ".bias").ToDoubles() : std::vector<double>(out);
  Matrix y(x.size(), std::vector<double>(out));
  for (size_t r = 0; r < x.size(); ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (size_t i = 0; i < x[r].size(); ++i) s += x[r][i] * wm[o][i];
      y[r][o] = s;
    }
  return y;
}

Matrix LayerNorm(const Matrix& x, const TensorMap& w, const std::string& prefix) {
  const auto gamma = w.at(prefix + ".weight").ToDoubles(),
             beta = w.at(prefix + ".bias").ToDoubles();
  Matrix y = x;
  for (auto& row : y) {
    double mean = 0, var = 0;
    for (double v : row) mean += v;
    mean /= static_cast<double>(row.size());
    for (double v : row) var += (v - mean) * (v - mean);
    var /= static_cast<double>(row.size());
    for (size_t i = 0; i < row.size(); ++i)
      row[i] = (row[i] - mean) / std::sqrt(var + 1e-6) * gamma[i] + beta[i];
  }
  return y;
}

void AddTo(Matrix& x, const Matrix& y) {
  for (size_t r = 0; r < x.size(); ++r)
    for (size_t i = 0; i < x[r].size(); ++i) x[r][i] += y[r][i];
}

// HF's Qwen2VisionTransformerPretrainedModel on one image's patches [t*h*w, C*T*P*P], in double.
Matrix VisionReference(const TensorMap& w, const std::string& prefix, const Matrix& pixels,
                       const Qwen2VlGrid& grid, int64_t depth) {
  const int64_t hd = kEmbed / kVisionHeads, frame = grid.h * grid.w, m = 2;
  // PatchEmbed: Conv3d over the whole patch = a dot product with the flattened kernel.
  TensorMap conv = {{"k.weight", w.at(prefix + "patch_embed.proj.weight")}};
  conv.at("k.weight").shape = {kEmbed, static_cast<int64_t>(pixels[0].size())};
  Matrix h = Linear(pixels, conv, "k", false);
  // rot_pos_emb: (row, column) of each patch in the processor's 2 x 2 block order.
  std::vector<double> inv(hd / 4);
  for (int64_t k = 0; k < hd / 4; ++k) inv[k] = 1.0 / std::pow(10000.0, 2.0 * k / (hd / 2.0));
  Matrix angle(frame, std::vector<double>(hd));
  int64_t p = 0;
  for (int64_t a = 0; a < grid.h / m; ++a)
    for (int64_t b = 0; b < grid.w / m; ++b)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j, ++p)
          for (int64_t k = 0; k < hd / 4; ++k) {
            angle[p][k] = angle[p][k + hd / 2] = static_cast<double>(a * m + i) * inv[k];
            angle[p][k + hd / 4] = angle[p][k + 3 * hd / 4] =
                static_cast<double>(b * m + j) * inv[k];
          }
  auto rotate = [&](const std::vector<double>& x, int64_t pos) {
    std::vector<double> y(hd);
    for (int64_t d = 0; d < hd; ++d) {
      const double half = d < hd / 2 ? -x[d + hd / 2] : x[d - hd / 2];  // rotate_half
      y[d] = x[d] * std::cos(angle[pos][d]) + half * std::sin(angle[pos][d]);
    }
    return y;
  };
  for (int64_t blk = 0; blk < depth; ++blk) {
    const std::string bp = prefix + "blocks." + std::to_string(blk) + ".";
    const Matrix qkv = Linear(LayerNorm(h, w, bp + "norm1"), w, bp + "attn.qkv");
    Matrix attn(h.size(), std::vector<double>(kEmbed));
    for (int64_t f = 0; f < grid.t; ++f)  // cu_seqlens: each frame on its own
      for (int64_t head = 0; head < kVisionHeads; ++head) {
        auto part = [&](int which, int64_t s) {
          const auto& row = qkv[f * frame + s];
          return std::vector<double>(row.begin() + which * kEmbed + head * hd,
                                     row.begin() + which * kEmbed + (head + 1) * hd);
        };
        for (int64_t s = 0; s < frame; ++s) {
          const auto q = rotate(part(0, s), s);
          std::vector<double> scores(frame);
          double top = -INFINITY;
          for (int64_t u = 0; u < frame; ++u) {
            const auto k = rotate(part(1, u), u);
            double dot = 0;
            for (int64_t d = 0; d < hd; ++d) dot += q[d] * k[d];
            scores[u] = dot / std::sqrt(static_cast<double>(hd));
            top = std::max(top, scores[u]);
          }
          double sum = 0;
          for (double& sc : scores) sum += (sc = std::exp(sc - top));
          for (int64_t u = 0; u < frame; ++u) {
            const auto v = part(2, u);
            for (int64_t d = 0; d < hd; ++d)
              attn[f * frame + s][head * hd + d] += scores[u] / sum * v[d];
          }
        }
      }
    AddTo(h, Linear(attn, w, bp + "attn.proj"));
    Matrix mid = Linear(LayerNorm(h, w, bp + "norm2"), w, bp + "mlp.fc1");
    for (auto& row : mid)
      for (double& v : row) v = v / (1.0 + std::exp(-1.702 * v));  // quick_gelu
    AddTo(h, Linear(mid, w, bp + "mlp.fc2"));
  }
  const Matrix normed = LayerNorm(h, w, prefix + "merger.ln_q");
  Matrix merged(normed.size() / 4);
  for (size_t r = 0; r < normed.size(); ++r)
    merged[r / 4].insert(merged[r / 4].end(), normed[r].begin(), normed[r].end());
  Matrix mid = Linear(merged, w, prefix + "merger.mlp.0");
  for (auto& row : mid)
    for (double& v : row) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));  // nn.GELU
  return Linear(mid, w, prefix + "merger.mlp.2");
}

TEST(Qwen2VlVisionTest, MatchesDoublePrecisionRecomputation) {
  TempDir tmp;
  // transformers 5's names (model.visual.*), found through the "model." prefix.
  const TensorMap weights =
      Seeded(Merge(LanguageNames("model.language_model."), VisionNames("model.visual.", 2, 2)), 7);
  WriteFolder(tmp.path(), TinyConfig(), weights);
  const Qwen2VlGrid grid{1, 4, 4};
  auto session = runtime::OpenOnnxRuntimeSession(VisionGraph(tmp.path(), grid, 2), {});
  const Tensor pixels = Normal({2, 16, kChannels * kFrames * 4}, 11);
  const Tensor features = session->Run({{"pixel_values", pixels}}).at("features");
  ASSERT_EQ(features.shape, (Shape{2, 4, kHidden}));
  const Matrix all_pixels = Rows(pixels, 32), got = Rows(features, 8);
  double worst = 0, largest = 0;
  for (int64_t image = 0; image < 2; ++image) {
    const Matrix want = VisionReference(
        weights, "model.visual.",
        Matrix(all_pixels.begin() + image * 16, all_pixels.begin() + (image + 1) * 16), grid, 2);
    for (size_t r = 0; r < want.size(); ++r)
      for (size_t i = 0; i < want[r].size(); ++i) {
        worst = std::max(worst, std::fabs(want[r][i] - got[image * 4 + r][i]));
        largest = std::max(largest, std::fabs(want[r][i]));
      }
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_GT(largest, 0.1);  // the comparison is not between near-zeros
}

// Which merged tokens change when one value of patch `patch` does.
std::vector<bool> ChangedTokens(runtime::Session& session, const Tensor& pixels, int64_t patch) {
  Tensor changed = pixels;
  changed.values<float>()[patch * pixels.shape[2] + 3] += 1.0f;
  const Tensor a = session.Run({{"pixel_values", pixels}}).at("features");
  const Tensor b = session.Run({{"pixel_values", changed}}).at("features");
  const auto x = a.ToDoubles(), y = b.ToDoubles();
  const int64_t tokens = a.shape[1];
  std::vector<bool> out(tokens, false);
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i] != y[i]) out[i / kHidden % tokens] = true;
  return out;
}

TEST(Qwen2VlVisionTest, FramesAttendWithinThemselvesAndTheMergerJoinsFourPatches) {
  TempDir tmp;
  WriteFolder(tmp.path() / "blocks", TinyConfig(2, 2),
              Seeded(Merge(LanguageNames("model."), VisionNames("visual.", 2, 2)), 13));
  WriteFolder(tmp.path() / "no_blocks", TinyConfig(2, 0),
              Seeded(Merge(LanguageNames("model."), VisionNames("visual.", 2, 0)), 13));
  // Two frames of 4 x 4 patches: a patch of frame 0 reaches all of frame 0's tokens, none of
  // frame 1's.
  auto frames =
      runtime::OpenOnnxRuntimeSession(VisionGraph(tmp.path() / "blocks", {2, 4, 4}, 1), {});
  const Tensor video = Normal({1, 32, kChannels * kFrames * 4}, 17);
  EXPECT_EQ(ChangedTokens(*frames, video, 5),
            (std::vector<bool>{true, true, true, true, false, false, false, false}));
  EXPECT_EQ(ChangedTokens(*frames, video, 20),
            (std::vector<bool>{false, false, false, false, true, true, true, true}));
  // Without blocks, patch p reaches only merged token p / 4.
  auto merger =
      runtime::OpenOnnxRuntimeSession(VisionGraph(tmp.path() / "no_blocks", {1, 4, 4}, 1), {});
  const Tensor image = Normal({1, 16, kChannels * kFrames * 4}, 19);
  EXPECT_EQ(ChangedTokens(*merger, image, 5), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(ChangedTokens(*merger, image, 15), (std::vector<bool>{false, false, false, true}));
}

// ---- the whole model ----

// Two rows of 10 tokens, each with one 4 x 4-patch image (4 tokens) after two text tokens; the
// second row left-padded by `pad` tokens.
struct ImagePrompt {
  Tensor ids, mask, positions, deltas;
};

ImagePrompt MakeImagePrompt(int64_t pad) {
  std::vector<int64_t> ids = {3, 17, kStart, kImage, kImage, kImage, kImage, kEnd, 42, 8};
  std::vector<int64_t> second = {21, 5, kStart, kImage, kImage, kImage, kImage, kEnd, 99, 1};
  second.erase(second.begin(), second.begin() + pad);
  second.insert(second.begin(), pad, 0);
  ids.insert(ids.end(), second.begin(), second.end());
  std::vector<int64_t> mask(20, 1);
  std::fill(mask.begin() + 10, mask.begin() + 10 + pad, 0);
  ImagePrompt p{Int64Tensor({2, 10}, ids), Int64Tensor({2, 10}, mask), {}, {}};
  auto r = models::ComputeQwen2VlRopeIndex(p.ids, &p.mask, {{1, 4, 4}, {1, 4, 4}}, {}, kTokens);
  p.positions = r.position_ids;
  p.deltas = r.deltas;
  return p;
}

TEST(Qwen2VlModelTest, APatchChangesOnlyItsRowFromItsImageOn) {
  TempDir tmp;
  WriteFolder(tmp.path(), TinyConfig(),
              Seeded(Merge(LanguageNames("model."), VisionNames("visual.", 2, 2)), 23));
  auto session = runtime::OpenOnnxRuntimeSession(Qwen2VlGraph(tmp.path(), {1, 4, 4}), {});
  const ImagePrompt p = MakeImagePrompt(0);
  TensorMap in = EmptyCache(*session, 2);
  in["input_ids"] = p.ids;
  in["attention_mask"] = p.mask;
  in["position_ids"] = p.positions;
  in["pixel_values"] = Normal({2, 16, kChannels * kFrames * 4}, 29);
  const Tensor before = session->Run(in).at("logits");
  in["pixel_values"].values<float>()[5 * 24 + 3] += 1.0f;  // image 0, patch 5
  const Tensor after = session->Run(in).at("logits");
  auto differ = [&](int64_t row, int64_t pos) {
    double worst = 0;
    const auto x = before.ToDoubles(), y = after.ToDoubles();
    for (int64_t v = 0; v < kVocab; ++v) {
      const size_t i = static_cast<size_t>((row * 10 + pos) * kVocab + v);
      worst = std::max(worst, std::fabs(x[i] - y[i]));
    }
    return worst;
  };
  for (int64_t pos = 0; pos < 10; ++pos) {
    EXPECT_EQ(differ(1, pos), 0.0) << "row 1 position " << pos;  // another row's image
    if (pos < 3)
      EXPECT_EQ(differ(0, pos), 0.0) << "row 0 position " << pos << " precedes the image";
    else
      EXPECT_GT(differ(0, pos), 1e-6) << "row 0 position " << pos;
  }
  // A fifth image token in a row has no feature to take: the run fails, as HF's count check does.
  in["input_ids"].values<int64_t>()[8] = kImage;
  EXPECT_ANY_THROW(session->Run(in));
}

// `t` with the positions `mask` [batch, total] leaves out (from column `from` on, along
// `axis`) set to zero: a left-padded query attends to no key, so what it holds depends on how
// many keys the step has, in HF as here; no attended token ever reads it.
Tensor ZeroPadded(Tensor t, const Tensor& mask, int64_t from, size_t axis) {
  const int64_t batch = t.shape[0], total = mask.shape[1], len = t.shape[axis];
  int64_t inner = 1, middle = 1;
  for (size_t a = axis + 1; a < t.shape.size(); ++a) inner *= t.shape[a];
  for (size_t a = 1; a < axis; ++a) middle *= t.shape[a];
  auto v = t.values<float>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t m = 0; m < middle; ++m)
      for (int64_t s = 0; s < len; ++s)
        if (mask.values<int64_t>()[b * total + from + s] == 0)
          std::fill_n(v.begin() + ((b * middle + m) * len + s) * inner, inner, 0.0f);
  return t;
}

TEST(Qwen2VlModelTest, CachedStepsAtDecodePositionsEqualTheFullPass) {
  TempDir tmp;
  WriteFolder(tmp.path(), TinyConfig(),
              Seeded(Merge(LanguageNames("model."), VisionNames("visual.", 2, 2)), 31));
  auto session = runtime::OpenOnnxRuntimeSession(Qwen2VlGraph(tmp.path(), {1, 4, 4}), {});
  const ImagePrompt prompt = MakeImagePrompt(2);
  const std::vector<int64_t> extra = {7, 70, 11, 110, 13, 31, 15, 51, 17, 71};  // 5 per row
  std::vector<int64_t> ids, mask;
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t s = 0; s < 10; ++s) {
      ids.push_back(prompt.ids.values<int64_t>()[row * 10 + s]);
      mask.push_back(prompt.mask.values<int64_t>()[row * 10 + s]);
    }
    for (int64_t s = 0; s < 5; ++s) {
      ids.push_back(extra[row * 5 + s]);
      mask.push_back(1);
    }
  }
  const Tensor all_ids = Int64Tensor({2, 15}, ids), all_mask = Int64Tensor({2, 15}, mask);
  const Tensor pixels = Normal({2, 16, kChannels * kFrames * 4}, 37);
  TensorMap full_in = EmptyCache(*session, 2);
  full_in["input_ids"] = all_ids;
  full_in["attention_mask"] = all_mask;
  full_in["position_ids"] =
      models::ComputeQwen2VlRopeIndex(all_ids, &all_mask, {{1, 4, 4}, {1, 4, 4}}, {}, kTokens)
          .position_ids;
  full_in["pixel_values"] = pixels;
  const TensorMap full = session->Run(full_in);

  TensorMap cache = EmptyCache(*session, 2);
  int64_t past = 0;
  double worst = 0;
  for (int64_t chunk : {10, 2, 1, 1, 1}) {
    TensorMap step = cache;
    step["input_ids"] = SliceAxis1(all_ids, past, past + chunk);
    step["attention_mask"] = SliceAxis1(all_mask, 0, past + chunk);
    step["position_ids"] =
        past == 0 ? prompt.positions : models::Qwen2VlCachedPositions(prompt.deltas, past, chunk);
    step["pixel_values"] = pixels;  // a decode step holds no image token: unused
    const TensorMap out = session->Run(step);
    worst = std::max(worst, MaxAbsDiff(ZeroPadded(out.at("logits"), all_mask, past, 1),
                                       ZeroPadded(SliceAxis1(full.at("logits"), past, past + chunk),
                                                  all_mask, past, 1)));
    for (auto& [name, tensor] : cache) tensor = out.at(PresentName(name));
    past += chunk;
  }
  EXPECT_LT(worst, 1e-4);
  for (const auto& [name, tensor] : cache)
    EXPECT_LT(MaxAbsDiff(ZeroPadded(tensor, all_mask, 0, 2),
                         ZeroPadded(full.at(PresentName(name)), all_mask, 0, 2)),
              1e-4)
        << name;
}

// The architecture as LoadModel builds it (a 224 x 224 image: 16 x 16 patches of 14, 64 image
// tokens), run on the inputs the harness generates from its hints.
TEST(Qwen2VlModelTest, GeneratedInputsRun) {
  TempDir tmp;
  const ShapeMap names = Merge(LanguageNames("model."), VisionNames("visual.", 14, 1));
  WriteFolder(tmp.path(), TinyConfig(14, 1), Seeded(names, 41));
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  int64_t count = 0;
  for (const auto& [name, shape] : names) count += core::ElementCount(shape);
  EXPECT_EQ(model.info.parameters, count);
  EXPECT_EQ(model.info.modality, "multimodal");
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const auto shapes =
      ResolveShapes(session->inputs(), model.dim_roles, {.batch_size = 2, .seq_len = 80});
  EXPECT_EQ(shapes.at("pixel_values"), (Shape{2, 256, 1176}));
  EXPECT_EQ(shapes.at("position_ids"), (Shape{3, 2, 80}));
  const TensorMap inputs = GenerateInputs(session->inputs(), shapes, model.input_hints, 3);
  const auto ids = inputs.at("input_ids").values<int64_t>();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kImage), 2 * 64);
  const Tensor logits = session->Run(inputs).at("logits");
  ASSERT_EQ(logits.shape, (Shape{2, 80, kVocab}));
  for (double v : logits.ToDoubles()) ASSERT_TRUE(std::isfinite(v));
  // Too short a sequence for the image is the user's to fix.
  const auto short_shapes =
      ResolveShapes(session->inputs(), model.dim_roles, {.batch_size = 1, .seq_len = 40});
  EXPECT_THROW(GenerateInputs(session->inputs(), short_shapes, model.input_hints, 3), core::Error);
}

TEST(Qwen2VlModelTest, LoadingForAnImageGridBuildsThatGridsGraphAndItsPrompts) {
  TempDir tmp;
  WriteFolder(tmp.path(), TinyConfig(14, 1),
              Seeded(Merge(LanguageNames("model."), VisionNames("visual.", 14, 1)), 43));
  const Qwen2VlGrid grid{1, 4, 8};  // not the default 16 x 16, nor square
  const models::Model sized = models::LoadHfFolder(
      tmp.path().string(), {.structure_inputs = {{"image_grid_thw", {1, 4, 8}}}});
  EXPECT_EQ(sized.structure_inputs, std::vector<std::string>{"image_grid_thw"});
  auto session = runtime::OpenOnnxRuntimeSession(sized, {});
  const auto shapes =
      ResolveShapes(session->inputs(), sized.dim_roles, {.batch_size = 2, .seq_len = 20});
  EXPECT_EQ(shapes.at("pixel_values"), (Shape{2, 32, 1176}));
  // The generated prompt holds this grid's 8 image tokens per row, and runs.
  const TensorMap inputs = GenerateInputs(session->inputs(), shapes, sized.input_hints, 5);
  const auto ids = inputs.at("input_ids").values<int64_t>();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kImage), 2 * 8);
  // The same graph as BuildQwen2Vl makes for that grid, on the same weights.
  auto direct = runtime::OpenOnnxRuntimeSession(Qwen2VlGraph(tmp.path(), grid), {});
  EXPECT_EQ(MaxAbsDiff(session->Run(inputs).at("logits"), direct->Run(inputs).at("logits")), 0.0);
  // The config says the grid, so the stored config hash tells the two graphs apart.
  EXPECT_NE(sized.info.config_hash, models::LoadHfFolder(tmp.path().string()).info.config_hash);
}

}  // namespace qwen2_vl_test
}  // namespace ipfs_accel::harness
