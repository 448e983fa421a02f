// The state-space pieces (src/models/ssm.h) run by ONNX Runtime: the selective scan against the
// recurrence written out step by step in double precision, the causal depthwise conv1d against
// numbers worked out by hand, and the gated RMSNorm against its definition.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/graph_builder.h"
#include "models/ssm.h"
#include "models/weights.h"
#include "support/checked_graph.h"
#include "support/reference_forward.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {
namespace ssm_test {

using nlohmann::json;

Vec Random(size_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  Vec v(n);
  for (double& x : v) x = static_cast<float>(uniform(rng));  // as fed in float32
  return v;
}

// Runs SelectiveScan on inputs of the given shapes; returns y.
core::Tensor RunScan(const std::vector<core::Shape>& shapes, const std::vector<Vec>& values,
                     const core::Shape& y_shape) {
  const std::vector<std::string> names = {"decay", "u", "b", "c"};
  models::ShapeOnlyWeights none;
  const models::Model m = CheckedGraph(none, "scan", [&](models::GraphBuilder& g) {
    for (size_t i = 0; i < names.size(); ++i) {
      std::vector<models::Dim> dims(shapes[i].begin(), shapes[i].end());
      g.Input(names[i], onnx::TensorProto::FLOAT, dims);
    }
    g.Node("Identity", {models::SelectiveScan(g, "decay", "u", "b", "c")}, {}, "y");
    g.Output("y", onnx::TensorProto::FLOAT,
             std::vector<models::Dim>(y_shape.begin(), y_shape.end()));
  });
  auto session = runtime::OpenOnnxRuntimeSession(m, {});
  std::map<std::string, core::Tensor> feeds;
  for (size_t i = 0; i < names.size(); ++i) feeds[names[i]] = FloatTensor(shapes[i], values[i]);
  return session->Run(feeds).at("y");
}

TEST(MambaScan, MatchesARecurrenceWrittenOutStepByStep) {
  // Mamba-1's shapes: decay [b, S, D, N], u [b, S, D, 1], b [b, S, 1, N], c [b, S, N, 1].
  constexpr int64_t kB = 2, kS = 5, kD = 3, kN = 4;
  const Vec decay = Random(kB * kS * kD * kN, 0.2, 0.99, 1);
  const Vec u = Random(kB * kS * kD, -1, 1, 2);
  const Vec bm = Random(kB * kS * kN, -1, 1, 3);
  const Vec cm = Random(kB * kS * kN, -1, 1, 4);
  Vec want(kB * kS * kD);
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t d = 0; d < kD; ++d) {
      std::vector<double> h(kN, 0.0);
      for (int64_t t = 0; t < kS; ++t) {
        double y = 0;
        for (int64_t n = 0; n < kN; ++n) {
          h[n] = decay[((b * kS + t) * kD + d) * kN + n] * h[n] +
                 u[(b * kS + t) * kD + d] * bm[(b * kS + t) * kN + n];
          y += h[n] * cm[(b * kS + t) * kN + n];
        }
        want[(b * kS + t) * kD + d] = y;
      }
    }
  const core::Tensor y =
      RunScan({{kB, kS, kD, kN}, {kB, kS, kD, 1}, {kB, kS, 1, kN}, {kB, kS, kN, 1}},
              {decay, u, bm, cm}, {kB, kS, kD});
  EXPECT_LT(MaxAbsDiff(y, FloatTensor({kB, kS, kD}, want)), 1e-5);
  // The state carries over: the last step is not what a scan that forgot the past would give.
  const int64_t last = kS - 1;
  double forgetful = 0;
  for (int64_t n = 0; n < kN; ++n)
    forgetful += u[last * kD] * bm[last * kN + n] * cm[last * kN + n];
  EXPECT_GT(std::fabs(want[last * kD] - forgetful), 1e-3);
}

