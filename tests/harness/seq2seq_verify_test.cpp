// Runs the encoder-decoder graphs on ONNX Runtime. T5 against the hf-tiny fixture made by
// transformers (its second row is right-padded). BART has no fixture: a tiny BartModel
// checkpoint is written here under HF's parameter names with seeded values, and the tests
// check what could go wrong without a reference: the position offset of 2 and the
// embedding scale (against a reference computed here, with no layers in the way), and that
// a padded encoder position changes nothing the decoder returns; and a double-precision
// BartModel forward written out here. The generation graphs (encoder, then the decoder fed
// its own KV cache) must reproduce the full forward, chunk by chunk.

#include <stdlib.h>

#include <algorithm>
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

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/seq2seq_graphs.h"
#include "models/weights.h"
#include "support/seq2seq_generation.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace seq2seq_verify_test {

using ipfs_accel::testing::ChunkedDecoding;
using ipfs_accel::testing::DecodeInChunks;
using ipfs_accel::testing::GenerationGraph;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::OpenGraph;

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using TensorMap = std::map<std::string, Tensor>;

const fs::path kT5Fixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/t5";

// Largest |a - b| over the elements of [batch, seq, hidden] tensors where keep(b, s) holds.
template <typename Keep>
double MaxDiff(const Tensor& a, const Tensor& b, Keep keep) {
  EXPECT_EQ(a.shape, b.shape);
  if (a.shape != b.shape || a.shape.size() != 3) return INFINITY;
  const auto x = a.values<float>();
  const auto y = b.values<float>();
  const int64_t seq = a.shape[1], hidden = a.shape[2];
  double worst = 0;
  for (int64_t i = 0; i < a.element_count(); ++i)
    if (keep(i / (seq * hidden), (i / hidden) % seq))
      worst = std::max(worst, std::fabs(static_cast<double>(x[i]) - y[i]));
  return worst;
}
double MaxDiff(const Tensor& a, const Tensor& b) {
  return MaxDiff(a, b, [](int64_t, int64_t) { return true; });
}

// ---- T5 against transformers ----

TEST(T5VerifyTest, HfTinyT5MatchesTransformers) {
  const models::Model model = models::LoadHfFolder(kT5Fixture.string());
  std::ifstream fixture(kT5Fixture / "fixture.json");
  const int64_t params = nlohmann::json::parse(fixture).at("params").get<int64_t>();
  EXPECT_EQ(params, 228672);
  EXPECT_EQ(model.info.parameters, params);

  const ReferenceIo io = LoadReferenceIo((kT5Fixture / "io.safetensors").string());
  ASSERT_EQ(io.inputs.size(), 3u);  // input_ids, attention_mask, decoder_input_ids
  ASSERT_EQ(io.outputs.size(), 2u);
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, 1e-4);
  ASSERT_EQ(r.outputs.size(), 2u);
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, 1e-4) << o.name;
    std::cout << "[ t5 fixture ] " << o.name << " max abs error " << o.max_abs_error
              << ", max rel error " << o.max_rel_error << "\n";
  }
  EXPECT_TRUE(r.passed);
}

TEST(T5VerifyTest, PerturbedReferenceFails) {
  const models::Model model = models::LoadHfFolder(kT5Fixture.string());
  ReferenceIo io = LoadReferenceIo((kT5Fixture / "io.safetensors").string());
  io.outputs.at("last_hidden_state").values<float>()[5] += 1e-3f;
  EXPECT_FALSE(Verify(model, {}, io.inputs, io.outputs, 1e-4).passed);
}

TEST(T5VerifyTest, PaddedEncoderTokensChangeNothingUnpadded) {
  const models::Model model = models::LoadHfFolder(kT5Fixture.string());
  const ReferenceIo io = LoadReferenceIo((kT5Fixture / "io.safetensors").string());
  const auto mask = io.inputs.at("attention_mask").values<int64_t>();
  const int64_t seq = io.inputs.at("attention_mask").shape[1];
  ASSERT_TRUE(std::any_of(mask.begin(), mask.end(), [](int64_t m) { return m == 0; }))
      << "the fixture is expected to pad its second row";

  TensorMap inputs = io.inputs;
  auto ids = inputs.at("input_ids").values<int64_t>();
  for (size_t i = 0; i < ids.size(); ++i)
    if (mask[i] == 0) ids[i] = (ids[i] + 17) % 1000;  // other tokens where the mask hides them
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const TensorMap out = session->Run(inputs);
  EXPECT_LT(MaxDiff(out.at("last_hidden_state"), io.outputs.at("last_hidden_state")), 1e-4);
  EXPECT_LT(MaxDiff(out.at("encoder_last_hidden_state"), io.outputs.at("encoder_last_hidden_state"),
                    [&](int64_t b, int64_t s) { return mask[b * seq + s] != 0; }),
            1e-4);
}

