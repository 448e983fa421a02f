// Runs X-CLIP's graph (XCLIPModel) on ONNX Runtime. No hf-tiny fixture exists, so the test writes
// a tiny checkpoint under XCLIPModel's state_dict names with seeded values and compares every
// output with a double-precision forward pass written here from HF's modeling code:
// cross-frame message tokens in every vision layer, the multi-frame integration transformer, the
// prompts generator conditioning every text on every video, argmax text pooling, and the
// [videos, texts] logits with different video and text batches. Sizes, activations and epsilons
// differ between the towers so that one read from the wrong config shows. Properties that a wrong
// implementation breaks whatever the reference says: permuting frames changes the outputs only
// through mit.position_embedding, and each video conditions the text embeddings differently.

#include <algorithm>
#include <cmath>
#include <cstdint>
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
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/reference_forward.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace xclip_test {

using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::TempDir;

using core::DType;
using core::Tensor;
using nlohmann::json;
using TensorMap = std::map<std::string, Tensor>;
using ipfs_accel::testing::Act;
using ipfs_accel::testing::Attention;
using ipfs_accel::testing::Checkpoint;
using ipfs_accel::testing::Dense;
using ipfs_accel::testing::LayerNorm;
using ipfs_accel::testing::Linear;
using ipfs_accel::testing::Vec;

constexpr double kTolerance = 1e-4;

// ----- The tiny model --------------------------------------------------------------------------

constexpr int64_t kFrames = 3, kChannels = 3, kImage = 8, kPatch = 4;
constexpr int64_t kPatches = (kImage / kPatch) * (kImage / kPatch), kTokens = kPatches + 1;
constexpr int64_t kVisionHidden = 16, kVisionHeads = 2, kVisionInter = 24, kVisionLayers = 2;
constexpr int64_t kTextHidden = 12, kTextHeads = 3, kTextInter = 20, kTextLayers = 1;
constexpr int64_t kVocab = 40, kPositions = 10;
constexpr int64_t kDim = 8, kMitHeads = 4, kMitInter = 14, kMitLayers = 1;
constexpr int64_t kPromptLayers = 2, kPromptHeads = 2;
constexpr double kVisionEps = 0.2, kTextEps = 0.02;
const char* const kVisionAct = "gelu";
const char* const kTextAct = "quick_gelu";
const char* const kPromptAct = "relu";

json Config() {
  return {{"model_type", "xclip"},
          {"projection_dim", kDim},
          {"prompt_layers", kPromptLayers},
          {"prompt_num_attention_heads", kPromptHeads},
          {"prompt_hidden_act", kPromptAct},
          {"prompt_alpha", 0.1},
          {"text_config",
           {{"hidden_size", kTextHidden},
            {"num_hidden_layers", kTextLayers},
            {"num_attention_heads", kTextHeads},
            {"intermediate_size", kTextInter},
            {"vocab_size", kVocab},
            {"max_position_embeddings", kPositions},
            {"hidden_act", kTextAct},
            {"layer_norm_eps", kTextEps},
            {"eos_token_id", 2}}},  // ignored by X-CLIP's pooling (CLIP would pool at the 2s)
          {"vision_config",
           {{"hidden_size", kVisionHidden},
            {"num_hidden_layers", kVisionLayers},
            {"num_attention_heads", kVisionHeads},
            {"intermediate_size", kVisionInter},
            {"image_size", kImage},
            {"patch_size", kPatch},
            {"num_channels", kChannels},
            {"num_frames", kFrames},
            {"hidden_act", kVisionAct},
            {"layer_norm_eps", kVisionEps},
            {"mit_hidden_size", kDim},
            {"mit_intermediate_size", kMitInter},
            {"mit_num_hidden_layers", kMitLayers},
            {"mit_num_attention_heads", kMitHeads}}}};
}

// A CLIP encoder layer (XCLIPEncoderLayer's names) under `p` ("...layers.N.").
void AddClipLayer(Checkpoint& w, const std::string& p, int64_t hidden, int64_t inter) {
  w.Norm(p + "layer_norm1", hidden);
  for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
    w.Linear(p + "self_attn." + proj, hidden, hidden);
  w.Norm(p + "layer_norm2", hidden);
  w.Linear(p + "mlp.fc1", hidden, inter);
  w.Linear(p + "mlp.fc2", inter, hidden);
}

// XCLIPModel's parameters, named as its state_dict names them.
Checkpoint Weights() {
  Checkpoint w(31);
  const std::string t = "text_model.";
  w.Add(t + "embeddings.token_embedding.weight", {kVocab, kTextHidden}, 0.5);
  w.Add(t + "embeddings.position_embedding.weight", {kPositions, kTextHidden}, 0.3);
  for (int64_t l = 0; l < kTextLayers; ++l)
    AddClipLayer(w, t + "encoder.layers." + std::to_string(l) + ".", kTextHidden, kTextInter);
  w.Norm(t + "final_layer_norm", kTextHidden);

  const std::string v = "vision_model.";
  w.Add(v + "embeddings.class_embedding", {kVisionHidden}, 0.5);
  w.Add(v + "embeddings.patch_embedding.weight", {kVisionHidden, kChannels, kPatch, kPatch}, 0.2);
  w.Add(v + "embeddings.position_embedding.weight", {kTokens, kVisionHidden}, 0.3);
  w.Norm(v + "pre_layernorm", kVisionHidden);
  for (int64_t l = 0; l < kVisionLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    w.Linear(p + "message_fc", kVisionHidden, kVisionHidden);
    w.Norm(p + "message_ln", kVisionHidden);
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
      w.Linear(p + "message_attn." + proj, kVisionHidden, kVisionHidden);
    AddClipLayer(w, p, kVisionHidden, kVisionInter);
  }
  w.Norm(v + "post_layernorm", kVisionHidden);

  w.Linear("visual_projection", kVisionHidden, kDim, /*bias=*/false);
  w.Linear("text_projection", kTextHidden, kDim, /*bias=*/false);
  w.Add("logit_scale", {}, 0.1, 0.5);
  w.Norm("prompts_visual_layernorm", kVisionHidden);
  w.Add("prompts_visual_projection", {kVisionHidden, kDim}, 0.3);

  w.Add("mit.position_embedding", {1, kFrames, kDim}, 0.5);
  for (int64_t l = 0; l < kMitLayers; ++l)
    AddClipLayer(w, "mit.encoder.layers." + std::to_string(l) + ".", kDim, kMitInter);

  const std::string g = "prompts_generator.";
  w.Norm(g + "layernorm", kDim);
  for (int64_t l = 0; l < kPromptLayers; ++l) {
    const std::string p = g + "decoder." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj"})
      w.Linear(p + "cross_attn." + proj, kDim, kDim, /*bias=*/false);
    w.Linear(p + "cross_attn.proj", kDim, kDim);
    w.Norm(p + "norm1", kDim);
    w.Norm(p + "norm3", kDim);
    w.Linear(p + "mlp.0", kDim, 4 * kDim);
    w.Linear(p + "mlp.3", 4 * kDim, kDim);
  }
  w.Add(g + "alpha", {kDim}, 0.3, 0.1);
  return w;
}

// ----- Double-precision reference ---------------------------------------------------------------

struct LayerSize {
  int64_t hidden, heads, intermediate;
  double eps;
  std::string act;
};

// x + attn.out_proj(attention(norm(x))) with `attn`.{q,k,v,out}_proj: XCLIPAttention after a norm.
Vec AttentionHalf(const Checkpoint& w, const std::string& norm, const std::string& attn,
                  const LayerSize& s, const Vec& x, int64_t n,
                  const std::vector<bool>& allowed = {}) {
  const int64_t h = s.hidden;
  const Vec a = LayerNorm(w, norm, x, n, h, s.eps);
  const Vec ctx =
      Attention(Linear(w, attn + ".q_proj", a, n, h, h), n, Linear(w, attn + ".k_proj", a, n, h, h),
                Linear(w, attn + ".v_proj", a, n, h, h), n, h, s.heads, allowed);
  Vec y = Linear(w, attn + ".out_proj", ctx, n, h, h);
  for (size_t k = 0; k < y.size(); ++k) y[k] += x[k];
  return y;
}

// x + mlp.fc2(act(mlp.fc1(layer_norm2(x)))) under `p` ("...layers.N.").
Vec MlpHalf(const Checkpoint& w, const std::string& p, const LayerSize& s, const Vec& x,
            int64_t n) {
  const Vec a = LayerNorm(w, p + "layer_norm2", x, n, s.hidden, s.eps);
  Vec y =
      Linear(w, p + "mlp.fc2", Act(Linear(w, p + "mlp.fc1", a, n, s.hidden, s.intermediate), s.act),
             n, s.intermediate, s.hidden);
  for (size_t k = 0; k < y.size(); ++k) y[k] += x[k];
  return y;
}

// XCLIPEncoderLayer.
Vec EncoderLayer(const Checkpoint& w, const std::string& p, const LayerSize& s, const Vec& x,
                 int64_t n, const std::vector<bool>& allowed = {}) {
  return MlpHalf(w, p, s, AttentionHalf(w, p + "layer_norm1", p + "self_attn", s, x, n, allowed),
                 n);
}

Vec Rows(const Vec& x, int64_t begin, int64_t end, int64_t width) {
  return Vec(x.begin() + begin * width, x.begin() + end * width);
}

struct Inputs {
  int64_t videos, texts, seq;
  Vec pixels;  // [videos, frames, channels, image, image]
  std::vector<int64_t> ids, mask;
};

struct Outputs {
  Vec logits_per_video, logits_per_text, text_embeds, video_embeds;
};

struct ReferenceOptions {
  bool message_tokens = true;  // false: what the graph would compute without them
};

// XCLIPModel.forward.
Outputs Reference(const Checkpoint& w, const Inputs& in, ReferenceOptions options = {}) {
  const LayerSize vision{kVisionHidden, kVisionHeads, kVisionInter, kVisionEps, kVisionAct};
  const LayerSize text{kTextHidden, kTextHeads, kTextInter, kTextEps, kTextAct};
  const LayerSize mit{kDim, kMitHeads, kMitInter, kVisionEps, kVisionAct};  // vision's eps, act
  const int64_t H = kVisionHidden;

  // Every frame through the embeddings: [tokens, hidden] each, frame f of video b at b*frames+f.
  std::vector<Vec> frames;
  const int64_t image_size = kChannels * kImage * kImage, grid = kImage / kPatch;
  const Vec& conv = w["vision_model.embeddings.patch_embedding.weight"];
  for (int64_t i = 0; i < in.videos * kFrames; ++i) {
    const double* image = in.pixels.data() + i * image_size;
    Vec x(static_cast<size_t>(kTokens * H));
    for (int64_t c = 0; c < H; ++c) x[c] = w["vision_model.embeddings.class_embedding"][c];
    for (int64_t gy = 0; gy < grid; ++gy)
      for (int64_t gx = 0; gx < grid; ++gx)
        for (int64_t o = 0; o < H; ++o) {
          double s = 0;
          for (int64_t ch = 0; ch < kChannels; ++ch)
            for (int64_t dy = 0; dy < kPatch; ++dy)
              for (int64_t dx = 0; dx < kPatch; ++dx)
                s += conv[((o * kChannels + ch) * kPatch + dy) * kPatch + dx] *
                     image[(ch * kImage + gy * kPatch + dy) * kImage + gx * kPatch + dx];
          x[(1 + gy * grid + gx) * H + o] = s;
        }
    for (size_t k = 0; k < x.size(); ++k)
      x[k] += w["vision_model.embeddings.position_embedding.weight"][k];
    frames.push_back(LayerNorm(w, "vision_model.pre_layernorm", x, kTokens, H, kVisionEps));
  }
  // XCLIPVisionEncoderLayer: each video's class tokens exchange messages, which join their frames
  // for self-attention only.
  for (int64_t l = 0; l < kVisionLayers; ++l) {
    const std::string p = "vision_model.encoder.layers." + std::to_string(l) + ".";
    for (int64_t b = 0; b < in.videos; ++b) {
      Vec cls;
      for (int64_t f = 0; f < kFrames; ++f) {
        const Vec row = Rows(frames[b * kFrames + f], 0, 1, H);
        cls.insert(cls.end(), row.begin(), row.end());
      }
      const Vec msg = AttentionHalf(w, p + "message_ln", p + "message_attn", vision,
                                    Linear(w, p + "message_fc", cls, kFrames, H, H), kFrames);
      for (int64_t f = 0; f < kFrames; ++f) {
        Vec x = frames[b * kFrames + f];
        int64_t n = kTokens;
        if (options.message_tokens) {
          const Vec m = Rows(msg, f, f + 1, H);
          x.insert(x.end(), m.begin(), m.end());
          ++n;
        }
        x = AttentionHalf(w, p + "layer_norm1", p + "self_attn", vision, x, n);
        frames[b * kFrames + f] = MlpHalf(w, p, vision, Rows(x, 0, kTokens, H), kTokens);
      }
    }
  }

  Outputs out;
  std::vector<Vec> visual(static_cast<size_t>(in.videos));  // [patches, dim] per video
  Vec video_embeds;
  for (int64_t b = 0; b < in.videos; ++b) {
    Vec cls;  // [frames, dim]
    Vec patches(static_cast<size_t>(kPatches * kDim), 0.0);
    for (int64_t f = 0; f < kFrames; ++f) {
      const Vec& x = frames[b * kFrames + f];
      const Vec pooled =
          LayerNorm(w, "vision_model.post_layernorm", Rows(x, 0, 1, H), 1, H, kVisionEps);
      const Vec projected = Linear(w, "visual_projection", pooled, 1, H, kDim);
      cls.insert(cls.end(), projected.begin(), projected.end());
      const Vec normed =
          LayerNorm(w, "prompts_visual_layernorm", Rows(x, 1, kTokens, H), kPatches, H, kVisionEps);
      for (int64_t r = 0; r < kPatches; ++r)
        for (int64_t e = 0; e < kDim; ++e) {
          double s = 0;
          for (int64_t k = 0; k < H; ++k)
            s += normed[r * H + k] * w["prompts_visual_projection"][k * kDim + e];
          patches[r * kDim + e] += s / kFrames;
        }
    }
    visual[b] = patches;
    // XCLIPMultiframeIntegrationTransformer.
    Vec h = cls;
    for (size_t k = 0; k < h.size(); ++k) h[k] += w["mit.position_embedding"][k];
    for (int64_t l = 0; l < kMitLayers; ++l)
      h = EncoderLayer(w, "mit.encoder.layers." + std::to_string(l) + ".", mit, h, kFrames);
    for (int64_t e = 0; e < kDim; ++e) {
      double s = 0;
      for (int64_t f = 0; f < kFrames; ++f) s += h[f * kDim + e] + cls[f * kDim + e];
      video_embeds.push_back(s / kFrames);
    }
  }

  // The text model: causal and padding mask, pooled at the first argmax of the ids.
  Vec texts;  // [texts, dim]
  for (int64_t t = 0; t < in.texts; ++t) {
    const int64_t S = in.seq, Ht = kTextHidden;
    Vec x(static_cast<size_t>(S * Ht));
    for (int64_t i = 0; i < S; ++i)
      for (int64_t c = 0; c < Ht; ++c)
        x[i * Ht + c] =
            w["text_model.embeddings.token_embedding.weight"][in.ids[t * S + i] * Ht + c] +
            w["text_model.embeddings.position_embedding.weight"][i * Ht + c];
    std::vector<bool> allowed(static_cast<size_t>(S * S));
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j) allowed[i * S + j] = j <= i && in.mask[t * S + j] != 0;
    for (int64_t l = 0; l < kTextLayers; ++l)
      x = EncoderLayer(w, "text_model.encoder.layers." + std::to_string(l) + ".", text, x, S,
                       allowed);
    x = LayerNorm(w, "text_model.final_layer_norm", x, S, Ht, kTextEps);
    const auto row = in.ids.begin() + t * S;
    const int64_t eot = std::max_element(row, row + S) - row;  // the first of equal maxima
    const Vec projected = Linear(w, "text_projection", Rows(x, eot, eot + 1, Ht), 1, Ht, kDim);
    texts.insert(texts.end(), projected.begin(), projected.end());
  }

  // XCLIPPromptGenerator, per video, on every text.
  auto normalize = [](Vec v, int64_t width) {
    for (size_t r = 0; r < v.size() / width; ++r) {
      double n = 0;
      for (int64_t c = 0; c < width; ++c) n += v[r * width + c] * v[r * width + c];
      for (int64_t c = 0; c < width; ++c) v[r * width + c] /= std::sqrt(n);
    }
    return v;
  };
  out.video_embeds = normalize(video_embeds, kDim);
  const double scale = std::exp(w["logit_scale"][0]);
  out.logits_per_video.assign(static_cast<size_t>(in.videos * in.texts), 0.0);
  out.logits_per_text.assign(static_cast<size_t>(in.videos * in.texts), 0.0);
  for (int64_t b = 0; b < in.videos; ++b) {
    const Vec vis =
        LayerNorm(w, "prompts_generator.layernorm", visual[b], kPatches, kDim, kVisionEps);
    Vec x = texts;
    const int64_t n = in.texts;
    for (int64_t l = 0; l < kPromptLayers; ++l) {
      const std::string p = "prompts_generator.decoder." + std::to_string(l) + ".";
      const Vec q = Linear(w, p + "cross_attn.q_proj",
                           LayerNorm(w, p + "norm1", x, n, kDim, kTextEps), n, kDim, kDim);
      const Vec ctx = Attention(q, n, Linear(w, p + "cross_attn.k_proj", vis, kPatches, kDim, kDim),
                                Linear(w, p + "cross_attn.v_proj", vis, kPatches, kDim, kDim),
                                kPatches, kDim, kPromptHeads);
      const Vec attended = Linear(w, p + "cross_attn.proj", ctx, n, kDim, kDim);
      for (size_t k = 0; k < x.size(); ++k) x[k] += attended[k];
      const Vec m =
          Linear(w, p + "mlp.3",
                 Act(Linear(w, p + "mlp.0", LayerNorm(w, p + "norm3", x, n, kDim, kTextEps), n,
                            kDim, 4 * kDim),
                     kPromptAct),
                 n, 4 * kDim, kDim);
      for (size_t k = 0; k < x.size(); ++k) x[k] += m[k];
    }
    Vec conditioned = texts;
    for (size_t k = 0; k < x.size(); ++k)
      conditioned[k] += w["prompts_generator.alpha"][k % kDim] * x[k];
    conditioned = normalize(conditioned, kDim);
    out.text_embeds.insert(out.text_embeds.end(), conditioned.begin(), conditioned.end());
    for (int64_t t = 0; t < in.texts; ++t) {
      double dot = 0;
      for (int64_t e = 0; e < kDim; ++e)
        dot += out.video_embeds[b * kDim + e] * conditioned[t * kDim + e];
      out.logits_per_video[b * in.texts + t] = scale * dot;
      out.logits_per_text[t * in.videos + b] = scale * dot;
    }
  }
  return out;
}

