#include "clip_builder.h"

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "encoder_builder.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"
#include "piece_choice.h"
#include "rotary.h"
#include "sinusoid_graph.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// Runs the layers from `x`; returns x and each layer's output. `attention_out` names the
// attention's output projection under self_attn (Janus: projection_layer).
std::vector<std::string> EncoderLayers(GraphBuilder& g, const PreNormLayerShape& s, int64_t layers,
                                       std::string x, const std::string& mask,
                                       const std::string& attention_out = "out_proj") {
  std::vector<std::string> states = {x};
  for (int64_t l = 0; l < layers; ++l) {
    PreNormLayerNames names = ClipLayerNames(fmt::format("encoder.layers.{}", l));
    names.attention_out = fmt::format("encoder.layers.{}.self_attn.{}", l, attention_out);
    x = PreNormEncoderLayer(g, s, names, x, mask);
    states.push_back(x);
  }
  return states;
}

void CheckSizes(const HfConfig& c, int64_t hidden, int64_t heads,
                std::initializer_list<std::pair<const char*, int64_t>> positive) {
  if (heads <= 0 || hidden % heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            c.origin(), hidden, heads));
  RequirePositive(c, positive);
}

}  // namespace

// [batch, 1, 1, seq] (or [seq, seq] combined with causality) in HF's eager form: 0 where a key
// may be attended, float32's lowest where not. One lowest value per masked score, never two
// summed, so a row with no visible key stays finite and softmax spreads it evenly, as in HF.
std::string ClipAdditiveMask(GraphBuilder& g, const std::string& input_ids,
                             const std::string& attention_mask, bool causal) {
  std::string allowed;
  if (causal) {
    const std::string seq = g.Node(
        "Squeeze",
        {g.Node("Slice", {g.Node("Shape", {input_ids}), g.ConstInt64({1}), g.ConstInt64({2})}),
         g.ConstInt64({0})});
    const std::string pos = g.Node("Range", {ScalarInt64(g, 0), seq, ScalarInt64(g, 1)});
    const std::string query = g.Node("Unsqueeze", {pos, g.ConstInt64({1})});  // [s, 1]
    const std::string key = g.Node("Unsqueeze", {pos, g.ConstInt64({0})});    // [1, s]
    allowed = g.Node("GreaterOrEqual", {query, key});                         // key <= query
  }
  if (!attention_mask.empty()) {
    const std::string visible = g.Node(
        "Unsqueeze", {g.Node("Cast", {attention_mask}, {{"to", int64_t{onnx::TensorProto::BOOL}}}),
                      g.ConstInt64({1, 2})});  // [b, 1, 1, s]
    allowed = allowed.empty() ? visible : g.Node("And", {allowed, visible});
  }
  if (allowed.empty()) return "";
  return g.Node("Where",
                {allowed, g.ConstFloat(0.0f), g.ConstFloat(std::numeric_limits<float>::lowest())});
}

std::string FirstPositionOf(GraphBuilder& g, const std::string& ids32, int64_t token) {
  const std::string token32 =
      g.Node("Cast", {g.ConstInt64({token})}, {{"to", int64_t{onnx::TensorProto::INT32}}});
  const std::string hits = g.Node("Cast", {g.Node("Equal", {ids32, token32})},
                                  {{"to", int64_t{onnx::TensorProto::INT32}}});
  return g.Node("ArgMax", {hits}, {{"axis", int64_t{1}}, {"keepdims", int64_t{1}}});
}

