// Runs the Wav2Vec2Model / HubertModel graphs on ONNX Runtime.
//  - The hf-tiny wav2vec2 fixture (feat_extract_norm "group", post-norm) against the outputs
//    transformers returned.
//  - The options the fixture does not exercise (feat_extract_norm "layer" with the attention
//    mask, do_stable_layer_norm, conv_bias, odd positional kernels, HuBERT without
//    feat_proj_layer_norm, the adapters) against a double-precision reference forward written
//    out here from transformers' modules, on tiny checkpoints this test writes under HF's
//    parameter names with seeded values. The reference is first checked against the fixture.
//  - Checkpoint forms: a task head's prefix ("wav2vec2.", "hubert.") and the pre-5.x weight-norm
//    names weight_g / weight_v.
//  - A property of the mask: a padded row's real frames equal the unpadded row's.

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

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace wav2vec2_verify_test {

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::TempDir;
using json = nlohmann::json;
using TensorMap = std::map<std::string, Tensor>;
using Vec = std::vector<double>;

const fs::path kFixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/wav2vec2";
constexpr double kTolerance = 1e-4;

// ---- the reference: transformers' modules written out in double precision ----

struct RefConfig {
  std::string model_type = "wav2vec2";
  std::vector<int64_t> conv_dim = {16, 16, 12}, conv_kernel = {10, 3, 3}, conv_stride = {5, 2, 2};
  bool conv_bias = false;
  std::string feat_extract_norm = "group", feat_act = "gelu", hidden_act = "gelu";
  bool feat_proj_layer_norm = true;  // read by HuBERT only
  int64_t hidden = 16, heads = 2, intermediate = 24, layers = 2, pos_kernel = 8, pos_groups = 2;
  double eps = 1e-5;
  bool stable = false;
  double mask_time_prob = 0.05;
  bool add_adapter = false;
  int64_t output_hidden = 16, adapter_kernel = 3, adapter_stride = 2, adapter_layers = 3;
  int64_t attn_adapter = 0;

  bool hubert() const { return model_type == "hubert"; }
  bool layer_norm_convs() const { return feat_extract_norm == "layer"; }
  bool projection_norm() const { return !hubert() || feat_proj_layer_norm; }
  bool adapter() const { return add_adapter && !hubert(); }

  json ToJson() const {
    json j = {{"model_type", model_type},
              {"conv_dim", conv_dim},
              {"conv_kernel", conv_kernel},
              {"conv_stride", conv_stride},
              {"conv_bias", conv_bias},
              {"feat_extract_norm", feat_extract_norm},
              {"feat_extract_activation", feat_act},
              {"hidden_act", hidden_act},
              {"hidden_size", hidden},
              {"num_attention_heads", heads},
              {"intermediate_size", intermediate},
              {"num_hidden_layers", layers},
              {"num_conv_pos_embeddings", pos_kernel},
              {"num_conv_pos_embedding_groups", pos_groups},
              {"layer_norm_eps", eps},
              {"do_stable_layer_norm", stable},
              {"mask_time_prob", mask_time_prob},
              {"add_adapter", add_adapter},
              {"output_hidden_size", output_hidden},
              {"adapter_kernel_size", adapter_kernel},
              {"adapter_stride", adapter_stride},
              {"num_adapter_layers", adapter_layers},
              {"adapter_attn_dim", attn_adapter > 0 ? json(attn_adapter) : json(nullptr)}};
    if (hubert()) j["feat_proj_layer_norm"] = feat_proj_layer_norm;
    return j;
  }
};

// Reads the keys the reference needs from a saved config.json (the fixture's).
RefConfig FromSavedConfig(const json& j) {
  RefConfig c;
  c.model_type = j.at("model_type");
  c.conv_dim = j.at("conv_dim").get<std::vector<int64_t>>();
  c.conv_kernel = j.at("conv_kernel").get<std::vector<int64_t>>();
  c.conv_stride = j.at("conv_stride").get<std::vector<int64_t>>();
  c.conv_bias = j.at("conv_bias");
  c.feat_extract_norm = j.at("feat_extract_norm");
  c.feat_act = j.at("feat_extract_activation");
  c.hidden_act = j.at("hidden_act");
  c.hidden = j.at("hidden_size");
  c.heads = j.at("num_attention_heads");
  c.intermediate = j.at("intermediate_size");
  c.layers = j.at("num_hidden_layers");
  c.pos_kernel = j.at("num_conv_pos_embeddings");
  c.pos_groups = j.at("num_conv_pos_embedding_groups");
  c.eps = j.at("layer_norm_eps");
  c.stable = j.at("do_stable_layer_norm");
  c.mask_time_prob = j.at("mask_time_prob");
  c.add_adapter = j.at("add_adapter");
  return c;
}

using Shapes = std::map<std::string, core::Shape>;
using Weights = std::map<std::string, Vec>;

// The base model's state dict, as transformers 5.x names it: name -> shape.
Shapes StateDictShapes(const RefConfig& c) {
  Shapes m;
  auto linear = [&](const std::string& p, int64_t in, int64_t out) {
    m[p + ".weight"] = {out, in};
    m[p + ".bias"] = {out};
  };
  auto norm = [&](const std::string& p, int64_t n) {
    m[p + ".weight"] = {n};
    m[p + ".bias"] = {n};
  };
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    const int64_t in = i == 0 ? 1 : c.conv_dim[i - 1];
    m[p + ".conv.weight"] = {c.conv_dim[i], in, c.conv_kernel[i]};
    if (c.conv_bias) m[p + ".conv.bias"] = {c.conv_dim[i]};
    if (c.layer_norm_convs() || i == 0) norm(p + ".layer_norm", c.conv_dim[i]);
  }
  if (c.projection_norm()) norm("feature_projection.layer_norm", c.conv_dim.back());
  linear("feature_projection.projection", c.conv_dim.back(), c.hidden);
  if (c.mask_time_prob > 0) m["masked_spec_embed"] = {c.hidden};
  m["encoder.pos_conv_embed.conv.parametrizations.weight.original0"] = {1, 1, c.pos_kernel};
  m["encoder.pos_conv_embed.conv.parametrizations.weight.original1"] = {
      c.hidden, c.hidden / c.pos_groups, c.pos_kernel};
  m["encoder.pos_conv_embed.conv.bias"] = {c.hidden};
  norm("encoder.layer_norm", c.hidden);
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
      linear(p + "attention." + proj, c.hidden, c.hidden);
    norm(p + "layer_norm", c.hidden);
    linear(p + "feed_forward.intermediate_dense", c.hidden, c.intermediate);
    linear(p + "feed_forward.output_dense", c.intermediate, c.hidden);
    norm(p + "final_layer_norm", c.hidden);
    if (c.stable && c.attn_adapter > 0) {
      norm(p + "adapter_layer.norm", c.hidden);
      linear(p + "adapter_layer.linear_1", c.hidden, c.attn_adapter);
      linear(p + "adapter_layer.linear_2", c.attn_adapter, c.hidden);
    }
  }
  if (c.adapter()) {
    if (c.output_hidden != c.hidden) {
      linear("adapter.proj", c.hidden, c.output_hidden);
      norm("adapter.proj_layer_norm", c.output_hidden);
    }
    for (int64_t l = 0; l < c.adapter_layers; ++l) {
      const std::string p = "adapter.layers." + std::to_string(l) + ".conv";
      m[p + ".weight"] = {2 * c.output_hidden, c.output_hidden, c.adapter_kernel};
      m[p + ".bias"] = {2 * c.output_hidden};
    }
  }
  return m;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Seeded float32 values (held as doubles, so the reference sees exactly what the graph reads):
