// The vision-language pieces of the LLaVA frame (llava_builder.h's pieces) run by ONNX Runtime:
// the pixel shuffle (Idefics3, InternVL) and Gemma 3's average pooling against reference loops
// written from HF's view/permute and AvgPool2d, and the decoder's bidirectional groups (PaliGemma's
// prefix, Gemma 3's images) by which positions' logits each input row reaches.

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/decoder_builder.h"
#include "models/graph_builder.h"
#include "models/vlm_connectors.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/checked_graph.h"
#include "support/reference_forward.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {
namespace vlm_connectors_test {

using nlohmann::json;

// x [1, n, c] through `piece` (a function of the graph and the input's name), run once.
template <typename Piece>
core::Tensor RunOnTokens(const Vec& x, int64_t n, int64_t c, int64_t out_n, int64_t out_c,
                         Piece piece) {
  models::ShapeOnlyWeights none;
  const models::Model m = CheckedGraph(none, "piece", [&](models::GraphBuilder& g) {
    g.Input("x", onnx::TensorProto::FLOAT, {int64_t{1}, n, c});
    g.Node("Identity", {piece(g, std::string("x"))}, {}, "y");
    g.Output("y", onnx::TensorProto::FLOAT, {int64_t{1}, out_n, out_c});
  });
  auto session = runtime::OpenOnnxRuntimeSession(m, {});
  return session->Run({{"x", FloatTensor({1, n, c}, x)}}).at("y");
}

Vec Iota(int64_t count) {
  Vec v(count);
  for (int64_t i = 0; i < count; ++i) v[i] = static_cast<double>(i);
  return v;
}

TEST(PixelShuffle, MatchesHfViewsAndPermutesWrittenOutAsLoops) {
  // A 4x4 grid of 3 channels, factor 2: HF's x.view(1, 4, 2, 6).permute(0, 2, 1, 3)
  // .reshape(1, 2, 2, 12).permute(0, 2, 1, 3): output token (i, j) holds, for a < 2 (outer) and
  // b < 2, the channels of grid cell (2i + a, 2j + b).
  const int64_t side = 4, c = 3, r = 2;
  const Vec x = Iota(side * side * c);
  Vec want;
  for (int64_t i = 0; i < side / r; ++i)
    for (int64_t j = 0; j < side / r; ++j)
      for (int64_t a = 0; a < r; ++a)
        for (int64_t b = 0; b < r; ++b)
          for (int64_t k = 0; k < c; ++k)
            want.push_back(x[((i * r + a) * side + (j * r + b)) * c + k]);
  const core::Tensor y =
      RunOnTokens(x, side * side, c, 4, c * r * r, [&](models::GraphBuilder& g, std::string in) {
        return models::PixelShuffle(g, in, side, c, r);
      });
  EXPECT_EQ(MaxAbsDiff(y, FloatTensor({1, 4, 12}, want)), 0.0);
  // Cell (0, 1)'s first channel (index 3) comes second in token 0; row 1's (index 12) third.
  EXPECT_EQ(want[3], 3.0);
  EXPECT_EQ(want[6], 12.0);
}

TEST(PixelShuffle, RefusesAGridTheFactorDoesNotDivide) {
  models::ShapeOnlyWeights none;
  onnx::GraphProto graph;
  models::GraphBuilder g(&graph, &none);
  EXPECT_EQ(CatchError([&] { models::PixelShuffle(g, "x", 5, 2, 2); }).kind(),
            core::ErrorKind::kUnsupported);
}

TEST(AvgPoolTokens, AveragesEachKernelBlockOfTheRowMajorGrid) {
  const int64_t side = 4, c = 2, k = 2;
  const Vec x = Iota(side * side * c);
  Vec want;
  for (int64_t i = 0; i < side / k; ++i)
    for (int64_t j = 0; j < side / k; ++j)
      for (int64_t ch = 0; ch < c; ++ch) {
        double sum = 0;
        for (int64_t a = 0; a < k; ++a)
          for (int64_t b = 0; b < k; ++b) sum += x[((i * k + a) * side + j * k + b) * c + ch];
        want.push_back(sum / (k * k));
      }
  const core::Tensor y = RunOnTokens(x, side * side, c, 4, c, [&](auto& g, std::string in) {
    return models::AvgPoolTokens(g, in, side, c, k);
  });
  EXPECT_LT(MaxAbsDiff(y, FloatTensor({1, 4, c}, want)), 1e-6);
  // Token 0 averages cells 0, 1, 4, 5: channel 0 values 0, 2, 8, 10.
  EXPECT_DOUBLE_EQ(want[0], 5.0);
}

// A tiny LLaMA decoder fed embeddings [1, S, 8] and groups [1, S]; logits [1, S, vocab].
constexpr int64_t kS = 6, kHidden = 8;

std::unique_ptr<runtime::Session> GroupedDecoder(models::WeightProvider& weights) {
  const models::ArchitectureTemplate* t = models::FindTemplate("llama");
  const models::HfConfig config =
      models::ApplyTemplate(*t, models::HfConfig(json{{"model_type", "llama"},
                                                      {"vocab_size", 16},
                                                      {"hidden_size", kHidden},
                                                      {"intermediate_size", 16},
                                                      {"num_hidden_layers", 1},
                                                      {"num_attention_heads", 2},
                                                      {"max_position_embeddings", 32}},
                                                 "test"));
  const models::Model m = CheckedGraph(weights, "grouped", [&](models::GraphBuilder& g) {
    const models::Dim batch = std::string("batch"), seq = std::string("sequence");
    g.Input("embeds", onnx::TensorProto::FLOAT, {batch, seq, kHidden});
    g.Input("groups", onnx::TensorProto::INT64, {batch, seq});
    models::DecoderEmbeddingsInput in;
    in.embeddings = "embeds";
    in.bidirectional_groups = "groups";
    models::BuildDecoderFromEmbeddings(config, g, in);
  });
  return runtime::OpenOnnxRuntimeSession(m, {});
}

// Whether position q's logits move when row k of the embeddings does, for every (q, k).
std::vector<std::vector<bool>> Reaches(runtime::Session& s, const std::vector<int64_t>& groups) {
  Vec x(kS * kHidden);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7 * static_cast<double>(i));
  auto run = [&](const Vec& e) {
    std::map<std::string, core::Tensor> in = {
        {"embeds", FloatTensor({1, kS, kHidden}, e)},
        {"groups", Int64Tensor({1, kS}, groups)},
        {"attention_mask", Int64Tensor({1, kS}, {1, 1, 1, 1, 1, 1})}};
    in.emplace("past_key_values.0.key", core::Tensor::Zeros(core::DType::kFloat32, {1, 2, 0, 4}));
    in.emplace("past_key_values.0.value", core::Tensor::Zeros(core::DType::kFloat32, {1, 2, 0, 4}));
    return s.Run(in).at("logits").ToDoubles();
  };
  const auto base = run(x);
  const int64_t vocab = static_cast<int64_t>(base.size()) / kS;
  std::vector<std::vector<bool>> reach(kS, std::vector<bool>(kS, false));
  for (int64_t k = 0; k < kS; ++k) {
    Vec moved = x;
    for (int64_t h = 0; h < kHidden; ++h) moved[k * kHidden + h] += 1.0;
    const auto y = run(moved);
    for (int64_t q = 0; q < kS; ++q)
      for (int64_t v = 0; v < vocab; ++v)
        if (std::fabs(y[q * vocab + v] - base[q * vocab + v]) > 1e-6) reach[q][k] = true;
  }
  return reach;
}