TEST(MambaScan, GroupedHeadsShareTheirGroupsBAndCAndOneDecayPerHead) {
  // Mamba-2's shapes: decay [b, S, G, H/G, 1, 1], u [b, S, G, H/G, P, 1], b [b, S, G, 1, 1, N],
  // c [b, S, G, 1, N, 1].
  constexpr int64_t kB = 1, kS = 4, kG = 2, kHg = 2, kP = 3, kN = 2;
  const Vec decay = Random(kS * kG * kHg, 0.3, 0.95, 5);
  const Vec u = Random(kS * kG * kHg * kP, -1, 1, 6);
  const Vec bm = Random(kS * kG * kN, -1, 1, 7);
  const Vec cm = Random(kS * kG * kN, -1, 1, 8);
  Vec want(kS * kG * kHg * kP);
  for (int64_t gr = 0; gr < kG; ++gr)
    for (int64_t hd = 0; hd < kHg; ++hd)
      for (int64_t p = 0; p < kP; ++p) {
        std::vector<double> h(kN, 0.0);
        for (int64_t t = 0; t < kS; ++t) {
          const int64_t head = (t * kG + gr) * kHg + hd;
          double y = 0;
          for (int64_t n = 0; n < kN; ++n) {
            h[n] = decay[head] * h[n] + u[head * kP + p] * bm[(t * kG + gr) * kN + n];
            y += h[n] * cm[(t * kG + gr) * kN + n];
          }
          want[head * kP + p] = y;
        }
      }
  const core::Tensor y = RunScan({{kB, kS, kG, kHg, 1, 1},
                                  {kB, kS, kG, kHg, kP, 1},
                                  {kB, kS, kG, 1, 1, kN},
                                  {kB, kS, kG, 1, kN, 1}},
                                 {decay, u, bm, cm}, {kB, kS, kG, kHg, kP});
  EXPECT_LT(MaxAbsDiff(y, FloatTensor({kB, kS, kG, kHg, kP}, want)), 1e-5);
}

// A graph of one piece over `x` [1, S, C] with the weights of `w`.
template <typename Build>
core::Tensor RunPiece(const Checkpoint& w, const core::Tensor& x, const Build& build,
                      const std::map<std::string, core::Tensor>& more = {}) {
  TempDir dir;
  w.Save(dir, json{{"model_type", "test"}});
  models::SafetensorsWeights weights(dir.path().string(), {});
  const models::Model m = CheckedGraph(weights, "piece", [&](models::GraphBuilder& g) {
    g.Input("x", onnx::TensorProto::FLOAT, {x.shape[0], x.shape[1], x.shape[2]});
    for (const auto& [name, t] : more)
      g.Input(name, onnx::TensorProto::FLOAT, {t.shape[0], t.shape[1], t.shape[2]});
    g.Node("Identity", {build(g)}, {}, "y");
    g.Output("y", onnx::TensorProto::FLOAT, {x.shape[0], x.shape[1], x.shape[2]});
  });
  std::map<std::string, core::Tensor> feeds = more;
  feeds["x"] = x;
  return runtime::OpenOnnxRuntimeSession(m, {})->Run(feeds).at("y");
}

TEST(CausalConv1d, MatchesAConvolutionWorkedOutByHand) {
  // Two channels, kernel 3: out[t] = bias + w0 x[t-2] + w1 x[t-1] + w2 x[t], zero before t = 0.
  Checkpoint w(1);
  w.Add("conv.weight", {2, 1, 3}, 1.0);
  w.Add("conv.bias", {2}, 1.0);
  w["conv.weight"] = {1, 10, 100, 2, 3, 5};
  w["conv.bias"] = {0.5, -1};
  // x [1, 4, 2]: channel 0 is 1, 2, 3, 4; channel 1 is 1, 0, 0, 0.
  const core::Tensor x = FloatTensor({1, 4, 2}, {1, 1, 2, 0, 3, 0, 4, 0});
  const core::Tensor y = RunPiece(w, x, [](models::GraphBuilder& g) {
    return models::CausalConv1d(g, "x", "conv", 2, 3, true);
  });
  // channel 0: 0.5 + 100; 0.5 + 10 + 200; 0.5 + 1 + 20 + 300; 0.5 + 2 + 30 + 400
  // channel 1: -1 + 5; -1 + 3; -1 + 2; -1
  const core::Tensor want = FloatTensor({1, 4, 2}, {100.5, 4, 210.5, 2, 321.5, 1, 432.5, -1});
  EXPECT_LT(MaxAbsDiff(y, want), 1e-4);
}

