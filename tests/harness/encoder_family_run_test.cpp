// Runs the BERT family's graphs on ONNX Runtime against a reference written here, with no HF
// fixture: each test writes a tiny checkpoint (config.json + model.safetensors, names prefixed
// as HF's task heads save them), loads it with models::LoadHfFolder, and compares the outputs
// with a plain double-precision forward pass of the same weights that follows the HF modeling
// code (RoBERTa position ids from input_ids, DistilBERT without token types, ELECTRA's
// projection, ALBERT's factorised embeddings and shared layer groups). RoBERTa's padding
// behaviour is also checked by properties that need no reference at all.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace encoder_family_run_test {

using ipfs_accel::testing::Int64Tensor;

namespace fs = std::filesystem;
using Matrix = std::vector<double>;  // row-major

using ipfs_accel::testing::TempDir;

// ----- A tiny member of the family: its sizes, weights, and a reference forward pass ----------

struct Arch {
  std::string type;  // bert, roberta, xlm-roberta, camembert, distilbert, electra, albert
  int64_t vocab = 40, embedding = 16, hidden = 16, intermediate = 24, layers = 2, heads = 2;
  int64_t positions = 24, type_vocab = 3, pad = 0, groups = 1, inner = 1;
  double eps = 1e-12;
  std::string act = "gelu";

  bool roberta_like() const {
    return type == "roberta" || type == "xlm-roberta" || type == "camembert";
  }
  bool distil() const { return type == "distilbert"; }
  bool albert() const { return type == "albert"; }
  bool token_types() const { return !distil(); }
  bool pooler() const { return type != "distilbert" && type != "electra"; }
  std::string checkpoint_prefix() const {
    if (roberta_like()) return "roberta.";
    if (type == "bert") return "bert.";
    return type + ".";
  }

  nlohmann::json Config() const {
    nlohmann::json c = {{"model_type", type},
                        {"vocab_size", vocab},
                        {"max_position_embeddings", positions},
                        {"pad_token_id", pad},
                        {"initializer_range", 0.02}};
    if (distil()) {
      c.update({{"dim", hidden},
                {"n_layers", layers},
                {"n_heads", heads},
                {"hidden_dim", intermediate},
                {"activation", act},
                {"sinusoidal_pos_embds", false}});
      return c;
    }
    c.update({{"hidden_size", hidden},
              {"num_hidden_layers", layers},
              {"num_attention_heads", heads},
              {"intermediate_size", intermediate},
              {"type_vocab_size", type_vocab},
              {"hidden_act", act},
              {"layer_norm_eps", eps}});
    if (type == "electra" || albert()) c["embedding_size"] = embedding;
    if (albert()) {
      c["num_hidden_groups"] = groups;
      c["inner_group_num"] = inner;
    }
    return c;
  }
};

// The HF module names of one layer's eight parts.
struct LayerModules {
  std::string query, key, value, attention_output, attention_norm, ffn_in, ffn_out, output_norm;
};

LayerModules ModulesOf(const Arch& a, const std::string& p) {
  if (a.distil())
    return {p + "attention.q_lin",   p + "attention.k_lin",  p + "attention.v_lin",
            p + "attention.out_lin", p + "sa_layer_norm",    p + "ffn.lin1",
            p + "ffn.lin2",          p + "output_layer_norm"};
  if (a.albert())
    return {p + "attention.query", p + "attention.key",        p + "attention.value",
            p + "attention.dense", p + "attention.LayerNorm",  p + "ffn",
            p + "ffn_output",      p + "full_layer_layer_norm"};
  return {p + "attention.self.query",
          p + "attention.self.key",
          p + "attention.self.value",
          p + "attention.output.dense",
          p + "attention.output.LayerNorm",
          p + "intermediate.dense",
          p + "output.dense",
          p + "output.LayerNorm"};
}