TEST(DecoderBidirectionalGroups, AtTheFirstIterationAQuerySeesEveryKeyOfItsOwnGroup) {
  models::SeededRandomWeights weights(3, 0.5);
  auto session = GroupedDecoder(weights);
  // Gemma 3's layout: text, an image of two tokens, text, an image of one token, text.
  const std::vector<int64_t> groups = {-1, 0, 0, -1, 1, -1};
  const auto reach = Reaches(*session, groups);
  for (int64_t q = 0; q < kS; ++q)
    for (int64_t k = 0; k < kS; ++k) {
      const bool same = groups[q] >= 0 && groups[q] == groups[k];
      EXPECT_EQ(reach[q][k], k <= q || same) << "query " << q << ", key " << k;
    }
  // PaliGemma's prefix: one group over everything, every position sees every row.
  const auto all = Reaches(*session, std::vector<int64_t>(kS, 0));
  for (int64_t q = 0; q < kS; ++q)
    for (int64_t k = 0; k < kS; ++k) EXPECT_TRUE(all[q][k]) << "query " << q << ", key " << k;
}

// The tiny template's graph, its session and seeded inputs (the same for equal graph inputs).
struct TinyRun {
  std::map<std::string, core::Tensor> outputs;
};
TinyRun RunTiny(const std::string& type, const std::map<std::string, core::Tensor>* given) {
  const models::ArchitectureTemplate& t = *models::FindTemplate(type);
  models::LoadOptions load;
  load.seed = 5;
  const models::Model m = models::BuildTemplate(t, models::TinyConfig(t), load);
  auto session = runtime::OpenOnnxRuntimeSession(m, {});
  harness::ShapeRequest request;
  request.seq_len = 12;
  const auto shapes = harness::ResolveShapes(session->inputs(), m.dim_roles, request);
  const auto inputs =
      given ? *given : harness::GenerateInputs(session->inputs(), shapes, m.input_hints, 9);
  TinyRun run{session->Run(inputs)};
  run.outputs.merge(std::map<std::string, core::Tensor>(inputs));  // inputs beside the outputs
  return run;
}

TEST(ShieldGemma2Head, IsTheSoftmaxOfGemma3sYesAndNoLogitsAtTheLastPosition) {
  // Both tiny templates have the same modules and names: with the same seed their weights agree.
  const TinyRun shield = RunTiny("shieldgemma2", nullptr);
  std::map<std::string, core::Tensor> inputs;
  for (const char* name : {"input_ids", "pixel_values", "attention_mask"})
    inputs.emplace(name, shield.outputs.at(name));
  for (const auto& [name, tensor] : shield.outputs)
    if (name.rfind("past_key_values.", 0) == 0) inputs.emplace(name, tensor);
  const TinyRun gemma = RunTiny("gemma3", &inputs);
  const core::Tensor& full = gemma.outputs.at("logits");  // [1, S, 96]
  const int64_t seq = full.shape[1], vocab = full.shape[2];
  const auto v = full.ToDoubles();
  const double yes = v[(seq - 1) * vocab + 7], no = v[(seq - 1) * vocab + 3];  // tiny's tokens
  const double p_yes = 1.0 / (1.0 + std::exp(no - yes));
  EXPECT_LT(MaxAbsDiff(shield.outputs.at("logits"), FloatTensor({1, 2}, {yes, no})), 1e-5);
  EXPECT_LT(MaxAbsDiff(shield.outputs.at("probabilities"), FloatTensor({1, 2}, {p_yes, 1 - p_yes})),
            1e-6);
}

}  // namespace vlm_connectors_test
}  // namespace ipfs_accel::testing
