// The convolutional backbones' own pieces, run in ONNX Runtime against double-precision loops
// written from HF's modules: EfficientNet's TF-style padded depthwise convolution, squeeze-and-
// excitation (EfficientNet's sigmoid gate, PP-LCNet's hardsigmoid), HGNetV2's conv layer with its
// learnable affine block, PP-LCNetV3's learnable re-parameterisable layer, RT-DETR's ResNet-D
// layer with its pooled shortcut, LeViT's attention with relative-offset biases, SwiftFormer's
// efficient additive attention, CvT's convolutional projection attention, PVT's layer with
// sequence reduction, and make_divisible.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/conv2d.h"
#include "models/cvt_builder.h"
#include "models/efficientnet_builder.h"
#include "models/graph_builder.h"
#include "models/hgnet_v2_builder.h"
#include "models/levit_builder.h"
#include "models/pp_lcnet_builder.h"
#include "models/pvt_builder.h"
#include "models/rt_detr_resnet_builder.h"
#include "models/swiftformer_builder.h"
#include "models/weights.h"
#include "support/reference_forward.h"

namespace ipfs_accel::harness {
namespace conv_pieces_test {

using core::DType;
using core::Tensor;
using Vec = std::vector<double>;

uint64_t Hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Every weight random, whatever its init (so that BatchNorm affine terms, biases and learnable
// affine blocks all matter): running variances in [0.5, 1.5], the rest in [-0.6, 0.6].
class AllRandomWeights : public models::WeightProvider {
 protected:
  Tensor Fetch(const std::string& name, const core::Shape& shape, models::WeightInit) override {
    Tensor t = Tensor::Zeros(DType::kFloat32, shape);
    uint64_t state = Hash(name);
    const bool variance = name.size() > 11 && name.substr(name.size() - 11) == "running_var";
    for (auto& v : t.values<float>()) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const double u = static_cast<double>(state >> 11) * 0x1.0p-53;
      v = static_cast<float>(variance ? 0.5 + u : 1.2 * u - 0.6);
    }
    return t;
  }
};

// A graph of one piece over input "x" [1, c, h, w], output "y".
struct PieceRun {
  std::map<std::string, Vec> weights;  // every initializer by name, as doubles
  Vec y;

  PieceRun(const core::Shape& x_shape, const Vec& x, const std::vector<models::Dim>& y_dims,
           const std::function<std::string(models::GraphBuilder&)>& piece) {
    onnx::ModelProto proto;
    proto.set_ir_version(onnx::IR_VERSION);
    proto.mutable_graph()->set_name("conv-piece");
    auto* opset = proto.add_opset_import();
    opset->set_domain("");
    opset->set_version(models::kOpsetVersion);
    AllRandomWeights random;
    models::GraphBuilder g(proto.mutable_graph(), &random);
    g.Input("x", onnx::TensorProto::FLOAT,
            std::vector<models::Dim>(x_shape.begin(), x_shape.end()));
    g.Node("Identity", {piece(g)}, {}, "y");
    g.Output("y", onnx::TensorProto::FLOAT, y_dims);
    for (const auto& t : proto.graph().initializer()) {
      if (t.data_type() != onnx::TensorProto::FLOAT) continue;
      std::vector<float> f(t.raw_data().size() / sizeof(float));
      std::memcpy(f.data(), t.raw_data().data(), t.raw_data().size());
      weights[t.name()] = Vec(f.begin(), f.end());
    }
    models::Model model;
    EXPECT_TRUE(proto.SerializeToString(&model.onnx_bytes));
    Tensor input = Tensor::Zeros(DType::kFloat32, x_shape);
    for (size_t i = 0; i < x.size(); ++i) input.values<float>()[i] = static_cast<float>(x[i]);
    auto session = runtime::OpenOnnxRuntimeSession(model, {});
    y = session->Run({{"x", input}}).at("y").ToDoubles();
  }