namespace {

// CLIP's pooled position per row [batch, 1] (see BuildClipTextTower in the header);
// `largest_id`: always the position of the largest id (OwlViT's, GroupViT's rule).
std::string ClipEosIndex(GraphBuilder& g, const std::string& input_ids, int64_t eos_token_id,
                         bool largest_id) {
  // HF compares and takes argmax on int32 ids (cast for ONNX export); so does this.
  const std::string ids32 =
      g.Node("Cast", {input_ids}, {{"to", int64_t{onnx::TensorProto::INT32}}});
  auto argmax = [&](const std::string& t) {
    return g.Node("ArgMax", {t}, {{"axis", int64_t{1}}, {"keepdims", int64_t{1}}});
  };
  if (largest_id) return argmax(ids32);
  const std::string first_eos = FirstPositionOf(g, ids32, eos_token_id);
  // Checkpoints from before the eos_token_id fix: every row's largest id is 49407.
  const std::string row_max = g.Node("ReduceMax", {input_ids},
                                     {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
  const std::string is_eot = g.Node("Cast", {g.Node("Equal", {row_max, g.ConstInt64({49407})})},
                                    {{"to", int64_t{onnx::TensorProto::INT32}}});
  const std::string all_eot =
      g.Node("Cast", {g.Node("ReduceMin", {is_eot}, {{"keepdims", int64_t{0}}})},
             {{"to", int64_t{onnx::TensorProto::BOOL}}});
  return g.Node("Where", {all_eot, argmax(ids32), first_eos});
}

// nn.MultiheadAttention's packed in_proj ([3h, h] and [3h]) as three [in, out] MatMul weights and
// three biases.
struct PackedProjection {
  std::vector<std::string> weights, biases;
};
PackedProjection UnpackInProjection(GraphBuilder& g, const std::string& prefix, int64_t hidden) {
  const std::string w =
      g.Weight(prefix + ".in_proj_weight", {3 * hidden, hidden}, WeightInit::kNormal, true);
  const std::string b = g.Weight(prefix + ".in_proj_bias", {3 * hidden}, WeightInit::kZeros);
  const std::string sizes = g.ConstInt64({hidden, hidden, hidden});
  return {g.NodeN("Split", {w, sizes}, 3, {{"axis", int64_t{1}}}),
          g.NodeN("Split", {b, sizes}, 3, {{"axis", int64_t{0}}})};
}

// SiglipMultiheadAttentionPoolingHead: a learned probe attends over every token, then a
// residual MLP; returns the probe's row [batch, hidden].
std::string AttentionPoolingHead(GraphBuilder& g, const ClipVisionShape& s,
                                 const std::string& tokens) {
  const std::string probe = RepeatOverBatch(
      g, g.Weight("head.probe", {1, 1, s.hidden}, WeightInit::kNormal), tokens, s.hidden);
  const PackedProjection in = UnpackInProjection(g, "head.attention", s.hidden);
  auto project = [&](const std::string& x, int i) {
    return g.Node("Add", {g.Node("MatMul", {x, in.weights[i]}), in.biases[i]});
  };
  const std::string ctx =
      ScaledDotProductAttention(g, project(probe, 0), project(tokens, 1), project(tokens, 2),
                                s.heads, s.hidden / s.heads, "");
  const std::string attended = g.Linear(ctx, "head.attention.out_proj", s.hidden, s.hidden);
  std::string m = g.Linear(g.LayerNorm(attended, "head.layernorm", s.hidden, s.eps), "head.mlp.fc1",
                           s.hidden, s.intermediate);
  m = g.Linear(Activation(g, m, s.act), "head.mlp.fc2", s.intermediate, s.hidden);
  return TokenAt(g, g.Node("Add", {attended, m}), 0);
}

PreNormLayerShape LayerShape(int64_t hidden, int64_t heads, int64_t intermediate, double eps,
                             const std::string& act) {
  return {.hidden = hidden,
          .heads = heads,
          .intermediate = intermediate,
          .eps = eps,
          .act = act,
          .qkv_bias = true};
}

// BLIP's self-attention on the normed x: one qkv projection whose rows are [q | k | v] over all
// heads (BLIP-2: no bias but q_bias and v_bias, the key's zero), then self_attn.projection.
std::string PackedQkvAttention(GraphBuilder& g, const ClipVisionShape& s, const std::string& prefix,
                               const std::string& x) {
  const int64_t h = s.hidden;
  const bool blip2 = s.layout == ClipVisionShape::Layout::kBlip2;
  std::string qkv = g.Linear(x, prefix + "qkv", h, 3 * h, /*bias=*/!blip2);
  if (blip2 && s.qkv_bias) {
    const std::string zeros = g.Node("ConstantOfShape", {g.ConstInt64({h})});
    const std::string bias = g.Node("Concat",
                                    {g.Weight(prefix + "q_bias", {h}, WeightInit::kZeros), zeros,
                                     g.Weight(prefix + "v_bias", {h}, WeightInit::kZeros)},
                                    {{"axis", int64_t{0}}});
    qkv = g.Node("Add", {qkv, bias});
  }
  const std::vector<std::string> parts =
      g.NodeN("Split", {qkv, g.ConstInt64({h, h, h})}, 3, {{"axis", int64_t{2}}});
  const std::string ctx =
      ScaledDotProductAttention(g, parts[0], parts[1], parts[2], s.heads, h / s.heads, "");
  return g.Linear(ctx, prefix + "projection", h, h);
}

// BlipEncoder's layers from `x`: CLIP's pre-norm layer with BLIP's packed attention; returns x
// and each layer's output.
std::vector<std::string> BlipEncoderLayers(GraphBuilder& g, const ClipVisionShape& s,
                                           std::string x) {
  const PreNormLayerShape shape = LayerShape(s.hidden, s.heads, s.intermediate, s.eps, s.act);
  std::vector<std::string> states = {x};
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string prefix = fmt::format("encoder.layers.{}", l);
    const PreNormLayerNames names = ClipLayerNames(prefix);
    const std::string normed = g.LayerNorm(x, names.norm1, s.hidden, s.eps);
    x = g.Node("Add", {x, PackedQkvAttention(g, s, prefix + ".self_attn.", normed)});
    x = PreNormMlpBlock(g, shape, names, x);
    states.push_back(x);
  }
  return states;
}

// The tower's embeddings of `pixels` as its first layer sees them: CLIP's (class token, patches
// without bias, positions, pre-norm), SigLIP's (patches with bias, positions) or BLIP's.
std::string VisionEmbeddings(GraphBuilder& g, const ClipVisionShape& s, const std::string& pixels,
                             bool clip) {
  const bool blip =
      s.layout == ClipVisionShape::Layout::kBlip || s.layout == ClipVisionShape::Layout::kBlip2;
  const int64_t features = s.channels * s.patch_size * s.patch_size;
  if (s.layout == ClipVisionShape::Layout::kSiglip2) {
    return g.Node("Add", {g.Linear(pixels, "embeddings.patch_embedding", features, s.hidden),
                          g.Weight("embeddings.position_embedding.weight", {s.patches(), s.hidden},
                                   WeightInit::kNormal)});
  }
  if (s.layout == ClipVisionShape::Layout::kVideoLlama3) {  // the Conv2d over each patch's values
    const std::string w =
        g.Weight("embeddings.patch_embedding.weight",
                 {s.hidden, s.channels, s.patch_size, s.patch_size}, WeightInit::kNormal);
    const std::string kernel =
        g.Node("Transpose", {g.Node("Reshape", {w, g.ConstInt64({s.hidden, features})})},
               {{"perm", std::vector<int64_t>{1, 0}}});
    return g.Node("Add",
                  {g.Node("MatMul", {pixels, kernel}),
                   g.Weight("embeddings.patch_embedding.bias", {s.hidden}, WeightInit::kZeros)});
  }
  std::string x = PatchEmbeddings(g, pixels, "embeddings.patch_embedding", s.channels, s.hidden,
                                  s.patch_size, s.patch_size, /*bias=*/!clip || blip);
  if (blip) {
    x = PrependTokens(
        g, {g.Weight("embeddings.class_embedding", {1, 1, s.hidden}, WeightInit::kNormal)}, x,
        s.hidden);
    return g.Node("Add", {x, g.Weight("embeddings.position_embedding",
                                      {1, s.patches() + 1, s.hidden}, WeightInit::kNormal)});
  }
  const int64_t positions = s.patches() + (clip ? 1 : 0);
  if (clip)
    x = PrependTokens(g, {g.Weight("embeddings.class_embedding", {s.hidden}, WeightInit::kNormal)},
                      x, s.hidden);
  if (s.layout != ClipVisionShape::Layout::kMlcd)  // MLCD rotates q and k instead
    x = g.Node("Add", {x, g.Weight("embeddings.position_embedding.weight", {positions, s.hidden},
                                   WeightInit::kNormal)});
  if (clip) x = g.LayerNorm(x, s.pre_layernorm, s.hidden, s.eps);
  return x;
}

// MLCD's rope tables [1 + patches, 1, head_dim]: per patch (row-major over the grid) its row's
// then its column's angles with head_dim / 4 frequencies of base 10000 (Qwen2-VL's
// VisionRotaryEmbedding), after the class token's learned class_pos_emb; each repeated twice
// (HF's cat((emb, emb))). float32 products, as torch.outer makes them.
std::pair<std::string, std::string> MlcdRope(GraphBuilder& g, const ClipVisionShape& s) {
  const int64_t head_dim = s.hidden / s.heads, quarter = head_dim / 4;
  const int64_t side = s.image_size / s.patch_size, patches = side * side;
  const std::vector<float> inv = RopeInvFreq(10000.0, head_dim / 2);
  core::Tensor angles = core::Tensor::Zeros(core::DType::kFloat32, {patches, 2 * quarter});
  auto a = angles.values<float>();
  for (int64_t p = 0; p < patches; ++p)
    for (int64_t k = 0; k < quarter; ++k) {
      a[p * 2 * quarter + k] = static_cast<float>(p / side) * inv[k];
      a[p * 2 * quarter + quarter + k] = static_cast<float>(p % side) * inv[k];
    }
  const std::string table =
      g.Node("Concat",
             {g.Weight("class_pos_emb", {1, 2 * quarter}, WeightInit::kNormal),
              g.Initializer("mlcd.rope_angles", angles)},
             {{"axis", int64_t{0}}});
  const std::string emb = g.Node(
      "Unsqueeze", {g.Node("Concat", {table, table}, {{"axis", int64_t{-1}}}), g.ConstInt64({1})});
  return {g.Node("Cos", {emb}), g.Node("Sin", {emb})};
}

// VideoLLaMA3's rope tables [patches, 1, head_dim]: MLCD's angles without a class token (Qwen2-VL's
// vision rope at merge size 1: the patches row-major).
std::pair<std::string, std::string> GridRope(GraphBuilder& g, const ClipVisionShape& s) {
  const int64_t head_dim = s.hidden / s.heads, quarter = head_dim / 4;
  const int64_t side = s.image_size / s.patch_size, patches = side * side;
  const std::vector<float> inv = RopeInvFreq(10000.0, head_dim / 2);
  core::Tensor angles = core::Tensor::Zeros(core::DType::kFloat32, {patches, 1, head_dim});
  auto a = angles.values<float>();
  for (int64_t p = 0; p < patches; ++p)
    for (int64_t k = 0; k < quarter; ++k) {
      a[p * head_dim + k] = a[p * head_dim + 2 * quarter + k] =
          static_cast<float>(p / side) * inv[k];
      a[p * head_dim + quarter + k] = a[p * head_dim + 3 * quarter + k] =
          static_cast<float>(p % side) * inv[k];
    }
  const std::string table = g.Initializer("vision_rope_angles", angles);
  return {g.Node("Cos", {table}), g.Node("Sin", {table})};
}

// Names a tensor as a graph output.
void Expose(GraphBuilder& g, const std::string& tensor, const std::string& name,
            const std::vector<Dim>& dims) {
  g.Node("Identity", {tensor}, {}, name);
  g.Output(name, onnx::TensorProto::FLOAT, dims);
}

// The pieces weight_prefix, post_layernorm and layout (see ClipVisionShape).
// SigLIP 2's grid: image_size is sqrt(num_patches) patches a side (a square number).
void ReadSiglip2Grid(const HfConfig& c, ClipVisionShape& s) {
  const int64_t n = c.Int("num_patches", 256);
  auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  if (n <= 0 || side * side != n)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': num_patches {} is not a positive square", c.origin(), n));
  s.image_size = side * s.patch_size;
}

void ReadClipVisionPieces(const HfConfig& c, bool clip, ClipVisionShape& s) {
  using Layout = ClipVisionShape::Layout;
  using PostNorm = ClipVisionShape::PostNorm;
  s.weight_prefix = c.PieceString("weight_prefix", s.weight_prefix);
  s.layout = static_cast<Layout>(
      PieceChoice(c, "layout", "clip_vision_model",
                  {"clip", "blip", "blip_2", "janus", "mlcd", "siglip2", "video_llama_3"}));
  if (s.layout == Layout::kSiglip2) ReadSiglip2Grid(c, s);
  const bool janus = s.layout == Layout::kJanus;
  if (s.layout == Layout::kBlip || s.layout == Layout::kBlip2) {
    s.channels = 3;  // BLIP's patch conv has in_channels=3 whatever num_channels says
    s.qkv_bias = c.Bool("qkv_bias", true);
  }
  if (janus) {  // JanusVisionConfig has no intermediate_size: the MLP is mlp_ratio wide
    s.qkv_bias = c.Bool("attention_bias", true);
    s.intermediate =
        static_cast<int64_t>(static_cast<double>(s.hidden) * c.Double("mlp_ratio", 4.0));
  }
  s.class_token = clip || s.layout == Layout::kBlip || s.layout == Layout::kBlip2;
  s.post_norm = clip ? PostNorm::kClassToken : PostNorm::kAllTokens;
  if (!c.Piece("post_layernorm").is_null())
    s.post_norm = static_cast<PostNorm>(
        PieceChoice(c, "post_layernorm", "clip_vision_model",
                    {"class_token", "all_tokens", "all_tokens_then_class_token"}));
  // Janus (Blip2VisionModel's forward on SigLIP's embeddings) pools its first patch token.
  if (!s.class_token && !janus && s.post_norm != PostNorm::kAllTokens)
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("'{}': post_layernorm on the class token of a tower without one", c.origin()));
}

// The pieces text_positions, embedding_scale and weight_prefix (see ClipTextShape).
void ReadClipTextPieces(const HfConfig& c, ClipTextShape& s) {
  s.sinusoidal_positions =
      PieceChoice(c, "text_positions", "clip_text_model", {"learned", "sinusoidal"}) == 1;
  const nlohmann::json scale = c.Piece("embedding_scale");
  s.scale_embeddings = scale.is_boolean() && scale.get<bool>();
  s.weight_prefix = c.PieceString("weight_prefix", s.weight_prefix);
  if (s.sinusoidal_positions && s.hidden % 2 != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': sinusoidal text positions of odd width {} (HF pads a zero "
                            "column) are not built",
                            c.origin(), s.hidden));
}