// ---- BART: a tiny checkpoint written under BartModel's names ----

struct TinyBart {
  int64_t vocab = 60, d_model = 16, positions = 24, heads = 4, ffn = 32;
  int64_t encoder_layers = 2, decoder_layers = 2;
  bool scale_embedding = false;
};

// BartModel's parameters with HF's shapes ([out, in] for linears), seeded values; norm
// weights near 1 and biases non-zero so that a missing one would show.
TensorMap BartCheckpoint(const TinyBart& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  TensorMap out;
  auto add = [&](const std::string& name, core::Shape shape, float mean = 0.0f) {
    Tensor t = Tensor::Zeros(DType::kFloat32, std::move(shape));
    for (float& v : t.values<float>()) v = mean + normal(rng);
    out[name] = std::move(t);
  };
  const int64_t d = c.d_model;
  auto linear = [&](const std::string& prefix, int64_t in, int64_t out_dim) {
    add(prefix + ".weight", {out_dim, in});
    add(prefix + ".bias", {out_dim});
  };
  auto norm = [&](const std::string& prefix) {
    add(prefix + ".weight", {d}, 1.0f);
    add(prefix + ".bias", {d});
  };
  auto attention = [&](const std::string& prefix) {
    for (const char* p : {"q_proj", "k_proj", "v_proj", "out_proj"}) linear(prefix + "." + p, d, d);
    norm(prefix + "_layer_norm");
  };
  add("shared.weight", {c.vocab, d});
  for (const std::string stack : {"encoder", "decoder"}) {
    add(stack + ".embed_positions.weight", {c.positions + 2, d});
    norm(stack + ".layernorm_embedding");
    const int64_t layers = stack == "encoder" ? c.encoder_layers : c.decoder_layers;
    for (int64_t i = 0; i < layers; ++i) {
      const std::string layer = stack + ".layers." + std::to_string(i);
      attention(layer + ".self_attn");
      if (stack == "decoder") attention(layer + ".encoder_attn");
      linear(layer + ".fc1", d, c.ffn);
      linear(layer + ".fc2", c.ffn, d);
      norm(layer + ".final_layer_norm");
    }
  }
  return out;
}

using ipfs_accel::testing::TempDir;

// Writes config.json + model.safetensors for `c` into `dir`.
void WriteBartFolder(const fs::path& dir, const TinyBart& c, const TensorMap& weights) {
  const nlohmann::json config = {{"model_type", "bart"},
                                 {"architectures", {"BartModel"}},
                                 {"vocab_size", c.vocab},
                                 {"d_model", c.d_model},
                                 {"max_position_embeddings", c.positions},
                                 {"encoder_layers", c.encoder_layers},
                                 {"encoder_attention_heads", c.heads},
                                 {"encoder_ffn_dim", c.ffn},
                                 {"decoder_layers", c.decoder_layers},
                                 {"decoder_attention_heads", c.heads},
                                 {"decoder_ffn_dim", c.ffn},
                                 {"activation_function", "gelu"},
                                 {"scale_embedding", c.scale_embedding},
                                 {"pad_token_id", 1}};
  std::ofstream(dir / "config.json") << config.dump(2);
  models::WriteSafetensors((dir / "model.safetensors").string(), weights);
}

int64_t ElementCount(const TensorMap& tensors) {
  int64_t n = 0;
  for (const auto& [name, t] : tensors) n += t.element_count();
  return n;
}

