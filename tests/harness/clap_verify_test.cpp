// Runs the CLAP graph on ONNX Runtime.
//  - The hf-tiny fixture against transformers' text_embeds and audio_embeds, and the logits
//    against the embeddings and the checkpoint's logit scales.
//  - The fixture's depths [1, 1] never shift a window, so HTSAT's shifted blocks are checked on
//    their own: a double-precision recomputation of HF's block (pad, roll, window partition,
//    relative position bias, region mask, reverse), and dependence properties a wrong mask or
//    shift would break (across a window border only with the shift; never across the wrapped
//    edge, which the mask separates).
//  - A symbolic time axis gives the fixture's outputs too, and resizes nothing at spec_width.
//  - Fusion: with no row longer, the fused graph is the unfused one on channel 0; a longer row
//    depends on the local channels, the others do not.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/clap_builder.h"
#include "models/graph_builder.h"
#include "models/htsat_builder.h"
#include "models/weights.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace clap_verify_test {

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using nlohmann::json;
using TensorMap = std::map<std::string, Tensor>;

const fs::path kFixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/clap";
constexpr double kTolerance = 1e-4;

json FixtureConfig() {
  std::ifstream in(kFixture / "config.json");
  return json::parse(in);
}

// Seeded values chosen by name alone, so two graphs that share a weight name share its value;
// every value is kept for the double-precision references.
class NamedRandomWeights : public models::WeightProvider {
 public:
  explicit NamedRandomWeights(double stddev) : stddev_(stddev) {}
  std::map<std::string, Tensor> values;

 protected:
  Tensor Fetch(const std::string& name, const core::Shape& shape,
               models::WeightInit init) override {
    uint64_t seed = 1469598103934665603ull;  // FNV-1a of the name
    for (unsigned char c : name) seed = (seed ^ c) * 1099511628211ull;
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Tensor t = Tensor::Zeros(DType::kFloat32, shape);
    for (float& v : t.values<float>()) {
      const float n = normal(rng);
      // Norm scales and biases away from 1 and 0, so a wrong one shows.
      v = init == models::WeightInit::kNormal
              ? static_cast<float>(stddev_) * n
              : (init == models::WeightInit::kOnes ? 1.0f : 0.0f) + 0.1f * n;
    }
    values[name] = t;
    return t;
  }

 private:
  double stddev_;
};

models::Model GraphModel(models::WeightProvider& weights,
                         const std::function<void(models::GraphBuilder&)>& build) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("clap_verify_test");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(models::kOpsetVersion);
  proto.mutable_graph()->set_name("test");
  models::GraphBuilder g(proto.mutable_graph(), &weights);
  build(g);
  models::Model m;
  EXPECT_TRUE(proto.SerializeToString(&m.onnx_bytes));
  m.info.name = "clap-test";
  return m;
}

models::Model ClapModel(const json& config, models::WeightProvider& weights,
                        const models::Dim& time) {
  return GraphModel(weights, [&](models::GraphBuilder& g) {
    models::BuildClap(models::HfConfig(config, "test-config"), g, time);
  });
}

Tensor RandomFloats(core::Shape shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor t = Tensor::Zeros(DType::kFloat32, std::move(shape));
  for (float& v : t.values<float>()) v = normal(rng);
  return t;
}

Tensor Bools(const std::vector<bool>& values) {
  Tensor t = Tensor::Zeros(DType::kBool, {static_cast<int64_t>(values.size()), 1});
  for (size_t i = 0; i < values.size(); ++i) t.values<uint8_t>()[i] = values[i] ? 1 : 0;
  return t;
}

// Rows of a [rows, cols] float tensor.
Tensor Row(const Tensor& t, int64_t row) {
  const int64_t cols = t.shape[1];
  Tensor out = Tensor::Zeros(DType::kFloat32, {1, cols});
  for (int64_t c = 0; c < cols; ++c) out.values<float>()[c] = t.values<float>()[row * cols + c];
  return out;
}

// ---- the hf-tiny fixture against transformers ----

