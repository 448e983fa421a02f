#include "vit_builder.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "rotary.h"
#include "sinusoidal_positions.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// An int or a two-element [height, width] list (HF's collections.abc.Iterable case).
std::pair<int64_t, int64_t> SizePair(const HfConfig& c, const std::string& key, int64_t fallback) {
  if (!c.Has(key)) return {fallback, fallback};
  const nlohmann::json& v = c.json()[key];
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
    return {v[0].get<int64_t>(), v[1].get<int64_t>()};
  const int64_t n = c.Int(key);  // throws kCorrupt for anything else
  return {n, n};
}

// ViViT's tubelet_size: [time, height, width].
std::vector<int64_t> Triple(const HfConfig& c, const std::string& key,
                            std::vector<int64_t> fallback) {
  if (!c.Has(key)) return fallback;
  const json& v = c.json()[key];
  if (!v.is_array() || v.size() != 3 ||
      !std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_number_integer(); }))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': {} is not a list of three integers", c.origin(), key));
  return v.get<std::vector<int64_t>>();
}

// Layer names under `p`, the layer's prefix ("encoder.layer.3.").
PreNormLayerNames VitLayerNames(const std::string& p) {
  return {p + "layernorm_before",        p + "attention.attention.query",
          p + "attention.attention.key", p + "attention.attention.value",
          p + "attention.output.dense",  p + "layernorm_after",
          p + "intermediate.dense",      p + "output.dense"};
}

PreNormLayerNames Dinov2LayerNames(const std::string& p) {
  return {p + "norm1",
          p + "attention.attention.query",
          p + "attention.attention.key",
          p + "attention.attention.value",
          p + "attention.output.dense",
          p + "norm2",
          p + "mlp.fc1",
          p + "mlp.fc2"};
}

// InternVLVisionLayer's names: ViT's norms, JanusVisionAttention's q/k/v_proj and
// projection_layer, CLIP's MLP.
// VitPoseBackboneLayer's names: ViT's with VitPoseBackboneMLP's mlp.fc1/fc2.
PreNormLayerNames VitPoseLayerNames(const std::string& p) {
  PreNormLayerNames n = VitLayerNames(p);
  n.fc1 = p + "mlp.fc1";
  n.fc2 = p + "mlp.fc2";
  return n;
}

PreNormLayerNames InternVlLayerNames(const std::string& p) {
  PreNormLayerNames n = VitPoseLayerNames(p);
  n.query = p + "attention.q_proj";
  n.key = p + "attention.k_proj";
  n.value = p + "attention.v_proj";
  n.attention_out = p + "attention.projection_layer";
  return n;
}

// DINOv3ViTLayer's names: DINOv2's norms, q/k/v/o_proj, mlp.up_proj/down_proj (the gated MLP's
// gate_proj beside them).
PreNormLayerNames Dinov3LayerNames(const std::string& p) {
  return {p + "norm1",
          p + "attention.q_proj",
          p + "attention.k_proj",
          p + "attention.v_proj",
          p + "attention.o_proj",
          p + "norm2",
          p + "mlp.up_proj",
          p + "mlp.down_proj"};
}

// The layer's prefix: the variant's layer_name with "{}" replaced by `l`.
std::string LayerPrefix(const VitVariant& v, int64_t l) {
  std::string p = v.layer_name;
  return p.replace(p.find("{}"), 2, std::to_string(l));
}

// ViTMAE's kept patches: int(patches * (1 - mask_ratio)), Python's truncation.
int64_t MaskedKeep(const VitShape& s, const VitVariant& v) {
  return static_cast<int64_t>(static_cast<double>(s.patches()) * (1.0 - v.mask_ratio));
}

// ----- Pieces
// -------------------------------------------------------------------------------------

// A piece's value: "$key" is the config's value of key (null when the config has none).
json Resolve(const json& v, const HfConfig& c) {
  if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>()[0] == '$') {
    const std::string key = v.get<std::string>().substr(1);
    return c.Has(key) ? c.json()[key] : json();
  }
  return v;
}

[[noreturn]] void BadPiece(const HfConfig& c, const std::string& key, const json& v) {
  throw Error(ErrorKind::kCorrupt, fmt::format("'{}': the vit builder's piece {} = {} is not one "
                                               "it knows (docs/templates.md)",
                                               c.origin(), key, v.dump()));
}

std::string PieceChoice(const json& v, const HfConfig& c, const std::string& key,
                        const std::set<std::string>& allowed) {
  if (!v.is_string() || !allowed.count(v.get<std::string>())) BadPiece(c, key, v);
  return v.get<std::string>();
}

bool PieceBool(const json& v, const HfConfig& c, const std::string& key, bool if_null) {
  if (v.is_null()) return if_null;
  if (!v.is_boolean()) BadPiece(c, key, v);
  return v.get<bool>();
}

int64_t PieceCount(const json& v, const HfConfig& c, const std::string& key) {
  if (v.is_null()) return 0;
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 4096)
    BadPiece(c, key, v);
  return v.get<int64_t>();
}

// ----- Embeddings
// ---------------------------------------------------------------------------------