TEST(GatedRmsNorm, NormalisesEachGroupOfTheGatedStatesApart) {
  constexpr int64_t kSize = 4, kGroups = 2;
  Checkpoint w(2);
  w.Add("norm.weight", {kSize}, 0.2, 1.0);
  const Vec xv = {1, -2, 3, 0.5}, gv = {0.3, -1, 2, 4};
  const core::Tensor y =
      RunPiece(w, FloatTensor({1, 1, kSize}, xv),
               [&](models::GraphBuilder& g) {
                 return models::GatedRmsNorm(g, "x", "gate", "norm", kSize, kGroups, 1e-6);
               },
               {{"gate", FloatTensor({1, 1, kSize}, gv)}});
  Vec want(kSize);
  const int64_t per = kSize / kGroups;
  for (int64_t gr = 0; gr < kGroups; ++gr) {
    Vec z(per);
    double mean_square = 0;
    for (int64_t i = 0; i < per; ++i) {
      const double gate = gv[gr * per + i];
      z[i] = xv[gr * per + i] * gate / (1 + std::exp(-gate));
      mean_square += z[i] * z[i] / per;
    }
    for (int64_t i = 0; i < per; ++i)
      want[gr * per + i] = z[i] / std::sqrt(mean_square + 1e-6) * w["norm.weight"][gr * per + i];
  }
  EXPECT_LT(MaxAbsDiff(y, FloatTensor({1, 1, kSize}, want)), 1e-5);
}

double Silu(double x) { return x / (1 + std::exp(-x)); }
double Softplus(double x) { return std::log1p(std::exp(x)); }

// HF's causal depthwise conv of [S, channels] rows, then silu.
Vec ConvSilu(const Checkpoint& w, const std::string& name, const Vec& x, int64_t S, int64_t ch,
             int64_t kernel) {
  Vec y(S * ch);
  for (int64_t t = 0; t < S; ++t)
    for (int64_t c = 0; c < ch; ++c) {
      double v = w[name + ".bias"][c];
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t src = t - kernel + 1 + k;
        if (src >= 0) v += w[name + ".weight"][c * kernel + k] * x[src * ch + c];
      }
      y[t * ch + c] = Silu(v);
    }
  return y;
}

constexpr int64_t kHidden = 6, kTokens = 5, kKernel = 3;