  const Vec& W(const std::string& name) const { return weights.at(name); }
};

Vec Ramp(size_t n) {
  Vec v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(0.37 * static_cast<double>(i) + 0.1);
  return v;
}

// A feature map [c, h, w] in double precision.
struct Map {
  Vec v;
  int64_t c = 0, h = 0, w = 0;
  double& at(int64_t ch, int64_t i, int64_t j) { return v[(ch * h + i) * w + j]; }
  double at(int64_t ch, int64_t i, int64_t j) const { return v[(ch * h + i) * w + j]; }
};

// nn.Conv2d: weight [out, in / groups, k, k], zero padding (top, left, bottom, right).
Map Conv(const Map& x, const Vec& weight, const Vec* bias, int64_t out, int64_t k, int64_t stride,
         std::array<int64_t, 4> pads, int64_t groups) {
  Map y{{},
        out,
        (x.h + pads[0] + pads[2] - k) / stride + 1,
        (x.w + pads[1] + pads[3] - k) / stride + 1};
  y.v.assign(out * y.h * y.w, 0.0);
  const int64_t in_per_group = x.c / groups, out_per_group = out / groups;
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < y.h; ++i)
      for (int64_t j = 0; j < y.w; ++j) {
        double sum = bias ? (*bias)[o] : 0.0;
        for (int64_t ci = 0; ci < in_per_group; ++ci)
          for (int64_t a = 0; a < k; ++a)
            for (int64_t b = 0; b < k; ++b) {
              const int64_t r = i * stride + a - pads[0], q = j * stride + b - pads[1];
              if (r < 0 || r >= x.h || q < 0 || q >= x.w) continue;
              const int64_t channel = (o / out_per_group) * in_per_group + ci;
              sum += x.at(channel, r, q) * weight[((o * in_per_group + ci) * k + a) * k + b];
            }
        y.at(o, i, j) = sum;
      }
  return y;
}

// Eval-mode nn.BatchNorm2d under `prefix` (eps 1e-5 unless given).
Map BatchNorm(const PieceRun& run, Map x, const std::string& prefix, double eps = 1e-5) {
  const Vec &g = run.W(prefix + ".weight"), &b = run.W(prefix + ".bias");
  const Vec &m = run.W(prefix + ".running_mean"), &v = run.W(prefix + ".running_var");
  for (int64_t c = 0; c < x.c; ++c)
    for (int64_t i = 0; i < x.h * x.w; ++i) {
      double& e = x.v[c * x.h * x.w + i];
      e = (e - m[c]) / std::sqrt(v[c] + eps) * g[c] + b[c];
    }
  return x;
}

Map Apply(Map x, const std::function<double(double)>& f) {
  for (double& e : x.v) e = f(e);
  return x;
}

double HardSwish(double x) { return x * std::clamp(x + 3, 0.0, 6.0) / 6; }

void ExpectNear(const Vec& actual, const Vec& expected, double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tolerance) << "element " << i;
}

TEST(EfficientNetDepthwise, PadsStridedConvolutionsOnlyAtTheBottomRightUnlessSquare) {
  // Kernel 5 on a 7 x 7 map: adjust pads (1, 1, 2, 2) and gives (7 + 3 - 5) / 2 + 1 = 3 x 3;
  // square pads 2 all round and gives 4 x 4; stride 1 pads "same".
  const int64_t c = 2, h = 7, k = 5;
  const Map x{Ramp(c * h * h), c, h, h};
  struct Case {
    int64_t stride;
    bool adjust;
    int64_t top, bottom, side;
  };
  for (const Case& t : {Case{2, true, 1, 2, 3}, Case{2, false, 2, 2, 4}, Case{1, true, 2, 2, 7}}) {
    PieceRun run({1, c, h, h}, x.v, {1, c, t.side, t.side}, [&](models::GraphBuilder& g) {
      return models::EfficientNetDepthwiseConv(g, "x", "dw", c, k, t.stride, t.adjust);
    });
    const Map want =
        Conv(x, run.W("dw.weight"), nullptr, c, k, t.stride, {t.top, t.top, t.bottom, t.bottom}, c);
    EXPECT_EQ(want.h, t.side);
    ExpectNear(run.y, want.v, 1e-5);
  }
}