// norm gains near 1, weight-norm magnitudes positive, the rest small.
Weights SeededWeights(const Shapes& shapes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Weights w;
  for (const auto& [name, shape] : shapes) {
    Vec v(static_cast<size_t>(core::ElementCount(shape)));
    const bool gain = EndsWith(name, "norm.weight");
    const bool magnitude = EndsWith(name, "original0");
    for (auto& x : v) {
      const float n = normal(rng);
      x = gain ? 1.0f + 0.1f * n : magnitude ? 0.5f + 0.25f * std::fabs(n) : 0.2f * n;
    }
    w[name] = v;
  }
  return w;
}

Tensor FloatTensor(const core::Shape& shape, const Vec& values) {
  Tensor t = Tensor::Zeros(DType::kFloat32, shape);
  auto out = t.values<float>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<float>(values[i]);
  return t;
}

// Writes config.json and model.safetensors; `prefix` before every name (a task head's base
// model attribute), and the pre-5.x weight-norm names when `legacy_weight_norm`.
void WriteCheckpoint(const fs::path& dir, const RefConfig& c, const Weights& w,
                     const std::string& prefix = "", bool legacy_weight_norm = false) {
  const Shapes shapes = StateDictShapes(c);
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, values] : w) {
    std::string saved = name;
    if (legacy_weight_norm) {
      if (EndsWith(name, "parametrizations.weight.original0"))
        saved = "encoder.pos_conv_embed.conv.weight_g";
      if (EndsWith(name, "parametrizations.weight.original1"))
        saved = "encoder.pos_conv_embed.conv.weight_v";
    }
    tensors[prefix + saved] = FloatTensor(shapes.at(name), values);
  }
  if (!prefix.empty())  // a CTC head beside the base model, as Wav2Vec2ForCTC saves it
    tensors["lm_head.weight"] = FloatTensor({32, c.hidden}, Vec(32 * c.hidden, 0.1));
  fs::create_directories(dir);
  models::WriteSafetensors((dir / "model.safetensors").string(), tensors);
  std::ofstream(dir / "config.json") << c.ToJson().dump(2);
}