// CLIPTextEmbeddings: token embeddings (times sqrt(hidden) with scale_embeddings) plus the
// positions 0..S-1 of the learned table, or of the sinusoidal one.
std::string TextEmbeddings(GraphBuilder& g, const ClipTextShape& s, const std::string& input_ids) {
  std::string tokens = g.Node("Gather", {g.Weight("embeddings.token_embedding.weight",
                                                  {s.vocab, s.hidden}, WeightInit::kNormal),
                                         input_ids});
  if (s.scale_embeddings)
    tokens = g.Node(
        "Mul",
        {tokens, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.hidden))))});
  const std::string seq_len =
      g.Node("Slice", {g.Node("Shape", {input_ids}), g.ConstInt64({1}), g.ConstInt64({2})});
  if (s.sinusoidal_positions) {
    const std::string seq = g.Node("Squeeze", {seq_len, g.ConstInt64({0})});
    const std::string pos =
        g.Node("Unsqueeze", {g.Node("Range", {ScalarInt64(g, 0), seq, ScalarInt64(g, 1)}),
                             g.ConstInt64({0})});  // [1, S]
    return g.Node("Add", {tokens, SinusoidalPositions(g, FairseqSinusoidFrequencies(s.hidden), pos,
                                                      "text_position_frequencies")});
  }
  const std::string positions =
      g.Node("Slice", {g.Weight("embeddings.position_embedding.weight", {s.max_positions, s.hidden},
                                WeightInit::kNormal),
                       g.ConstInt64({0}), seq_len, g.ConstInt64({0})});
  return g.Node("Add", {tokens, positions});
}