class TinyEncoder {
 public:
  TinyEncoder(Arch arch, uint64_t seed) : a_(std::move(arch)), rng_(seed) {
    const int64_t e = a_.embedding, h = a_.hidden, i = a_.intermediate;
    Embedding("embeddings.word_embeddings.weight", a_.vocab, e);
    Embedding("embeddings.position_embeddings.weight", a_.positions, e);
    if (a_.token_types()) Embedding("embeddings.token_type_embeddings.weight", a_.type_vocab, e);
    Norm("embeddings.LayerNorm", e);
    if (a_.albert()) Linear("encoder.embedding_hidden_mapping_in", e, h);
    if (a_.type == "electra" && e != h) Linear("embeddings_project", e, h);
    for (const LayerModules& m : DistinctLayers()) {
      Linear(m.query, h, h);
      Linear(m.key, h, h);
      Linear(m.value, h, h);
      Linear(m.attention_output, h, h);
      Norm(m.attention_norm, h);
      Linear(m.ffn_in, h, i);
      Linear(m.ffn_out, i, h);
      Norm(m.output_norm, h);
    }
    if (a_.pooler()) Linear(a_.albert() ? "pooler" : "pooler.dense", h, h);
  }

  // Writes config.json and model.safetensors (names with the task head's prefix, plus a head
  // weight the base model must not need).
  void Save(const std::string& dir) const {
    std::ofstream(dir + "/config.json") << a_.Config().dump(2);
    std::map<std::string, core::Tensor> tensors;
    for (const auto& [name, values] : weights_) {
      core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, shapes_.at(name));
      auto out = t.values<float>();
      for (size_t k = 0; k < values.size(); ++k) out[k] = static_cast<float>(values[k]);
      tensors[a_.checkpoint_prefix() + name] = std::move(t);
    }
    tensors["lm_head.bias"] = core::Tensor::Zeros(core::DType::kFloat32, {a_.vocab});
    models::WriteSafetensors(dir + "/model.safetensors", tensors);
  }

  // Position ids as the HF embeddings make them, computed element by element.
  std::vector<int64_t> PositionIds(const std::vector<int64_t>& ids, int64_t seq) const {
    std::vector<int64_t> pos(ids.size());
    for (size_t b = 0; b < ids.size() / static_cast<size_t>(seq); ++b) {
      int64_t seen = 0;
      for (int64_t s = 0; s < seq; ++s) {
        const size_t k = b * static_cast<size_t>(seq) + static_cast<size_t>(s);
        if (!a_.roberta_like()) {
          pos[k] = s;
        } else if (ids[k] == a_.pad) {
          pos[k] = a_.pad;
        } else {
          pos[k] = a_.pad + ++seen;
        }
      }
    }
    return pos;
  }

  struct Outputs {
    Matrix last_hidden_state;  // [batch * seq, hidden]
    Matrix pooler_output;      // [batch, hidden]
  };

  Outputs Forward(const std::vector<int64_t>& ids, const std::vector<int64_t>& mask,
                  const std::vector<int64_t>& types, int64_t batch, int64_t seq) const {
    const int64_t e = a_.embedding, h = a_.hidden;
    const std::vector<int64_t> pos = PositionIds(ids, seq);
    const int64_t n = batch * seq;
    Matrix x(static_cast<size_t>(n * e));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < e; ++c) {
        double v = W("embeddings.word_embeddings.weight")[ids[t] * e + c];
        if (a_.token_types()) v += W("embeddings.token_type_embeddings.weight")[types[t] * e + c];
        v += W("embeddings.position_embeddings.weight")[pos[t] * e + c];
        x[t * e + c] = v;
      }
    x = LayerNorm(x, "embeddings.LayerNorm", e);
    if (a_.albert()) x = Dense(x, "encoder.embedding_hidden_mapping_in", e, h);
    if (a_.type == "electra" && e != h) x = Dense(x, "embeddings_project", e, h);

    const std::vector<LayerModules> distinct = DistinctLayers();
    if (a_.albert()) {
      for (int64_t l = 0; l < a_.layers; ++l) {
        const auto group = static_cast<int64_t>(static_cast<double>(l) /
                                                (static_cast<double>(a_.layers) / a_.groups));
        for (int64_t j = 0; j < a_.inner; ++j)
          x = Layer(x, distinct[group * a_.inner + j], mask, batch, seq);
      }
    } else {
      for (const LayerModules& m : distinct) x = Layer(x, m, mask, batch, seq);
    }

    Outputs out{x, {}};
    if (a_.pooler()) {
      Matrix first(static_cast<size_t>(batch * h));
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t c = 0; c < h; ++c) first[b * h + c] = x[(b * seq) * h + c];
      out.pooler_output = Dense(first, a_.albert() ? "pooler" : "pooler.dense", h, h);
      for (double& v : out.pooler_output) v = std::tanh(v);
    }
    return out;
  }

 private:
  std::vector<LayerModules> DistinctLayers() const {
    std::vector<LayerModules> out;
    if (a_.albert()) {
      for (int64_t g = 0; g < a_.groups; ++g)
        for (int64_t j = 0; j < a_.inner; ++j)
          out.push_back(
              ModulesOf(a_, fmt::format("encoder.albert_layer_groups.{}.albert_layers.{}.", g, j)));
      return out;
    }
    for (int64_t l = 0; l < a_.layers; ++l)
      out.push_back(
          ModulesOf(a_, fmt::format("{}.layer.{}.", a_.distil() ? "transformer" : "encoder", l)));
    return out;
  }

  void Random(const std::string& name, core::Shape shape, double mean, double stddev) {
    std::normal_distribution<double> dist(mean, stddev);
    Matrix v(static_cast<size_t>(core::ElementCount(shape)));
    for (double& x : v) x = static_cast<float>(dist(rng_));  // what float32 storage keeps
    weights_[name] = std::move(v);
    shapes_[name] = std::move(shape);
  }
  void Embedding(const std::string& name, int64_t rows, int64_t width) {
    Random(name, {rows, width}, 0.0, 1.0);
  }
  void Linear(const std::string& prefix, int64_t in, int64_t out) {
    Random(prefix + ".weight", {out, in}, 0.0, 1.0 / std::sqrt(static_cast<double>(in)));
    Random(prefix + ".bias", {out}, 0.0, 0.2);
  }
  void Norm(const std::string& prefix, int64_t size) {
    Random(prefix + ".weight", {size}, 1.0, 0.2);
    Random(prefix + ".bias", {size}, 0.0, 0.2);
  }
  const Matrix& W(const std::string& name) const { return weights_.at(name); }

  // x [n, in] -> x W^T + b, W as PyTorch holds it [out, in].
  Matrix Dense(const Matrix& x, const std::string& prefix, int64_t in, int64_t out) const {
    const Matrix& w = W(prefix + ".weight");
    const Matrix& b = W(prefix + ".bias");
    const int64_t n = static_cast<int64_t>(x.size()) / in;
    Matrix y(static_cast<size_t>(n * out));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < out; ++o) {
        double acc = b[o];
        for (int64_t k = 0; k < in; ++k) acc += x[r * in + k] * w[o * in + k];
        y[r * out + o] = acc;
      }
    return y;
  }

  Matrix LayerNorm(const Matrix& x, const std::string& prefix, int64_t d) const {
    const double eps = a_.distil() ? 1e-12 : a_.eps;
    const Matrix& g = W(prefix + ".weight");
    const Matrix& b = W(prefix + ".bias");
    Matrix y(x.size());
    for (size_t r = 0; r < x.size() / static_cast<size_t>(d); ++r) {
      double mean = 0, var = 0;
      for (int64_t c = 0; c < d; ++c) mean += x[r * d + c];
      mean /= static_cast<double>(d);
      for (int64_t c = 0; c < d; ++c) var += (x[r * d + c] - mean) * (x[r * d + c] - mean);
      var /= static_cast<double>(d);
      for (int64_t c = 0; c < d; ++c)
        y[r * d + c] = (x[r * d + c] - mean) / std::sqrt(var + eps) * g[c] + b[c];
    }
    return y;
  }

  double Act(double v) const {
    if (a_.act == "gelu") return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    // gelu_new: the tanh approximation
    const double inner = std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v);
    return 0.5 * v * (1.0 + std::tanh(inner));
  }

  // Post-norm layer: LN(x + attn(x)), then LN(a + W2 act(W1 a)). Masked keys get no weight.
  Matrix Layer(const Matrix& x, const LayerModules& m, const std::vector<int64_t>& mask,
               int64_t batch, int64_t seq) const {
    const int64_t h = a_.hidden, heads = a_.heads, d = h / heads;
    const Matrix q = Dense(x, m.query, h, h), k = Dense(x, m.key, h, h),
                 v = Dense(x, m.value, h, h);
    Matrix ctx(x.size(), 0.0);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t hd = 0; hd < heads; ++hd)
        for (int64_t i = 0; i < seq; ++i) {
          std::vector<double> score(static_cast<size_t>(seq));
          double top = -1e300;
          for (int64_t j = 0; j < seq; ++j) {
            if (mask[b * seq + j] == 0) continue;
            double s = 0;
            for (int64_t c = 0; c < d; ++c)
              s += q[(b * seq + i) * h + hd * d + c] * k[(b * seq + j) * h + hd * d + c];
            score[j] = s / std::sqrt(static_cast<double>(d));
            top = std::max(top, score[j]);
          }
          double total = 0;
          for (int64_t j = 0; j < seq; ++j) {
            score[j] = mask[b * seq + j] == 0 ? 0.0 : std::exp(score[j] - top);
            total += score[j];
          }
          for (int64_t j = 0; j < seq; ++j)
            for (int64_t c = 0; c < d; ++c)
              ctx[(b * seq + i) * h + hd * d + c] +=
                  score[j] / total * v[(b * seq + j) * h + hd * d + c];
        }
    Matrix attn = Dense(ctx, m.attention_output, h, h);
    for (size_t t = 0; t < attn.size(); ++t) attn[t] += x[t];
    attn = LayerNorm(attn, m.attention_norm, h);
    Matrix f = Dense(attn, m.ffn_in, h, a_.intermediate);
    for (double& val : f) val = Act(val);
    f = Dense(f, m.ffn_out, a_.intermediate, h);
    for (size_t t = 0; t < f.size(); ++t) f[t] += attn[t];
    return LayerNorm(f, m.output_norm, h);
  }

  Arch a_;
  std::mt19937_64 rng_;
  std::map<std::string, Matrix> weights_;
  std::map<std::string, core::Shape> shapes_;
};