TEST(MambaMixer, MatchesMambaSlowForwardWrittenOutStepByStep) {
  models::MambaSpec s;
  s.hidden = kHidden, s.intermediate = 4, s.state = 3, s.conv_kernel = kKernel, s.dt_rank = 2;
  const int64_t I = s.intermediate, N = s.state, R = s.dt_rank;
  Checkpoint w(21);
  w.Linear("mixer.in_proj", kHidden, 2 * I, false);
  w.Add("mixer.conv1d.weight", {I, 1, kKernel}, 0.5);
  w.Add("mixer.conv1d.bias", {I}, 0.1);
  w.Linear("mixer.x_proj", I, R + 2 * N, false);
  w.Linear("mixer.dt_proj", R, I, true);
  w.Add("mixer.A_log", {I, N}, 0.5);
  w.Add("mixer.D", {I}, 0.3, 1.0);
  w.Linear("mixer.out_proj", I, kHidden, false);
  const Vec x = Random(kTokens * kHidden, -1, 1, 9);
  // in_proj, conv, x_proj, dt_proj: as MambaMixer.slow_forward.
  const Vec proj = Linear(w, "mixer.in_proj", x, kTokens, kHidden, 2 * I);
  Vec xs(kTokens * I), gate(kTokens * I);
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t i = 0; i < I; ++i) {
      xs[t * I + i] = proj[t * 2 * I + i];
      gate[t * I + i] = proj[t * 2 * I + I + i];
    }
  const Vec hs = ConvSilu(w, "mixer.conv1d", xs, kTokens, I, kKernel);
  const Vec p = Linear(w, "mixer.x_proj", hs, kTokens, I, R + 2 * N);
  Vec y(kTokens * I);
  for (int64_t i = 0; i < I; ++i) {
    Vec h(N, 0.0);
    for (int64_t t = 0; t < kTokens; ++t) {
      double dt = w["mixer.dt_proj.bias"][i];
      for (int64_t r = 0; r < R; ++r)
        dt += w["mixer.dt_proj.weight"][i * R + r] * p[t * (R + 2 * N) + r];
      dt = Softplus(dt);
      double out = 0;
      for (int64_t n = 0; n < N; ++n) {
        const double a = -std::exp(w["mixer.A_log"][i * N + n]);
        const double b = p[t * (R + 2 * N) + R + n], c = p[t * (R + 2 * N) + R + N + n];
        h[n] = std::exp(dt * a) * h[n] + dt * b * hs[t * I + i];
        out += h[n] * c;
      }
      y[t * I + i] = (out + w["mixer.D"][i] * hs[t * I + i]) * Silu(gate[t * I + i]);
    }
  }
  const Vec want = Linear(w, "mixer.out_proj", y, kTokens, I, kHidden);
  const core::Tensor got = RunPiece(
      w, FloatTensor({1, kTokens, kHidden}, x),
      [&](models::GraphBuilder& g) { return models::MambaMixer(g, s, "x", "mask", "mixer."); },
      {{"mask", FloatTensor({1, kTokens, 1}, Vec(kTokens, 1.0))}});
  EXPECT_LT(MaxAbsDiff(got, FloatTensor({1, kTokens, kHidden}, want)), 1e-4);
}

TEST(Mamba2Mixer, MatchesTheSsdRecurrenceWithGroupedBAndCAndGatedNorm) {
  models::Mamba2Spec s;
  s.hidden = kHidden, s.intermediate = 8, s.heads = 4, s.head_dim = 2, s.groups = 2;
  s.state = 3, s.conv_kernel = kKernel, s.norm_groups = 2, s.eps = 1e-5;
  const int64_t I = s.intermediate, H = s.heads, P = s.head_dim, G = s.groups, N = s.state;
  const int64_t conv_dim = s.conv_dim(), proj_dim = I + conv_dim + H;
  Checkpoint w(22);
  w.Linear("mixer.in_proj", kHidden, proj_dim, false);
  w.Add("mixer.conv1d.weight", {conv_dim, 1, kKernel}, 0.5);
  w.Add("mixer.conv1d.bias", {conv_dim}, 0.1);
  w.Add("mixer.dt_bias", {H}, 0.5);
  w.Add("mixer.A_log", {H}, 0.5);
  w.Add("mixer.D", {H}, 0.3, 1.0);
  w.Add("mixer.norm.weight", {I}, 0.1, 1.0);
  w.Linear("mixer.out_proj", I, kHidden, false);
  const Vec x = Random(kTokens * kHidden, -1, 1, 10);
  const Vec proj = Linear(w, "mixer.in_proj", x, kTokens, kHidden, proj_dim);
  Vec xbc(kTokens * conv_dim);
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t k = 0; k < conv_dim; ++k) xbc[t * conv_dim + k] = proj[t * proj_dim + I + k];
  const Vec conv = ConvSilu(w, "mixer.conv1d", xbc, kTokens, conv_dim, kKernel);
  Vec y(kTokens * I);
  for (int64_t hd = 0; hd < H; ++hd) {
    const int64_t grp = hd / (H / G);
    std::vector<Vec> h(P, Vec(N, 0.0));
    for (int64_t t = 0; t < kTokens; ++t) {
      const double dt = Softplus(proj[t * proj_dim + I + conv_dim + hd] + w["mixer.dt_bias"][hd]);
      const double decay = std::exp(dt * -std::exp(w["mixer.A_log"][hd]));
      for (int64_t p = 0; p < P; ++p) {
        const double xv = conv[t * conv_dim + hd * P + p];
        double out = 0;
        for (int64_t n = 0; n < N; ++n) {
          const double b = conv[t * conv_dim + I + grp * N + n];
          const double c = conv[t * conv_dim + I + G * N + grp * N + n];
          h[p][n] = decay * h[p][n] + dt * b * xv;
          out += h[p][n] * c;
        }
        y[t * I + hd * P + p] = out + w["mixer.D"][hd] * xv;
      }
    }
  }
  // MambaRMSNormGated over each of norm_groups parts: y * silu(gate), normalised, times weight.
  const int64_t per = I / s.norm_groups;
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t q = 0; q < s.norm_groups; ++q) {
      double ms = 0;
      for (int64_t i = q * per; i < (q + 1) * per; ++i) {
        y[t * I + i] *= Silu(proj[t * proj_dim + i]);
        ms += y[t * I + i] * y[t * I + i] / per;
      }
      for (int64_t i = q * per; i < (q + 1) * per; ++i)
        y[t * I + i] *= w["mixer.norm.weight"][i] / std::sqrt(ms + s.eps);
    }
  const Vec want = Linear(w, "mixer.out_proj", y, kTokens, I, kHidden);
  const core::Tensor got = RunPiece(
      w, FloatTensor({1, kTokens, kHidden}, x),
      [&](models::GraphBuilder& g) { return models::Mamba2Mixer(g, s, "x", "mask", "mixer."); },
      {{"mask", FloatTensor({1, kTokens, 1}, Vec(kTokens, 1.0))}});
  EXPECT_LT(MaxAbsDiff(got, FloatTensor({1, kTokens, kHidden}, want)), 1e-4);
}