// The graph input and its patches as tokens [batch, patches, hidden].
std::string PatchTokens(GraphBuilder& g, const VitShape& s, const VitVariant& v, const Dim& batch) {
  const std::string& prefix = v.patch_name;
  if (v.patches == "tubelet") {
    g.Input("pixel_values", onnx::TensorProto::FLOAT,
            {batch, s.frames, s.channels, s.image_h, s.image_w});
    // [b, frames, c, h, w] -> [b, c, frames, h, w] for the Conv3d.
    const std::string x =
        g.Node("Transpose", {"pixel_values"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3, 4}}});
    const std::vector<int64_t> k = {s.tubelet_t, s.patch_h, s.patch_w};
    return ConvPatchEmbeddings(g, x, prefix, s.channels, s.hidden, k, k, /*bias=*/true);
  }
  if (v.patches == "spectrogram") {
    g.Input("input_values", onnx::TensorProto::FLOAT, {batch, s.max_length, s.mel_bins});
    // [b, time, mel] -> [b, 1, mel, time]: frequency is the convolution's first axis.
    const std::string x =
        g.Node("Transpose", {g.Node("Unsqueeze", {"input_values", g.ConstInt64({1})})},
               {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
    return ConvPatchEmbeddings(g, x, prefix, 1, s.hidden, {s.patch_h, s.patch_w},
                               {s.frequency_stride, s.time_stride}, /*bias=*/true);
  }
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {batch, s.channels, s.image_h, s.image_w});
  const int64_t p = v.patch_padding;
  const std::vector<int64_t> k = {s.patch_h, s.patch_w};
  return ConvPatchEmbeddings(g, "pixel_values", prefix, s.channels, s.hidden, k, k, /*bias=*/true,
                             p > 0 ? std::vector<int64_t>{p, p, p, p} : std::vector<int64_t>{});
}

// The patches of `pixels`, a graph tensor [batch, channels, image_h, image_w] (patches "image").
std::string ImagePatchTokens(GraphBuilder& g, const VitShape& s, const VitVariant& v,
                             const std::string& pixels) {
  return PatchEmbeddings(g, pixels, v.patch_name, s.channels, s.hidden, s.patch_h, s.patch_w,
                         /*bias=*/true);
}

// `param` [1, n, hidden] repeated over the batch of `like`.
std::string ExpandOverBatch(GraphBuilder& g, const std::string& param, const std::string& like,
                            int64_t n, int64_t hidden) {
  const std::string batch =
      g.Node("Slice", {g.Node("Shape", {like}), g.ConstInt64({0}), g.ConstInt64({1})});
  return g.Node("Expand", {param, g.Node("Concat", {batch, g.ConstInt64({n, hidden})},
                                         {{"axis", int64_t{0}}})});
}

std::string SliceTokens(GraphBuilder& g, const std::string& x, int64_t begin, int64_t end) {
  return g.Node("Slice", {x, g.ConstInt64({begin}), g.ConstInt64({end}), g.ConstInt64({1})});
}

// The patches ViTMAE keeps of `patches` [batch, P, hidden]: input noise [batch, P] sorted
// ascending (TopK; HF's argsort) gives ids_shuffle, whose first `keep` pick the patches;
// ids_restore is its inverse permutation; mask is 1 where ids_restore >= keep (HF's sorted
// mask gathered back). Adds the input and the outputs mask and ids_restore.
std::string RandomMasking(GraphBuilder& g, const VitShape& s, const std::string& patches,
                          int64_t keep) {
  const Dim batch = std::string("batch");
  const int64_t n = s.patches();
  g.Input("noise", onnx::TensorProto::FLOAT, {batch, n});
  auto argsort = [&](const std::string& x) {
    return g.NodeN("TopK", {x, g.ConstInt64({n})}, 2,
                   {{"axis", int64_t{1}}, {"largest", int64_t{0}}, {"sorted", int64_t{1}}})[1];
  };
  const std::string shuffle = argsort("noise");
  const std::string restore =
      argsort(g.Node("Cast", {shuffle}, {{"to", int64_t{onnx::TensorProto::FLOAT}}}));
  g.Node("Identity", {restore}, {}, "ids_restore");
  g.Output("ids_restore", onnx::TensorProto::INT64, {batch, n});
  g.Node("Cast", {g.Node("GreaterOrEqual", {restore, g.ConstInt64({keep})})},
         {{"to", int64_t{onnx::TensorProto::FLOAT}}}, "mask");
  g.Output("mask", onnx::TensorProto::FLOAT, {batch, n});
  const std::string kept =
      g.Node("Unsqueeze", {SliceTokens(g, shuffle, 0, keep), g.ConstInt64({-1})});
  return g.Node("GatherND", {patches, kept}, {{"batch_dims", int64_t{1}}});
}