// ----- Running the graph ------------------------------------------------------------------------

struct Batch {
  int64_t batch = 0, seq = 0;
  std::vector<int64_t> ids, mask, types;
};

// Row 0: every token real, a pad id in the middle (attended: RoBERTa still gives it the pad
// position, and later tokens do not count it). Row 1: left and right padding.
// Token types cycle through the table.
Batch SampleBatch(int64_t pad, int64_t type_vocab = 3) {
  const int64_t p = pad;
  Batch in{2,
           7,
           {5, 9, p, 7, 3, 11, 2, p, p, 8, 4, 6, p, p},
           {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0},
           {0, 0, 1, 1, 2, 2, 0, 0, 0, 1, 1, 1, 0, 0}};
  for (int64_t& t : in.types) t %= type_vocab;
  return in;
}

// Loads `dir` and runs it on CPU.
std::map<std::string, core::Tensor> RunFolder(const std::string& dir, const Batch& in,
                                              bool token_types) {
  const models::Model model = models::LoadHfFolder(dir);
  auto session = runtime::OpenOnnxRuntimeSession(model, runtime::SessionOptions{});
  std::map<std::string, core::Tensor> inputs = {
      {"input_ids", Int64Tensor({in.batch, in.seq}, in.ids)},
      {"attention_mask", Int64Tensor({in.batch, in.seq}, in.mask)}};
  if (token_types) inputs["token_type_ids"] = Int64Tensor({in.batch, in.seq}, in.types);
  return session->Run(inputs);
}