// LayerNorm(shared[id] * scale + positions[offset + i]) over d_model, eps 1e-5, in double.
std::vector<double> EmbeddingReference(const TensorMap& w, const std::string& stack,
                                       const Tensor& ids, int64_t d_model, double scale,
                                       int64_t offset) {
  const auto table = w.at("shared.weight").values<float>();
  const auto positions = w.at(stack + ".embed_positions.weight").values<float>();
  const auto gamma = w.at(stack + ".layernorm_embedding.weight").values<float>();
  const auto beta = w.at(stack + ".layernorm_embedding.bias").values<float>();
  const int64_t batch = ids.shape[0], seq = ids.shape[1];
  std::vector<double> out;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t id = ids.values<int64_t>()[b * seq + s];
      std::vector<double> x(d_model);
      for (int64_t k = 0; k < d_model; ++k)
        x[k] = table[id * d_model + k] * scale + positions[(offset + s) * d_model + k];
      double mean = 0, var = 0;
      for (double v : x) mean += v / d_model;
      for (double v : x) var += (v - mean) * (v - mean) / d_model;
      for (int64_t k = 0; k < d_model; ++k)
        out.push_back((x[k] - mean) / std::sqrt(var + 1e-5) * gamma[k] + beta[k]);
    }
  return out;
}

double MaxDiff(const Tensor& actual, const std::vector<double>& expected) {
  const auto a = actual.values<float>();
  EXPECT_EQ(a.size(), expected.size());
  double worst = a.size() == expected.size() ? 0 : INFINITY;
  for (size_t i = 0; i < std::min(a.size(), expected.size()); ++i)
    worst = std::max(worst, std::fabs(a[i] - expected[i]));
  return worst;
}

// BartModel's forward written out in double precision from the HF modeling code, for one
// batch row: the graph's wiring (post-norm order, scaling, cross-attention, masks) against it.
class BartReference {
 public:
  using Rows = std::vector<std::vector<double>>;  // [tokens][features]
  BartReference(const TensorMap& w, const TinyBart& c) : w_(w), c_(c) {}

  // Returns {encoder_last_hidden_state, last_hidden_state} of one row.
  std::pair<Rows, Rows> Forward(const std::vector<int64_t>& ids, const std::vector<int64_t>& mask,
                                const std::vector<int64_t>& decoder_ids) const {
    Rows h = Embed(ids, "encoder");
    auto encoder_visible = [&](size_t, size_t k) { return mask[k] != 0; };
    for (int64_t i = 0; i < c_.encoder_layers; ++i) {
      const std::string p = "encoder.layers." + std::to_string(i);
      h = Norm(Add(h, Attention(h, h, p + ".self_attn", encoder_visible)),
               p + ".self_attn_layer_norm");
      h = FeedForward(h, p);
    }
    Rows d = Embed(decoder_ids, "decoder");
    auto causal = [](size_t q, size_t k) { return k <= q; };
    for (int64_t i = 0; i < c_.decoder_layers; ++i) {
      const std::string p = "decoder.layers." + std::to_string(i);
      d = Norm(Add(d, Attention(d, d, p + ".self_attn", causal)), p + ".self_attn_layer_norm");
      d = Norm(Add(d, Attention(d, h, p + ".encoder_attn", encoder_visible)),
               p + ".encoder_attn_layer_norm");
      d = FeedForward(d, p);
    }
    return {h, d};
  }

 private:
  const float* W(const std::string& name) const { return w_.at(name).values<float>().data(); }