double Act(const std::string& name, double x) {
  if (name == "gelu") return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  if (name == "relu") return std::max(x, 0.0);
  ADD_FAILURE() << "the reference lacks activation " << name;
  return x;
}

// Conv1d over x [cin, length] with weight [cout, cin / groups, k]: [cout, out_length].
Vec Conv(const Vec& x, int64_t cin, int64_t length, const Vec& weight, const Vec* bias,
         int64_t cout, int64_t k, int64_t stride, int64_t pad, int64_t groups,
         int64_t* out_length) {
  const int64_t n = (length + 2 * pad - k) / stride + 1, per_group_in = cin / groups,
                per_group_out = cout / groups;
  Vec y(static_cast<size_t>(cout * n));
  for (int64_t o = 0; o < cout; ++o) {
    const int64_t first_in = (o / per_group_out) * per_group_in;
    for (int64_t t = 0; t < n; ++t) {
      double acc = bias ? (*bias)[o] : 0.0;
      for (int64_t i = 0; i < per_group_in; ++i)
        for (int64_t j = 0; j < k; ++j) {
          const int64_t src = t * stride + j - pad;
          if (src >= 0 && src < length)
            acc += weight[(o * per_group_in + i) * k + j] * x[(first_in + i) * length + src];
        }
      y[o * n + t] = acc;
    }
  }
  *out_length = n;
  return y;
}

Vec Transpose2(const Vec& x, int64_t rows, int64_t cols) {
  Vec y(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c * rows + r] = x[r * cols + c];
  return y;
}

// Rows of x [rows, width] normalised over the width.
void LayerNormRows(Vec& x, int64_t rows, int64_t width, const Vec& gain, const Vec& shift,
                   double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < width; ++c) mean += x[r * width + c];
    mean /= static_cast<double>(width);
    for (int64_t c = 0; c < width; ++c) var += std::pow(x[r * width + c] - mean, 2);
    var /= static_cast<double>(width);
    for (int64_t c = 0; c < width; ++c)
      x[r * width + c] = (x[r * width + c] - mean) / std::sqrt(var + eps) * gain[c] + shift[c];
  }
}