TEST(ClapFixtureTest, MatchesTransformers) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  std::ifstream in(kFixture / "fixture.json");
  EXPECT_EQ(model.info.parameters, json::parse(in).at("params").get<int64_t>());
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), 2u);
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, kTolerance) << o.name;
    std::cout << "clap " << o.name << ": max abs error " << o.max_abs_error << "\n";
  }
  EXPECT_TRUE(r.passed);
}

TEST(ClapFixtureTest, LogitsAreScaledCosineSimilarities) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const TensorMap out = session->Run(io.inputs);
  const auto weights = models::SafetensorsFile::Open((kFixture / "model.safetensors").string());
  const double scale_t = std::exp(weights->Read("logit_scale_t").values<float>()[0]);
  const double scale_a = std::exp(weights->Read("logit_scale_a").values<float>()[0]);
  const auto text = io.outputs.at("text_embeds").values<float>();
  const auto audio = io.outputs.at("audio_embeds").values<float>();
  const auto per_text = out.at("logits_per_text").values<float>();
  const auto per_audio = out.at("logits_per_audio").values<float>();
  ASSERT_EQ(out.at("logits_per_text").shape, (core::Shape{2, 2}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      double dot = 0;  // text i . audio j
      for (int k = 0; k < 32; ++k) dot += double(text[i * 32 + k]) * audio[j * 32 + k];
      EXPECT_NEAR(per_text[i * 2 + j], dot * scale_t, kTolerance * scale_t);
      EXPECT_NEAR(per_audio[j * 2 + i], dot * scale_a, kTolerance * scale_a);
    }
}

// ---- shifted windows ----

// One HTSAT block on x [1, height * width, dim], as its own graph.
struct BlockGraph {
  NamedRandomWeights weights{0.3};
  models::HtsatShape shape;
  models::SwinBlockGeometry geometry;
  std::unique_ptr<runtime::Session> session;

  explicit BlockGraph(const models::SwinBlockGeometry& b) : geometry(b) {
    shape.qkv_bias = true;
    shape.eps = 1e-5;
    shape.mlp_ratio = 2.0;
    shape.act = "gelu";
    const int64_t tokens = b.height * b.width;
    const models::Model m = GraphModel(weights, [&](models::GraphBuilder& g) {
      g.Input("x", onnx::TensorProto::FLOAT, {int64_t{1}, tokens, b.dim});
      g.Node("Identity", {models::HtsatSwinBlock(g, shape, "x", b, "block.")}, {}, "y");
      g.Output("y", onnx::TensorProto::FLOAT, {int64_t{1}, tokens, b.dim});
    });
    session = runtime::OpenOnnxRuntimeSession(m, {});
  }
  Tensor Run(const Tensor& x) { return session->Run({{"x", x}}).at("y"); }

  // How much token (qr, qc)'s output moves when one channel of token (pr, pc)'s input moves by 1
  // (not every channel: the block's LayerNorm would cancel a uniform shift).
  double Dependence(int64_t qr, int64_t qc, int64_t pr, int64_t pc) {
    const Tensor x = RandomFloats({1, geometry.height * geometry.width, geometry.dim}, 11);
    Tensor moved = x;
    moved.values<float>()[(pr * geometry.width + pc) * geometry.dim] += 1.0f;
    const Tensor before = Run(x), after = Run(moved);
    const auto a = before.values<float>(), b = after.values<float>();
    double worst = 0;
    for (int64_t c = 0; c < geometry.dim; ++c) {
      const int64_t i = (qr * geometry.width + qc) * geometry.dim + c;
      worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
    }
    return worst;
  }
};

constexpr double kDepends = 1e-3, kIndependent = 1e-6;

TEST(ClapShiftedWindowTest, WithoutShiftWindowsAreClosed) {
  BlockGraph block({8, 8, 16, 2, 4, 0});
  EXPECT_GT(block.Dependence(0, 3, 0, 0), kDepends);      // same window
  EXPECT_LT(block.Dependence(0, 3, 0, 4), kIndependent);  // the next window
  EXPECT_LT(block.Dependence(3, 3, 4, 4), kIndependent);  // diagonal neighbour across the border
}