// ViTMAEEmbeddings: patches plus their position rows, randomly masked, after the class token
// plus row 0.
std::string MaskedEmbeddings(GraphBuilder& g, const VitShape& s, const VitVariant& v,
                             const std::string& x) {
  const int64_t n = s.patches();
  const std::string table =
      g.Weight("embeddings.position_embeddings", {1, n + 1, s.hidden}, WeightInit::kNormal);
  const std::string kept =
      RandomMasking(g, s, g.Node("Add", {x, SliceTokens(g, table, 1, n + 1)}), MaskedKeep(s, v));
  const std::string cls =
      g.Node("Add", {g.Weight("embeddings.cls_token", {1, 1, s.hidden}, WeightInit::kNormal),
                     SliceTokens(g, table, 0, 1)});
  return PrependTokens(g, {cls}, kept, s.hidden);
}

// Patches `x` with their tokens and position embeddings: [batch, tokens, hidden].
std::string Embeddings(GraphBuilder& g, const VitShape& s, const VitVariant& v, std::string x,
                       int64_t tokens) {
  if (v.mask_ratio >= 0) return MaskedEmbeddings(g, s, v, x);
  std::vector<std::string> leading;
  for (const auto& name : v.leading_tokens)
    leading.push_back(g.Weight("embeddings." + name, {1, 1, s.hidden}, WeightInit::kNormal));
  if (v.mask_token) {
    const core::Shape shape =
        v.layer == "dinov2" ? core::Shape{1, s.hidden} : core::Shape{1, 1, s.hidden};
    g.UnusedWeight("embeddings.mask_token", shape, WeightInit::kZeros);
  }
  if (!leading.empty()) x = PrependTokens(g, leading, x, s.hidden);
  if (!v.trailing_tokens.empty()) {
    const std::string t = g.Weight("embeddings." + v.trailing_tokens,
                                   {1, v.trailing_count, s.hidden}, WeightInit::kNormal);
    x = g.Node("Concat", {x, ExpandOverBatch(g, t, x, v.trailing_count, s.hidden)},
               {{"axis", int64_t{1}}});
  }
  if (v.class_position_to_patches) {
    const std::string table =
        g.Weight("embeddings.position_embeddings", {1, tokens + 1, s.hidden}, WeightInit::kNormal);
    x = g.Node("Add", {g.Node("Add", {x, SliceTokens(g, table, 1, tokens + 1)}),
                       SliceTokens(g, table, 0, 1)});
  } else if (v.position_embeddings) {
    x = g.Node("Add", {x, g.Weight("embeddings.position_embeddings", {1, tokens, s.hidden},
                                   WeightInit::kNormal)});
  } else if (v.sinusoid_positions) {
    core::Tensor table = InterleavedSinusoids(tokens, s.hidden);
    table.shape = {1, tokens, s.hidden};
    x = g.Node("Add", {x, g.Initializer("vit.position_sinusoids", table)});
  }
  if (v.registers == 0) return x;
  const std::string r =
      g.Weight("embeddings.register_tokens", {1, v.registers, s.hidden}, WeightInit::kZeros);
  return g.Node("Concat",
                {SliceTokens(g, x, 0, 1), ExpandOverBatch(g, r, x, v.registers, s.hidden),
                 SliceTokens(g, x, 1, tokens)},
                {{"axis", int64_t{1}}});
}

// ----- Layers
// -------------------------------------------------------------------------------------

PreNormLayerShape LayerShape(const VitShape& s) {
  return PreNormLayerShape{.hidden = s.hidden,
                           .heads = s.heads,
                           .intermediate = s.intermediate,
                           .eps = s.eps,
                           .act = s.act,
                           .qkv_bias = s.qkv_bias,
                           .key_bias = s.key_bias,
                           .out_bias = s.out_bias,
                           .mlp_bias = s.mlp_bias};
}

// Dinov2SwiGLUFFN: weights_out(silu(a) * b) with a, b the halves of weights_in(x).
std::string SwiGluMlp(GraphBuilder& g, const PreNormLayerShape& s, const std::string& prefix,
                      const std::string& h) {
  const int64_t inner = s.intermediate;
  const std::string both = g.Linear(h, prefix + ".weights_in", s.hidden, 2 * inner);
  const auto halves =
      g.NodeN("Split", {both, g.ConstInt64({inner, inner})}, 2, {{"axis", int64_t{-1}}});
  const std::string gated = g.Node("Mul", {Activation(g, halves[0], "silu"), halves[1]});
  return g.Linear(gated, prefix + ".weights_out", inner, s.hidden);
}

// Where a layer with scaled branches keeps its scales: DINOv2's layer_scale1.lambda1, BEiT's
// lambda_1 ("" for none).
struct LayerScaleNames {
  std::string attention, mlp;
};

// Dinov2Layer, BeitLayer: x + ls1 * attn(norm1(x)), then h + ls2 * mlp(norm2(h)); `bias` is added
// to the attention scores (BEiT's relative position bias) or "".
// LlamaMLP (DINOv3's gated MLP): down(act(gate(h)) * up(h)), gate named beside n.fc1 (up_proj).
std::string GatedMlp(GraphBuilder& g, const PreNormLayerShape& s, const PreNormLayerNames& n,
                     const std::string& h) {
  const std::string gate_name = n.fc1.substr(0, n.fc1.rfind('.') + 1) + "gate_proj";
  const std::string gate = g.Linear(h, gate_name, s.hidden, s.intermediate, s.mlp_bias);
  const std::string up = g.Linear(h, n.fc1, s.hidden, s.intermediate, s.mlp_bias);
  return g.Linear(g.Node("Mul", {Activation(g, gate, s.act), up}), n.fc2, s.intermediate, s.hidden,
                  s.mlp_bias);
}