// x [rows, in] W^T + b with W [out, in].
Vec LinearRef(const Vec& x, int64_t rows, int64_t in, int64_t out, const Weights& w,
              const std::string& p) {
  const Vec& weight = w.at(p + ".weight");
  const Vec& bias = w.at(p + ".bias");
  Vec y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias[o];
      for (int64_t i = 0; i < in; ++i) acc += x[r * in + i] * weight[o * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

Vec Norm(Vec x, int64_t rows, int64_t width, const Weights& w, const std::string& p, double eps) {
  LayerNormRows(x, rows, width, w.at(p + ".weight"), w.at(p + ".bias"), eps);
  return x;
}

Vec Add(Vec a, const Vec& b) {
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

// Eager attention over x [t, hidden]; keys at or past `valid` frames get float32's lowest.
Vec Attention(const RefConfig& c, const Vec& x, int64_t t, int64_t valid, const Weights& w,
              const std::string& p) {
  const int64_t h = c.hidden, d = h / c.heads;
  const Vec q = LinearRef(x, t, h, h, w, p + "q_proj");
  const Vec k = LinearRef(x, t, h, h, w, p + "k_proj");
  const Vec v = LinearRef(x, t, h, h, w, p + "v_proj");
  Vec ctx(static_cast<size_t>(t * h), 0.0);
  for (int64_t head = 0; head < c.heads; ++head)
    for (int64_t i = 0; i < t; ++i) {
      Vec score(static_cast<size_t>(t));
      for (int64_t j = 0; j < t; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < d; ++e) dot += q[i * h + head * d + e] * k[j * h + head * d + e];
        score[j] = dot / std::sqrt(static_cast<double>(d)) +
                   (j < valid ? 0.0 : std::numeric_limits<float>::lowest());
      }
      const double top = *std::max_element(score.begin(), score.end());
      double sum = 0;
      for (auto& s : score) sum += (s = std::exp(s - top));
      for (int64_t j = 0; j < t; ++j)
        for (int64_t e = 0; e < d; ++e)
          ctx[i * h + head * d + e] += score[j] / sum * v[j * h + head * d + e];
    }
  return LinearRef(ctx, t, h, h, w, p + "out_proj");
}

Vec FeedForward(const RefConfig& c, const Vec& x, int64_t t, const Weights& w,
                const std::string& p) {
  Vec y = LinearRef(x, t, c.hidden, c.intermediate, w, p + "intermediate_dense");
  for (auto& v : y) v = Act(c.hidden_act, v);
  return LinearRef(y, t, c.intermediate, c.hidden, w, p + "output_dense");
}

struct RefOutput {
  Vec hidden, features;  // [t_out, width_out], [t, conv_dim[-1]]
  int64_t t = 0, t_out = 0, width_out = 0;
};

// One row of Wav2Vec2Model / HubertModel in eval mode; `real_samples` < samples.size() only with
// an attention mask (the "layer" models).
RefOutput Forward(const RefConfig& c, const Weights& w, const Vec& samples, int64_t real_samples) {
  // Wav2Vec2FeatureEncoder
  Vec x = samples;
  int64_t length = static_cast<int64_t>(samples.size()), channels = 1;
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    const int64_t out = c.conv_dim[i];
    int64_t n = 0;
    x = Conv(x, channels, length, w.at(p + ".conv.weight"),
             c.conv_bias ? &w.at(p + ".conv.bias") : nullptr, out, c.conv_kernel[i],
             c.conv_stride[i], 0, 1, &n);
    if (c.layer_norm_convs()) {  // LayerNorm over channels at each time step
      x = Transpose2(Norm(Transpose2(x, out, n), n, out, w, p + ".layer_norm", 1e-5), n, out);
    } else if (i == 0) {  // GroupNorm, one group per channel: each channel over time
      const Vec& gain = w.at(p + ".layer_norm.weight");
      const Vec& shift = w.at(p + ".layer_norm.bias");
      for (int64_t ch = 0; ch < out; ++ch) {
        Vec row(x.begin() + ch * n, x.begin() + (ch + 1) * n);
        LayerNormRows(row, 1, n, Vec(n, gain[ch]), Vec(n, shift[ch]), 1e-5);
        std::copy(row.begin(), row.end(), x.begin() + ch * n);
      }
    }
    for (auto& v : x) v = Act(c.feat_act, v);
    length = n;
    channels = out;
  }
  RefOutput r;
  r.t = length;
  const int64_t t = length, cdim = channels, h = c.hidden;
  const Vec features = Transpose2(x, cdim, t);
  r.features = c.projection_norm()
                   ? Norm(features, t, cdim, w, "feature_projection.layer_norm", c.eps)
                   : features;
  Vec hs = LinearRef(r.features, t, cdim, h, w, "feature_projection.projection");

  // _get_feature_vector_attention_mask, then the encoder zeroes padded frames.
  int64_t valid = t;
  if (real_samples < static_cast<int64_t>(samples.size())) {
    valid = real_samples;
    for (size_t i = 0; i < c.conv_kernel.size(); ++i)
      valid = (valid - c.conv_kernel[i]) / c.conv_stride[i] + 1;
    for (int64_t f = valid; f < t; ++f)
      for (int64_t e = 0; e < h; ++e) hs[f * h + e] = 0;
  }

  // Wav2Vec2PositionalConvEmbedding: weight_norm(dim=2), SamePad, activation.
  const Vec& g = w.at("encoder.pos_conv_embed.conv.parametrizations.weight.original0");
  Vec kernel = w.at("encoder.pos_conv_embed.conv.parametrizations.weight.original1");
  const int64_t k = c.pos_kernel, rows = h * (h / c.pos_groups);
  for (int64_t j = 0; j < k; ++j) {
    double sq = 0;
    for (int64_t r2 = 0; r2 < rows; ++r2) sq += kernel[r2 * k + j] * kernel[r2 * k + j];
    for (int64_t r2 = 0; r2 < rows; ++r2) kernel[r2 * k + j] *= g[j] / std::sqrt(sq);
  }
  int64_t n = 0;
  const Vec pos = Conv(Transpose2(hs, t, h), h, t, kernel,
                       &w.at("encoder.pos_conv_embed.conv.bias"), h, k, 1, k / 2, c.pos_groups, &n);
  Vec pos_t(static_cast<size_t>(t * h));
  for (int64_t f = 0; f < t; ++f)  // frames past t (SamePad's one) are dropped
    for (int64_t e = 0; e < h; ++e) pos_t[f * h + e] = Act(c.feat_act, pos[e * n + f]);
  hs = Add(hs, pos_t);

  if (!c.stable) hs = Norm(hs, t, h, w, "encoder.layer_norm", c.eps);
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    if (!c.stable) {  // Wav2Vec2EncoderLayer
      hs = Norm(Add(hs, Attention(c, hs, t, valid, w, p + "attention.")), t, h, w, p + "layer_norm",
                c.eps);
      hs = Norm(Add(hs, FeedForward(c, hs, t, w, p + "feed_forward.")), t, h, w,
                p + "final_layer_norm", c.eps);
      continue;
    }
    // Wav2Vec2EncoderLayerStableLayerNorm
    hs = Add(hs, Attention(c, Norm(hs, t, h, w, p + "layer_norm", c.eps), t, valid, w,
                           p + "attention."));
    hs = Add(hs, FeedForward(c, Norm(hs, t, h, w, p + "final_layer_norm", c.eps), t, w,
                             p + "feed_forward."));
    if (c.attn_adapter > 0) {
      Vec a = LinearRef(Norm(hs, t, h, w, p + "adapter_layer.norm", 1e-5), t, h, c.attn_adapter, w,
                        p + "adapter_layer.linear_1");
      for (auto& v : a) v = std::max(v, 0.0);
      hs = Add(hs, LinearRef(a, t, c.attn_adapter, h, w, p + "adapter_layer.linear_2"));
    }
  }
  if (c.stable) hs = Norm(hs, t, h, w, "encoder.layer_norm", c.eps);
  r.t_out = t;
  r.width_out = h;

  if (c.adapter()) {  // Wav2Vec2Adapter
    int64_t width = h;
    if (c.output_hidden != h) {
      hs = Norm(LinearRef(hs, t, h, c.output_hidden, w, "adapter.proj"), t, c.output_hidden, w,
                "adapter.proj_layer_norm", 1e-5);
      width = c.output_hidden;
    }
    Vec y = Transpose2(hs, t, width);
    int64_t frames = t;
    for (int64_t l = 0; l < c.adapter_layers; ++l) {
      const std::string p = "adapter.layers." + std::to_string(l) + ".conv";
      int64_t m = 0;
      const Vec z = Conv(y, width, frames, w.at(p + ".weight"), &w.at(p + ".bias"), 2 * width,
                         c.adapter_kernel, c.adapter_stride, 1, 1, &m);
      y.assign(static_cast<size_t>(width * m), 0.0);  // GLU over channels
      for (int64_t ch = 0; ch < width; ++ch)
        for (int64_t f = 0; f < m; ++f)
          y[ch * m + f] = z[ch * m + f] / (1.0 + std::exp(-z[(ch + width) * m + f]));
      frames = m;
    }
    hs = Transpose2(y, width, frames);
    r.t_out = frames;
    r.width_out = width;
  }
  r.hidden = hs;
  return r;
}