// x [n, size] RMS-normalised per row, times `name`.weight.
Vec RmsRows(const Checkpoint& w, const std::string& name, const Vec& x, int64_t n, int64_t size,
            double eps) {
  Vec y(x.size());
  for (int64_t r = 0; r < n; ++r) {
    double ms = 0;
    for (int64_t i = 0; i < size; ++i) ms += x[r * size + i] * x[r * size + i] / size;
    for (int64_t i = 0; i < size; ++i)
      y[r * size + i] = x[r * size + i] / std::sqrt(ms + eps) * w[name + ".weight"][i];
  }
  return y;
}

// Rotate-half rope on the first `rotary` features of each head of [n, heads * d] rows, at
// positions 0..n-1 (Bamba's apply_rotary_pos_emb).
Vec Rope(Vec x, int64_t n, int64_t heads, int64_t d, int64_t rotary, double theta) {
  const int64_t half = rotary / 2;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double angle =
            t * static_cast<float>(1.0 / std::pow(theta, 2.0 * i / static_cast<double>(rotary)));
        double& a = x[t * heads * d + h * d + i];
        double& b = x[t * heads * d + h * d + i + half];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(angle) - b0 * std::sin(angle);
        b = b0 * std::cos(angle) + a0 * std::sin(angle);
      }
  return x;
}