  Rows Embed(const std::vector<int64_t>& ids, const std::string& stack) const {
    const double scale = c_.scale_embedding ? std::sqrt(static_cast<double>(c_.d_model)) : 1.0;
    Rows x(ids.size(), std::vector<double>(c_.d_model));
    for (size_t t = 0; t < ids.size(); ++t)
      for (int64_t k = 0; k < c_.d_model; ++k)
        x[t][k] = W("shared.weight")[ids[t] * c_.d_model + k] * scale +
                  W(stack + ".embed_positions.weight")[(t + 2) * c_.d_model + k];
    return Norm(x, stack + ".layernorm_embedding");
  }
  Rows Linear(const Rows& x, const std::string& prefix, int64_t in, int64_t out) const {
    Rows y(x.size(), std::vector<double>(out));
    for (size_t t = 0; t < x.size(); ++t)
      for (int64_t o = 0; o < out; ++o) {
        double acc = W(prefix + ".bias")[o];
        for (int64_t i = 0; i < in; ++i) acc += W(prefix + ".weight")[o * in + i] * x[t][i];
        y[t][o] = acc;
      }
    return y;
  }
  Rows Norm(Rows x, const std::string& prefix) const {
    for (auto& row : x) {
      double mean = 0, var = 0;
      for (double v : row) mean += v / row.size();
      for (double v : row) var += (v - mean) * (v - mean) / row.size();
      for (size_t k = 0; k < row.size(); ++k)
        row[k] = (row[k] - mean) / std::sqrt(var + 1e-5) * W(prefix + ".weight")[k] +
                 W(prefix + ".bias")[k];
    }
    return x;
  }
  static Rows Add(Rows a, const Rows& b) {
    for (size_t t = 0; t < a.size(); ++t)
      for (size_t k = 0; k < a[t].size(); ++k) a[t][k] += b[t][k];
    return a;
  }
  template <typename Visible>
  Rows Attention(const Rows& x, const Rows& kv, const std::string& prefix, Visible visible) const {
    const int64_t d = c_.d_model, head_dim = d / c_.heads;
    const Rows q = Linear(x, prefix + ".q_proj", d, d);
    const Rows k = Linear(kv, prefix + ".k_proj", d, d);
    const Rows v = Linear(kv, prefix + ".v_proj", d, d);
    Rows ctx(x.size(), std::vector<double>(d, 0.0));
    for (int64_t h = 0; h < c_.heads; ++h)
      for (size_t i = 0; i < x.size(); ++i) {
        std::vector<double> p(kv.size(), 0.0);
        double top = -INFINITY, sum = 0;
        for (size_t j = 0; j < kv.size(); ++j) {
          if (!visible(i, j)) continue;
          for (int64_t e = 0; e < head_dim; ++e)
            p[j] += q[i][h * head_dim + e] * k[j][h * head_dim + e];
          p[j] /= std::sqrt(static_cast<double>(head_dim));
          top = std::max(top, p[j]);
        }
        for (size_t j = 0; j < kv.size(); ++j) {
          p[j] = visible(i, j) ? std::exp(p[j] - top) : 0.0;
          sum += p[j];
        }
        for (size_t j = 0; j < kv.size(); ++j)
          for (int64_t e = 0; e < head_dim; ++e)
            ctx[i][h * head_dim + e] += p[j] / sum * v[j][h * head_dim + e];
      }
    return Linear(ctx, prefix + ".out_proj", d, d);
  }
  Rows FeedForward(const Rows& x, const std::string& p) const {
    Rows h = Linear(x, p + ".fc1", c_.d_model, c_.ffn);
    for (auto& row : h)
      for (double& v : row) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));  // exact gelu
    return Norm(Add(x, Linear(h, p + ".fc2", c_.ffn, c_.d_model)), p + ".final_layer_norm");
  }

  const TensorMap& w_;
  TinyBart c_;
};

// Largest difference between a [batch, seq, hidden] output and per-row reference rows.
double MaxDiff(const Tensor& actual, const std::vector<BartReference::Rows>& expected) {
  std::vector<double> flat;
  for (const auto& rows : expected)
    for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  return MaxDiff(actual, flat);
}

TEST(BartRunTest, MatchesReferenceForward) {
  TempDir tmp;
  TinyBart c;
  c.scale_embedding = true;
  const TensorMap w = BartCheckpoint(c, 6);
  WriteBartFolder(tmp.path(), c, w);
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  const std::vector<std::vector<int64_t>> ids = {{0, 5, 8, 13, 21, 2}, {0, 34, 55, 2, 1, 1}};
  const std::vector<std::vector<int64_t>> mask = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}};
  const std::vector<std::vector<int64_t>> decoder_ids = {{2, 0, 5, 8}, {2, 0, 34, 55}};
  const BartReference reference(w, c);
  std::vector<BartReference::Rows> encoder, decoder;
  for (size_t b = 0; b < 2; ++b) {
    auto [e, d] = reference.Forward(ids[b], mask[b], decoder_ids[b]);
    encoder.push_back(e);
    decoder.push_back(d);
  }
  auto flat = [](const std::vector<std::vector<int64_t>>& v) {
    std::vector<int64_t> out;
    for (const auto& row : v) out.insert(out.end(), row.begin(), row.end());
    return out;
  };
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const TensorMap out =
      session->Run({{"input_ids", Int64Tensor({2, 6}, flat(ids))},
                    {"attention_mask", Int64Tensor({2, 6}, flat(mask))},
                    {"decoder_input_ids", Int64Tensor({2, 4}, flat(decoder_ids))}});
  const double encoder_error = MaxDiff(out.at("encoder_last_hidden_state"), encoder);
  const double decoder_error = MaxDiff(out.at("last_hidden_state"), decoder);
  std::cout << "[ bart reference ] encoder max abs error " << encoder_error
            << ", decoder max abs error " << decoder_error << "\n";
  EXPECT_LT(encoder_error, 1e-4);
  EXPECT_LT(decoder_error, 1e-4);
}