// A batch through the reference: last_hidden_state and extract_features as float32 tensors.
TensorMap ReferenceOutputs(const RefConfig& c, const Weights& w, const Tensor& input_values,
                           const std::vector<int64_t>& real_samples) {
  const int64_t batch = input_values.shape[0], samples = input_values.shape[1];
  const Vec all = input_values.ToDoubles();
  Vec hidden, features;
  RefOutput r;
  for (int64_t b = 0; b < batch; ++b) {
    r = Forward(c, w, Vec(all.begin() + b * samples, all.begin() + (b + 1) * samples),
                real_samples[b]);
    hidden.insert(hidden.end(), r.hidden.begin(), r.hidden.end());
    features.insert(features.end(), r.features.begin(), r.features.end());
  }
  return {{"last_hidden_state", FloatTensor({batch, r.t_out, r.width_out}, hidden)},
          {"extract_features", FloatTensor({batch, r.t, c.conv_dim.back()}, features)}};
}

Weights ReadWeights(const fs::path& file) {
  const auto f = models::SafetensorsFile::Open(file.string());
  Weights w;
  for (const auto& [name, entry] : f->entries()) w[name] = f->Read(name).ToDoubles();
  return w;
}

// Two rows of seeded audio; the second is zero-padded after `second_row_samples`, as HF's
// feature extractor pads, and the mask says so.
struct Audio {
  Tensor values, mask;
  std::vector<int64_t> real_samples;
};