TEST(ClapShiftedWindowTest, ShiftCrossesTheBorderButNotTheWrappedEdge) {
  // 8x8 tokens, window 4, shift 2: windows start at rows/columns 2 and 6, and the one that wraps
  // round holds rows 6, 7, 0, 1, where the mask keeps 6-7 and 0-1 apart.
  BlockGraph block({8, 8, 16, 2, 4, 2});
  EXPECT_GT(block.Dependence(3, 3, 4, 4), kDepends);      // across the unshifted border
  EXPECT_GT(block.Dependence(0, 0, 1, 1), kDepends);      // one region of the wrapped window
  EXPECT_LT(block.Dependence(0, 0, 7, 0), kIndependent);  // wrapped rows: masked
  EXPECT_LT(block.Dependence(0, 0, 0, 7), kIndependent);  // wrapped columns: masked
  EXPECT_LT(block.Dependence(0, 0, 7, 7), kIndependent);
  EXPECT_GT(block.Dependence(6, 6, 7, 7), kDepends);      // the other region of that window
  EXPECT_LT(block.Dependence(3, 3, 2, 1), kIndependent);  // another shifted window
}

// HF's ClapAudioLayer in double precision, written the way HF writes it: pad to whole windows,
// roll by -shift, partition, attention with the relative position bias and the region mask,
// reverse, roll back, crop, residual; then LayerNorm, MLP (exact GELU), residual.
std::vector<double> ReferenceBlock(const std::map<std::string, Tensor>& w,
                                   const models::SwinBlockGeometry& b, const Tensor& input) {
  auto W = [&](const std::string& name) {
    const auto v = w.at("block." + name).values<float>();
    return std::vector<double>(v.begin(), v.end());
  };
  const int64_t H = b.height, Wd = b.width, C = b.dim, ws = b.window, sh = b.shift;
  const int64_t Hp = (H + ws - 1) / ws * ws, Wp = (Wd + ws - 1) / ws * ws, N = ws * ws;
  const int64_t heads = b.heads, d = C / heads, inner = 2 * C;
  const auto xin = input.values<float>();
  auto layer_norm = [&](const double* x, const std::string& p, double* out) {
    const auto g = W(p + ".weight"), bb = W(p + ".bias");
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += x[c];
    mean /= C;
    for (int64_t c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
    var /= C;
    for (int64_t c = 0; c < C; ++c) out[c] = (x[c] - mean) / std::sqrt(var + 1e-5) * g[c] + bb[c];
  };
  auto linear = [&](const double* x, const std::string& p, int64_t in, int64_t out, double* y) {
    const auto wt = W(p + ".weight"), bias = W(p + ".bias");
    for (int64_t o = 0; o < out; ++o) {
      y[o] = bias[o];
      for (int64_t i = 0; i < in; ++i) y[o] += wt[o * in + i] * x[i];
    }
  };
  // LayerNorm before, onto the zero-padded grid.
  std::vector<double> grid(Hp * Wp * C, 0.0), x(H * Wd * C);
  for (int64_t i = 0; i < H * Wd * C; ++i) x[i] = xin[i];
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < Wd; ++c)
      layer_norm(&x[(r * Wd + c) * C], "layernorm_before", &grid[(r * Wp + c) * C]);
  // Rolled grid: rolled[r][c] = grid[r + shift][c + shift].
  auto rolled_at = [&](int64_t r, int64_t c) {
    return &grid[(((r + sh) % Hp) * Wp + (c + sh) % Wp) * C];
  };
  auto region = [&](int64_t i, int64_t n) { return i < n - ws ? 0 : (i < n - sh ? 1 : 2); };
  const auto table = W("attention.self.relative_position_bias_table");
  std::vector<double> attended(Hp * Wp * C, 0.0);  // in rolled coordinates
  for (int64_t wr = 0; wr < Hp / ws; ++wr)
    for (int64_t wc = 0; wc < Wp / ws; ++wc) {
      std::vector<double> q(N * C), k(N * C), v(N * C);
      std::vector<int> ids(N);
      for (int64_t t = 0; t < N; ++t) {
        const int64_t r = wr * ws + t / ws, c = wc * ws + t % ws;
        linear(rolled_at(r, c), "attention.self.query", C, C, &q[t * C]);
        linear(rolled_at(r, c), "attention.self.key", C, C, &k[t * C]);
        linear(rolled_at(r, c), "attention.self.value", C, C, &v[t * C]);
        ids[t] = sh > 0 ? region(r, Hp) * 3 + region(c, Wp) : 0;
      }
      std::vector<double> ctx(N * C, 0.0);
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < N; ++i) {
          std::vector<double> s(N);
          double top = -1e300;
          for (int64_t j = 0; j < N; ++j) {
            double dot = 0;
            for (int64_t e = 0; e < d; ++e) dot += q[i * C + h * d + e] * k[j * C + h * d + e];
            const int64_t dh = i / ws - j / ws, dw = i % ws - j % ws;
            const int64_t index = (dh + ws - 1) * (2 * ws - 1) + (dw + ws - 1);
            s[j] = dot / std::sqrt(double(d)) + table[index * heads + h] +
                   (ids[i] != ids[j] ? -100.0 : 0.0);
            top = std::max(top, s[j]);
          }
          double sum = 0;
          for (auto& e : s) sum += (e = std::exp(e - top));
          for (int64_t j = 0; j < N; ++j)
            for (int64_t e = 0; e < d; ++e)
              ctx[i * C + h * d + e] += s[j] / sum * v[j * C + h * d + e];
        }
      for (int64_t t = 0; t < N; ++t) {
        const int64_t r = wr * ws + t / ws, c = wc * ws + t % ws;
        linear(&ctx[t * C], "attention.output.dense", C, C, &attended[(r * Wp + c) * C]);
      }
    }
  std::vector<double> out(H * Wd * C);
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < Wd; ++c) {
      // Rolling back: grid position (r, c) was rolled position (r - shift, c - shift).
      const int64_t rr = (r - sh + Hp) % Hp, rc = (c - sh + Wp) % Wp;
      double* o = &out[(r * Wd + c) * C];
      for (int64_t e = 0; e < C; ++e)
        o[e] = x[(r * Wd + c) * C + e] + attended[(rr * Wp + rc) * C + e];
      std::vector<double> n(C), m(inner), y(C);
      layer_norm(o, "layernorm_after", n.data());
      linear(n.data(), "intermediate.dense", C, inner, m.data());
      for (auto& e : m) e = 0.5 * e * (1.0 + std::erf(e / std::sqrt(2.0)));
      linear(m.data(), "output.dense", inner, C, y.data());
      for (int64_t e = 0; e < C; ++e) o[e] += y[e];
    }
  return out;
}