double MaxAbsDiff(const core::Tensor& got, const Matrix& want) {
  const auto v = got.values<float>();
  EXPECT_EQ(v.size(), want.size());
  double worst = 0;
  for (size_t k = 0; k < std::min(v.size(), want.size()); ++k)
    worst = std::max(worst, std::abs(static_cast<double>(v[k]) - want[k]));
  return worst;
}

// Largest difference over the tokens (rows of [batch*seq, hidden]) where `keep` is set.
double MaxAbsDiffAt(const core::Tensor& a, const core::Tensor& b, const std::vector<bool>& keep,
                    int64_t hidden) {
  const auto x = a.values<float>(), y = b.values<float>();
  double worst = 0;
  for (size_t t = 0; t < keep.size(); ++t)
    if (keep[t])
      for (int64_t c = 0; c < hidden; ++c) {
        const size_t k = t * static_cast<size_t>(hidden) + static_cast<size_t>(c);
        worst = std::max(worst, std::abs(static_cast<double>(x[k]) - y[k]));
      }
  return worst;
}

// Saves `arch` with seeded weights, runs the graph and the reference on the sample batch.
void ExpectMatchesReference(const Arch& arch) {
  SCOPED_TRACE(arch.type);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const TinyEncoder ref(arch, 17);
  ref.Save(dir.path());
  const Batch in = SampleBatch(arch.pad, arch.type_vocab);
  const auto got = RunFolder(dir.path(), in, arch.token_types());
  const auto want = ref.Forward(in.ids, in.mask, in.types, in.batch, in.seq);
  ASSERT_TRUE(got.count("last_hidden_state"));
  EXPECT_EQ(got.at("last_hidden_state").shape, (core::Shape{in.batch, in.seq, arch.hidden}));
  EXPECT_LT(MaxAbsDiff(got.at("last_hidden_state"), want.last_hidden_state), 1e-4);
  EXPECT_EQ(got.count("pooler_output"), arch.pooler() ? 1u : 0u);
  if (arch.pooler()) {
    EXPECT_LT(MaxAbsDiff(got.at("pooler_output"), want.pooler_output), 1e-4);
  }
}