enum class VitMlpKind { kPlain, kSwiglu, kGated };

std::string ScaledLayer(GraphBuilder& g, const PreNormLayerShape& s, const PreNormLayerNames& n,
                        const LayerScaleNames& scales, VitMlpKind mlp_kind, const std::string& x,
                        const std::string& bias) {
  auto scale = [&](const std::string& branch, const std::string& name) {
    if (name.empty()) return branch;
    return g.Node("Mul", {branch, g.Weight(name, {s.hidden}, WeightInit::kOnes)});
  };
  const std::string h =
      g.Node("Add", {x, scale(PreNormAttention(g, s, n, x, bias), scales.attention)});
  std::string mlp;
  if (mlp_kind == VitMlpKind::kPlain) {
    mlp = PreNormMlp(g, s, n, h);
  } else {
    const std::string normed = g.LayerNorm(h, n.norm2, s.hidden, s.eps);
    mlp = mlp_kind == VitMlpKind::kSwiglu
              ? SwiGluMlp(g, s, n.fc1.substr(0, n.fc1.rfind('.')), normed)
              : GatedMlp(g, s, n, normed);
  }
  return g.Node("Add", {h, scale(mlp, scales.mlp)});
}

// BEiT's relative position index over a wh x ww grid and its CLS token (row and column 0), as
// BeitRelativePositionBias builds it: the table's last three rows are CLS-to-patch, patch-to-CLS
// and CLS-to-CLS.
std::vector<int64_t> RelativePositionIndex(int64_t wh, int64_t ww) {
  const int64_t n = wh * ww + 1, distances = (2 * wh - 1) * (2 * ww - 1) + 3;
  std::vector<int64_t> index(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t value;
      if (i == 0 && j == 0) {
        value = distances - 1;
      } else if (i == 0) {
        value = distances - 3;
      } else if (j == 0) {
        value = distances - 2;
      } else {
        const int64_t dh = (i - 1) / ww - (j - 1) / ww + wh - 1;
        const int64_t dw = (i - 1) % ww - (j - 1) % ww + ww - 1;
        value = dh * (2 * ww - 1) + dw;
      }
      index[static_cast<size_t>(i * n + j)] = value;
    }
  return index;
}

// prefix.relative_position_bias_table gathered into [heads, n, n] by `index` (a constant).
std::string RelativePositionBias(GraphBuilder& g, const VitShape& s, const std::string& prefix,
                                 const std::string& index) {
  const int64_t wh = s.image_h / s.patch_h, ww = s.image_w / s.patch_w, n = wh * ww + 1;
  const std::string table =
      g.Weight(prefix + ".relative_position_bias_table", {(2 * wh - 1) * (2 * ww - 1) + 3, s.heads},
               WeightInit::kZeros);
  const std::string rows = g.Node(
      "Reshape",
      {g.Node("Gather", {table, index}, {{"axis", int64_t{0}}}), g.ConstInt64({n, n, s.heads})});
  return g.Node("Transpose", {rows}, {{"perm", std::vector<int64_t>{2, 0, 1}}});
}

// Layer `l` with prefix p; `shape` carries the rope tables where the variant has them.
std::string Layer(GraphBuilder& g, PreNormLayerShape shape, const VitShape& s, const VitVariant& v,
                  const std::string& p, const std::string& x, const std::string& bias) {
  if (v.layer == "dinov2")
    return ScaledLayer(g, shape, Dinov2LayerNames(p),
                       {p + "layer_scale1.lambda1", p + "layer_scale2.lambda1"},
                       v.swiglu ? VitMlpKind::kSwiglu : VitMlpKind::kPlain, x, "");
  if (v.layer == "dinov3")
    return ScaledLayer(g, shape, Dinov3LayerNames(p),
                       {p + "layer_scale1.lambda1", p + "layer_scale2.lambda1"},
                       s.gated_mlp ? VitMlpKind::kGated : VitMlpKind::kPlain, x, "");
  if (v.layer == "beit") {
    shape.key_bias = false;
    LayerScaleNames scales;
    if (s.layer_scale) scales = {p + "lambda_1", p + "lambda_2"};
    return ScaledLayer(g, shape, VitLayerNames(p), scales, VitMlpKind::kPlain, x, bias);
  }
  if (v.layer == "internvl")  // lambda_1/2 whatever layer_scale_init_value says
    return ScaledLayer(g, shape, InternVlLayerNames(p), {p + "lambda_1", p + "lambda_2"},
                       VitMlpKind::kPlain, x, "");
  return PreNormEncoderLayer(g, shape,
                             v.layer == "vitpose" ? VitPoseLayerNames(p) : VitLayerNames(p), x, "");
}