TEST(SqueezeExcitation, ScalesEachChannelByTheGateOfItsReducedMean) {
  const int64_t c = 4, se = 2, h = 3;
  const Map x{Ramp(c * h * h), c, h, h};
  struct Case {
    const char* act;
    const char* gate;
  };
  for (const Case& t : {Case{"swish", "sigmoid"}, Case{"relu", "hardsigmoid"}}) {
    PieceRun run({1, c, h, h}, x.v, {1, c, h, h}, [&](models::GraphBuilder& g) {
      return models::SqueezeExcitation(g, "x", "se.reduce", "se.expand", c, se, t.act, t.gate);
    });
    const Vec &rw = run.W("se.reduce.weight"), &rb = run.W("se.reduce.bias");
    const Vec &ew = run.W("se.expand.weight"), &eb = run.W("se.expand.bias");
    Vec mean(c, 0.0), reduced(se, 0.0), want(c * h * h);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < h * h; ++i) mean[ch] += x.v[ch * h * h + i] / (h * h);
    for (int64_t r = 0; r < se; ++r) {
      double z = rb[r];
      for (int64_t ch = 0; ch < c; ++ch) z += rw[r * c + ch] * mean[ch];
      reduced[r] = std::string(t.act) == "swish" ? z / (1 + std::exp(-z)) : std::max(z, 0.0);
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      double z = eb[ch];
      for (int64_t r = 0; r < se; ++r) z += ew[ch * se + r] * reduced[r];
      const double gate = std::string(t.gate) == "sigmoid" ? 1 / (1 + std::exp(-z))
                                                           : std::clamp(z + 3, 0.0, 6.0) / 6;
      for (int64_t i = 0; i < h * h; ++i) want[ch * h * h + i] = x.v[ch * h * h + i] * gate;
    }
    ExpectNear(run.y, want, 1e-5);
  }
}

TEST(HgNetV2ConvLayer, AppliesTheLearnableAffineBlockAfterTheActivationOnly) {
  const int64_t in = 2, out = 3, h = 5, k = 3;
  const Map x{Ramp(in * h * h), in, h, h};
  for (const bool activated : {true, false}) {
    PieceRun run({1, in, h, h}, x.v, {1, out, 3, 3}, [&](models::GraphBuilder& g) {
      return models::HgNetV2ConvLayer(g, "x", "layer", in, out, k, 2, 1, activated ? "relu" : "",
                                      true);
    });
    Map want = BatchNorm(
        run, Conv(x, run.W("layer.convolution.weight"), nullptr, out, k, 2, {1, 1, 1, 1}, 1),
        "layer.normalization");
    if (activated) {
      const double scale = run.W("layer.lab.scale")[0], bias = run.W("layer.lab.bias")[0];
      want = Apply(want, [&](double v) { return std::max(v, 0.0) * scale + bias; });
    } else {
      EXPECT_EQ(run.weights.count("layer.lab.scale"), 0u);  // HF: nn.Identity without activation
    }
    ExpectNear(run.y, want.v, 1e-5);
  }
}