// TIPSv2's pooling: sum(x * mask) over the sequence / (sum(mask) + epsilon), [batch, hidden];
// the plain mean without a mask.
std::string MaskedMean(GraphBuilder& g, const std::string& x, const std::string& attention_mask,
                       double epsilon) {
  const auto over_sequence = [&](const std::string& t) {
    return g.Node("ReduceSum", {t, g.ConstInt64({1})}, {{"keepdims", int64_t{0}}});
  };
  if (attention_mask.empty())
    return g.Node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
  const std::string mask =
      g.Node("Cast", {attention_mask}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string count =
      g.Node("Add", {g.Node("ReduceSum", {mask, g.ConstInt64({1})}, {{"keepdims", int64_t{1}}}),
                     g.ConstFloat(static_cast<float>(epsilon))});  // [batch, 1]
  const std::string summed =
      over_sequence(g.Node("Mul", {x, g.Node("Unsqueeze", {mask, g.ConstInt64({2})})}));
  return g.Node("Div", {summed, count});
}

// `sub` through the template the piece `towers` names for `key` (OwlViT's towers have their own
// config classes, whose defaults HF fills in); unchanged where the piece names none.
HfConfig WithTowerTemplate(const HfConfig& config, const std::string& key, HfConfig sub) {
  const nlohmann::json towers = config.Piece("towers");
  if (!towers.is_object() || !towers.contains(key)) return sub;
  const std::string type = towers[key].is_string() ? towers[key].get<std::string>() : "";
  const ArchitectureTemplate* t = FindTemplate(type);
  if (!t)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the piece towers.{} names '{}', which has no template",
                            config.origin(), key, type));
  return ApplyTemplate(*t, sub);
}