// DINOv3's rope tables [tokens, 1, head_dim]: the leading and register tokens' angles are 0 (cos
// 1, sin 0: not rotated); each patch's are 2 pi times its centre's row coordinate, then its
// column's, in [-1, 1], times head_dim / 4 frequencies, the whole repeated twice (HF's tile(2)).
// float32 products, as HF computes them.
std::pair<std::string, std::string> PatchCenterRope(GraphBuilder& g, const VitShape& s,
                                                    int64_t prefix_tokens) {
  const int64_t head_dim = s.hidden / s.heads, quarter = head_dim / 4;
  const int64_t rows = s.image_h / s.patch_h, cols = s.image_w / s.patch_w;
  const std::vector<float> inv = RopeInvFreq(s.rope_theta, head_dim / 2);
  core::Tensor angles =
      core::Tensor::Zeros(core::DType::kFloat32, {prefix_tokens + rows * cols, 1, head_dim});
  auto a = angles.values<float>();
  const auto two_pi = static_cast<float>(2.0 * 3.14159265358979323846);
  for (int64_t p = 0; p < rows * cols; ++p) {
    const float y = 2.0f * ((static_cast<float>(p / cols) + 0.5f) / static_cast<float>(rows)) - 1;
    const float x = 2.0f * ((static_cast<float>(p % cols) + 0.5f) / static_cast<float>(cols)) - 1;
    float* row = &a[(prefix_tokens + p) * head_dim];
    for (int64_t k = 0; k < quarter; ++k) {
      row[k] = row[2 * quarter + k] = two_pi * y * inv[k];
      row[quarter + k] = row[3 * quarter + k] = two_pi * x * inv[k];
    }
  }
  const std::string table = g.Initializer("vit.rope_angles", angles);
  return {g.Node("Cos", {table}), g.Node("Sin", {table})};
}

// The layers from `x`; `states`, when given, gets x and each layer's output.
std::string Encoder(GraphBuilder& g, const VitShape& s, const VitVariant& v, std::string x,
                    int64_t tokens, std::vector<std::string>* states = nullptr) {
  if (states) states->push_back(x);
  std::string mid, index, shared;
  if (v.mid_position_embeddings && s.layers > 1)
    mid = g.Weight("encoder.mid_position_embeddings", {s.layers - 1, 1, tokens, s.hidden},
                   WeightInit::kNormal);
  if (v.relative_position_bias || v.shared_relative_position_bias)
    index = g.ConstInt64(RelativePositionIndex(s.image_h / s.patch_h, s.image_w / s.patch_w));
  if (v.shared_relative_position_bias)
    shared = RelativePositionBias(g, s, "encoder.relative_position_bias", index);
  PreNormLayerShape shape = LayerShape(s);
  if (v.rope == "patch_centers")
    std::tie(shape.rope_cos, shape.rope_sin) =
        PatchCenterRope(g, s, tokens + v.registers - s.patches());
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = LayerPrefix(v, l);
    std::string bias = shared;
    if (v.relative_position_bias)
      bias = RelativePositionBias(g, s, p + "attention.attention.relative_position_bias", index);
    x = Layer(g, shape, s, v, p, x, bias);
    if (!mid.empty() && l < s.layers - 1) {
      const std::string at = g.Node("Gather", {mid, g.ConstInt64({l})}, {{"axis", int64_t{0}}});
      x = g.Node("Add", {x, g.Node("Squeeze", {at, g.ConstInt64({0})})});
    }
    if (states) states->push_back(x);
  }
  return x;
}

// ----- Sizes
// --------------------------------------------------------------------------------------

void ReadPatchGrid(const HfConfig& c, const VitVariant& v, VitShape& s) {
  if (v.patches == "tubelet") {
    // VideoMAE's tubelet_size is the time extent alone, its patch patch_size.
    const int64_t patch = c.Int("patch_size", 16);
    const std::vector<int64_t> t =
        c.Has("tubelet_size") && c.json()["tubelet_size"].is_number_integer()
            ? std::vector<int64_t>{c.Int("tubelet_size"), patch, patch}
            : Triple(c, "tubelet_size", {2, 16, 16});
    s.tubelet_t = t[0];
    s.patch_h = t[1];
    s.patch_w = t[2];
    s.frames = c.Int("num_frames", 32);
  } else if (v.patches == "spectrogram") {
    s.patch_h = s.patch_w = c.Int("patch_size", 16);  // ASTPatchEmbeddings squares an int
    s.max_length = c.Int("max_length", 1024);
    s.mel_bins = c.Int("num_mel_bins", 128);
    s.frequency_stride = c.Int("frequency_stride", 10);
    s.time_stride = c.Int("time_stride", 10);
    s.channels = 1;
  } else {
    std::tie(s.patch_h, s.patch_w) = SizePair(c, "patch_size", 16);
  }
}