Audio MakeAudio(int64_t samples, int64_t second_row_samples, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Vec values(static_cast<size_t>(2 * samples));
  std::vector<int64_t> mask(values.size(), 1);
  for (int64_t i = 0; i < 2 * samples; ++i) {
    const bool padding = i >= samples + second_row_samples;
    values[i] = padding ? 0.0f : normal(rng);
    mask[i] = padding ? 0 : 1;
  }
  return {FloatTensor({2, samples}, values),
          Int64Tensor({2, samples}, mask),
          {samples, second_row_samples}};
}

TensorMap RunGraph(const models::Model& model, const Audio& audio, bool with_mask) {
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  TensorMap inputs = {{"input_values", audio.values}};
  if (with_mask) inputs["attention_mask"] = audio.mask;
  return session->Run(inputs);
}

// ---- the fixture ----

TEST(Wav2Vec2FixtureTest, MatchesTransformers) {
  const models::Model model = models::LoadHfFolder(kFixture.string());
  std::ifstream in(kFixture / "fixture.json");
  EXPECT_EQ(model.info.parameters, json::parse(in).at("params").get<int64_t>());
  EXPECT_EQ(model.info.modality, "audio");
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  ASSERT_EQ(io.inputs.size(), 1u);  // input_values only: a "group" model takes no mask
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), 2u);
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, kTolerance) << o.name;
    std::cout << "wav2vec2 " << o.name << ": max abs error " << o.max_abs_error << "\n";
  }
  EXPECT_TRUE(r.passed);
}

// The reference reproduces transformers on the fixture, so it can stand in for transformers on
// the options the fixture lacks.
TEST(Wav2Vec2ReferenceTest, ReferenceMatchesTransformersOnTheFixture) {
  const RefConfig c = FromSavedConfig(json::parse(std::ifstream(kFixture / "config.json")));
  const Weights w = ReadWeights(kFixture / "model.safetensors");
  const ReferenceIo io = LoadReferenceIo((kFixture / "io.safetensors").string());
  const Tensor& values = io.inputs.at("input_values");
  const TensorMap ref = ReferenceOutputs(c, w, values, {values.shape[1], values.shape[1]});
  for (const char* name : {"last_hidden_state", "extract_features"})
    EXPECT_LT(MaxAbsDiff(ref.at(name), io.outputs.at(name)), kTolerance) << name;
}

// ---- options without a fixture, against the reference ----

struct OptionCase {
  std::string label;
  RefConfig config;
};