// ----- Running the graph ------------------------------------------------------------------------

Inputs SeededInputs(int64_t videos) {
  Inputs in;
  in.videos = videos;
  in.texts = 4;
  in.seq = 6;
  std::mt19937_64 rng(77);
  std::normal_distribution<double> normal(0.0, 1.0);
  in.pixels.resize(static_cast<size_t>(videos * kFrames * kChannels * kImage * kImage));
  for (double& x : in.pixels) x = static_cast<float>(normal(rng));
  // Row 0: the largest id twice (the first counts) and eos_token_id 2 after it; row 2 is padded
  // after its largest id; row 3 has its largest id first and 2s after it.
  in.ids = {5,  17, 9,  39, 2,  39,  //
            3,  8,  12, 6,  30, 38,  //
            4,  35, 7,  1,  1,  1,   //
            22, 2,  2,  2,  9,  21};
  in.mask = {1, 1, 1, 1, 1, 1,  //
             1, 1, 1, 1, 1, 1,  //
             1, 1, 1, 0, 0, 0,  //
             1, 1, 1, 1, 1, 0};
  return in;
}

TensorMap Feed(const Inputs& in) {
  Tensor pixels = Tensor::Zeros(DType::kFloat32, {in.videos, kFrames, kChannels, kImage, kImage});
  std::copy(in.pixels.begin(), in.pixels.end(), pixels.values<float>().begin());
  return {{"input_ids", Int64Tensor({in.texts, in.seq}, in.ids)},
          {"attention_mask", Int64Tensor({in.texts, in.seq}, in.mask)},
          {"pixel_values", std::move(pixels)}};
}