void CountPatches(const HfConfig& c, const VitVariant& v, VitShape& s) {
  if (v.patches == "spectrogram") {
    RequirePositive(c, {{"frequency_stride", s.frequency_stride}, {"time_stride", s.time_stride}});
    if (s.mel_bins < s.patch_h || s.max_length < s.patch_w)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': a {}x{} spectrogram is smaller than patch_size {}", c.origin(),
                              s.mel_bins, s.max_length, s.patch_h));
    s.num_patches = ((s.mel_bins - s.patch_h) / s.frequency_stride + 1) *
                    ((s.max_length - s.patch_w) / s.time_stride + 1);
    return;
  }
  if (s.image_h < s.patch_h || s.image_w < s.patch_w)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': image_size {}x{} is smaller than "
                            "patch_size {}x{}",
                            c.origin(), s.image_h, s.image_w, s.patch_h, s.patch_w));
  if (v.patches == "tubelet") {
    RequirePositive(c, {{"tubelet_size", s.tubelet_t}, {"num_frames", s.frames}});
    if (s.frames < s.tubelet_t)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': num_frames {} is fewer than the tubelet's {}", c.origin(),
                              s.frames, s.tubelet_t));
  }
  s.num_patches = (s.frames / s.tubelet_t) * (s.image_h / s.patch_h) * (s.image_w / s.patch_w);
  // A padded convolution must give the grid HF's position table is sized for.
  const int64_t p = v.patch_padding;
  if (p > 0 && ((s.image_h + 2 * p - s.patch_h) / s.patch_h + 1 != s.image_h / s.patch_h ||
                (s.image_w + 2 * p - s.patch_w) / s.patch_w + 1 != s.image_w / s.patch_w))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': with padding {} the patch grid of a {}x{} image is not the "
                            "{}x{} its position table has",
                            c.origin(), p, s.image_h, s.image_w, s.image_h / s.patch_h,
                            s.image_w / s.patch_w));
}

// DINOv3ViTConfig's bias switches, gated MLP and rope base. Its query and value biases are one
// switch here (qkv_bias, the template's attribute_map of query_bias): configs that differ are
// refused.
void ReadDinov3Keys(const HfConfig& c, VitShape& s) {
  if (c.Bool("value_bias", true) != s.qkv_bias)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': value_bias unlike query_bias is not built", c.origin()));
  s.key_bias = c.Bool("key_bias", false);
  s.out_bias = c.Bool("proj_bias", true);
  s.mlp_bias = c.Bool("mlp_bias", true);
  s.gated_mlp = c.Bool("use_gated_mlp", false);
  s.rope_theta = c.Double("rope_theta", 100.0);
  if ((s.hidden / s.heads) % 4 != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a head size of {} is not a multiple of 4, as DINOv3's 2-D rope "
                            "needs",
                            c.origin(), s.hidden / s.heads));
}

// DINOv2's MLP width: int(hidden_size * mlp_ratio), and SwiGLU's rounding of two thirds of it
// to a multiple of 8.
int64_t Dinov2Intermediate(const HfConfig& c, const VitVariant& v, int64_t hidden) {
  const auto width = static_cast<int64_t>(static_cast<double>(hidden) * c.Double("mlp_ratio", 4));
  if (!v.swiglu) return width;
  return (static_cast<int64_t>(static_cast<double>(width) * 2 / 3) + 7) / 8 * 8;
}

// The piece names: {"patches": ..., "layer": "...{}...", "final_norm": ...}, each optional.
void ReadNames(const json& value, const HfConfig& c, VitVariant& v) {
  if (!value.is_object()) BadPiece(c, "names", value);
  for (const auto& [name, given] : value.items()) {
    if (!given.is_string() || given.get<std::string>().empty()) BadPiece(c, "names", value);
    const std::string text = given.get<std::string>();
    if (name == "patches") {
      v.patch_name = text;
    } else if (name == "layer" && text.find("{}") != std::string::npos) {
      v.layer_name = text;
    } else if (name == "final_norm") {
      v.final_norm_name = text;
    } else {
      BadPiece(c, "names", value);
    }
  }
}

}  // namespace