std::vector<OptionCase> OptionCases() {
  std::vector<OptionCase> cases;
  RefConfig large_style;  // wav2vec2-large-lv60: "layer" convs with bias, pre-norm layers
  large_style.feat_extract_norm = "layer";
  large_style.conv_bias = true;
  large_style.stable = true;
  large_style.eps = 1e-3;  // apart from the 1e-5 of the norms HF builds with PyTorch's default
  cases.push_back({"layer_stable_even_kernel", large_style});

  RefConfig adapters = large_style;
  adapters.pos_kernel = 7;  // odd: SamePad drops nothing
  adapters.pos_groups = 4;
  adapters.attn_adapter = 4;
  adapters.add_adapter = true;
  adapters.output_hidden = 8;
  adapters.adapter_layers = 2;
  adapters.mask_time_prob = 0.0;
  cases.push_back({"layer_stable_odd_kernel_adapters", adapters});

  RefConfig group_stable;  // the other mix, with another activation in the conv stack
  group_stable.stable = true;
  group_stable.feat_act = "relu";
  group_stable.add_adapter = true;  // output_hidden_size == hidden_size: no projection
  group_stable.adapter_layers = 1;
  cases.push_back({"group_stable_relu_adapter", group_stable});

  RefConfig hubert_plain;
  hubert_plain.model_type = "hubert";
  hubert_plain.feat_proj_layer_norm = false;
  hubert_plain.eps = 1e-3;
  cases.push_back({"hubert_without_projection_norm", hubert_plain});

  RefConfig hubert_layer = large_style;
  hubert_layer.model_type = "hubert";
  cases.push_back({"hubert_layer_stable", hubert_layer});
  return cases;
}

void PrintTo(const OptionCase& c, std::ostream* os) { *os << c.label; }

class Wav2Vec2OptionTest : public ::testing::TestWithParam<OptionCase> {};

TEST_P(Wav2Vec2OptionTest, MatchesReference) {
  const RefConfig& c = GetParam().config;
  const Weights w = SeededWeights(StateDictShapes(c), 11);
  TempDir dir;
  WriteCheckpoint(dir.path(), c, w);
  const models::Model model = models::LoadHfFolder(dir.path().string());
  // The mask pads the second row only where the model takes one.
  const Audio audio = MakeAudio(800, c.layer_norm_convs() ? 500 : 800, 21);
  const TensorMap got = RunGraph(model, audio, c.layer_norm_convs());
  const TensorMap want = ReferenceOutputs(c, w, audio.values, audio.real_samples);
  const double hidden_error = MaxAbsDiff(got.at("last_hidden_state"), want.at("last_hidden_state"));
  EXPECT_LT(hidden_error, kTolerance);
  EXPECT_EQ(got.count("extract_features"), c.hubert() ? 0u : 1u);
  if (!c.hubert()) {
    EXPECT_LT(MaxAbsDiff(got.at("extract_features"), want.at("extract_features")), kTolerance);
  }
  std::cout << GetParam().label << ": last_hidden_state "
            << core::ShapeToString(want.at("last_hidden_state").shape) << " max abs error "
            << hidden_error << "\n";
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, Wav2Vec2OptionTest, ::testing::ValuesIn(OptionCases()),
                         [](const ::testing::TestParamInfo<OptionCase>& info) {
                           return info.param.label;
                         });

// ---- checkpoint forms ----

// A task head's checkpoint (Wav2Vec2ForCTC / HubertForCTC: "wav2vec2." / "hubert." before the
// base model's names, an lm_head beside) saved before transformers 5 (weight_g / weight_v).
TEST(Wav2Vec2CheckpointTest, TaskHeadPrefixAndLegacyWeightNormNames) {
  for (const std::string type : {"wav2vec2", "hubert"}) {
    SCOPED_TRACE(type);
    RefConfig c;
    c.model_type = type;
    const Weights w = SeededWeights(StateDictShapes(c), 5);
    TempDir dir;
    WriteCheckpoint(dir.path(), c, w, type + ".", true);
    const models::Model model = models::LoadHfFolder(dir.path().string());
    const Audio audio = MakeAudio(640, 640, 3);
    const TensorMap want = ReferenceOutputs(c, w, audio.values, audio.real_samples);
    EXPECT_LT(MaxAbsDiff(RunGraph(model, audio, false).at("last_hidden_state"),
                         want.at("last_hidden_state")),
              kTolerance);
    TempDir plain;
    WriteCheckpoint(plain.path(), c, w);
    EXPECT_EQ(model.info.parameters, models::LoadHfFolder(plain.path().string()).info.parameters);
  }
}