// ----- Tests
// --------------------------------------------------------------------------------------

TEST(EncoderReferenceTest, ReferencePositionIdsFollowRobertaRule) {
  // cumsum(ids != pad) * (ids != pad) + pad, written out for the sample batch (pad 1).
  Arch roberta{.type = "roberta"};
  roberta.pad = 1;
  const Batch in = SampleBatch(1);
  EXPECT_EQ(TinyEncoder(roberta, 1).PositionIds(in.ids, in.seq),
            (std::vector<int64_t>{2, 3, 1, 4, 5, 6, 7, 1, 1, 2, 3, 4, 1, 1}));
  Arch bert{.type = "bert"};
  EXPECT_EQ(TinyEncoder(bert, 1).PositionIds(in.ids, in.seq),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6}));
}

TEST(EncoderReferenceTest, BertMatches) { ExpectMatchesReference({.type = "bert"}); }

TEST(EncoderReferenceTest, RobertaFamilyMatches) {
  for (const std::string type : {"roberta", "xlm-roberta", "camembert"}) {
    Arch a{.type = type};
    a.pad = 1;
    a.type_vocab = 1;  // as the real checkpoints have it
    a.eps = 1e-5;
    ExpectMatchesReference(a);
  }
  Arch other_pad{.type = "roberta"};
  other_pad.pad = 3;
  ExpectMatchesReference(other_pad);
}

TEST(EncoderReferenceTest, DistilBertMatches) {
  Arch a{.type = "distilbert"};
  a.layers = 3;
  ExpectMatchesReference(a);
}

TEST(EncoderReferenceTest, ElectraMatchesWithAndWithoutProjection) {
  Arch narrow{.type = "electra"};
  narrow.embedding = 8;
  ExpectMatchesReference(narrow);
  ExpectMatchesReference({.type = "electra"});  // embedding_size == hidden_size
}

TEST(EncoderReferenceTest, AlbertMatchesWithSharedGroups) {
  Arch one_group{.type = "albert"};
  one_group.embedding = 8;
  one_group.layers = 3;
  one_group.act = "gelu_new";
  ExpectMatchesReference(one_group);
  // 5 layers over 2 groups of 2: groups 0,0,0,1,1, each running both of its layers.
  Arch groups = one_group;
  groups.layers = 5;
  groups.groups = 2;
  groups.inner = 2;
  ExpectMatchesReference(groups);
}

class RobertaPaddingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arch_.pad = 1;
    arch_.type_vocab = 1;
    ASSERT_FALSE(dir_.path().empty());
    TinyEncoder(arch_, 29).Save(dir_.path());
  }
  Arch arch_{.type = "roberta"};
  TempDir dir_;
};