// A text sub-config resolved through a BERT-like tower template (ChineseCLIP's towers.text_config).
bool IsEncoderTower(const HfConfig& c) {
  const ArchitectureTemplate* t = FindTemplate(c.template_name());
  return t && t->builder == "encoder";
}

// ChineseCLIPModel's text features: its BERT tower (no pooler) at the first token.
std::string EncoderTowerFirstToken(GraphBuilder& g, const HfConfig& text_config) {
  EncoderVariant variant = EncoderVariantOf(text_config);
  variant.pooler = false;
  EncoderInputs in;
  in.token_type_ids = "";  // HF's zeros when none are given
  return TokenAt(g, BuildEncoderOn(text_config, variant, g, in).last_hidden_state, 0);
}

}  // namespace

ClipFamily ClipFamilyOf(const std::string& model_type) {
  if (model_type == "clip" || model_type == "clip_text_model" || model_type == "clip_vision_model")
    return ClipFamily::kClip;
  if (model_type == "siglip" || model_type == "siglip_text_model" ||
      model_type == "siglip_vision_model")
    return ClipFamily::kSiglip;
  throw Error(ErrorKind::kUnsupported,
              fmt::format("model_type '{}' is not a CLIP or SigLIP model or tower (clip, "
                          "clip_text_model, clip_vision_model, siglip, siglip_text_model, "
                          "siglip_vision_model)",
                          model_type));
}