TEST(Wav2Vec2CheckpointTest, MissingWeightNormNamesBoth) {
  RefConfig c;
  Weights w = SeededWeights(StateDictShapes(c), 5);
  w.erase("encoder.pos_conv_embed.conv.parametrizations.weight.original0");
  TempDir dir;
  WriteCheckpoint(dir.path(), c, w);
  const core::Error e = CatchError([&] { models::LoadHfFolder(dir.path().string()); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("parametrizations.weight.original0"));
  EXPECT_THAT(e.what(), ::testing::HasSubstr("weight_g"));
}

// ---- properties ----

// With a mask ("layer" models only: their conv norms see one frame at a time), a zero-padded
// row's real frames equal what the unpadded row gives: padded frames are zeroed before the
// positional conv (which then sees what its own zero padding gives) and masked as keys.
TEST(Wav2Vec2MaskTest, PaddedRowMatchesUnpaddedRow) {
  RefConfig c;
  c.feat_extract_norm = "layer";
  c.stable = true;
  const Weights w = SeededWeights(StateDictShapes(c), 8);
  TempDir dir;
  WriteCheckpoint(dir.path(), c, w);
  const models::Model model = models::LoadHfFolder(dir.path().string());
  const Audio padded = MakeAudio(800, 500, 4);
  const Tensor padded_hidden = RunGraph(model, padded, true).at("last_hidden_state");

  // Row 1 alone at its real length.
  const auto values = padded.values.ToDoubles();
  const Vec row(values.begin() + 800, values.begin() + 1300);
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const Tensor alone =
      session
          ->Run({{"input_values", FloatTensor({1, 500}, row)},
                 {"attention_mask", Int64Tensor({1, 500}, std::vector<int64_t>(500, 1))}})
          .at("last_hidden_state");
  const int64_t frames = alone.shape[1];
  ASSERT_EQ(frames, 24);
  // The worst difference between row 1's first `frames` frames in `batch` and `alone`.
  const auto a = alone.ToDoubles();
  auto second_row_difference = [&](const Tensor& batch) {
    EXPECT_EQ(batch.shape[1], 39);
    const auto b = batch.ToDoubles();
    double worst = 0;
    for (int64_t i = 0; i < frames * c.hidden; ++i)
      worst = std::max(worst, std::fabs(b[39 * c.hidden + i] - a[i]));
    return worst;
  };
  EXPECT_LT(second_row_difference(padded_hidden), kTolerance);
  // Without the mask the padding is seen: the same frames differ.
  const Tensor unmasked =
      session
          ->Run({{"input_values", padded.values},
                 {"attention_mask", Int64Tensor({2, 800}, std::vector<int64_t>(1600, 1))}})
          .at("last_hidden_state");
  EXPECT_GT(second_row_difference(unmasked), 1e-2);
}

// Audio shorter than the conv stack's receptive field has no frame; ONNX Runtime's error names
// the minimum.
TEST(Wav2Vec2InputTest, TooShortAudioNamesTheMinimum) {
  RefConfig c;
  const Weights w = SeededWeights(StateDictShapes(c), 2);
  TempDir dir;
  WriteCheckpoint(dir.path(), c, w);
  const models::Model model = models::LoadHfFolder(dir.path().string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  // Receptive field of kernels 10, 3, 3 with strides 5, 2: 10 + 2 * 5 + 2 * 10 = 40 samples.
  EXPECT_EQ(session->Run({{"input_values", FloatTensor({1, 40}, Vec(40, 0.5))}})
                .at("last_hidden_state")
                .shape[1],
            1);
  const core::Error e = CatchError([&] {
    session->Run({{"input_values", FloatTensor({1, 39}, Vec(39, 0.5))}});
  });
  EXPECT_EQ(e.kind(), core::ErrorKind::kRuntime);
  EXPECT_THAT(e.what(), ::testing::HasSubstr("input_values_needs_at_least_40_samples"));
}

}  // namespace wav2vec2_verify_test
}  // namespace ipfs_accel::harness