VitVariant ReadVitVariant(const json& pieces, const HfConfig& c) {
  VitVariant v;
  if (!pieces.is_object()) BadPiece(c, "pieces", pieces);
  for (const auto& [key, raw] : pieces.items()) {
    const json value = Resolve(raw, c);
    if (key == "patches") {
      v.patches = PieceChoice(value, c, key, {"image", "tubelet", "spectrogram"});
    } else if (key == "leading_tokens") {
      if (!value.is_array()) BadPiece(c, key, value);
      v.leading_tokens.clear();
      for (const auto& t : value)
        v.leading_tokens.push_back(PieceChoice(t, c, key, {"cls_token", "distillation_token"}));
    } else if (key == "trailing_tokens") {
      if (!value.is_object() || !value.contains("name") || !value.contains("count"))
        BadPiece(c, key, value);
      v.trailing_tokens = PieceChoice(value["name"], c, key, {"detection_tokens"});
      v.trailing_count = PieceCount(Resolve(value["count"], c), c, key);
    } else if (key == "registers") {
      v.registers = PieceCount(value, c, key);
    } else if (key == "mask_token") {
      v.mask_token = PieceBool(value, c, key, false);
    } else if (key == "position_embeddings" && value == "sinusoid_table") {
      v.position_embeddings = false;
      v.sinusoid_positions = true;
    } else if (key == "position_embeddings") {
      v.position_embeddings = PieceBool(value, c, key, false);
    } else if (key == "final_norm") {
      v.final_norm_unless_mean_pooling =
          PieceChoice(value, c, key, {"always", "unless_mean_pooling"}) == "unless_mean_pooling";
    } else if (key == "class_position_to_patches") {
      v.class_position_to_patches = PieceBool(value, c, key, false);
    } else if (key == "patch_padding") {
      v.patch_padding = PieceCount(value, c, key);
    } else if (key == "relative_position_bias") {
      v.relative_position_bias = PieceBool(value, c, key, false);
    } else if (key == "shared_relative_position_bias") {
      v.shared_relative_position_bias = PieceBool(value, c, key, false);
    } else if (key == "pooler_classes") {
      if (!value.is_array()) BadPiece(c, key, value);
      for (const auto& name : value) {
        if (!name.is_string()) BadPiece(c, key, value);
        v.pooler_classes.push_back(name.get<std::string>());
      }
    } else if (key == "layer") {
      v.layer =
          PieceChoice(value, c, key, {"vit", "dinov2", "beit", "internvl", "vitpose", "dinov3"});
    } else if (key == "names") {
      ReadNames(value, c, v);
    } else if (key == "random_masking") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() >= 1)
        BadPiece(c, key, value);
      v.mask_ratio = value.get<double>();
    } else if (key == "rope") {
      v.rope = PieceChoice(value, c, key, {"none", "patch_centers"});
    } else if (key == "swiglu") {
      v.swiglu = PieceBool(value, c, key, false);
    } else if (key == "mid_position_embeddings") {
      v.mid_position_embeddings = PieceBool(value, c, key, false);
    } else if (key == "pooler") {
      v.pooler =
          PieceChoice(value, c, key, {"dense", "first_token", "mean_first_two", "beit", "none"});
    } else {
      BadPiece(c, key, raw);
    }
  }
  if (v.trailing_count == 0) v.trailing_tokens.clear();
  if (v.mask_ratio >= 0 &&
      (v.patches != "image" || v.leading_tokens != std::vector<std::string>{"cls_token"} ||
       !v.trailing_tokens.empty() || v.registers > 0 || !v.position_embeddings ||
       v.class_position_to_patches || v.rope != "none"))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': random_masking is built for image patches after one class "
                            "token with learned positions only (ViTMAE's)",
                            c.origin()));
  return v;
}

VitVariant VitVariantOf(const HfConfig& c, json base) {
  for (const char* name :
       {"patches", "leading_tokens", "trailing_tokens", "registers", "mask_token",
        "position_embeddings", "class_position_to_patches", "patch_padding", "layer", "swiglu",
        "relative_position_bias", "shared_relative_position_bias", "mid_position_embeddings",
        "pooler", "pooler_classes", "names", "rope", "random_masking", "final_norm"})
    if (json value = c.Piece(name); !value.is_null()) base[name] = std::move(value);
  return ReadVitVariant(base, c);
}

VitShape ReadVitShape(const HfConfig& c, const VitVariant& v) {
  // ViTConfig and DeiTConfig share these defaults (vit-base-patch16-224).
  VitShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = v.layer == "dinov2" || v.layer == "vitpose" ? Dinov2Intermediate(c, v, s.hidden)
                                                               : c.Int("intermediate_size", 3072);
  s.channels = c.Int("num_channels", 3);
  std::tie(s.image_h, s.image_w) = SizePair(c, "image_size", 224);
  ReadPatchGrid(c, v, s);
  s.pooler_size = c.Int("pooler_output_size", s.hidden);
  s.eps = c.Double("layer_norm_eps", 1e-12);
  s.act = c.String("hidden_act", "gelu");
  s.pooler_act = c.String("pooler_act", "tanh");
  s.qkv_bias = c.Bool("qkv_bias", true);
  s.layer_scale = c.Double("layer_scale_init_value", 0.1) > 0;
  s.mean_pooling = c.Bool("use_mean_pooling", true);

  const std::string& origin = c.origin();
  if (s.heads <= 0 || s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            origin, s.hidden, s.heads));
  RequirePositive(c, {{"num_hidden_layers", s.layers},
                      {"intermediate_size", s.intermediate},
                      {"num_channels", s.channels},
                      {"patch_size", std::min(s.patch_h, s.patch_w)},
                      {"pooler_output_size", s.pooler_size}});
  CountPatches(c, v, s);
  if (v.layer == "dinov3") ReadDinov3Keys(c, s);
  // DINOv2 resamples its position grid (bicubic) for any image that is not square, even one of
  // the configured size; a square image of the configured size takes them as they are.
  const bool resamples = v.layer == "dinov2" ||
                         ((v.layer == "beit" || v.layer == "internvl") && v.position_embeddings);
  if (resamples && s.image_h != s.image_w)
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("'{}': image_size {}x{} is not square; {} resamples its position "
                    "embeddings for such images, which this builder does not",
                    origin, s.image_h, s.image_w,
                    v.layer == "dinov2" ? "DINOv2" : (v.layer == "beit" ? "BEiT" : "InternVL")));
  return s;
}