TEST(BartRunTest, CheckpointUnderBartModelNamesLoadsAndCountsOnce) {
  TempDir tmp;
  const TinyBart c;
  const TensorMap weights = BartCheckpoint(c, 1);
  WriteBartFolder(tmp.path(), c, weights);
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  EXPECT_EQ(model.info.parameters, ElementCount(weights));  // every tensor asked for, once
  EXPECT_EQ(model.dim_roles.max_sequence, c.positions);
}

// With no layers, the outputs are the embeddings: tokens (scaled when scale_embedding)
// plus positions read from row 2 on, through layernorm_embedding.
TEST(BartRunTest, EmbeddingsUsePositionOffsetTwoAndScale) {
  for (const bool scale_embedding : {false, true}) {
    SCOPED_TRACE(scale_embedding ? "scale_embedding" : "no scale");
    TempDir tmp;
    TinyBart c;
    c.encoder_layers = c.decoder_layers = 0;
    c.scale_embedding = scale_embedding;
    const TensorMap w = BartCheckpoint(c, 2);
    WriteBartFolder(tmp.path(), c, w);
    const models::Model model = models::LoadHfFolder(tmp.path().string());
    const TensorMap in = {{"input_ids", Int64Tensor({2, 5}, {0, 1, 7, 33, 59, 4, 4, 4, 2, 1})},
                          {"attention_mask", Int64Tensor({2, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 0, 0})},
                          {"decoder_input_ids", Int64Tensor({2, 3}, {2, 9, 58, 2, 1, 1})}};
    auto session = runtime::OpenOnnxRuntimeSession(model, {});
    const TensorMap out = session->Run(in);
    const double scale = scale_embedding ? 4.0 : 1.0;  // sqrt(d_model 16)
    const Tensor& encoder = out.at("encoder_last_hidden_state");
    const Tensor& decoder = out.at("last_hidden_state");
    EXPECT_LT(MaxDiff(encoder, EmbeddingReference(w, "encoder", in.at("input_ids"), 16, scale, 2)),
              1e-5);
    EXPECT_LT(MaxDiff(decoder,
                      EmbeddingReference(w, "decoder", in.at("decoder_input_ids"), 16, scale, 2)),
              1e-5);
    // The checks can fail: offset 0 or the other scale give other values.
    EXPECT_GT(MaxDiff(encoder, EmbeddingReference(w, "encoder", in.at("input_ids"), 16, scale, 0)),
              1e-2);
    EXPECT_GT(MaxDiff(encoder, EmbeddingReference(w, "encoder", in.at("input_ids"), 16,
                                                  scale_embedding ? 1.0 : 4.0, 2)),
              1e-2);
  }
}