TEST(LearnableRepLayer, SumsItsBranchesAndActivatesOnlyWhenNotStrided) {
  // Depthwise 3x3 over 4 channels with 2 k x k branches: stride 1 adds the identity BatchNorm and
  // ends in hardswish and the activation's affine block; stride 2 has neither.
  const int64_t c = 4, h = 5, k = 3;
  const Map x{Ramp(c * h * h), c, h, h};
  for (const int64_t stride : {1, 2}) {
    const int64_t side = (h - 1) / stride + 1;
    PieceRun run({1, c, h, h}, x.v, {1, c, side, side}, [&](models::GraphBuilder& g) {
      return models::LearnableRepLayer(g, "x", "rep", c, c, k, stride, c, 2, "hardswish");
    });
    auto branch = [&](const std::string& p, int64_t kernel) {
      const int64_t pad = kernel / 2;
      return BatchNorm(run,
                       Conv(x, run.W(p + ".convolution.weight"), nullptr, c, kernel, stride,
                            {pad, pad, pad, pad}, c),
                       p + ".normalization");
    };
    Map sum = branch("rep.conv_1x1", 1);
    for (const char* p : {"rep.conv_kxk.0", "rep.conv_kxk.1"}) {
      const Map b = branch(p, k);
      for (size_t i = 0; i < sum.v.size(); ++i) sum.v[i] += b.v[i];
    }
    if (stride == 1) {
      const Map id = BatchNorm(run, x, "rep.identity");
      for (size_t i = 0; i < sum.v.size(); ++i) sum.v[i] += id.v[i];
    } else {
      EXPECT_EQ(run.weights.count("rep.identity.weight"), 0u);
    }
    const double s1 = run.W("rep.lab.scale")[0], b1 = run.W("rep.lab.bias")[0];
    sum = Apply(sum, [&](double v) { return v * s1 + b1; });
    if (stride == 1) {
      const double s2 = run.W("rep.act.lab.scale")[0], b2 = run.W("rep.act.lab.bias")[0];
      sum = Apply(sum, [&](double v) { return HardSwish(v) * s2 + b2; });
    }
    ExpectNear(run.y, sum.v, 1e-4);
  }
}

TEST(RtDetrResNetLayer, AveragesTheShortcutOverCeilWindowsBeforeProjecting) {
  // A basic stage's first layer, 2 -> 3 channels at stride 2 on a 5 x 5 map: the shortcut
  // averages 2 x 2 windows (the last row and column alone: ceil mode, padding not counted), then
  // a 1x1 conv and BatchNorm; the path is two 3x3 conv-BatchNorm layers (ReLU between).
  const int64_t in = 2, out = 3, h = 5;
  const Map x{Ramp(in * h * h), in, h, h};
  const models::RtDetrResNetLayerSpec spec{in, out, 2, true, false, false};
  PieceRun run({1, in, h, h}, x.v, {1, out, 3, 3}, [&](models::GraphBuilder& g) {
    return models::RtDetrResNetLayer(g, "x", "l.", spec, "relu");
  });
  Map pooled{{}, in, 3, 3};
  pooled.v.assign(in * 9, 0.0);
  for (int64_t c = 0; c < in; ++c)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        double sum = 0;
        int64_t n = 0;
        for (int64_t a = 2 * i; a < std::min<int64_t>(2 * i + 2, h); ++a)
          for (int64_t b = 2 * j; b < std::min<int64_t>(2 * j + 2, h); ++b, ++n)
            sum += x.at(c, a, b);
        pooled.at(c, i, j) = sum / static_cast<double>(n);
      }
  const Map shortcut = BatchNorm(
      run,
      Conv(pooled, run.W("l.shortcut.1.convolution.weight"), nullptr, out, 1, 1, {0, 0, 0, 0}, 1),
      "l.shortcut.1.normalization");
  Map path = BatchNorm(
      run, Conv(x, run.W("l.layer.0.convolution.weight"), nullptr, out, 3, 2, {1, 1, 1, 1}, 1),
      "l.layer.0.normalization");
  path = Apply(path, [](double v) { return std::max(v, 0.0); });
  path = BatchNorm(
      run, Conv(path, run.W("l.layer.1.convolution.weight"), nullptr, out, 3, 1, {1, 1, 1, 1}, 1),
      "l.layer.1.normalization");
  for (size_t i = 0; i < path.v.size(); ++i) path.v[i] = std::max(path.v[i] + shortcut.v[i], 0.0);
  ExpectNear(run.y, path.v, 1e-5);
}