TEST_F(RobertaPaddingTest, RightPaddingIdsDoNotReachRealTokens) {
  const Batch in = SampleBatch(arch_.pad, arch_.type_vocab);
  const auto base = RunFolder(dir_.path(), in, true);
  Batch changed = in;
  changed.ids[12] = 13;  // row 1's right padding, masked out
  changed.ids[13] = 21;
  const auto out = RunFolder(dir_.path(), changed, true);
  std::vector<bool> attended(in.mask.begin(), in.mask.end());
  EXPECT_LT(MaxAbsDiffAt(base.at("last_hidden_state"), out.at("last_hidden_state"), attended,
                         arch_.hidden),
            1e-6);
  // The changed tokens' own rows do change (their embeddings did), so the check can fail.
  std::vector<bool> changed_rows(in.ids.size(), false);
  changed_rows[12] = changed_rows[13] = true;
  EXPECT_GT(MaxAbsDiffAt(base.at("last_hidden_state"), out.at("last_hidden_state"), changed_rows,
                         arch_.hidden),
            1e-3);
  const auto p0 = base.at("pooler_output").values<float>();
  const auto p1 = out.at("pooler_output").values<float>();
  for (size_t k = 0; k < p0.size(); ++k) EXPECT_NEAR(p0[k], p1[k], 1e-6);
}

TEST_F(RobertaPaddingTest, PositionsComeFromIdsNotFromTheMask) {
  // A masked left-padding token whose id is not the pad id still counts for positions (HF
  // counts input_ids != pad), so the real tokens after it move one position on.
  const Batch in = SampleBatch(arch_.pad, arch_.type_vocab);
  const auto base = RunFolder(dir_.path(), in, true);
  Batch changed = in;
  changed.ids[8] = 13;  // row 1, position 1: masked out, but no longer the pad id
  const auto out = RunFolder(dir_.path(), changed, true);
  std::vector<bool> real_row1(in.ids.size(), false);
  real_row1[9] = real_row1[10] = real_row1[11] = true;
  EXPECT_GT(MaxAbsDiffAt(base.at("last_hidden_state"), out.at("last_hidden_state"), real_row1,
                         arch_.hidden),
            1e-3);
  // ...and the reference, which shifts them the same way, agrees with the graph.
  const auto want = TinyEncoder(arch_, 29).Forward(changed.ids, changed.mask, changed.types,
                                                   changed.batch, changed.seq);
  EXPECT_LT(MaxAbsDiff(out.at("last_hidden_state"), want.last_hidden_state), 1e-4);
}

TEST_F(RobertaPaddingTest, LeftPaddingLeavesRealTokensAsUnpadded) {
  // [pad, pad, a, b, c] with mask [0, 0, 1, 1, 1] gives a, b, c what [a, b, c] gives them:
  // RoBERTa's positions skip pad tokens.
  const Batch padded{1, 5, {1, 1, 8, 4, 6}, {0, 0, 1, 1, 1}, {0, 0, 0, 0, 0}};
  const Batch plain{1, 3, {8, 4, 6}, {1, 1, 1}, {0, 0, 0}};
  const auto run_padded = RunFolder(dir_.path(), padded, true);
  const auto run_plain = RunFolder(dir_.path(), plain, true);
  const auto a = run_padded.at("last_hidden_state").values<float>();
  const auto b = run_plain.at("last_hidden_state").values<float>();
  const auto h = static_cast<size_t>(arch_.hidden);
  for (size_t t = 0; t < 3; ++t)
    for (size_t c = 0; c < h; ++c) EXPECT_NEAR(a[(t + 2) * h + c], b[t * h + c], 1e-5);
}

TEST(BertPaddingTest, LeftPaddingMovesBertPositions) {
  // The same check fails for BERT, whose positions are 0..seq-1 whatever the ids: the test
  // above can tell the two rules apart.
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const Arch bert{.type = "bert"};
  TinyEncoder(bert, 29).Save(dir.path());
  const Batch padded{1, 5, {0, 0, 8, 4, 6}, {0, 0, 1, 1, 1}, {0, 0, 0, 0, 0}};
  const Batch plain{1, 3, {8, 4, 6}, {1, 1, 1}, {0, 0, 0}};
  const auto run_padded = RunFolder(dir.path(), padded, true);
  const auto run_plain = RunFolder(dir.path(), plain, true);
  const auto a = run_padded.at("last_hidden_state").values<float>();
  const auto b = run_plain.at("last_hidden_state").values<float>();
  double worst = 0;
  for (size_t k = 0; k < b.size(); ++k)
    worst = std::max(worst, std::abs(static_cast<double>(a[2 * bert.hidden + k]) - b[k]));
  EXPECT_GT(worst, 1e-3);
}

}  // namespace encoder_family_run_test
}  // namespace ipfs_accel::harness
