// Runs graphs of the encoder builder's newer pieces on ONNX Runtime against double-precision
// forward passes written here from the HF modeling code, with no HF fixture: Megatron-BERT's
// pre-norm layers, RoFormer's pairwise rotary positions, MPNet's relative position bias and
// padding-offset positions, XLM's padding-masked hidden states with token types from the word
// table, X-MOD's per-sample language adapters, SqueezeBERT's grouped convolutions, FNet's
// Fourier mixing, TAPAS' token-type tables and per-cell positions, AltCLIP's projected text
// states, Jina's and ESM's rotate-half rotary positions, ESM's token dropout, Longformer's
// windowed and global attention, VisualBERT's appended visual tokens, BROS' relative box
// scores, and
// ModernBERT's alternating global and windowed rotary attention (BuildModernBert). Each builds
// its graph with BuildEncoder from pieces over a seeded checkpoint.

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/encoder_builder.h"
#include "models/graph_builder.h"
#include "models/modernbert_builder.h"
#include "models/weights.h"
#include "support/reference_forward.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace encoder_pieces_run_test {

using testing::Checkpoint;
using testing::Int64Tensor;
using testing::TempDir;
using testing::Vec;

constexpr int64_t kVocab = 30, kHidden = 8, kHeads = 2, kInter = 12, kLayers = 2, kPositions = 16;
constexpr double kEps = 1e-12;

// Two rows of 5 tokens; the second row's last two are padding (pad id 1, masked).
struct Batch {
  int64_t batch = 2, seq = 5;
  std::vector<int64_t> ids = {4, 9, 1, 7, 3, 11, 2, 8, 1, 1};
  std::vector<int64_t> mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  std::vector<int64_t> types = {0, 0, 1, 1, 1, 0, 1, 1, 0, 0};
};

nlohmann::json Config(const std::string& type) {
  return {{"model_type", type},
          {"vocab_size", kVocab},
          {"hidden_size", kHidden},
          {"num_attention_heads", kHeads},
          {"intermediate_size", kInter},
          {"num_hidden_layers", kLayers},
          {"max_position_embeddings", kPositions},
          {"type_vocab_size", 2},
          {"pad_token_id", 1},
          {"layer_norm_eps", kEps},
          {"hidden_act", "gelu"}};
}

// Builds `pieces` over the checkpoint saved in `dir` and runs `in` on CPU.
std::map<std::string, core::Tensor> RunPieces(const TempDir& dir, const nlohmann::json& config,
                                              const nlohmann::json& pieces, const Batch& in,
                                              bool token_types,
                                              std::map<std::string, core::Tensor> inputs = {}) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("test");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(models::kOpsetVersion);
  models::SafetensorsWeights weights(dir.path(), {});
  models::GraphBuilder g(proto.mutable_graph(), &weights);
  models::BuildEncoder(models::HfConfig(config, "test"),
                       models::EncoderVariantFromPieces(config["model_type"], pieces, "test"), g);
  models::Model model;
  proto.SerializeToString(&model.onnx_bytes);
  auto session = runtime::OpenOnnxRuntimeSession(model, runtime::SessionOptions{});
  inputs["input_ids"] = Int64Tensor({in.batch, in.seq}, in.ids);
  bool has_mask = false;  // FNet's graph takes none
  for (const auto& input : proto.graph().input()) has_mask |= input.name() == "attention_mask";
  if (has_mask) inputs["attention_mask"] = Int64Tensor({in.batch, in.seq}, in.mask);
  if (token_types) inputs["token_type_ids"] = Int64Tensor({in.batch, in.seq}, in.types);
  return session->Run(inputs);
}

// Rows `ids` of table `name` [rows, width].
Vec Rows(const Checkpoint& w, const std::string& name, const std::vector<int64_t>& ids,
         int64_t width) {
  Vec out;
  for (int64_t id : ids)
    out.insert(out.end(), w[name].begin() + id * width, w[name].begin() + (id + 1) * width);
  return out;
}

Vec Add(Vec a, const Vec& b) {
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

// Which keys each query may attend: the row's attention_mask.
std::vector<bool> Allowed(const std::vector<int64_t>& mask) {
  const size_t n = mask.size();
  std::vector<bool> allowed(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) allowed[i * n + j] = mask[j] != 0;
  return allowed;
}

// One row's slice of a batch field.
std::vector<int64_t> RowOf(const std::vector<int64_t>& v, int64_t row, int64_t seq) {
  return {v.begin() + row * seq, v.begin() + (row + 1) * seq};
}

// Module names of one BERT-style layer.
struct LayerNames {
  std::string q, k, v, o, attention_norm, ffn_in, ffn_out, output_norm;
};

LayerNames BertNames(int64_t l) {
  const std::string p = fmt::format("encoder.layer.{}.", l);
  return {p + "attention.self.query",
          p + "attention.self.key",
          p + "attention.self.value",
          p + "attention.output.dense",
          p + "attention.output.LayerNorm",
          p + "intermediate.dense",
          p + "output.dense",
          p + "output.LayerNorm"};
}

void AddLayer(Checkpoint& w, const LayerNames& n) {
  for (const std::string* m : {&n.q, &n.k, &n.v, &n.o}) w.Linear(*m, kHidden, kHidden);
  w.Norm(n.attention_norm, kHidden);
  w.Linear(n.ffn_in, kHidden, kInter);
  w.Linear(n.ffn_out, kInter, kHidden);
  w.Norm(n.output_norm, kHidden);
}

// kLayers layers named `stack` + index + "." + each of `names` (LayerNames' order), added to `w`.
std::vector<LayerNames> AddLayers(Checkpoint& w, const std::string& stack,
                                  const std::array<std::string, 8>& names) {
  std::vector<LayerNames> layers;
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = fmt::format("{}{}.", stack, l);
    layers.push_back({p + names[0], p + names[1], p + names[2], p + names[3], p + names[4],
                      p + names[5], p + names[6], p + names[7]});
    AddLayer(w, layers.back());
  }
  return layers;
}

// Row r's word and token-type embeddings, added and normed (embeddings.LayerNorm).
Vec WordAndTypeEmbeddings(const Checkpoint& w, const Batch& in, int64_t r) {
  return testing::LayerNorm(
      w, "embeddings.LayerNorm",
      Add(Rows(w, "embeddings.word_embeddings.weight", RowOf(in.ids, r, in.seq), kHidden),
          Rows(w, "embeddings.token_type_embeddings.weight", RowOf(in.types, r, in.seq), kHidden)),
      in.seq, kHidden, kEps);
}

// q, k after a `rotate` hook (RoFormer), attention (+ bias), output projection.
Vec SelfAttention(const Checkpoint& w, const LayerNames& n, const Vec& x, int64_t s,
                  const std::vector<bool>& allowed, const Vec* bias = nullptr,
                  const std::function<void(Vec&)>& rotate = {}) {
  Vec q = testing::Linear(w, n.q, x, s, kHidden, kHidden);
  Vec k = testing::Linear(w, n.k, x, s, kHidden, kHidden);
  const Vec v = testing::Linear(w, n.v, x, s, kHidden, kHidden);
  if (rotate) {
    rotate(q);
    rotate(k);
  }
  const Vec ctx = testing::Attention(q, s, k, v, s, kHidden, kHeads, allowed, bias);
  return testing::Linear(w, n.o, ctx, s, kHidden, kHidden);
}