TEST(LevitBiasIndices, NumbersOffsetsInTheOrderTheyAreFirstMet) {
  int64_t count = 0;
  // 2 x 2 grid: query (0, 0) meets offsets (0,0) (0,1) (1,0) (1,1) = 0..3; query (0, 1) sees
  // keys at (0,1) (0,0) (1,1) (1,0) of it.
  const std::vector<int64_t> same = models::LevitBiasIndices(2, 2, 1, count);
  EXPECT_EQ(count, 4);
  EXPECT_EQ(same, (std::vector<int64_t>{0, 1, 2, 3, 1, 0, 3, 2, 2, 3, 0, 1, 3, 2, 1, 0}));
  // 3 x 3 keys, 2 x 2 queries at stride 2 (grid points (0,0) (0,2) (2,0) (2,2)): offsets 0..2 per
  // axis, 9 in all; query (0, 2) meets key (0, 0) at offset (0, 2), numbered 2.
  const std::vector<int64_t> sub = models::LevitBiasIndices(3, 2, 2, count);
  EXPECT_EQ(count, 9);
  ASSERT_EQ(sub.size(), 36u);
  EXPECT_EQ(std::vector<int64_t>(sub.begin(), sub.begin() + 9),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(sub[9], 2);
  EXPECT_EQ(sub[35], 0);  // query (2, 2), key (2, 2)
}

// LinearBatchNorm in double: x [n, in] -> [n, out] (the graph stores the Linear weight
// transposed, [in, out], for MatMul).
Vec LinearBn(const PieceRun& run, const Vec& x, int64_t n, int64_t in, int64_t out,
             const std::string& p) {
  const Vec& w = run.W(p + ".linear.weight");
  const std::string b = p + ".batch_norm.";
  Vec y(n * out);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t o = 0; o < out; ++o) {
      double z = 0;
      for (int64_t i = 0; i < in; ++i) z += x[t * in + i] * w[i * out + o];
      y[t * out + o] = (z - run.W(b + "running_mean")[o]) /
                           std::sqrt(run.W(b + "running_var")[o] + 1e-5) * run.W(b + "weight")[o] +
                       run.W(b + "bias")[o];
    }
  return y;
}