TEST(BartRunTest, PaddedEncoderPositionsChangeNothingUnpadded) {
  TempDir tmp;
  const TinyBart c;
  WriteBartFolder(tmp.path(), c, BartCheckpoint(c, 3));
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});

  const int64_t seq = 6;
  const std::vector<int64_t> ids = {5, 8, 13, 21, 34, 55, 3, 14, 15, 9, 1, 1};
  std::vector<int64_t> other_ids = ids;
  other_ids[10] = 42;  // row 1, positions 4 and 5: padding the mask hides
  other_ids[11] = 17;
  const std::vector<int64_t> mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  const Tensor decoder_ids = Int64Tensor({2, 4}, {2, 7, 11, 19, 2, 23, 29, 31});
  auto run = [&](const std::vector<int64_t>& input_ids, const std::vector<int64_t>& m) {
    return session->Run({{"input_ids", Int64Tensor({2, seq}, input_ids)},
                         {"attention_mask", Int64Tensor({2, seq}, m)},
                         {"decoder_input_ids", decoder_ids}});
  };
  const TensorMap a = run(ids, mask);
  const TensorMap b = run(other_ids, mask);
  EXPECT_EQ(a.at("last_hidden_state").shape, (core::Shape{2, 4, 16}));
  EXPECT_EQ(a.at("encoder_last_hidden_state").shape, (core::Shape{2, seq, 16}));
  EXPECT_LT(MaxDiff(a.at("last_hidden_state"), b.at("last_hidden_state")), 1e-6);
  EXPECT_LT(MaxDiff(a.at("encoder_last_hidden_state"), b.at("encoder_last_hidden_state"),
                    [&](int64_t row, int64_t s) { return mask[row * seq + s] != 0; }),
            1e-6);

  // Unmasked, the same change reaches the decoder: the check above can fail.
  const std::vector<int64_t> ones(12, 1);
  const double unmasked =
      MaxDiff(run(ids, ones).at("last_hidden_state"), run(other_ids, ones).at("last_hidden_state"),
              [](int64_t row, int64_t) { return row == 1; });
  EXPECT_GT(unmasked, 1e-3);
}

TEST(BartRunTest, DecoderIsCausal) {
  TempDir tmp;
  const TinyBart c;
  WriteBartFolder(tmp.path(), c, BartCheckpoint(c, 4));
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const Tensor ids = Int64Tensor({1, 4}, {5, 8, 13, 21});
  const Tensor mask = Int64Tensor({1, 4}, {1, 1, 1, 1});
  const TensorMap a = session->Run({{"input_ids", ids},
                                    {"attention_mask", mask},
                                    {"decoder_input_ids", Int64Tensor({1, 4}, {2, 7, 11, 19})}});
  const TensorMap b = session->Run({{"input_ids", ids},
                                    {"attention_mask", mask},
                                    {"decoder_input_ids", Int64Tensor({1, 4}, {2, 7, 11, 44})}});
  // Changing the last decoder token changes only the last decoder position.
  EXPECT_LT(MaxDiff(a.at("last_hidden_state"), b.at("last_hidden_state"),
                    [](int64_t, int64_t s) { return s < 3; }),
            1e-6);
  EXPECT_GT(MaxDiff(a.at("last_hidden_state"), b.at("last_hidden_state"),
                    [](int64_t, int64_t s) { return s == 3; }),
            1e-3);
}

// The harness resolves decoder_sequence only from --shape (DimRoles has no role for it):
// generated inputs name its size explicitly.
TEST(BartRunTest, GeneratedInputsWithExplicitDecoderLength) {
  TempDir tmp;
  const TinyBart c;
  WriteBartFolder(tmp.path(), c, BartCheckpoint(c, 5));
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  ShapeRequest request;
  request.batch_size = 2;
  request.seq_len = 7;
  request.overrides["decoder_sequence"] = {3};
  const auto shapes = ResolveShapes(session->inputs(), model.dim_roles, request);
  EXPECT_EQ(shapes.at("decoder_input_ids"), (core::Shape{2, 3}));
  EXPECT_EQ(shapes.at("input_ids"), (core::Shape{2, 7}));
  const TensorMap out =
      session->Run(GenerateInputs(session->inputs(), shapes, model.input_hints, 9));
  EXPECT_EQ(out.at("last_hidden_state").shape, (core::Shape{2, 3, 16}));
  EXPECT_EQ(out.at("encoder_last_hidden_state").shape, (core::Shape{2, 7, 16}));
  for (float v : out.at("last_hidden_state").values<float>()) ASSERT_TRUE(std::isfinite(v));
}