HfConfig ClipSubConfig(const HfConfig& config, const std::string& key) {
  const nlohmann::json& json = config.json();
  const std::string origin = fmt::format("{} ({})", config.origin(), key);
  auto object_at = [&](const std::string& k) -> const nlohmann::json* {
    if (!json.contains(k) || json[k].is_null()) return nullptr;
    if (!json[k].is_object())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': '{}' is not a JSON object", config.origin(), k));
    return &json[k];
  };
  // CLIPConfig lets a legacy *_dict override every value of the sub-config, its own defaults
  // included: with one present, the sub-config is that dict alone.
  if (const nlohmann::json* legacy = object_at(key + "_dict"))
    return WithTowerTemplate(config, key, HfConfig(*legacy, origin));
  if (const nlohmann::json* sub = object_at(key))
    return WithTowerTemplate(config, key, HfConfig(*sub, origin));
  return WithTowerTemplate(config, key, HfConfig(nlohmann::json::object(), origin));
}

ClipVisionShape ReadClipVisionShape(const HfConfig& c, ClipFamily family) {
  const bool clip = family == ClipFamily::kClip;
  ClipVisionShape s{};
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = c.Int("intermediate_size", 3072);
  s.channels = c.Int("num_channels", 3);
  s.image_size = c.Int("image_size", 224);
  s.patch_size = c.Int("patch_size", clip ? 32 : 16);
  s.eps = c.Double("layer_norm_eps", clip ? 1e-5 : 1e-6);
  s.act = c.String("hidden_act", clip ? "quick_gelu" : "gelu_pytorch_tanh");
  s.use_head = !clip && c.PieceBool("attention_pooling_head", c.Bool("vision_use_head", true));
  if (PieceChoice(c, "pre_layernorm_name", "clip", {"pre_layrnorm", "pre_layernorm"}) == 1)
    s.pre_layernorm = "pre_layernorm";
  ReadClipVisionPieces(c, clip, s);
  CheckSizes(c, s.hidden, s.heads,
             {{"num_hidden_layers", s.layers},
              {"intermediate_size", s.intermediate},
              {"num_channels", s.channels},
              {"patch_size", s.patch_size}});
  if (s.image_size < s.patch_size)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': image_size {} is smaller than patch_size {}", c.origin(),
                            s.image_size, s.patch_size));
  // MLCD's rope gives head_dim / 4 frequencies to each of the patch's row and column.
  if ((s.layout == ClipVisionShape::Layout::kMlcd ||
       s.layout == ClipVisionShape::Layout::kVideoLlama3) &&
      (s.hidden / s.heads) % 4 != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a head size of {} is not a multiple of 4, which MLCD's 2-D "
                            "rope needs",
                            c.origin(), s.hidden / s.heads));
  return s;
}

ClipTextShape ReadClipTextShape(const HfConfig& c, ClipFamily family) {
  const bool clip = family == ClipFamily::kClip;
  ClipTextShape s{};
  s.hidden = c.Int("hidden_size", clip ? 512 : 768);
  s.layers = c.Int("num_hidden_layers", 12);
  s.heads = c.Int("num_attention_heads", clip ? 8 : 12);
  s.intermediate = c.Int("intermediate_size", clip ? 2048 : 3072);
  s.vocab = c.Int("vocab_size", clip ? 49408 : 32000);
  s.max_positions = c.Int("max_position_embeddings", clip ? 77 : 64);
  s.eps = c.Double("layer_norm_eps", clip ? 1e-5 : 1e-6);
  s.act = c.String("hidden_act", clip ? "quick_gelu" : "gelu_pytorch_tanh");
  s.eos_token_id = 0;
  s.projection_size = 0;
  if (clip && !IsEncoderTower(c)) {
    // An explicit null would make HF compare the ids with None.
    if (c.json().contains("eos_token_id") && !c.Has("eos_token_id"))
      throw Error(
          ErrorKind::kCorrupt,
          fmt::format("'{}': CLIP's text pooling needs eos_token_id, which is null", c.origin()));
    s.eos_token_id = c.Id("eos_token_id", 49407);
    s.pool_at_largest_id = PieceChoice(c, "text_pooling", "clip", {"eos", "argmax_ids"}) == 1;
  } else {
    s.projection_size = c.Int("projection_size", s.hidden);
    s.masked_mean = PieceChoice(c, "text_pooling", "siglip", {"head", "masked_mean"}) == 1;
    if (s.masked_mean) s.projection_size = s.hidden;  // no head: the pooled width is hidden's
    s.pooling_epsilon = c.Double("pooling_epsilon", 1e-8);
  }
  ReadClipTextPieces(c, s);
  CheckSizes(c, s.hidden, s.heads,
             {{"num_hidden_layers", s.layers},
              {"intermediate_size", s.intermediate},
              {"vocab_size", s.vocab},
              {"max_position_embeddings", s.max_positions},
              {"projection_size", clip ? 1 : s.projection_size}});
  return s;
}