TEST(LevitAttention, AddsItsOffsetBiasesToScaledScoresAndSubsamplesQueries) {
  const int64_t dim = 4, kd = 2, heads = 2, ratio = 2, out_dim = 6, vd = ratio * kd;
  for (const int64_t stride : {1, 2}) {
    const int64_t res = 3, res_out = (res - 1) / stride + 1, n = res * res, nq = res_out * res_out;
    const Vec x = Ramp(n * dim);
    const models::LevitAttentionSpec spec{dim, out_dim, kd, heads, ratio, res, stride};
    PieceRun run({1, n, dim}, x, {1, nq, out_dim}, [&](models::GraphBuilder& g) {
      return models::LevitAttention(g, "x", "a.", spec);
    });
    // Per head h and token t: q, k, v rows; fused layouts are per head [q | k | v] / [k | v].
    Vec q(heads * nq * kd), k(heads * n * kd), v(heads * n * vd);
    if (stride == 1) {
      const int64_t w = 2 * kd + vd;
      const Vec qkv = LinearBn(run, x, n, dim, heads * w, "a.queries_keys_values");
      for (int64_t t = 0; t < n; ++t)
        for (int64_t hd = 0; hd < heads; ++hd) {
          for (int64_t d = 0; d < kd; ++d) {
            q[(hd * n + t) * kd + d] = qkv[t * heads * w + hd * w + d];
            k[(hd * n + t) * kd + d] = qkv[t * heads * w + hd * w + kd + d];
          }
          for (int64_t d = 0; d < vd; ++d)
            v[(hd * n + t) * vd + d] = qkv[t * heads * w + hd * w + 2 * kd + d];
        }
    } else {
      const int64_t w = kd + vd;
      const Vec kv = LinearBn(run, x, n, dim, heads * w, "a.keys_values");
      for (int64_t t = 0; t < n; ++t)
        for (int64_t hd = 0; hd < heads; ++hd) {
          for (int64_t d = 0; d < kd; ++d)
            k[(hd * n + t) * kd + d] = kv[t * heads * w + hd * w + d];
          for (int64_t d = 0; d < vd; ++d)
            v[(hd * n + t) * vd + d] = kv[t * heads * w + hd * w + kd + d];
        }
      Vec sub;  // rows and columns 0, 2 of the 3 x 3 grid
      for (int64_t r = 0; r < res; r += stride)
        for (int64_t c = 0; c < res; c += stride)
          sub.insert(sub.end(), x.begin() + (r * res + c) * dim,
                     x.begin() + (r * res + c + 1) * dim);
      const Vec qs = LinearBn(run, sub, nq, dim, heads * kd, "a.queries");
      for (int64_t t = 0; t < nq; ++t)
        for (int64_t hd = 0; hd < heads; ++hd)
          for (int64_t d = 0; d < kd; ++d)
            q[(hd * nq + t) * kd + d] = qs[t * heads * kd + hd * kd + d];
    }
    int64_t offsets = 0;
    const std::vector<int64_t> idx = models::LevitBiasIndices(res, res_out, stride, offsets);
    const Vec& table = run.W("a.attention_biases");
    Vec mixed(nq * heads * vd, 0.0);
    for (int64_t hd = 0; hd < heads; ++hd)
      for (int64_t i = 0; i < nq; ++i) {
        Vec s(n);
        double top = -1e300, sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < kd; ++d)
            dot += q[(hd * nq + i) * kd + d] * k[(hd * n + j) * kd + d];
          s[j] = dot / std::sqrt(static_cast<double>(kd)) + table[hd * offsets + idx[i * n + j]];
          top = std::max(top, s[j]);
        }
        for (double& e : s) sum += (e = std::exp(e - top));
        for (int64_t j = 0; j < n; ++j)
          for (int64_t d = 0; d < vd; ++d)
            mixed[i * heads * vd + hd * vd + d] += s[j] / sum * v[(hd * n + j) * vd + d];
      }
    for (double& e : mixed) e = HardSwish(e);
    ExpectNear(run.y, LinearBn(run, mixed, nq, heads * vd, out_dim, "a.projection"), 1e-5);
  }
}

TEST(SwiftFormerAttention, MixesKeysWithTheSumOfNormalisedQueries) {
  // HF's softmax runs over a last axis of size 1, so every query weight is 1 and the global query
  // is the plain sum of the L2-normalised queries (w_g is a parameter that cannot matter).
  const int64_t n = 5, dim = 4;
  const Vec x = Ramp(n * dim);
  PieceRun run({1, n, dim}, x, {1, n, dim}, [&](models::GraphBuilder& g) {
    return models::SwiftFormerAttention(g, "x", "attn", dim);
  });
  auto linear = [&](const Vec& in, const std::string& p) {  // weights stored [in, out]
    Vec out(n * dim);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t o = 0; o < dim; ++o) {
        double z = run.W(p + ".bias")[o];
        for (int64_t i = 0; i < dim; ++i) z += in[t * dim + i] * run.W(p + ".weight")[i * dim + o];
        out[t * dim + o] = z;
      }
    return out;
  };
  auto normalize = [&](Vec v) {
    for (int64_t t = 0; t < n; ++t) {
      double norm = 0;
      for (int64_t i = 0; i < dim; ++i) norm += v[t * dim + i] * v[t * dim + i];
      for (int64_t i = 0; i < dim; ++i) v[t * dim + i] /= std::max(std::sqrt(norm), 1e-12);
    }
    return v;
  };
  const Vec q = normalize(linear(x, "attn.to_query")), k = normalize(linear(x, "attn.to_key"));
  Vec global(dim, 0.0), mixed(n * dim);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < dim; ++i) global[i] += q[t * dim + i];
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < dim; ++i) mixed[t * dim + i] = global[i] * k[t * dim + i];
  Vec out = linear(mixed, "attn.proj");
  for (size_t i = 0; i < out.size(); ++i) out[i] += q[i];
  ExpectNear(run.y, linear(out, "attn.final"), 1e-5);
}