Vec FeedForward(const Checkpoint& w, const LayerNames& n, const Vec& x, int64_t s,
                const std::string& act) {
  return testing::Linear(w, n.ffn_out,
                         testing::Act(testing::Linear(w, n.ffn_in, x, s, kHidden, kInter), act), s,
                         kInter, kHidden);
}

// BERT's post-norm layer.
Vec PostNormLayer(const Checkpoint& w, const LayerNames& n, const Vec& x, int64_t s,
                  const std::vector<bool>& allowed, const std::string& act,
                  const Vec* bias = nullptr, const std::function<void(Vec&)>& rotate = {}) {
  const Vec a = testing::LayerNorm(w, n.attention_norm,
                                   Add(SelfAttention(w, n, x, s, allowed, bias, rotate), x), s,
                                   kHidden, kEps);
  return testing::LayerNorm(w, n.output_norm, Add(FeedForward(w, n, a, s, act), a), s, kHidden,
                            kEps);
}

// BERT's embedding tables (two token types) and their LayerNorm.
void AddBertEmbeddings(Checkpoint& w) {
  w.Add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("embeddings.position_embeddings.weight", {kPositions, kHidden}, 0.5);
  w.Add("embeddings.token_type_embeddings.weight", {2, kHidden}, 0.5);
  w.Norm("embeddings.LayerNorm", kHidden);
}

// BERT's embeddings of batch row r: LayerNorm(word + token type + position 0..seq-1).
Vec BertEmbeddings(const Checkpoint& w, const Batch& in, int64_t r, double eps) {
  std::vector<int64_t> positions(in.seq);
  for (int64_t i = 0; i < in.seq; ++i) positions[i] = i;
  return testing::LayerNorm(
      w, "embeddings.LayerNorm",
      Add(Add(Rows(w, "embeddings.word_embeddings.weight", RowOf(in.ids, r, in.seq), kHidden),
              Rows(w, "embeddings.token_type_embeddings.weight", RowOf(in.types, r, in.seq),
                   kHidden)),
          Rows(w, "embeddings.position_embeddings.weight", positions, kHidden)),
      in.seq, kHidden, eps);
}

void ExpectClose(const core::Tensor& got, const Vec& want, int64_t row, const char* what) {
  const auto v = got.values<float>();
  const int64_t width = static_cast<int64_t>(want.size());
  double worst = 0;
  for (int64_t i = 0; i < width; ++i)
    worst = std::max(worst, std::abs(static_cast<double>(v[row * width + i]) - want[i]));
  EXPECT_LT(worst, 1e-4) << what << " row " << row;
}

TEST(EncoderPiecesRun, MegatronBertNormalisesBeforeEachSublayerAndAfterTheLast) {
  Checkpoint w(11);
  w.Add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("embeddings.position_embeddings.weight", {kPositions, kHidden}, 0.5);
  w.Add("embeddings.token_type_embeddings.weight", {2, kHidden}, 0.5);
  const std::vector<LayerNames> layers = AddLayers(
      w, "encoder.layer.",
      {"attention.self.query", "attention.self.key", "attention.self.value",
       "attention.output.dense", "attention.ln", "intermediate.dense", "output.dense", "ln"});
  w.Norm("encoder.ln", kHidden);
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  const nlohmann::json config = Config("megatron-bert");
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(dir, config, {{"layout", "megatron_bert"}}, in, true);

  for (int64_t r = 0; r < in.batch; ++r) {
    const auto ids = RowOf(in.ids, r, in.seq);
    std::vector<int64_t> positions(in.seq);
    for (int64_t i = 0; i < in.seq; ++i) positions[i] = i;
    Vec x = Add(Add(Rows(w, "embeddings.word_embeddings.weight", ids, kHidden),
                    Rows(w, "embeddings.token_type_embeddings.weight", RowOf(in.types, r, in.seq),
                         kHidden)),
                Rows(w, "embeddings.position_embeddings.weight", positions, kHidden));
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    for (const LayerNames& n : layers) {
      x = Add(x,
              SelfAttention(w, n, testing::LayerNorm(w, n.attention_norm, x, in.seq, kHidden, kEps),
                            in.seq, allowed));
      x = Add(x, FeedForward(w, n, testing::LayerNorm(w, n.output_norm, x, in.seq, kHidden, kEps),
                             in.seq, "gelu"));
    }
    x = testing::LayerNorm(w, "encoder.ln", x, in.seq, kHidden, kEps);
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
    const Vec first(x.begin(), x.begin() + kHidden);
    Vec pooled = testing::Linear(w, "pooler.dense", first, 1, kHidden, kHidden);
    ExpectClose(got.at("pooler_output"), testing::Act(pooled, "tanh"), r, "pooler_output");
  }
}