namespace {

// Whether config.json's architectures names one of `classes`.
bool NamesAnyClass(const HfConfig& c, const std::vector<std::string>& classes) {
  if (!c.Has("architectures") || !c.json()["architectures"].is_array()) return false;
  for (const auto& a : c.json()["architectures"])
    if (a.is_string() &&
        std::find(classes.begin(), classes.end(), a.get<std::string>()) != classes.end())
      return true;
  return false;
}

}  // namespace

// BEiT and InternVL with mean pooling have no final layernorm (an Identity): BEiT's pooler
// normalises, InternVL's downstream heads pool.
bool IdentityFinalNorm(const VitShape& s, const VitVariant& v) {
  return (v.pooler == "beit" || v.layer == "internvl" || v.final_norm_unless_mean_pooling) &&
         s.mean_pooling;
}

bool VitHasPooler(const HfConfig& c) {
  return !NamesAnyClass(
      c, {"ViTForImageClassification", "ViTForMaskedImageModeling", "DeiTForImageClassification",
          "DeiTForImageClassificationWithTeacher", "DeiTForMaskedImageModeling",
          "YolosForObjectDetection", "VivitForVideoClassification", "BeitForMaskedImageModeling",
          "BeitForSemanticSegmentation"});
}

namespace {

// BeitPooler: pooler.layernorm over the mean of the patch tokens (all but token 0) with
// use_mean_pooling, else token 0.
std::string BeitPooled(GraphBuilder& g, const VitShape& s, const std::string& x, int64_t tokens) {
  if (!s.mean_pooling) return TokenAt(g, x, 0);
  const std::string patches = SliceTokens(g, x, 1, tokens);
  const std::string mean = g.Node("ReduceMean", {patches},
                                  {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
  return g.LayerNorm(mean, "pooler.layernorm", s.hidden, s.eps);
}

}  // namespace

VitTowerOutputs BuildVitTower(const HfConfig& config, const VitVariant& v, GraphBuilder& g,
                              const std::string& pixel_values) {
  const VitShape s = ReadVitShape(config, v);
  if (v.patches != "image" || !v.trailing_tokens.empty() || v.registers > 0 ||
      v.mid_position_embeddings || v.mask_ratio >= 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': only image towers without trailing, register or mid-layer "
                            "position tokens are built as a composite's tower",
                            config.origin()));
  const int64_t tokens = s.patches() + static_cast<int64_t>(v.leading_tokens.size());
  VitTowerOutputs out;
  out.last_hidden_state =
      Encoder(g, s, v, Embeddings(g, s, v, ImagePatchTokens(g, s, v, pixel_values), tokens), tokens,
              &out.hidden_states);
  if (!IdentityFinalNorm(s, v))
    out.last_hidden_state = g.LayerNorm(out.last_hidden_state, v.final_norm_name, s.hidden, s.eps);
  return out;
}

void BuildVit(const HfConfig& config, const VitVariant& v, bool pooler, GraphBuilder& g) {
  const VitShape s = ReadVitShape(config, v);
  const Dim batch = std::string("batch");
  const int64_t tokens = v.mask_ratio >= 0
                             ? 1 + MaskedKeep(s, v)
                             : s.patches() + static_cast<int64_t>(v.leading_tokens.size()) +
                                   (v.trailing_tokens.empty() ? 0 : v.trailing_count);
  std::string x = Embeddings(g, s, v, PatchTokens(g, s, v, batch), tokens);
  x = Encoder(g, s, v, x, tokens);
  if (!IdentityFinalNorm(s, v)) x = g.LayerNorm(x, v.final_norm_name, s.hidden, s.eps);
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, tokens + v.registers, s.hidden});

  if (!v.pooler_classes.empty()) pooler = NamesAnyClass(config, v.pooler_classes);
  if (v.pooler == "none" || ((v.pooler == "dense" || v.pooler == "beit") && !pooler)) return;
  int64_t size = s.hidden;
  if (v.pooler == "dense") {
    // Token 0 is the CLS token (DeiT's distillation token is token 1 and is not pooled).
    const std::string dense = g.Linear(TokenAt(g, x, 0), "pooler.dense", s.hidden, s.pooler_size);
    g.Node("Identity", {Activation(g, dense, s.pooler_act)}, {}, "pooler_output");
    size = s.pooler_size;
  } else if (v.pooler == "beit") {
    g.Node("Identity", {BeitPooled(g, s, x, tokens)}, {}, "pooler_output");
  } else if (v.pooler == "first_token") {
    g.Node("Identity", {TokenAt(g, x, 0)}, {}, "pooler_output");
  } else {  // mean_first_two: AST's (h[:, 0] + h[:, 1]) / 2
    const std::string sum = g.Node("Add", {TokenAt(g, x, 0), TokenAt(g, x, 1)});
    g.Node("Div", {sum, g.ConstFloat(2.0f)}, {}, "pooler_output");
  }
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {batch, size});
}

}  // namespace ipfs_accel::models