TEST(CvtAttention, ProjectsByDepthwiseConvsAndJoinsTheClassTokenAfterThem) {
  // A 3 x 3 grid of 4 channels behind a class token, 2 heads; queries keep the grid (stride 1),
  // keys and values are strided to 2 x 2; the scale is dim^-0.5, not head_dim^-0.5.
  const int64_t dim = 4, heads = 2, side = 3, n = 1 + side * side;
  const Vec x = Ramp(n * dim);
  const models::CvtAttentionSpec spec{dim, heads, 3, 1, 1, 1, 2, true, true};
  PieceRun run({1, n, dim}, x, {1, n, dim}, [&](models::GraphBuilder& g) {
    const std::string shape = g.ConstInt64({1, dim, side, side});
    return models::CvtAttention(g, "x", shape, "a.", spec);
  });
  Map grid{Vec(dim * side * side), dim, side, side};  // tokens 1.. as [dim, h, w]
  for (int64_t t = 0; t < side * side; ++t)
    for (int64_t c = 0; c < dim; ++c) grid.v[c * side * side + t] = x[(1 + t) * dim + c];
  auto project = [&](const std::string& name, int64_t stride) {
    const std::string p = "a.attention.convolution_projection_" + name + ".convolution_projection";
    const Map m = BatchNorm(
        run,
        Conv(grid, run.W(p + ".convolution.weight"), nullptr, dim, 3, stride, {1, 1, 1, 1}, dim),
        p + ".normalization");
    const int64_t tokens = 1 + m.h * m.w;
    Vec t(tokens * dim), out(tokens * dim);
    for (int64_t c = 0; c < dim; ++c) t[c] = x[c];  // the class token first
    for (int64_t i = 0; i < m.h * m.w; ++i)
      for (int64_t c = 0; c < dim; ++c) t[(1 + i) * dim + c] = m.v[c * m.h * m.w + i];
    const std::string l = "a.attention.projection_" + name;
    for (int64_t i = 0; i < tokens; ++i)
      for (int64_t o = 0; o < dim; ++o) {
        double z = run.W(l + ".bias")[o];
        for (int64_t c = 0; c < dim; ++c) z += t[i * dim + c] * run.W(l + ".weight")[c * dim + o];
        out[i * dim + o] = z;
      }
    return out;
  };
  const Vec q = project("query", 1), k = project("key", 2), v = project("value", 2);
  const int64_t nk = 1 + 2 * 2;
  const Vec context = testing::Attention(q, n, k, v, nk, dim, heads, {}, nullptr, dim);
  Vec want(n * dim);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < dim; ++o) {
      double z = run.W("a.output.dense.bias")[o];
      for (int64_t c = 0; c < dim; ++c)
        z += context[i * dim + c] * run.W("a.output.dense.weight")[c * dim + o];
      want[i * dim + o] = z;
    }
  ExpectNear(run.y, want, 1e-5);
}

// LayerNorm over the last axis of x [n, c] in double.
Vec LayerNormRows(const PieceRun& run, const Vec& x, int64_t n, int64_t c, const std::string& p,
                  double eps) {
  Vec y(n * c);
  for (int64_t t = 0; t < n; ++t) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < c; ++i) mean += x[t * c + i] / c;
    for (int64_t i = 0; i < c; ++i) var += (x[t * c + i] - mean) * (x[t * c + i] - mean) / c;
    for (int64_t i = 0; i < c; ++i)
      y[t * c + i] = (x[t * c + i] - mean) / std::sqrt(var + eps) * run.W(p + ".weight")[i] +
                     run.W(p + ".bias")[i];
  }
  return y;
}

// A biased Linear in double over x [n, in] (weights stored [in, out]).
Vec LinearRows(const PieceRun& run, const Vec& x, int64_t n, int64_t in, int64_t out,
               const std::string& p) {
  Vec y(n * out);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t o = 0; o < out; ++o) {
      double z = run.W(p + ".bias")[o];
      for (int64_t i = 0; i < in; ++i) z += x[t * in + i] * run.W(p + ".weight")[i * out + o];
      y[t * out + o] = z;
    }
  return y;
}