TEST(BartRunTest, DecoderIdsLeftOutAreInputIdsShiftedRightAsInBartModel) {
  TempDir tmp;
  const TinyBart c;
  WriteBartFolder(tmp.path(), c, BartCheckpoint(c, 7));
  const models::Model model = models::LoadHfFolder(tmp.path().string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const Tensor ids = Int64Tensor({2, 4}, {0, 5, 8, 2, 0, 34, 2, 1});
  const Tensor mask = Int64Tensor({2, 4}, {1, 1, 1, 1, 1, 1, 1, 0});
  const CompletedInputs left_out = FillMissingInputs(
      session->inputs(), model, {{"input_ids", ids}, {"attention_mask", mask}}, 3);
  // shift_tokens_right: decoder_start_token_id (2) first, each row's last id dropped.
  const auto shifted = left_out.tensors.at("decoder_input_ids").values<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(shifted.begin(), shifted.end()),
            (std::vector<int64_t>{2, 0, 5, 8, 2, 0, 34, 2}));
  EXPECT_EQ(left_out.filled.defaulted.at("decoder_input_ids"), "input_ids shifted right");
  EXPECT_TRUE(left_out.filled.generated.empty());
  const TensorMap given =
      session->Run({{"input_ids", ids},
                    {"attention_mask", mask},
                    {"decoder_input_ids", Int64Tensor({2, 4}, {2, 0, 5, 8, 2, 0, 34, 2})}});
  const auto defaulted_out = session->Run(left_out.tensors).at("last_hidden_state");
  const auto given_out = given.at("last_hidden_state").values<float>();
  EXPECT_TRUE(std::equal(given_out.begin(), given_out.end(), defaulted_out.values<float>().begin(),
                         defaulted_out.values<float>().end()));
  // Nothing given: input_ids is generated, and decoder_input_ids shifted from it as HF would.
  const CompletedInputs nothing = FillMissingInputs(session->inputs(), model, {}, 3);
  EXPECT_EQ(nothing.filled.generated, (std::vector<std::string>{"input_ids"}));
  EXPECT_EQ(nothing.filled.defaulted.at("decoder_input_ids"), "input_ids shifted right");
}

// ---- Generation graphs: the encoder, then the decoder step by step with a KV cache ----

// Float [batch, seq_i, hidden] tensors joined along the sequence.
Tensor JoinSequences(const std::vector<Tensor>& parts) {
  const int64_t batch = parts.at(0).shape[0], hidden = parts.at(0).shape[2];
  int64_t total = 0;
  for (const auto& p : parts) total += p.shape[1];
  Tensor out = Tensor::Zeros(DType::kFloat32, {batch, total, hidden});
  int64_t offset = 0;
  for (const auto& p : parts) {
    const int64_t seq = p.shape[1];
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(p.values<float>().begin() + b * seq * hidden, seq * hidden,
                  out.values<float>().begin() + (b * total + offset) * hidden);
    offset += seq;
  }
  return out;
}

// Encoder, then the cached decoder over `decoder_ids` in `chunks`: the decoder's
// last_hidden_state over all steps, and the encoder's.
std::pair<Tensor, Tensor> GenerateInChunks(GenerationGraph& encoder, GenerationGraph& decoder,
                                           const Tensor& input_ids, const Tensor& mask,
                                           const Tensor& decoder_ids,
                                           const std::vector<int64_t>& chunks) {
  const ChunkedDecoding d =
      DecodeInChunks(encoder, decoder, {{"input_ids", input_ids}, {"attention_mask", mask}},
                     {{"encoder_attention_mask", mask}}, decoder_ids, chunks, "last_hidden_state");
  return {JoinSequences(d.steps), d.encoder_hidden};
}

TEST(T5GenerationTest, EncoderThenCachedDecoderMatchesTransformers) {
  GenerationGraph encoder = OpenGraph(kT5Fixture.string(), {}, models::Seq2SeqGraph::kEncoder);
  GenerationGraph decoder =
      OpenGraph(kT5Fixture.string(), {}, models::Seq2SeqGraph::kDecoderWithPast);
  // Every parameter is in one of the two graphs; only the shared embedding is in both.
  EXPECT_EQ(encoder.model.info.parameters + decoder.model.info.parameters - 1000 * 64, 228672);

  const ReferenceIo io = LoadReferenceIo((kT5Fixture / "io.safetensors").string());
  const Tensor& decoder_ids = io.inputs.at("decoder_input_ids");
  ASSERT_EQ(decoder_ids.shape[1], 8);
  for (const auto& chunks :
       std::vector<std::vector<int64_t>>{{1, 1, 1, 1, 1, 1, 1, 1}, {3, 1, 4}, {8}}) {
    SCOPED_TRACE(::testing::PrintToString(chunks));
    const auto [decoded, encoded] =
        GenerateInChunks(encoder, decoder, io.inputs.at("input_ids"),
                         io.inputs.at("attention_mask"), decoder_ids, chunks);
    const double decoder_error = MaxDiff(decoded, io.outputs.at("last_hidden_state"));
    EXPECT_LT(MaxDiff(encoded, io.outputs.at("encoder_last_hidden_state")), 1e-4);
    EXPECT_LT(decoder_error, 1e-4);
    std::cout << "[ t5 cached decoding ] chunks " << ::testing::PrintToString(chunks)
              << " max abs error " << decoder_error << "\n";
  }
}