double MaxDiff(const Tensor& actual, const Vec& expected) {
  const Vec a = actual.ToDoubles();
  EXPECT_EQ(a.size(), expected.size());
  if (a.size() != expected.size()) return INFINITY;
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::fabs(a[k] - expected[k]));
  return worst;
}

double MaxDiff(const Vec& a, const Vec& b) {
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::fabs(a[k] - b[k]));
  return worst;
}

TensorMap RunModel(const Checkpoint& w, const TensorMap& inputs, int64_t* parameters = nullptr) {
  TempDir dir;
  w.Save(dir, Config());
  const models::Model model = models::LoadHfFolder(dir.path().string());
  if (parameters) *parameters = model.info.parameters;
  return runtime::OpenOnnxRuntimeSession(model, {})->Run(inputs);
}

TEST(XclipRunTest, EveryOutputMatchesADoublePrecisionReference) {
  const Checkpoint w = Weights();
  const Inputs in = SeededInputs(2);  // 2 videos, 4 texts
  int64_t parameters = 0;
  const TensorMap out = RunModel(w, Feed(in), &parameters);
  // Every weight written was asked for (and none missing, or loading would have failed).
  EXPECT_EQ(parameters, w.parameter_count());

  EXPECT_EQ(out.at("logits_per_video").shape, (core::Shape{2, 4}));
  EXPECT_EQ(out.at("logits_per_text").shape, (core::Shape{4, 2}));
  EXPECT_EQ(out.at("text_embeds").shape, (core::Shape{2, 4, kDim}));
  EXPECT_EQ(out.at("video_embeds").shape, (core::Shape{2, kDim}));

  const Outputs ref = Reference(w, in);
  const std::map<std::string, const Vec*> expected = {{"logits_per_video", &ref.logits_per_video},
                                                      {"logits_per_text", &ref.logits_per_text},
                                                      {"text_embeds", &ref.text_embeds},
                                                      {"video_embeds", &ref.video_embeds}};
  for (const auto& [name, values] : expected) {
    const double err = MaxDiff(out.at(name), *values);
    EXPECT_LT(err, kTolerance) << name;
    std::cout << "xclip: " << name << " max abs error " << err << "\n";
  }
  // The reference is sensitive to what it checks: without the message tokens, it is far off.
  const Outputs without = Reference(w, in, {.message_tokens = false});
  EXPECT_GT(MaxDiff(without.video_embeds, ref.video_embeds), 1e-2);
}