TEST(EncoderPiecesRun, RoformerRotatesQueryAndKeyPairsByItsTable) {
  Checkpoint w(12);
  w.Add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("embeddings.token_type_embeddings.weight", {2, kHidden}, 0.5);
  w.Norm("embeddings.LayerNorm", kHidden);
  const int64_t d = kHidden / kHeads;
  w.Add("encoder.embed_positions.weight", {kPositions, d}, 0.7);
  for (int64_t l = 0; l < kLayers; ++l) AddLayer(w, BertNames(l));
  TempDir dir;
  const nlohmann::json config = Config("roformer");
  w.Save(dir, config);
  const Batch in;
  const auto got =
      RunPieces(dir, config, {{"positions", "rotary_table"}, {"pooler", false}}, in, true);

  // x [seq, hidden]: in each head, pair (2i, 2i + 1) at position p turned by the table's
  // sin = row[i], cos = row[d/2 + i].
  const Vec& table = w["encoder.embed_positions.weight"];
  auto rotate = [&](Vec& x) {
    for (int64_t p = 0; p < in.seq; ++p)
      for (int64_t h = 0; h < kHeads; ++h)
        for (int64_t i = 0; i < d / 2; ++i) {
          const double sin = table[p * d + i], cos = table[p * d + d / 2 + i];
          double& a = x[p * kHidden + h * d + 2 * i];
          double& b = x[p * kHidden + h * d + 2 * i + 1];
          const double a0 = a, b0 = b;
          a = a0 * cos - b0 * sin;
          b = b0 * cos + a0 * sin;
        }
  };
  for (int64_t r = 0; r < in.batch; ++r) {
    Vec x = WordAndTypeEmbeddings(w, in, r);
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    for (int64_t l = 0; l < kLayers; ++l)
      x = PostNormLayer(w, BertNames(l), x, in.seq, allowed, "gelu", nullptr, rotate);
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

TEST(EncoderPiecesRun, MpnetAddsItsBucketedRelativeBiasAndCountsPositionsPastPadding) {
  Checkpoint w(13);
  w.Add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("embeddings.position_embeddings.weight", {kPositions, kHidden}, 0.5);
  w.Norm("embeddings.LayerNorm", kHidden);
  w.Add("encoder.relative_attention_bias.weight", {32, kHeads}, 1.0);
  const std::vector<LayerNames> layers =
      AddLayers(w, "encoder.layer.",
                {"attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                 "attention.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"});
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("mpnet");
  config["pad_token_id"] = 0;  // MPNet counts positions past row 1 whatever the pad id says
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(dir, config,
                             {{"layout", "mpnet"},
                              {"positions", "after_padding"},
                              {"token_types", false},
                              {"relative_bias", true},
                              {"position_padding_idx", 1}},
                             in, false);

  // Distances under 8 keep their own bucket: (key after query) * 16 + |key - query|.
  Vec bias(static_cast<size_t>(kHeads * in.seq * in.seq));
  for (int64_t h = 0; h < kHeads; ++h)
    for (int64_t i = 0; i < in.seq; ++i)
      for (int64_t j = 0; j < in.seq; ++j) {
        const int64_t bucket = (j > i ? 16 : 0) + std::abs(j - i);
        bias[(h * in.seq + i) * in.seq + j] =
            w["encoder.relative_attention_bias.weight"][bucket * kHeads + h];
      }
  for (int64_t r = 0; r < in.batch; ++r) {
    const auto ids = RowOf(in.ids, r, in.seq);
    std::vector<int64_t> positions;
    int64_t count = 0;
    for (int64_t id : ids) positions.push_back(id == 1 ? 1 : 1 + ++count);
    Vec x = testing::LayerNorm(
        w, "embeddings.LayerNorm",
        Add(Rows(w, "embeddings.word_embeddings.weight", ids, kHidden),
            Rows(w, "embeddings.position_embeddings.weight", positions, kHidden)),
        in.seq, kHidden, kEps);
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    for (const LayerNames& n : layers) x = PostNormLayer(w, n, x, in.seq, allowed, "gelu", &bias);
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

TEST(EncoderPiecesRun, XlmMasksHiddenStatesAndLooksTokenTypesUpAsWords) {
  Checkpoint w(14);
  w.Add("embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("position_embeddings.weight", {kPositions, kHidden}, 0.5);
  w.Norm("layer_norm_emb", kHidden);
  std::vector<LayerNames> layers;
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string a = fmt::format("attentions.{}.", l);
    layers.push_back({a + "q_lin", a + "k_lin", a + "v_lin", a + "out_lin",
                      fmt::format("layer_norm1.{}", l), fmt::format("ffns.{}.lin1", l),
                      fmt::format("ffns.{}.lin2", l), fmt::format("layer_norm2.{}", l)});
  }
  const int64_t inter = 4 * kHidden;
  for (const LayerNames& n : layers) {
    for (const std::string* m : {&n.q, &n.k, &n.v, &n.o}) w.Linear(*m, kHidden, kHidden);
    w.Norm(n.attention_norm, kHidden);
    w.Linear(n.ffn_in, kHidden, inter);
    w.Linear(n.ffn_out, inter, kHidden);
    w.Norm(n.output_norm, kHidden);
  }
  TempDir dir;
  nlohmann::json config = Config("xlm");
  config.erase("intermediate_size");
  config["gelu_activation"] = false;
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(dir, config,
                             {{"layout", "xlm"},
                              {"pooler", false},
                              {"intermediate_factor", 4},
                              {"activation_flag", "gelu_activation"}},
                             in, true);

  for (int64_t r = 0; r < in.batch; ++r) {
    const auto mask = RowOf(in.mask, r, in.seq);
    auto masked = [&](Vec x) {
      for (int64_t i = 0; i < in.seq; ++i)
        for (int64_t c = 0; c < kHidden; ++c) x[i * kHidden + c] *= static_cast<double>(mask[i]);
      return x;
    };
    std::vector<int64_t> positions(in.seq);
    for (int64_t i = 0; i < in.seq; ++i) positions[i] = i;
    Vec x = Add(Add(Rows(w, "embeddings.weight", RowOf(in.ids, r, in.seq), kHidden),
                    Rows(w, "position_embeddings.weight", positions, kHidden)),
                Rows(w, "embeddings.weight", RowOf(in.types, r, in.seq), kHidden));
    x = masked(testing::LayerNorm(w, "layer_norm_emb", x, in.seq, kHidden, kEps));
    const auto allowed = Allowed(mask);
    for (const LayerNames& n : layers) {
      const Vec a =
          testing::LayerNorm(w, n.attention_norm, Add(SelfAttention(w, n, x, in.seq, allowed), x),
                             in.seq, kHidden, kEps);
      const Vec f = testing::Linear(
          w, n.ffn_out,
          testing::Act(testing::Linear(w, n.ffn_in, a, in.seq, kHidden, inter), "relu"), in.seq,
          inter, kHidden);
      x = masked(testing::LayerNorm(w, n.output_norm, Add(f, a), in.seq, kHidden, kEps));
    }
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

TEST(EncoderPiecesRun, XmodRunsEachSamplesLanguageAdapterAfterTheFfn) {
  Checkpoint w(15);
  AddBertEmbeddings(w);
  const std::vector<std::string> languages = {"en_XX", "de_DE"};
  const int64_t bottleneck = kHidden / 2;
  for (int64_t l = 0; l < kLayers; ++l) {
    AddLayer(w, BertNames(l));
    for (const std::string& language : languages) {
      const std::string p = fmt::format("encoder.layer.{}.output.adapter_modules.{}.", l, language);
      w.Linear(p + "dense1", kHidden, bottleneck);
      w.Linear(p + "dense2", bottleneck, kHidden);
    }
  }
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("xmod");
  config["languages"] = languages;
  w.Save(dir, config);
  const Batch in;
  const std::vector<int64_t> lang_ids = {1, 0};
  const auto got =
      RunPieces(dir, config, {{"positions", "after_padding"}, {"language_adapters", true}}, in,
                true, {{"lang_ids", Int64Tensor({2}, lang_ids)}});

  for (int64_t r = 0; r < in.batch; ++r) {
    const auto ids = RowOf(in.ids, r, in.seq);
    std::vector<int64_t> positions;
    int64_t count = 0;
    for (int64_t id : ids) positions.push_back(id == 1 ? 1 : 1 + ++count);
    Vec x = testing::LayerNorm(
        w, "embeddings.LayerNorm",
        Add(Add(Rows(w, "embeddings.word_embeddings.weight", ids, kHidden),
                Rows(w, "embeddings.token_type_embeddings.weight", RowOf(in.types, r, in.seq),
                     kHidden)),
            Rows(w, "embeddings.position_embeddings.weight", positions, kHidden)),
        in.seq, kHidden, kEps);
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    for (int64_t l = 0; l < kLayers; ++l) {
      const LayerNames n = BertNames(l);
      // XmodLayer: the FFN's residual sum normalised by output.LayerNorm, plus the adapter of
      // that, normalised again by the same LayerNorm.
      const Vec out = PostNormLayer(w, n, x, in.seq, allowed, "gelu");
      const std::string p = fmt::format("encoder.layer.{}.output.adapter_modules.{}.", l,
                                        languages[static_cast<size_t>(lang_ids[r])]);
      const Vec adapter = testing::Linear(
          w, p + "dense2",
          testing::Act(testing::Linear(w, p + "dense1", out, in.seq, kHidden, bottleneck), "gelu"),
          in.seq, bottleneck, kHidden);
      x = testing::LayerNorm(w, n.output_norm, Add(adapter, out), in.seq, kHidden, kEps);
    }
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

TEST(EncoderPiecesRun, SqueezeBertGroupsItsConvolutionsChannelWise) {
  Checkpoint w(16);
  AddBertEmbeddings(w);
  // (module, in, out, groups) of one layer, as SqueezeBertModule builds them from the config
  struct Conv {
    std::string name;
    int64_t in, out, groups;
  };
  auto convs = [](int64_t l) {
    const std::string p = fmt::format("encoder.layers.{}.", l);
    return std::vector<Conv>{{p + "attention.query", kHidden, kHidden, 2},
                             {p + "attention.key", kHidden, kHidden, 4},
                             {p + "attention.value", kHidden, kHidden, 1},
                             {p + "post_attention.conv1d", kHidden, kHidden, 1},
                             {p + "intermediate.conv1d", kHidden, kInter, 4},
                             {p + "output.conv1d", kInter, kHidden, 2}};
  };
  for (int64_t l = 0; l < kLayers; ++l) {
    for (const Conv& c : convs(l)) {
      w.Add(c.name + ".weight", {c.out, c.in / c.groups, 1}, 0.3);
      w.Add(c.name + ".bias", {c.out}, 0.1);
    }
    w.Norm(fmt::format("encoder.layers.{}.post_attention.layernorm", l), kHidden);
    w.Norm(fmt::format("encoder.layers.{}.output.layernorm", l), kHidden);
  }
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("squeezebert");
  config.update({{"q_groups", 2},
                 {"k_groups", 4},
                 {"v_groups", 1},
                 {"post_attention_groups", 1},
                 {"intermediate_groups", 4},
                 {"output_groups", 2},
                 {"layer_norm_eps", 1e-5}});  // the embeddings' only: the layers keep 1e-12
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(dir, config, {{"layout", "squeezebert"}}, in, true);

  // Output channel o of a grouped 1x1 convolution sees only the inputs of its group.
  auto conv = [&](const Conv& c, const Vec& x, int64_t n) {
    const Vec& weight = w[c.name + ".weight"];
    const int64_t in_per = c.in / c.groups, out_per = c.out / c.groups;
    Vec y(static_cast<size_t>(n * c.out));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < c.out; ++o) {
        double acc = w[c.name + ".bias"][o];
        const int64_t group = o / out_per;
        for (int64_t k = 0; k < in_per; ++k)
          acc += weight[o * in_per + k] * x[r * c.in + group * in_per + k];
        y[r * c.out + o] = acc;
      }
    return y;
  };
  for (int64_t r = 0; r < in.batch; ++r) {
    Vec x = BertEmbeddings(w, in, r, 1e-5);
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    for (int64_t l = 0; l < kLayers; ++l) {
      const std::vector<Conv> c = convs(l);
      const Vec ctx = testing::Attention(conv(c[0], x, in.seq), in.seq, conv(c[1], x, in.seq),
                                         conv(c[2], x, in.seq), in.seq, kHidden, kHeads, allowed);
      const Vec a =
          testing::LayerNorm(w, fmt::format("encoder.layers.{}.post_attention.layernorm", l),
                             Add(conv(c[3], ctx, in.seq), x), in.seq, kHidden, 1e-12);
      const Vec f = conv(c[5], testing::Act(conv(c[4], a, in.seq), "gelu"), in.seq);
      x = testing::LayerNorm(w, fmt::format("encoder.layers.{}.output.layernorm", l), Add(f, a),
                             in.seq, kHidden, 1e-12);
    }
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

// Re(fft2(x)) of one row x [s, h], straight from the DFT's definition.
Vec FourierReal(const Vec& x, int64_t s, int64_t h) {
  Vec y(static_cast<size_t>(s * h));
  for (int64_t n = 0; n < s; ++n)
    for (int64_t k = 0; k < h; ++k)
      for (int64_t i = 0; i < s; ++i)
        for (int64_t j = 0; j < h; ++j)
          y[n * h + k] +=
              x[i * h + j] *
              std::cos(2 * M_PI *
                       (static_cast<double>(n * i) / s + static_cast<double>(k * j) / h));
  return y;
}

TEST(EncoderPiecesRun, FnetMixesTokensByTheRealPartOfTheTwoDimensionalDft) {
  Checkpoint w(17);
  AddBertEmbeddings(w);
  w.Linear("embeddings.projection", kHidden, kHidden);
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = fmt::format("encoder.layer.{}.", l);
    w.Norm(p + "fourier.output.LayerNorm", kHidden);
    w.Linear(p + "intermediate.dense", kHidden, kInter);
    w.Linear(p + "output.dense", kInter, kHidden);
    w.Norm(p + "output.LayerNorm", kHidden);
  }
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("fnet");
  config.erase("num_attention_heads");  // FNetConfig has none
  w.Save(dir, config);
  const Batch in;  // its mask is not an input: FNet mixes padding too
  const auto got =
      RunPieces(dir, config, {{"layout", "fnet"}, {"projection", "after_norm"}}, in, true);

  for (int64_t r = 0; r < in.batch; ++r) {
    Vec x = BertEmbeddings(w, in, r, kEps);
    x = testing::Linear(w, "embeddings.projection", x, in.seq, kHidden, kHidden);
    for (int64_t l = 0; l < kLayers; ++l) {
      const std::string p = fmt::format("encoder.layer.{}.", l);
      const Vec a =
          testing::LayerNorm(w, p + "fourier.output.LayerNorm",
                             Add(FourierReal(x, in.seq, kHidden), x), in.seq, kHidden, kEps);
      const Vec f = testing::Linear(
          w, p + "output.dense",
          testing::Act(testing::Linear(w, p + "intermediate.dense", a, in.seq, kHidden, kInter),
                       "gelu"),
          in.seq, kInter, kHidden);
      x = testing::LayerNorm(w, p + "output.LayerNorm", Add(f, a), in.seq, kHidden, kEps);
    }
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

TEST(EncoderPiecesRun, TapasAddsATablePerTokenTypeColumnAndCountsPositionsWithinEachCell) {
  const std::vector<int64_t> sizes = {2, 3, 3};  // segment, column, row
  Checkpoint w(18);
  w.Add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("embeddings.position_embeddings.weight", {kPositions, kHidden}, 0.5);
  for (size_t i = 0; i < sizes.size(); ++i)
    w.Add(fmt::format("embeddings.token_type_embeddings_{}.weight", i), {sizes[i], kHidden}, 0.5);
  w.Norm("embeddings.LayerNorm", kHidden);
  for (int64_t l = 0; l < kLayers; ++l) AddLayer(w, BertNames(l));
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("tapas");
  config["type_vocab_sizes"] = sizes;
  w.Save(dir, config);
  Batch in;
  in.batch = 1;
  in.seq = 6;
  in.ids = {4, 9, 5, 7, 3, 11};
  in.mask = {1, 1, 1, 1, 1, 1};
  // Per token (segment, column, row): the question's two tokens, then cells (1, 1) and (2, 1),
  // cell (1, 1) resumed by the last token.
  const std::vector<std::vector<int64_t>> types = {{0, 0, 0}, {0, 0, 0}, {1, 1, 1},
                                                   {1, 1, 1}, {1, 2, 1}, {1, 1, 1}};
  std::vector<int64_t> flat;
  for (const auto& t : types) flat.insert(flat.end(), t.begin(), t.end());
  const auto got = RunPieces(dir, config, {{"layout", "tapas"}, {"positions", "per_cell"}}, in,
                             false, {{"token_type_ids", Int64Tensor({1, 6, 3}, flat)}});

  const std::vector<int64_t> positions = {0, 1, 0, 1, 0, 3};  // index minus its cell's first
  Vec x = Add(Rows(w, "embeddings.word_embeddings.weight", in.ids, kHidden),
              Rows(w, "embeddings.position_embeddings.weight", positions, kHidden));
  for (size_t c = 0; c < sizes.size(); ++c) {
    std::vector<int64_t> column;
    for (const auto& t : types) column.push_back(t[c]);
    x = Add(x,
            Rows(w, fmt::format("embeddings.token_type_embeddings_{}.weight", c), column, kHidden));
  }
  x = testing::LayerNorm(w, "embeddings.LayerNorm", x, in.seq, kHidden, kEps);
  const auto allowed = Allowed(in.mask);
  for (int64_t l = 0; l < kLayers; ++l)
    x = PostNormLayer(w, BertNames(l), x, in.seq, allowed, "gelu");
  ExpectClose(got.at("last_hidden_state"), x, 0, "last_hidden_state");
}

TEST(EncoderPiecesRun, AltClipProjectsTheNormedRobertaStatesAndPoolsTheFirstProjectedToken) {
  constexpr int64_t kProject = 6;
  auto bert = [](int64_t l) {  // BERT's names under roberta.
    LayerNames n = BertNames(l);
    for (std::string* m :
         {&n.q, &n.k, &n.v, &n.o, &n.attention_norm, &n.ffn_in, &n.ffn_out, &n.output_norm})
      *m = "roberta." + *m;
    return n;
  };
  Checkpoint w(19);
  w.Add("roberta.embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("roberta.embeddings.position_embeddings.weight", {kPositions, kHidden}, 0.5);
  w.Add("roberta.embeddings.token_type_embeddings.weight", {1, kHidden}, 0.5);
  w.Norm("roberta.embeddings.LayerNorm", kHidden);
  for (int64_t l = 0; l < kLayers; ++l) AddLayer(w, bert(l));
  w.Norm("pre_LN", kHidden);
  w.Linear("transformation", kHidden, kProject);
  TempDir dir;
  nlohmann::json config = Config("altclip_text_model");
  config.update({{"project_dim", kProject}, {"type_vocab_size", 1}});
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(
      dir, config, {{"layout", "altclip"}, {"positions", "after_padding"}, {"pooler", true}}, in,
      false, {{"token_type_ids", Int64Tensor({in.batch, in.seq}, std::vector<int64_t>(10, 0))}});

  for (int64_t r = 0; r < in.batch; ++r) {
    const std::vector<int64_t> ids = RowOf(in.ids, r, in.seq);
    std::vector<int64_t> positions, types(in.seq, 0);
    int64_t count = 0;  // RoBERTa's: non-pad tokens count up from pad + 1, pads get pad (1)
    for (int64_t id : ids) positions.push_back(id == 1 ? 1 : 1 + ++count);
    Vec x = testing::LayerNorm(
        w, "roberta.embeddings.LayerNorm",
        Add(Add(Rows(w, "roberta.embeddings.word_embeddings.weight", ids, kHidden),
                Rows(w, "roberta.embeddings.token_type_embeddings.weight", types, kHidden)),
            Rows(w, "roberta.embeddings.position_embeddings.weight", positions, kHidden)),
        in.seq, kHidden, kEps);
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    for (int64_t l = 0; l < kLayers; ++l) x = PostNormLayer(w, bert(l), x, in.seq, allowed, "gelu");
    const Vec projected = testing::Linear(w, "transformation",
                                          testing::LayerNorm(w, "pre_LN", x, in.seq, kHidden, kEps),
                                          in.seq, kHidden, kProject);
    ExpectClose(got.at("last_hidden_state"), projected, r, "last_hidden_state");
    ExpectClose(got.at("pooler_output"), Vec(projected.begin(), projected.begin() + kProject), r,
                "pooler_output");
  }
}

// LLaMA's rotate_half rope on x [seq, hidden] in place: in each head, features i and i + d/2 at
// position p turned by p / theta^(2i / d).
void RotateHalf(Vec& x, int64_t seq, double theta) {
  const int64_t d = kHidden / kHeads;
  for (int64_t p = 0; p < seq; ++p)
    for (int64_t h = 0; h < kHeads; ++h)
      for (int64_t i = 0; i < d / 2; ++i) {
        const double angle =
            static_cast<double>(p) / std::pow(theta, 2.0 * static_cast<double>(i) / d);
        double& a = x[p * kHidden + h * d + i];
        double& b = x[p * kHidden + h * d + i + d / 2];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(angle) - b0 * std::sin(angle);
        b = b0 * std::cos(angle) + a0 * std::sin(angle);
      }
}

TEST(EncoderPiecesRun, JinaRotatesHalvesOfEachHeadInXlmRobertaPostNormLayers) {
  Checkpoint w(18);
  w.Add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("embeddings.token_type_embeddings.weight", {2, kHidden}, 0.5);
  w.Norm("embeddings.LayerNorm", kHidden);
  const std::vector<LayerNames> layers =
      AddLayers(w, "layers.",
                {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "post_attention_layernorm", "mlp.fc1", "mlp.fc2", "post_mlp_layernorm"});
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("jina_embeddings_v3");
  config["rope_parameters"] = {{"rope_theta", 50.0}};
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(dir, config, {{"layout", "jina"}, {"positions", "rotary"}}, in, true);

  auto rotate = [&](Vec& x) { RotateHalf(x, in.seq, 50.0); };
  for (int64_t r = 0; r < in.batch; ++r) {
    Vec x = WordAndTypeEmbeddings(w, in, r);
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    for (const LayerNames& n : layers)
      x = PostNormLayer(w, n, x, in.seq, allowed, "gelu", nullptr, rotate);
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
    const Vec first(x.begin(), x.begin() + kHidden);
    ExpectClose(
        got.at("pooler_output"),
        testing::Act(testing::Linear(w, "pooler.dense", first, 1, kHidden, kHidden), "tanh"), r,
        "pooler_output");
  }
}

TEST(EncoderPiecesRun, EsmScalesEmbeddingsForMaskTokensAndNormalisesBeforeEachSublayer) {
  constexpr int64_t kMask = 7;  // row 0 holds one mask token among 5
  Checkpoint w(19);
  w.Add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0.5);
  const std::vector<LayerNames> layers =
      AddLayers(w, "encoder.layer.",
                {"attention.self.query", "attention.self.key", "attention.self.value",
                 "attention.output.dense", "attention.LayerNorm", "intermediate.dense",
                 "output.dense", "LayerNorm"});
  w.Norm("encoder.emb_layer_norm_after", kHidden);
  w.Linear("pooler.dense", kHidden, kHidden);
  w.Add("contact_head.regression.weight", {1, kLayers * kHeads}, 0.3);
  w.Add("contact_head.regression.bias", {1}, 0.1);
  TempDir dir;
  nlohmann::json config = Config("esm");
  config["mask_token_id"] = kMask;
  config["hidden_act"] = "relu";  // EsmIntermediate's gelu whatever the config says
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(dir, config,
                             {{"layout", "esm"},
                              {"positions", "rotary"},
                              {"token_types", false},
                              {"embedding_norm", false},
                              {"token_dropout", true}},
                             in, false);

  for (int64_t r = 0; r < in.batch; ++r) {
    const auto ids = RowOf(in.ids, r, in.seq);
    Vec x = Rows(w, "embeddings.word_embeddings.weight", ids, kHidden);
    double masks = 0;
    for (int64_t t = 0; t < in.seq; ++t)
      if (ids[t] == kMask) {
        masks += 1;
        std::fill(x.begin() + t * kHidden, x.begin() + (t + 1) * kHidden, 0.0);
      }
    for (double& e : x) e *= (1 - 0.15 * 0.8) / (1 - masks / static_cast<double>(in.seq));
    const auto allowed = Allowed(RowOf(in.mask, r, in.seq));
    auto rotate = [&](Vec& v) { RotateHalf(v, in.seq, 10000.0); };
    for (const LayerNames& n : layers) {
      x = Add(x,
              SelfAttention(w, n, testing::LayerNorm(w, n.attention_norm, x, in.seq, kHidden, kEps),
                            in.seq, allowed, nullptr, rotate));
      x = Add(x, FeedForward(w, n, testing::LayerNorm(w, n.output_norm, x, in.seq, kHidden, kEps),
                             in.seq, "gelu"));
    }
    x = testing::LayerNorm(w, "encoder.emb_layer_norm_after", x, in.seq, kHidden, kEps);
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
    const Vec first(x.begin(), x.begin() + kHidden);
    ExpectClose(
        got.at("pooler_output"),
        testing::Act(testing::Linear(w, "pooler.dense", first, 1, kHidden, kHidden), "tanh"), r,
        "pooler_output");
  }
}

TEST(EncoderPiecesRun, LongformerSeesItsWindowAndTheGlobalTokensAndGlobalTokensSeeAll) {
  const std::vector<int64_t> windows = {2, 4};  // layer 0 sees 1 position each side, layer 1 two
  // Row 0: token 4 global. Row 1: token 1 global; token 4 is padding, so never global.
  const std::vector<int64_t> global = {0, 0, 0, 0, 1, 0, 1, 0, 0, 1};
  Checkpoint w(20);
  AddBertEmbeddings(w);
  for (int64_t l = 0; l < kLayers; ++l) {
    AddLayer(w, BertNames(l));
    for (const char* m : {"query", "key", "value"})
      w.Linear(fmt::format("encoder.layer.{}.attention.self.{}_global", l, m), kHidden, kHidden);
  }
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("longformer");
  config["attention_window"] = windows;
  w.Save(dir, config);
  const Batch in;
  const auto got =
      RunPieces(dir, config, {{"positions", "after_padding"}, {"attention", "longformer"}}, in,
                true, {{"global_attention_mask", Int64Tensor({in.batch, in.seq}, global)}});

  for (int64_t r = 0; r < in.batch; ++r) {
    const auto ids = RowOf(in.ids, r, in.seq), mask = RowOf(in.mask, r, in.seq);
    const auto is_global = RowOf(global, r, in.seq);
    std::vector<int64_t> positions;
    int64_t count = 0;
    for (int64_t id : ids) positions.push_back(id == 1 ? 1 : 1 + ++count);
    Vec x = testing::LayerNorm(
        w, "embeddings.LayerNorm",
        Add(Add(Rows(w, "embeddings.word_embeddings.weight", ids, kHidden),
                Rows(w, "embeddings.token_type_embeddings.weight", RowOf(in.types, r, in.seq),
                     kHidden)),
            Rows(w, "embeddings.position_embeddings.weight", positions, kHidden)),
        in.seq, kHidden, kEps);
    for (int64_t l = 0; l < kLayers; ++l) {
      const LayerNames n = BertNames(l);
      const std::string p = fmt::format("encoder.layer.{}.attention.self.", l);
      auto global_of = [&](int64_t j) { return mask[j] != 0 && is_global[j] != 0; };
      std::vector<bool> local(in.seq * in.seq), all = Allowed(mask);
      for (int64_t i = 0; i < in.seq; ++i)
        for (int64_t j = 0; j < in.seq; ++j)
          local[i * in.seq + j] =
              mask[j] != 0 && (std::abs(i - j) <= windows[l] / 2 || global_of(j));
      Vec ctx = testing::Attention(testing::Linear(w, n.q, x, in.seq, kHidden, kHidden), in.seq,
                                   testing::Linear(w, n.k, x, in.seq, kHidden, kHidden),
                                   testing::Linear(w, n.v, x, in.seq, kHidden, kHidden), in.seq,
                                   kHidden, kHeads, local);
      const Vec global_ctx = testing::Attention(
          testing::Linear(w, p + "query_global", x, in.seq, kHidden, kHidden), in.seq,
          testing::Linear(w, p + "key_global", x, in.seq, kHidden, kHidden),
          testing::Linear(w, p + "value_global", x, in.seq, kHidden, kHidden), in.seq, kHidden,
          kHeads, all);
      for (int64_t i = 0; i < in.seq; ++i)
        for (int64_t c = 0; c < kHidden; ++c) {
          double& e = ctx[i * kHidden + c];
          if (mask[i] == 0) e = 0;  // HF zeroes padded queries' probabilities
          if (global_of(i)) e = global_ctx[i * kHidden + c];
        }
      const Vec a = testing::LayerNorm(
          w, n.attention_norm, Add(testing::Linear(w, n.o, ctx, in.seq, kHidden, kHidden), x),
          in.seq, kHidden, kEps);
      x = testing::LayerNorm(w, n.output_norm, Add(FeedForward(w, n, a, in.seq, "gelu"), a), in.seq,
                             kHidden, kEps);
    }
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

TEST(EncoderPiecesRun, VisualBertAppendsProjectedVisualTokensBeforeTheEmbeddingNorm) {
  constexpr int64_t kVisual = 3, kVisualDim = 6;
  const std::vector<int64_t> visual_mask = {1, 1, 1, 1, 1, 0}, visual_types = {1, 1, 0, 1, 0, 1};
  Vec visual(static_cast<size_t>(2 * kVisual * kVisualDim));
  for (size_t i = 0; i < visual.size(); ++i)
    visual[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)));
  Checkpoint w(21);
  AddBertEmbeddings(w);
  w.Linear("embeddings.visual_projection", kVisualDim, kHidden);
  w.Add("embeddings.visual_position_embeddings.weight", {kPositions, kHidden}, 0.5);
  w.Add("embeddings.visual_token_type_embeddings.weight", {2, kHidden}, 0.5);
  for (int64_t l = 0; l < kLayers; ++l) AddLayer(w, BertNames(l));
  w.Linear("pooler.dense", kHidden, kHidden);
  TempDir dir;
  nlohmann::json config = Config("visual_bert");
  config["visual_embedding_dim"] = kVisualDim;
  w.Save(dir, config);
  const Batch in;
  const auto got =
      RunPieces(dir, config, {{"visual_embeds", true}}, in, true,
                {{"visual_embeds", testing::FloatTensor({in.batch, kVisual, kVisualDim}, visual)},
                 {"visual_attention_mask", Int64Tensor({in.batch, kVisual}, visual_mask)},
                 {"visual_token_type_ids", Int64Tensor({in.batch, kVisual}, visual_types)}});

  const int64_t n = in.seq + kVisual;
  for (int64_t r = 0; r < in.batch; ++r) {
    std::vector<int64_t> positions(in.seq);
    for (int64_t i = 0; i < in.seq; ++i) positions[i] = i;
    Vec x = Add(Add(Rows(w, "embeddings.word_embeddings.weight", RowOf(in.ids, r, in.seq), kHidden),
                    Rows(w, "embeddings.token_type_embeddings.weight", RowOf(in.types, r, in.seq),
                         kHidden)),
                Rows(w, "embeddings.position_embeddings.weight", positions, kHidden));
    const Vec rows(visual.begin() + r * kVisual * kVisualDim,
                   visual.begin() + (r + 1) * kVisual * kVisualDim);
    const Vec tokens = Add(
        Add(testing::Linear(w, "embeddings.visual_projection", rows, kVisual, kVisualDim, kHidden),
            Rows(w, "embeddings.visual_position_embeddings.weight",
                 std::vector<int64_t>(kVisual, 0), kHidden)),
        Rows(w, "embeddings.visual_token_type_embeddings.weight", RowOf(visual_types, r, kVisual),
             kHidden));
    x.insert(x.end(), tokens.begin(), tokens.end());
    x = testing::LayerNorm(w, "embeddings.LayerNorm", x, n, kHidden, kEps);
    std::vector<int64_t> mask = RowOf(in.mask, r, in.seq);
    for (int64_t m : RowOf(visual_mask, r, kVisual)) mask.push_back(m);
    for (int64_t l = 0; l < kLayers; ++l)
      x = PostNormLayer(w, BertNames(l), x, n, Allowed(mask), "gelu");
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
    const Vec first(x.begin(), x.begin() + kHidden);
    ExpectClose(
        got.at("pooler_output"),
        testing::Act(testing::Linear(w, "pooler.dense", first, 1, kHidden, kHidden), "tanh"), r,
        "pooler_output");
  }
}

TEST(EncoderPiecesRun, BrosAddsQueryDotRelativeBoxSinusoidsToEveryLayersScores) {
  // BROS' sinusoids need hidden_size / 32 even: width 64, 2 heads of 32, 16 box features (one
  // frequency, 1, per coordinate).
  constexpr int64_t kWide = 64, kWideHeads = 2, kHead = 32, kWideInter = 16, kBoxFeatures = 16;
  constexpr double kScale = 100.0;
  Vec bbox(static_cast<size_t>(2 * 5 * 4));
  for (size_t i = 0; i < bbox.size(); ++i)
    bbox[i] = static_cast<float>(0.5 + 0.4 * std::sin(1.3 * static_cast<double>(i)));
  Checkpoint w(22);
  w.Add("embeddings.word_embeddings.weight", {kVocab, kWide}, 0.5);
  w.Add("embeddings.position_embeddings.weight", {kPositions, kWide}, 0.5);
  w.Add("embeddings.token_type_embeddings.weight", {2, kWide}, 0.5);
  w.Norm("embeddings.LayerNorm", kWide);
  w.Add("bbox_embeddings.bbox_projection.weight", {kHead, kBoxFeatures}, 0.3);
  const LayerNames n = BertNames(0);
  for (const std::string* m : {&n.q, &n.k, &n.v, &n.o}) w.Linear(*m, kWide, kWide);
  w.Norm(n.attention_norm, kWide);
  w.Linear(n.ffn_in, kWide, kWideInter);
  w.Linear(n.ffn_out, kWideInter, kWide);
  w.Norm(n.output_norm, kWide);
  w.Linear("pooler.dense", kWide, kWide);
  TempDir dir;
  nlohmann::json config = Config("bros");
  config["hidden_size"] = kWide;
  config["intermediate_size"] = kWideInter;
  config["num_hidden_layers"] = 1;
  w.Save(dir, config);
  const Batch in;
  const auto got = RunPieces(dir, config, {{"box_relative", true}}, in, true,
                             {{"bbox", testing::FloatTensor({in.batch, in.seq, 4}, bbox)}});

  const int64_t s = in.seq;
  for (int64_t r = 0; r < in.batch; ++r) {
    std::vector<int64_t> positions(s);
    for (int64_t i = 0; i < s; ++i) positions[i] = i;
    Vec x = testing::LayerNorm(
        w, "embeddings.LayerNorm",
        Add(Add(Rows(w, "embeddings.word_embeddings.weight", RowOf(in.ids, r, s), kWide),
                Rows(w, "embeddings.token_type_embeddings.weight", RowOf(in.types, r, s), kWide)),
            Rows(w, "embeddings.position_embeddings.weight", positions, kWide)),
        s, kWide, kEps);
    // The 8 corners x0 y0 x1 y0 x1 y1 x0 y1 of each box, scaled.
    auto corner = [&](int64_t t, int64_t c) {
      static constexpr int64_t kPick[8] = {0, 1, 2, 1, 2, 3, 0, 3};
      return bbox[(r * s + t) * 4 + kPick[c]] * kScale;
    };
    const Vec q = testing::Linear(w, n.q, x, s, kWide, kWide);
    Vec bias(static_cast<size_t>(kWideHeads * s * s));
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j) {
        Vec features;
        for (int64_t c = 0; c < 8; ++c) {
          const double delta = corner(j, c) - corner(i, c);
          features.push_back(std::sin(delta));
          features.push_back(std::cos(delta));
        }
        const Vec e = testing::Dense(features, 1, kBoxFeatures, kHead,
                                     w["bbox_embeddings.bbox_projection.weight"], nullptr);
        for (int64_t h = 0; h < kWideHeads; ++h) {
          double dot = 0;
          for (int64_t c = 0; c < kHead; ++c) dot += q[i * kWide + h * kHead + c] * e[c];
          bias[(h * s + i) * s + j] = dot / std::sqrt(static_cast<double>(kHead));
        }
      }
    const Vec ctx = testing::Attention(q, s, testing::Linear(w, n.k, x, s, kWide, kWide),
                                       testing::Linear(w, n.v, x, s, kWide, kWide), s, kWide,
                                       kWideHeads, Allowed(RowOf(in.mask, r, s)), &bias);
    const Vec a = testing::LayerNorm(
        w, n.attention_norm, Add(testing::Linear(w, n.o, ctx, s, kWide, kWide), x), s, kWide, kEps);
    const Vec ffn = testing::Linear(
        w, n.ffn_out, testing::Act(testing::Linear(w, n.ffn_in, a, s, kWide, kWideInter), "gelu"),
        s, kWideInter, kWide);
    x = testing::LayerNorm(w, n.output_norm, Add(ffn, a), s, kWide, kEps);
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

// LayerNorm over rows of width h with `name`.weight and no bias (ModernBERT's norm_bias false).
Vec NormNoBias(const Checkpoint& w, const std::string& name, const Vec& x, int64_t n, int64_t h,
               double eps) {
  Vec y(x.size());
  for (int64_t r = 0; r < n; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < h; ++c) mean += x[r * h + c] / static_cast<double>(h);
    for (int64_t c = 0; c < h; ++c)
      var += (x[r * h + c] - mean) * (x[r * h + c] - mean) / static_cast<double>(h);
    for (int64_t c = 0; c < h; ++c)
      y[r * h + c] = (x[r * h + c] - mean) / std::sqrt(var + eps) * w[name + ".weight"][c];
  }
  return y;
}

TEST(ModernBertRun, AlternatesGlobalAndWindowedRotaryAttentionWithAGluMlp) {
  constexpr int64_t kLayersHere = 3, kWindow = 2;  // layers 1 and 2 see keys within 1 position
  constexpr double kNormEps = 1e-5;
  Checkpoint w(17);
  w.Add("embeddings.tok_embeddings.weight", {kVocab, kHidden}, 0.5);
  w.Add("embeddings.norm.weight", {kHidden}, 0.1, 1.0);
  for (int64_t l = 0; l < kLayersHere; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    if (l > 0) w.Add(p + "attn_norm.weight", {kHidden}, 0.1, 1.0);
    w.Linear(p + "attn.Wqkv", kHidden, 3 * kHidden, false);
    w.Linear(p + "attn.Wo", kHidden, kHidden, false);
    w.Add(p + "mlp_norm.weight", {kHidden}, 0.1, 1.0);
    w.Linear(p + "mlp.Wi", kHidden, 2 * kInter, false);
    w.Linear(p + "mlp.Wo", kInter, kHidden, false);
  }
  w.Add("final_norm.weight", {kHidden}, 0.1, 1.0);
  TempDir dir;
  const nlohmann::json config = {{"model_type", "modernbert"},
                                 {"vocab_size", kVocab},
                                 {"hidden_size", kHidden},
                                 {"num_attention_heads", kHeads},
                                 {"intermediate_size", kInter},
                                 {"num_hidden_layers", kLayersHere},
                                 {"max_position_embeddings", kPositions},
                                 {"local_attention", kWindow},
                                 {"global_rope_theta", 160000.0},
                                 {"local_rope_theta", 10.0}};
  w.Save(dir, config);
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("test");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(models::kOpsetVersion);
  models::SafetensorsWeights weights(dir.path(), {});
  models::GraphBuilder g(proto.mutable_graph(), &weights);
  models::BuildModernBert(models::HfConfig(config, "test"), g);
  models::Model model;
  proto.SerializeToString(&model.onnx_bytes);
  const Batch in;
  const auto got = runtime::OpenOnnxRuntimeSession(model, runtime::SessionOptions{})
                       ->Run({{"input_ids", Int64Tensor({in.batch, in.seq}, in.ids)},
                              {"attention_mask", Int64Tensor({in.batch, in.seq}, in.mask)}});

  const int64_t d = kHidden / kHeads;
  // rotate_half rope at position p with 1 / theta^(2i / d).
  auto rope = [&](Vec& x, double theta) {
    for (int64_t p = 0; p < in.seq; ++p)
      for (int64_t h = 0; h < kHeads; ++h)
        for (int64_t i = 0; i < d / 2; ++i) {
          const double angle =
              static_cast<double>(p) / std::pow(theta, 2.0 * static_cast<double>(i) / d);
          double& a = x[p * kHidden + h * d + i];
          double& b = x[p * kHidden + h * d + i + d / 2];
          const double a0 = a, b0 = b;
          a = a0 * std::cos(angle) - b0 * std::sin(angle);
          b = b0 * std::cos(angle) + a0 * std::sin(angle);
        }
  };
  for (int64_t r = 0; r < in.batch; ++r) {
    const auto mask = RowOf(in.mask, r, in.seq);
    Vec x =
        NormNoBias(w, "embeddings.norm",
                   Rows(w, "embeddings.tok_embeddings.weight", RowOf(in.ids, r, in.seq), kHidden),
                   in.seq, kHidden, kNormEps);
    for (int64_t l = 0; l < kLayersHere; ++l) {
      const std::string p = fmt::format("layers.{}.", l);
      const bool local = l % 3 != 0;
      std::vector<bool> allowed = Allowed(mask);
      for (int64_t i = 0; i < in.seq; ++i)
        for (int64_t j = 0; j < in.seq; ++j)
          if (local && std::abs(i - j) > kWindow / 2) allowed[i * in.seq + j] = false;
      const Vec xn = l == 0 ? x : NormNoBias(w, p + "attn_norm", x, in.seq, kHidden, kNormEps);
      const Vec qkv = testing::Linear(w, p + "attn.Wqkv", xn, in.seq, kHidden, 3 * kHidden);
      Vec q, k, v;
      for (int64_t t = 0; t < in.seq; ++t) {
        const auto row = qkv.begin() + t * 3 * kHidden;
        q.insert(q.end(), row, row + kHidden);
        k.insert(k.end(), row + kHidden, row + 2 * kHidden);
        v.insert(v.end(), row + 2 * kHidden, row + 3 * kHidden);
      }
      const double theta = local ? 10.0 : 160000.0;
      rope(q, theta);
      rope(k, theta);
      const Vec ctx = testing::Attention(q, in.seq, k, v, in.seq, kHidden, kHeads, allowed);
      x = Add(x, testing::Linear(w, p + "attn.Wo", ctx, in.seq, kHidden, kHidden));
      const Vec m = NormNoBias(w, p + "mlp_norm", x, in.seq, kHidden, kNormEps);
      const Vec wi = testing::Linear(w, p + "mlp.Wi", m, in.seq, kHidden, 2 * kInter);
      Vec gated(static_cast<size_t>(in.seq * kInter));
      for (int64_t t = 0; t < in.seq; ++t)
        for (int64_t c = 0; c < kInter; ++c) {
          const double input = wi[t * 2 * kInter + c];
          gated[t * kInter + c] = 0.5 * input * (1.0 + std::erf(input / std::sqrt(2.0))) *
                                  wi[t * 2 * kInter + kInter + c];
        }
      x = Add(x, testing::Linear(w, p + "mlp.Wo", gated, in.seq, kInter, kHidden));
    }
    x = NormNoBias(w, "final_norm", x, in.seq, kHidden, kNormEps);
    ExpectClose(got.at("last_hidden_state"), x, r, "last_hidden_state");
  }
}

}  // namespace encoder_pieces_run_test
}  // namespace ipfs_accel::harness