TEST(BartGenerationTest, EncoderThenCachedDecoderMatchesFullForward) {
  TempDir tmp;
  TinyBart c;
  c.scale_embedding = true;
  WriteBartFolder(tmp.path(), c, BartCheckpoint(c, 7));
  const models::Model full = models::LoadHfFolder(tmp.path().string());
  GenerationGraph encoder =
      OpenGraph(tmp.path().string(), {"model."}, models::Seq2SeqGraph::kEncoder);
  GenerationGraph decoder =
      OpenGraph(tmp.path().string(), {"model."}, models::Seq2SeqGraph::kDecoderWithPast);
  EXPECT_EQ(encoder.model.info.parameters + decoder.model.info.parameters - c.vocab * c.d_model,
            full.info.parameters);

  const Tensor ids = Int64Tensor({2, 6}, {0, 5, 8, 13, 21, 2, 0, 34, 55, 2, 1, 1});
  const Tensor mask = Int64Tensor({2, 6}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  const Tensor decoder_ids = Int64Tensor({2, 5}, {2, 0, 5, 8, 13, 2, 0, 34, 55, 9});
  auto session = runtime::OpenOnnxRuntimeSession(full, {});
  const TensorMap reference = session->Run(
      {{"input_ids", ids}, {"attention_mask", mask}, {"decoder_input_ids", decoder_ids}});
  for (const auto& chunks : std::vector<std::vector<int64_t>>{{1, 1, 1, 1, 1}, {2, 3}}) {
    SCOPED_TRACE(::testing::PrintToString(chunks));
    const auto [decoded, encoded] =
        GenerateInChunks(encoder, decoder, ids, mask, decoder_ids, chunks);
    EXPECT_LT(MaxDiff(encoded, reference.at("encoder_last_hidden_state")), 1e-5);
    EXPECT_LT(MaxDiff(decoded, reference.at("last_hidden_state")), 1e-5);
  }
}

TEST(Seq2SeqGenerationTest, DecoderRolesResolveCacheShapes) {
  GenerationGraph decoder =
      OpenGraph(kT5Fixture.string(), {}, models::Seq2SeqGraph::kDecoderWithPast);
  ShapeRequest request;
  request.batch_size = 2;
  request.seq_len = 1;
  request.past_len = 3;
  request.overrides["encoder_sequence"] = {5};  // no role: the encoder's length is given
  const auto shapes =
      ResolveShapes(decoder.session->inputs(), models::Seq2SeqDecoderDimRoles(), request);
  EXPECT_EQ(shapes.at("input_ids"), (core::Shape{2, 1}));
  EXPECT_EQ(shapes.at("encoder_attention_mask"), (core::Shape{2, 5}));
  EXPECT_EQ(shapes.at("past_key_values.1.decoder.value"), (core::Shape{2, 4, 3, 16}));
  EXPECT_EQ(shapes.at("past_key_values.0.encoder.key"), (core::Shape{2, 4, 5, 16}));
  std::vector<std::string> outputs;
  for (const auto& spec : decoder.session->outputs()) outputs.push_back(spec.name);
  EXPECT_EQ(outputs, (std::vector<std::string>{"last_hidden_state", "present.0.decoder.key",
                                               "present.0.decoder.value", "present.1.decoder.key",
                                               "present.1.decoder.value"}));
}

}  // namespace seq2seq_verify_test
}  // namespace ipfs_accel::harness