class ClapSwinBlockReferenceTest : public ::testing::TestWithParam<models::SwinBlockGeometry> {};

TEST_P(ClapSwinBlockReferenceTest, MatchesDoublePrecisionHfBlock) {
  const models::SwinBlockGeometry b = GetParam();
  BlockGraph block(b);
  const Tensor x = RandomFloats({1, b.height * b.width, b.dim}, 5);
  const Tensor out = block.Run(x);
  const auto actual = out.values<float>();
  const std::vector<double> expected = ReferenceBlock(block.weights.values, b, x);
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    worst = std::max(worst, std::fabs(expected[i] - actual[i]));
  EXPECT_LT(worst, kTolerance);
  std::cout << b.height << "x" << b.width << " window " << b.window << " shift " << b.shift
            << ": max abs error " << worst << "\n";
}

// Unshifted, shifted, and shifted over a grid padded to whole windows (6 -> 8).
INSTANTIATE_TEST_SUITE_P(Geometries, ClapSwinBlockReferenceTest,
                         ::testing::Values(models::SwinBlockGeometry{8, 8, 16, 2, 4, 0},
                                           models::SwinBlockGeometry{8, 8, 16, 2, 4, 2},
                                           models::SwinBlockGeometry{6, 6, 8, 2, 4, 2}));

// ---- the time axis ----

TEST(ClapTimeAxisTest, SymbolicTimeGivesTheFixtureOutputs) {
  models::SafetensorsWeights weights(kFixture.string(), {});
  const models::Model model = ClapModel(FixtureConfig(), weights, std::string("time"));
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  EXPECT_TRUE(r.passed);
}