TEST(XclipRunTest, OneVideoAndOneText) {
  const Checkpoint w = Weights();
  Inputs in = SeededInputs(1);
  in.texts = 1;
  in.ids.resize(6);
  in.mask.resize(6);
  const TensorMap out = RunModel(w, Feed(in));
  EXPECT_EQ(out.at("logits_per_video").shape, (core::Shape{1, 1}));
  EXPECT_EQ(out.at("text_embeds").shape, (core::Shape{1, 1, kDim}));
  const Outputs ref = Reference(w, in);
  EXPECT_LT(MaxDiff(out.at("logits_per_video"), ref.logits_per_video), kTolerance);
  EXPECT_LT(MaxDiff(out.at("text_embeds"), ref.text_embeds), kTolerance);
}

// Frames [2, 0, 1] of every video in place of [0, 1, 2].
Inputs PermuteFrames(Inputs in) {
  const int64_t frame = kChannels * kImage * kImage;
  const Vec original = in.pixels;
  const int64_t order[kFrames] = {2, 0, 1};
  for (int64_t b = 0; b < in.videos; ++b)
    for (int64_t f = 0; f < kFrames; ++f)
      std::copy_n(original.begin() + (b * kFrames + order[f]) * frame, frame,
                  in.pixels.begin() + (b * kFrames + f) * frame);
  return in;
}