TEST(MambaHybridAttention, BambaAttentionLayerMatchesLlamaAttentionWithHalfTheHeadRotated) {
  // One Bamba layer that is attention: 2 query heads sharing 1 key/value head of 4 features,
  // the first 2 of them rotated; then the gated MLP, the final norm and the head.
  constexpr int64_t V = 16, H = 8, F = 12, heads = 2, d = 4, S = 5;
  Checkpoint w(23);
  w.Add("embed_tokens.weight", {V, H}, 1.0);
  w.Add("layers.0.input_layernorm.weight", {H}, 0.1, 1.0);
  w.Linear("layers.0.self_attn.q_proj", H, heads * d, false);
  w.Linear("layers.0.self_attn.k_proj", H, d, false);
  w.Linear("layers.0.self_attn.v_proj", H, d, false);
  w.Linear("layers.0.self_attn.o_proj", heads * d, H, false);
  w.Add("layers.0.pre_ff_layernorm.weight", {H}, 0.1, 1.0);
  for (const char* m : {"gate_proj", "up_proj"})
    w.Linear(std::string("layers.0.feed_forward.") + m, H, F, false);
  w.Linear("layers.0.feed_forward.down_proj", F, H, false);
  w.Add("final_layernorm.weight", {H}, 0.1, 1.0);
  w.Linear("lm_head", H, V, false);
  const json config = {{"model_type", "bamba"},
                       {"vocab_size", V},
                       {"hidden_size", H},
                       {"intermediate_size", F},
                       {"num_hidden_layers", 1},
                       {"num_attention_heads", heads},
                       {"num_key_value_heads", 1},
                       {"attn_layer_indices", {0}},
                       {"mamba_n_heads", 2},
                       {"mamba_d_state", 4},
                       {"max_position_embeddings", 32},
                       {"rms_norm_eps", 1e-5}};
  TempDir dir;
  w.Save(dir, config, "model.");
  const std::vector<int64_t> ids = {3, 7, 1, 15, 3};
  Vec x(S * H);
  for (int64_t t = 0; t < S; ++t)
    for (int64_t i = 0; i < H; ++i) x[t * H + i] = w["embed_tokens.weight"][ids[t] * H + i];
  const Vec n1 = RmsRows(w, "layers.0.input_layernorm", x, S, H, 1e-5);
  const Vec q =
      Rope(Linear(w, "layers.0.self_attn.q_proj", n1, S, H, heads * d), S, heads, d, 2, 10000.0);
  const Vec k1 = Rope(Linear(w, "layers.0.self_attn.k_proj", n1, S, H, d), S, 1, d, 2, 10000.0);
  const Vec v1 = Linear(w, "layers.0.self_attn.v_proj", n1, S, H, d);
  Vec k(S * heads * d), v(S * heads * d);  // repeat_kv
  for (int64_t t = 0; t < S; ++t)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t c = 0; c < d; ++c) {
        k[(t * heads + h) * d + c] = k1[t * d + c];
        v[(t * heads + h) * d + c] = v1[t * d + c];
      }
  std::vector<bool> causal(S * S);
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j) causal[i * S + j] = j <= i;
  const Vec attn = Linear(w, "layers.0.self_attn.o_proj",
                          Attention(q, S, k, v, S, heads * d, heads, causal), S, heads * d, H);
  Vec h(S * H);
  for (size_t i = 0; i < h.size(); ++i) h[i] = x[i] + attn[i];
  const Vec n2 = RmsRows(w, "layers.0.pre_ff_layernorm", h, S, H, 1e-5);
  const Vec gate = Act(Linear(w, "layers.0.feed_forward.gate_proj", n2, S, H, F), "silu");
  Vec mid = Linear(w, "layers.0.feed_forward.up_proj", n2, S, H, F);
  for (size_t i = 0; i < mid.size(); ++i) mid[i] *= gate[i];
  const Vec mlp = Linear(w, "layers.0.feed_forward.down_proj", mid, S, F, H);
  for (size_t i = 0; i < h.size(); ++i) h[i] += mlp[i];
  const Vec want = Linear(w, "lm_head", RmsRows(w, "final_layernorm", h, S, H, 1e-5), S, H, V);

  const models::Model model = models::LoadHfFolder(dir.path().string());
  const auto outputs = runtime::OpenOnnxRuntimeSession(model, {})->Run(
      {{"input_ids", Int64Tensor({1, S}, ids)},
       {"attention_mask", Int64Tensor({1, S}, std::vector<int64_t>(S, 1))}});
  EXPECT_LT(MaxAbsDiff(outputs.at("logits"), FloatTensor({1, S, V}, want)), 1e-4);
}

}  // namespace ssm_test
}  // namespace ipfs_accel::testing