ClipTowerOutputs BuildClipVisionTower(const HfConfig& vision_config, GraphBuilder& g,
                                      const std::string& pixel_values, ClipFamily family) {
  const ClipVisionShape s = ReadClipVisionShape(vision_config, family);
  const std::string x = VisionEmbeddings(g, s, pixel_values, family == ClipFamily::kClip);

  ClipTowerOutputs out;
  using Layout = ClipVisionShape::Layout;
  PreNormLayerShape shape = LayerShape(s.hidden, s.heads, s.intermediate, s.eps, s.act);
  shape.qkv_bias = s.qkv_bias;
  if (s.layout == Layout::kMlcd) std::tie(shape.rope_cos, shape.rope_sin) = MlcdRope(g, s);
  if (s.layout == Layout::kVideoLlama3) std::tie(shape.rope_cos, shape.rope_sin) = GridRope(g, s);
  if (s.layout == Layout::kClip || s.layout == Layout::kJanus || s.layout == Layout::kMlcd ||
      s.layout == Layout::kSiglip2 || s.layout == Layout::kVideoLlama3)
    out.hidden_states = EncoderLayers(g, shape, s.layers, x, "",
                                      s.layout == Layout::kJanus ? "projection_layer" : "out_proj");
  else
    out.hidden_states = BlipEncoderLayers(g, s, x);
  const std::string last = out.hidden_states.back();
  using PostNorm = ClipVisionShape::PostNorm;
  if (s.post_norm == PostNorm::kClassToken) {
    out.last_hidden_state = last;
    out.pooled = g.LayerNorm(TokenAt(g, last, 0), "post_layernorm", s.hidden, s.eps);
  } else if (s.post_norm == PostNorm::kAllTokens) {
    out.last_hidden_state = g.LayerNorm(last, "post_layernorm", s.hidden, s.eps);
    if (s.use_head) out.pooled = AttentionPoolingHead(g, s, out.last_hidden_state);
  } else {
    // BLIP norms its class token twice with the one post_layernorm, as HF does.
    const std::string gamma = g.Weight("post_layernorm.weight", {s.hidden}, WeightInit::kOnes);
    const std::string beta = g.Weight("post_layernorm.bias", {s.hidden}, WeightInit::kZeros);
    auto norm = [&](const std::string& x) {
      return g.Node("LayerNormalization", {x, gamma, beta},
                    {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(s.eps)}});
    };
    out.last_hidden_state = norm(last);
    out.pooled = norm(TokenAt(g, out.last_hidden_state, 0));
  }
  return out;
}

ClipTowerOutputs BuildClipTextTower(const HfConfig& text_config, GraphBuilder& g,
                                    const std::string& input_ids, const std::string& attention_mask,
                                    ClipFamily family) {
  const ClipTextShape s = ReadClipTextShape(text_config, family);
  const bool clip = family == ClipFamily::kClip;
  const std::string x = TextEmbeddings(g, s, input_ids);
  // CLIP's text model is causal; SigLIP's is not.
  const std::string mask = ClipAdditiveMask(g, input_ids, attention_mask, /*causal=*/clip);

  ClipTowerOutputs out;
  out.hidden_states = EncoderLayers(g, LayerShape(s.hidden, s.heads, s.intermediate, s.eps, s.act),
                                    s.layers, x, mask);
  out.last_hidden_state =
      g.LayerNorm(out.hidden_states.back(), "final_layer_norm", s.hidden, s.eps);
  if (clip) {
    out.pooled = g.Node(
        "GatherND",
        {out.last_hidden_state, ClipEosIndex(g, input_ids, s.eos_token_id, s.pool_at_largest_id)},
        {{"batch_dims", int64_t{1}}});
  } else if (s.masked_mean) {
    out.pooled = MaskedMean(g, out.last_hidden_state, attention_mask, s.pooling_epsilon);
  } else {
    // The last position, padding or not ("sticky" EOS tokenization), then the head.
    out.pooled =
        g.Linear(TokenAt(g, out.last_hidden_state, -1), "head", s.hidden, s.projection_size);
  }
  return out;
}