TEST(PvtLayer, ReducesKeysAndValuesByAStridedConvBeforeAttending) {
  // A 4 x 4 grid of 4 channels, 2 heads, sr 2: 16 queries attend to 4 reduced tokens; then the
  // plain dense MLP (no depthwise conv, unlike PVTv2).
  const int64_t c = 4, heads = 2, side = 4, n = side * side, inner = 8;
  const double eps = 1e-6;
  const Vec x = Ramp(n * c);
  const models::PvtLayerSpec spec{c, heads, 2, side, inner, eps, "relu", true};
  PieceRun run({1, n, c}, x, {1, n, c},
               [&](models::GraphBuilder& g) { return models::PvtLayer(g, "x", "l.", spec); });
  const std::string a = "l.attention.self.";
  const Vec normed = LayerNormRows(run, x, n, c, "l.layer_norm_1", eps);
  Map grid{Vec(c * n), c, side, side};
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < c; ++i) grid.v[i * n + t] = normed[t * c + i];
  const Vec& srb = run.W(a + "sr.bias");
  const Map reduced = Conv(grid, run.W(a + "sr.weight"), &srb, c, 2, 2, {0, 0, 0, 0}, 1);
  const int64_t nk = reduced.h * reduced.w;
  Vec kv(nk * c);
  for (int64_t t = 0; t < nk; ++t)
    for (int64_t i = 0; i < c; ++i) kv[t * c + i] = reduced.v[i * nk + t];
  kv = LayerNormRows(run, kv, nk, c, a + "layer_norm", eps);
  const Vec q = LinearRows(run, normed, n, c, c, a + "query");
  const Vec k = LinearRows(run, kv, nk, c, c, a + "key"),
            v = LinearRows(run, kv, nk, c, c, a + "value");
  const Vec context = testing::Attention(q, n, k, v, nk, c, heads);
  Vec h = LinearRows(run, context, n, c, c, "l.attention.output.dense");
  for (size_t i = 0; i < h.size(); ++i) h[i] += x[i];
  Vec m = LinearRows(run, LayerNormRows(run, h, n, c, "l.layer_norm_2", eps), n, c, inner,
                     "l.mlp.dense1");
  for (double& e : m) e = std::max(e, 0.0);
  m = LinearRows(run, m, n, inner, c, "l.mlp.dense2");
  for (size_t i = 0; i < m.size(); ++i) m[i] += h[i];
  ExpectNear(run.y, m, 1e-4);
}

TEST(MakeDivisible, RoundsEfficientNetWidthsAsRoundFiltersDoes) {
  // B7 (width 2.0): 32 -> 64, 1280 -> 2560; B0: 1280 stays; B2 (1.1): 1280 -> 1408
  // (int(1408 + 4) // 8 * 8); 0.25 of 16 is 4, lifted to the divisor 8.
  EXPECT_EQ(models::MakeDivisible(32 * 2.0, 8, 8), 64);
  EXPECT_EQ(models::MakeDivisible(1280 * 2.0, 8, 8), 2560);
  EXPECT_EQ(models::MakeDivisible(1280 * 1.0, 8, 8), 1280);
  EXPECT_EQ(models::MakeDivisible(1280 * 1.1, 8, 8), 1408);
  EXPECT_EQ(models::MakeDivisible(16 * 0.25, 8, 8), 8);
  // 40 x 1.4 = 56 exactly; 112 x 1.4 = 156.8 -> int(160.8) // 8 * 8 = 160
  EXPECT_EQ(models::MakeDivisible(40 * 1.4, 8, 8), 56);
  EXPECT_EQ(models::MakeDivisible(112 * 1.4, 8, 8), 160);
}

}  // namespace conv_pieces_test
}  // namespace ipfs_accel::harness