TEST(ClapTimeAxisTest, FullLengthSpectrogramNeedsNoResize) {
  // spec_size 64 * freq_ratio 4 = 256 frames: the symbolic graph's resize must change nothing.
  NamedRandomWeights a(0.05), b(0.05);
  const models::Model symbolic = ClapModel(FixtureConfig(), a, std::string("time"));
  const models::Model fixed = ClapModel(FixtureConfig(), b, int64_t{256});
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  TensorMap in = {{"input_ids", io.inputs.at("input_ids")},
                  {"attention_mask", io.inputs.at("attention_mask")},
                  {"input_features", RandomFloats({2, 1, 256, 16}, 3)}};
  const Tensor x = runtime::OpenOnnxRuntimeSession(symbolic, {})->Run(in).at("audio_embeds");
  const Tensor y = runtime::OpenOnnxRuntimeSession(fixed, {})->Run(in).at("audio_embeds");
  EXPECT_LT(MaxAbsDiff(x, y), 1e-5);
}

// ---- fusion ----

struct FusionRun {
  Tensor fused_all_short, fused_mixed, fused_mixed_other_locals, unfused;
};

FusionRun RunFusion() {
  json fused_config = FixtureConfig();
  fused_config["audio_config"]["enable_fusion"] = true;
  NamedRandomWeights fused_weights(0.1), plain_weights(0.1);
  auto fused =
      runtime::OpenOnnxRuntimeSession(ClapModel(fused_config, fused_weights, int64_t{64}), {});
  auto plain =
      runtime::OpenOnnxRuntimeSession(ClapModel(FixtureConfig(), plain_weights, int64_t{64}), {});
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  const Tensor features = RandomFloats({2, 4, 64, 16}, 21);
  Tensor other = features;  // channels 1-3 of both rows replaced
  const Tensor noise = RandomFloats({2, 4, 64, 16}, 22);
  const int64_t per_channel = 64 * 16;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t i = per_channel; i < 4 * per_channel; ++i)
      other.values<float>()[r * 4 * per_channel + i] =
          noise.values<float>()[r * 4 * per_channel + i];
  Tensor channel0 = Tensor::Zeros(DType::kFloat32, {2, 1, 64, 16});
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t i = 0; i < per_channel; ++i)
      channel0.values<float>()[r * per_channel + i] =
          features.values<float>()[r * 4 * per_channel + i];
  auto run = [&](runtime::Session& s, const Tensor& f, const Tensor* longer) {
    TensorMap in = {{"input_ids", io.inputs.at("input_ids")},
                    {"attention_mask", io.inputs.at("attention_mask")},
                    {"input_features", f}};
    if (longer) in["is_longer"] = *longer;
    return s.Run(in).at("audio_embeds");
  };
  const Tensor none = Bools({false, false}), first = Bools({true, false});
  return {run(*fused, features, &none), run(*fused, features, &first), run(*fused, other, &first),
          run(*plain, channel0, nullptr)};
}

TEST(ClapFusionTest, NoLongerRowIsTheUnfusedGraphOnChannelZero) {
  const FusionRun r = RunFusion();
  EXPECT_LT(MaxAbsDiff(r.fused_all_short, r.unfused), 1e-5);
}

TEST(ClapFusionTest, OnlyLongerRowsUseTheLocalChannels) {
  const FusionRun r = RunFusion();
  // Row 0 is longer: fused with its local channels; row 1 is not: the global patches alone.
  EXPECT_GT(MaxAbsDiff(Row(r.fused_mixed, 0), Row(r.fused_all_short, 0)), 1e-3);
  EXPECT_GT(MaxAbsDiff(Row(r.fused_mixed, 0), Row(r.fused_mixed_other_locals, 0)), 1e-3);
  EXPECT_LT(MaxAbsDiff(Row(r.fused_mixed, 1), Row(r.fused_all_short, 1)), 1e-6);
  EXPECT_LT(MaxAbsDiff(Row(r.fused_mixed, 1), Row(r.fused_mixed_other_locals, 1)), 1e-6);
}

}  // namespace clap_verify_test
}  // namespace ipfs_accel::harness