void BuildClipModel(const HfConfig& config, ClipFamily family, GraphBuilder& g) {
  const bool clip = family == ClipFamily::kClip;
  const HfConfig text_config = ClipSubConfig(config, "text_config");
  const HfConfig vision_config = ClipSubConfig(config, "vision_config");
  const ClipTextShape ts = ReadClipTextShape(text_config, family);
  const ClipVisionShape vs = ReadClipVisionShape(vision_config, family);
  if (!clip && !vs.use_head)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': SiglipModel with vision_use_head=false has no image embeddings "
                            "(HF's SiglipModel fails on it too); use SiglipVisionModel",
                            config.origin()));
  const int64_t embed = clip ? config.Int("projection_dim", 512) : vs.hidden;
  if (!clip && ts.projection_size != vs.hidden)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the text head's projection_size {} differs from the vision "
                            "hidden_size {}, so the embeddings cannot be compared",
                            config.origin(), ts.projection_size, vs.hidden));
  RequirePositive(config, {{"projection_dim", embed}});

  const Dim batch = std::string("batch");
  const std::vector<Dim> tokens = {batch, std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  g.Input("pixel_values", onnx::TensorProto::FLOAT,
          {batch, vs.channels, vs.image_size, vs.image_size});

  std::string text, image;
  {
    WeightScope scope(g, "text_model.");
    text = IsEncoderTower(text_config)
               ? EncoderTowerFirstToken(g, text_config)
               : BuildClipTextTower(text_config, g, "input_ids", "attention_mask", family).pooled;
    // BlipModel's text tower keeps BERT's pooler, which its forward (token 0 of
    // last_hidden_state) never runs: counted, not in the graph.
    if (config.PieceBool("unused_text_pooler", false)) {
      g.UnusedWeight("pooler.dense.weight", {ts.hidden, ts.hidden}, WeightInit::kNormal);
      g.UnusedWeight("pooler.dense.bias", {ts.hidden}, WeightInit::kZeros);
    }
  }
  {
    WeightScope scope(g, "vision_model.");
    image = BuildClipVisionTower(vision_config, g, "pixel_values", family).pooled;
  }
  if (clip) {
    image = g.Linear(image, "visual_projection", vs.hidden, embed, /*bias=*/false);
    text = g.Linear(text, "text_projection", ts.hidden, embed, /*bias=*/false);
  }
  image = L2Normalize(g, image);
  text = L2Normalize(g, text);
  // CLIP's logit_scale is a 0-d tensor, SigLIP's scale and bias have shape [1].
  const core::Shape scalar = clip ? core::Shape{} : core::Shape{1};
  const std::string scale = g.Node("Exp", {g.Weight("logit_scale", scalar, WeightInit::kNormal)});
  std::string per_text = g.Node(
      "Mul", {g.Node("MatMul",
                     {text, g.Node("Transpose", {image}, {{"perm", std::vector<int64_t>{1, 0}}})}),
              scale});
  if (!clip)
    per_text = g.Node("Add", {per_text, g.Weight("logit_bias", scalar, WeightInit::kNormal)});
  const std::string per_image =
      g.Node("Transpose", {per_text}, {{"perm", std::vector<int64_t>{1, 0}}});

  Expose(g, text, "text_embeds", {batch, embed});
  Expose(g, image, "image_embeds", {batch, embed});
  Expose(g, per_image, "logits_per_image", {batch, batch});
  Expose(g, per_text, "logits_per_text", {batch, batch});
}

void BuildClipVisionModel(const HfConfig& config, ClipFamily family, GraphBuilder& g) {
  const ClipVisionShape s = ReadClipVisionShape(config, family);
  const Dim batch = std::string("batch");
  if (s.layout == ClipVisionShape::Layout::kSiglip2 ||
      s.layout == ClipVisionShape::Layout::kVideoLlama3)
    g.Input("pixel_values", onnx::TensorProto::FLOAT,
            {batch, s.patches(), s.channels * s.patch_size * s.patch_size});
  else
    g.Input("pixel_values", onnx::TensorProto::FLOAT,
            {batch, s.channels, s.image_size, s.image_size});
  WeightScope scope(g, s.weight_prefix);
  const ClipTowerOutputs out = BuildClipVisionTower(config, g, "pixel_values", family);
  const int64_t tokens = s.patches() + (s.class_token ? 1 : 0);
  Expose(g, out.last_hidden_state, "last_hidden_state", {batch, tokens, s.hidden});
  if (!out.pooled.empty()) Expose(g, out.pooled, "pooler_output", {batch, s.hidden});
}

void BuildClipTextModel(const HfConfig& config, ClipFamily family, GraphBuilder& g) {
  const ClipTextShape s = ReadClipTextShape(config, family);
  const std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  WeightScope scope(g, s.weight_prefix);
  const ClipTowerOutputs out = BuildClipTextTower(config, g, "input_ids", "attention_mask", family);
  Expose(g, out.last_hidden_state, "last_hidden_state",
         {std::string("batch"), std::string("sequence"), s.hidden});
  Expose(g, out.pooled, "pooler_output",
         {std::string("batch"), family == ClipFamily::kClip ? s.hidden : s.projection_size});
}

}  // namespace ipfs_accel::models