TEST(XclipPropertyTest, FrameOrderMattersOnlyThroughMitPositionEmbedding) {
  const Inputs in = SeededInputs(2);
  const Inputs permuted = PermuteFrames(in);
  // With a position embedding over frames, the order changes the video embeddings.
  const Checkpoint w = Weights();
  EXPECT_GT(MaxAbsDiff(RunModel(w, Feed(in)).at("video_embeds"),
                       RunModel(w, Feed(permuted)).at("video_embeds")),
            1e-3);
  // Without one, every step is symmetric in the frames of a video (message attention has no
  // positions, the MIT's attention neither, and both means are order-free): nothing changes.
  Checkpoint flat = Weights();
  std::fill(flat["mit.position_embedding"].begin(), flat["mit.position_embedding"].end(), 0.0);
  const TensorMap a = RunModel(flat, Feed(in)), b = RunModel(flat, Feed(permuted));
  for (const char* name : {"video_embeds", "text_embeds", "logits_per_video"})
    EXPECT_LT(MaxAbsDiff(a.at(name), b.at(name)), 1e-5) << name;
}

TEST(XclipPropertyTest, EachVideoConditionsTheTexts) {
  const TensorMap out = RunModel(Weights(), Feed(SeededInputs(2)));
  const Tensor& text = out.at("text_embeds");  // [videos, texts, dim]
  const int64_t per_video = 4 * kDim;
  const Vec all = text.ToDoubles();
  EXPECT_GT(
      MaxDiff(Vec(all.begin(), all.begin() + per_video), Vec(all.begin() + per_video, all.end())),
      1e-3);
  // Video 1's texts are video 1's: the same video alone gives the same rows.
  Inputs second = SeededInputs(2);
  second.videos = 1;
  second.pixels.erase(second.pixels.begin(),
                      second.pixels.begin() + kFrames * kChannels * kImage * kImage);
  const Vec alone = RunModel(Weights(), Feed(second)).at("text_embeds").ToDoubles();
  EXPECT_LT(MaxDiff(alone, Vec(all.begin() + per_video, all.end())), 1e-5);
}

}  // namespace xclip_test
}  // namespace ipfs_accel::harness
