#include "encoder_builder.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "activation.h"
#include "encoder_fused.h"
#include "encoder_positions.h"
#include "fourier_mixing.h"
#include "ipfs_accel/core/error.h"
#include "longformer_attention.h"
#include "rotary.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// DistilBertConfig names its sizes differently; HF's attribute_map also accepts the BERT names.
int64_t SizeKey(const HfConfig& c, const EncoderVariant& v, const std::string& bert_key,
                const std::string& distil_key, int64_t fallback) {
  if (v.layout == EncoderLayout::kDistilBert && c.Has(distil_key)) return c.Int(distil_key);
  return c.Int(bert_key, fallback);
}

EncoderLinear FetchLinear(GraphBuilder& g, const std::string& prefix, int64_t in, int64_t out) {
  return {g.Weight(prefix + ".weight", {out, in}, WeightInit::kNormal, true),
          g.Weight(prefix + ".bias", {out}, WeightInit::kZeros), 0};
}

// A Conv1d of kernel 1 in `groups` groups, weight [out, in / groups, 1] reshaped in the graph to
// [groups, in / groups, out / groups] for a batched MatMul.
EncoderLinear FetchConv1x1(GraphBuilder& g, const std::string& prefix, int64_t in, int64_t out,
                           int64_t groups) {
  const std::string weight =
      g.Weight(prefix + ".weight", {out, in / groups, 1}, WeightInit::kNormal);
  const std::string per_group =
      g.Node("Reshape", {weight, g.ConstInt64({groups, out / groups, in / groups})});
  return {g.Node("Transpose", {per_group}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
          g.Weight(prefix + ".bias", {out}, WeightInit::kZeros), groups};
}

EncoderNorm FetchNorm(GraphBuilder& g, const std::string& prefix, int64_t size) {
  return {g.Weight(prefix + ".weight", {size}, WeightInit::kOnes),
          g.Weight(prefix + ".bias", {size}, WeightInit::kZeros)};
}

std::string ApplyLinear(GraphBuilder& g, const std::string& x, const EncoderLinear& w) {
  if (w.groups == 0) return g.Node("Add", {g.Node("MatMul", {x, w.weight}), w.bias});
  // x [b, s, in] -> [b, G, s, in / G] @ [G, in / G, out / G] -> [b, s, out]
  const std::string split = g.Node("Reshape", {x, g.ConstInt64({0, 0, w.groups, -1})});
  const std::string per_group =
      g.Node("Transpose", {split}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  const std::string y = g.Node("Transpose", {g.Node("MatMul", {per_group, w.weight})},
                               {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  return g.Node("Add", {g.Node("Reshape", {y, g.ConstInt64({0, 0, -1})}), w.bias});
}

std::string ApplyNorm(GraphBuilder& g, const std::string& x, const EncoderNorm& w, double eps) {
  return g.Node("LayerNormalization", {x, w.gamma, w.beta},
                {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(eps)}});
}

// A layout's weight names and where its LayerNorms sit. A layer's names have "{}" where the
// layer goes: its index, or for ALBERT the shared layer's module path.
struct LayoutSpec {
  EncoderLayout layout;
  const char *word, *position, *token_type;  // token_type "": token types index the word table
  const char *query, *key, *value, *attention_output, *attention_norm, *ffn_in, *ffn_out,
      *output_norm;
  bool pre_norm;               // x + f(LayerNorm(x)) rather than LayerNorm(x + f(x))
  const char* embedding_norm;  // "" for none
  const char* final_norm;      // after the last layer, "" for none
  const char* pooler;
  // XLM: hidden states times the padding mask after the embeddings and after every layer.
  bool mask_hidden;
};

constexpr LayoutSpec kLayouts[] = {
    {EncoderLayout::kBert, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layer.{}.attention.self.query", "encoder.layer.{}.attention.self.key",
     "encoder.layer.{}.attention.self.value", "encoder.layer.{}.attention.output.dense",
     "encoder.layer.{}.attention.output.LayerNorm", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.output.LayerNorm", false,
     "embeddings.LayerNorm", "", "pooler.dense", false},
    {EncoderLayout::kDistilBert, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "transformer.layer.{}.attention.q_lin", "transformer.layer.{}.attention.k_lin",
     "transformer.layer.{}.attention.v_lin", "transformer.layer.{}.attention.out_lin",
     "transformer.layer.{}.sa_layer_norm", "transformer.layer.{}.ffn.lin1",
     "transformer.layer.{}.ffn.lin2", "transformer.layer.{}.output_layer_norm", false,
     "embeddings.LayerNorm", "", "pooler.dense", false},
    {EncoderLayout::kAlbert, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "{}.attention.query", "{}.attention.key", "{}.attention.value", "{}.attention.dense",
     "{}.attention.LayerNorm", "{}.ffn", "{}.ffn_output", "{}.full_layer_layer_norm", false,
     "embeddings.LayerNorm", "", "pooler", false},
    {EncoderLayout::kMegatronBert, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layer.{}.attention.self.query", "encoder.layer.{}.attention.self.key",
     "encoder.layer.{}.attention.self.value", "encoder.layer.{}.attention.output.dense",
     "encoder.layer.{}.attention.ln", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.ln", true, "", "encoder.ln", "pooler.dense",
     false},
    {EncoderLayout::kXlmRobertaXl, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layer.{}.attention.self.query", "encoder.layer.{}.attention.self.key",
     "encoder.layer.{}.attention.self.value", "encoder.layer.{}.attention.output.dense",
     "encoder.layer.{}.attention.self_attn_layer_norm", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.LayerNorm", true, "", "encoder.LayerNorm",
     "pooler.dense", false},
    {EncoderLayout::kRobertaPreLayerNorm, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layer.{}.attention.self.query", "encoder.layer.{}.attention.self.key",
     "encoder.layer.{}.attention.self.value", "encoder.layer.{}.attention.output.dense",
     "encoder.layer.{}.attention.LayerNorm", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.intermediate.LayerNorm", true,
     "embeddings.LayerNorm", "LayerNorm", "pooler.dense", false},
    {EncoderLayout::kMpnet, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layer.{}.attention.attn.q", "encoder.layer.{}.attention.attn.k",
     "encoder.layer.{}.attention.attn.v", "encoder.layer.{}.attention.attn.o",
     "encoder.layer.{}.attention.LayerNorm", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.output.LayerNorm", false,
     "embeddings.LayerNorm", "", "pooler.dense", false},
    {EncoderLayout::kSqueezeBert, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layers.{}.attention.query", "encoder.layers.{}.attention.key",
     "encoder.layers.{}.attention.value", "encoder.layers.{}.post_attention.conv1d",
     "encoder.layers.{}.post_attention.layernorm", "encoder.layers.{}.intermediate.conv1d",
     "encoder.layers.{}.output.conv1d", "encoder.layers.{}.output.layernorm", false,
     "embeddings.LayerNorm", "", "pooler.dense", false},
    {EncoderLayout::kXlm, "embeddings.weight", "position_embeddings.weight", "",
     "attentions.{}.q_lin", "attentions.{}.k_lin", "attentions.{}.v_lin", "attentions.{}.out_lin",
     "layer_norm1.{}", "ffns.{}.lin1", "ffns.{}.lin2", "layer_norm2.{}", false, "layer_norm_emb",
     "", "", true},
    {EncoderLayout::kFnet, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight", "", "", "",
     "", "encoder.layer.{}.fourier.output.LayerNorm", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.output.LayerNorm", false,
     "embeddings.LayerNorm", "", "pooler.dense", false},
    {EncoderLayout::kFlava, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layer.{}.attention.attention.query", "encoder.layer.{}.attention.attention.key",
     "encoder.layer.{}.attention.attention.value", "encoder.layer.{}.attention.output.dense",
     "encoder.layer.{}.layernorm_before", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.layernorm_after", true,
     "embeddings.LayerNorm", "layernorm", "pooler.dense", false},
    {EncoderLayout::kTapas, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings_{}.weight",
     "encoder.layer.{}.attention.self.query", "encoder.layer.{}.attention.self.key",
     "encoder.layer.{}.attention.self.value", "encoder.layer.{}.attention.output.dense",
     "encoder.layer.{}.attention.output.LayerNorm", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.output.LayerNorm", false,
     "embeddings.LayerNorm", "", "pooler.dense", false},
    {EncoderLayout::kAltClip, "roberta.embeddings.word_embeddings.weight",
     "roberta.embeddings.position_embeddings.weight",
     "roberta.embeddings.token_type_embeddings.weight",
     "roberta.encoder.layer.{}.attention.self.query", "roberta.encoder.layer.{}.attention.self.key",
     "roberta.encoder.layer.{}.attention.self.value",
     "roberta.encoder.layer.{}.attention.output.dense",
     "roberta.encoder.layer.{}.attention.output.LayerNorm",
     "roberta.encoder.layer.{}.intermediate.dense", "roberta.encoder.layer.{}.output.dense",
     "roberta.encoder.layer.{}.output.LayerNorm", false, "roberta.embeddings.LayerNorm", "pre_LN",
     "", false},
    {EncoderLayout::kDpr, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
     "encoder.layer.{}.attention.self.query", "encoder.layer.{}.attention.self.key",
     "encoder.layer.{}.attention.self.value", "encoder.layer.{}.attention.output.dense",
     "encoder.layer.{}.attention.output.LayerNorm", "encoder.layer.{}.intermediate.dense",
     "encoder.layer.{}.output.dense", "encoder.layer.{}.output.LayerNorm", false,
     "embeddings.LayerNorm", "", "", false},
    {EncoderLayout::kJina, "embeddings.word_embeddings.weight", "",
     "embeddings.token_type_embeddings.weight", "layers.{}.self_attn.q_proj",
     "layers.{}.self_attn.k_proj", "layers.{}.self_attn.v_proj", "layers.{}.self_attn.o_proj",
     "layers.{}.post_attention_layernorm", "layers.{}.mlp.fc1", "layers.{}.mlp.fc2",
     "layers.{}.post_mlp_layernorm", false, "embeddings.LayerNorm", "", "pooler.dense", false},
    {EncoderLayout::kEsm, "embeddings.word_embeddings.weight",
     "embeddings.position_embeddings.weight", "", "encoder.layer.{}.attention.self.query",
     "encoder.layer.{}.attention.self.key", "encoder.layer.{}.attention.self.value",
     "encoder.layer.{}.attention.output.dense", "encoder.layer.{}.attention.LayerNorm",
     "encoder.layer.{}.intermediate.dense", "encoder.layer.{}.output.dense",
     "encoder.layer.{}.LayerNorm", true, "embeddings.layer_norm", "encoder.emb_layer_norm_after",
     "pooler.dense", false},
};

const LayoutSpec& Spec(EncoderLayout layout) {
  for (const LayoutSpec& spec : kLayouts)
    if (spec.layout == layout) return spec;
  throw Error(ErrorKind::kInternal, "unknown encoder layout");
}

// One layer's weights, `layer` filling the layout's names.
EncoderLayerWeights FetchLayer(GraphBuilder& g, const EncoderShape& s, EncoderLayout layout,
                               const std::string& layer) {
  const int64_t h = s.hidden, i = s.intermediate;
  const LayoutSpec& n = Spec(layout);
  auto name = [&](const char* pattern) { return fmt::format(fmt::runtime(pattern), layer); };
  // SqueezeBERT's are grouped convolutions (groups > 0), the others' plain linears.
  auto linear = [&](const char* pattern, int64_t in, int64_t out, int64_t groups) {
    return layout == EncoderLayout::kSqueezeBert ? FetchConv1x1(g, name(pattern), in, out, groups)
                                                 : FetchLinear(g, name(pattern), in, out);
  };
  EncoderLayerWeights w;
  if (*n.query != '\0') {  // FNet's layers have no attention weights
    w.query = linear(n.query, h, h, s.q_groups);
    w.key = linear(n.key, h, h, s.k_groups);
    w.value = linear(n.value, h, h, s.v_groups);
    w.attention_output = linear(n.attention_output, h, h, s.attention_output_groups);
  }
  w.attention_norm = FetchNorm(g, name(n.attention_norm), h);
  w.ffn_in = linear(n.ffn_in, h, i, s.ffn_in_groups);
  w.ffn_out = linear(n.ffn_out, i, h, s.ffn_out_groups);
  w.output_norm = FetchNorm(g, name(n.output_norm), h);
  if (!s.attention_windows.empty()) {  // Longformer's projections for global tokens
    w.query_global = FetchLinear(g, name(n.query) + "_global", h, h);
    w.key_global = FetchLinear(g, name(n.key) + "_global", h, h);
    w.value_global = FetchLinear(g, name(n.value) + "_global", h, h);
  }
  return w;
}

// X-MOD's adapters of one layer: output.adapter_modules.<language>.dense1/dense2, in the order
// of config.languages (the order lang_ids index).
void FetchAdapters(GraphBuilder& g, const EncoderShape& s, const std::string& layer,
                   EncoderLayerWeights& w) {
  for (const std::string& language : s.languages) {
    const std::string p =
        fmt::format("encoder.layer.{}.output.adapter_modules.{}.", layer, language);
    w.adapter_down.push_back(FetchLinear(g, p + "dense1", s.hidden, s.adapter_size));
    w.adapter_up.push_back(FetchLinear(g, p + "dense2", s.adapter_size, s.hidden));
  }
}

// Each sample's language's linear: weights [languages, in, out] gathered by lang_ids [batch] to
// [batch, in, out], applied to x [batch, seq, in] by a batched MatMul.
std::string PerLanguageLinear(GraphBuilder& g, const std::vector<EncoderLinear>& per_language,
                              const std::string& x, const std::string& lang_ids) {
  std::vector<std::string> weights, biases;
  for (const EncoderLinear& l : per_language) {
    weights.push_back(g.Node("Unsqueeze", {l.weight, g.ConstInt64({0})}));
    biases.push_back(g.Node("Unsqueeze", {l.bias, g.ConstInt64({0})}));
  }
  const std::string weight = g.Node(
      "Gather", {g.Node("Concat", weights, {{"axis", int64_t{0}}}), lang_ids});  // [b, in, out]
  const std::string bias =
      g.Node("Gather", {g.Node("Concat", biases, {{"axis", int64_t{0}}}), lang_ids});  // [b, out]
  return g.Node("Add",
                {g.Node("MatMul", {x, weight}), g.Node("Unsqueeze", {bias, g.ConstInt64({1})})});
}

// What every layer's attention takes besides its input: the mask (additive float
// [batch, 1, 1, seq], or the fused Attention's int32 mask), and RoFormer's rotation.
struct AttentionInputs {
  std::string mask;
  std::string bias;   // MPNet's relative position bias [1, heads, seq, seq], "" for none
  PairRotary rotary;  // empty without rotary positions
  bool rotary_value = false;
  RopeTables rope;          // rotate-half positions (EncoderPositions::kRotary), empty without
  bool fused = false;       // post-norm layers as ONNX Runtime's contrib operators
  std::string hidden_mask;  // XLM: float padding mask [batch, seq, 1] each layer's output is times
  std::string lang_ids;     // X-MOD: each sample's adapter, int64 [batch]
  FourierMatrices fourier;  // FNet: the DFTs' cos and sin matrices, empty for attention
  // Longformer: its masks, and each layer's window mask (mask is set from these per layer)
  LongformerMasks longformer;
  std::vector<std::string> window_masks;
  std::string box;  // BROS' relative box embeddings [batch, seq, seq, head_dim], "" without
};

// softmax(q k^T / sqrt(d) + mask) v for q [b, h, s, d], k [b, h, d, s], v [b, h, s, d]; probs
// times `kept` [b, 1, s, 1] where given.
std::string Attend(GraphBuilder& g, int64_t head_dim, const std::string& q, const std::string& k,
                   const std::string& v, const std::string& bias, const std::string& mask,
                   const std::string& kept = "") {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::string scores = g.Node("Mul", {g.Node("MatMul", {q, k}), g.ConstFloat(scale)});
  if (!bias.empty()) scores = g.Node("Add", {scores, bias});
  scores = g.Node("Add", {scores, mask});
  std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  if (!kept.empty()) probs = g.Node("Mul", {probs, kept});
  return g.Node("MatMul", {probs, v});
}

// Multi-head self-attention, then the output projection.
std::string SelfAttention(GraphBuilder& g, const EncoderShape& s, const EncoderLayerWeights& w,
                          const std::string& x, const AttentionInputs& a) {
  const int64_t head_dim = s.hidden / s.heads;
  const std::string split_shape = g.ConstInt64({0, 0, s.heads, head_dim});
  auto heads = [&](const EncoderLinear& proj, std::vector<int64_t> perm) {
    const std::string y = ApplyLinear(g, x, proj);
    return g.Node("Transpose", {g.Node("Reshape", {y, split_shape})}, {{"perm", perm}});
  };
  std::string q, k, v;
  if (!a.rope.sin.empty()) {  // rotated as [b, h, s, d], then k transposed
    q = ApplyRope(g, heads(w.query, {0, 2, 1, 3}), a.rope, head_dim, head_dim);
    k = g.Node("Transpose", {ApplyRope(g, heads(w.key, {0, 2, 1, 3}), a.rope, head_dim, head_dim)},
               {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
    v = heads(w.value, {0, 2, 1, 3});
  } else if (a.rotary.sin.empty()) {
    q = heads(w.query, {0, 2, 1, 3});  // [b, h, s, d]
    k = heads(w.key, {0, 2, 3, 1});    // [b, h, d, s]
    v = heads(w.value, {0, 2, 1, 3});
  } else {  // rotated as [b, h, s, d], then k transposed
    auto rotated = [&](const EncoderLinear& proj) {
      return ApplyPairRotary(g, heads(proj, {0, 2, 1, 3}), a.rotary, head_dim);
    };
    q = rotated(w.query);
    k = g.Node("Transpose", {rotated(w.key)}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
    v = a.rotary_value ? rotated(w.value) : heads(w.value, {0, 2, 1, 3});
  }
  std::string bias = a.bias;
  if (!a.box.empty())  // BROS adds q . e[i, j] before the scaling: scaled here with q k
    bias = g.Node("Mul", {BoxRelativeScores(g, q, a.box),
                          g.ConstFloat(1.0f / std::sqrt(static_cast<float>(head_dim)))});
  std::string ctx = Attend(g, head_dim, q, k, v, bias, a.mask, a.longformer.query_kept);
  if (!a.longformer.global_rows.empty()) {
    // LongformerSelfAttention overwrites the global tokens' rows with their attention over every
    // unpadded key through the global projections.
    const std::string global =
        Attend(g, head_dim, heads(w.query_global, {0, 2, 1, 3}), heads(w.key_global, {0, 2, 3, 1}),
               heads(w.value_global, {0, 2, 1, 3}), "", a.longformer.global_keys);
    ctx = g.Node("Where", {a.longformer.global_rows, global, ctx});
  }
  ctx = g.Node("Transpose", {ctx}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  ctx = g.Node("Reshape", {ctx, g.ConstInt64({0, 0, s.hidden})});
  return ApplyLinear(g, ctx, w.attention_output);
}

std::string FeedForward(GraphBuilder& g, const EncoderShape& s, const EncoderLayerWeights& w,
                        const std::string& x) {
  return ApplyLinear(g, Activation(g, ApplyLinear(g, x, w.ffn_in), s.act), w.ffn_out);
}

// BERT's post-norm layer: each sublayer's output added to its input, then normalised.
std::string PostNormLayer(GraphBuilder& g, const EncoderShape& s, const EncoderLayerWeights& w,
                          const std::string& x, const AttentionInputs& a) {
  if (a.fused) return FusedEncoderLayer(g, s, w, x, a.mask);
  const std::string mixed =
      a.fourier.seq_cos.empty() ? SelfAttention(g, s, w, x, a) : FourierMix(g, x, a.fourier);
  const std::string attn = ApplyNorm(g, g.Node("Add", {mixed, x}), w.attention_norm, s.layer_eps);
  const std::string out =
      ApplyNorm(g, g.Node("Add", {FeedForward(g, s, w, attn), attn}), w.output_norm, s.layer_eps);
  if (w.adapter_down.empty()) return out;
  // XmodOutput.lang_adapter (ln_before_adapter, reusing output.LayerNorm): the normalised output
  // plus its language's adapter, normalised again by the same LayerNorm.
  const std::string down = PerLanguageLinear(g, w.adapter_down, out, a.lang_ids);
  const std::string up = PerLanguageLinear(g, w.adapter_up, Activation(g, down, s.act), a.lang_ids);
  return ApplyNorm(g, g.Node("Add", {up, out}), w.output_norm, s.eps);
}

// The pre-norm layer: each sublayer sees its input normalised and adds to it unnormalised.
std::string PreNormLayer(GraphBuilder& g, const EncoderShape& s, const EncoderLayerWeights& w,
                         const std::string& x, const AttentionInputs& a) {
  const std::string attn =
      g.Node("Add", {x, SelfAttention(g, s, w, ApplyNorm(g, x, w.attention_norm, s.eps), a)});
  return g.Node("Add", {attn, FeedForward(g, s, w, ApplyNorm(g, attn, w.output_norm, s.eps))});
}

std::string EncoderLayer(GraphBuilder& g, const EncoderShape& s, EncoderLayout layout,
                         const EncoderLayerWeights& w, const std::string& x,
                         const AttentionInputs& a) {
  return Spec(layout).pre_norm ? PreNormLayer(g, s, w, x, a) : PostNormLayer(g, s, w, x, a);
}

// The fused contrib operators fit the post-norm layers with plain attention only; the others
// stay plain ONNX.
bool UsesFusedLayers(const GraphBuilder& g, const EncoderVariant& v) {
  return g.fused() && !Spec(v.layout).pre_norm && v.layout != EncoderLayout::kSqueezeBert &&
         v.layout != EncoderLayout::kFnet && v.positions != EncoderPositions::kRotaryTable &&
         v.positions != EncoderPositions::kRotary && !v.relative_bias && !v.language_adapters &&
         !v.token_dropout && !v.longformer_attention && !v.visual_embeds && !v.box_relative;
}

// Position ids [batch, seq] as RobertaEmbeddings makes them from input_ids: non-pad tokens
// count up from pad + 1, pad tokens get pad (its table row).
std::string PositionIdsAfterPadding(GraphBuilder& g, const std::string& input_ids, int64_t pad) {
  const std::string pad_id = g.ConstInt64({pad});
  const std::string not_pad = g.Node("Not", {g.Node("Equal", {input_ids, pad_id})});
  const std::string counts = g.Node("Cast", {not_pad}, {{"to", int64_t{onnx::TensorProto::INT64}}});
  const std::string running = g.Node("CumSum", {counts, g.ConstInt64({1})});
  return g.Node("Add", {g.Node("Mul", {running, counts}), pad_id});
}

// LayoutLM's box embeddings for bbox [batch, seq, 4] = (x0, y0, x1, y1): x(x0) + y(y0) + x(x1) +
// y(y1) + h(y1 - y0) + w(x1 - x0).
std::string BoxPositions(GraphBuilder& g, const EncoderShape& s, const std::string& bbox) {
  auto table = [&](const char* name) {
    return g.Weight(fmt::format("embeddings.{}_position_embeddings.weight", name),
                    {s.max_2d_positions, s.embedding}, WeightInit::kNormal);
  };
  const std::string x = table("x"), y = table("y"), h = table("h"), w = table("w");
  auto coordinate = [&](int64_t i) {  // [batch, seq]
    return g.Node("Gather", {bbox, g.ConstInt64({i})}, {{"axis", int64_t{2}}});
  };
  // A 1-element index keeps a trailing axis of 1; squeezing it leaves [batch, seq].
  auto squeezed = [&](int64_t i) { return g.Node("Squeeze", {coordinate(i), g.ConstInt64({2})}); };
  const std::string x0 = squeezed(0), y0 = squeezed(1), x1 = squeezed(2), y1 = squeezed(3);
  auto look_up = [&](const std::string& t, const std::string& ids) {
    return g.Node("Gather", {t, ids});
  };
  std::string sum = g.Node("Add", {look_up(x, x0), look_up(y, y0)});
  sum = g.Node("Add", {sum, look_up(x, x1)});
  sum = g.Node("Add", {sum, look_up(y, y1)});
  sum = g.Node("Add", {sum, look_up(h, g.Node("Sub", {y1, y0}))});
  return g.Node("Add", {sum, look_up(w, g.Node("Sub", {x1, x0}))});
}

// Column c of token_type_ids [batch, seq, columns] as [batch, seq].
std::string TokenTypeColumn(GraphBuilder& g, const std::string& token_type_ids, int64_t c) {
  return g.Node("Squeeze",
                {g.Node("Gather", {token_type_ids, g.ConstInt64({c})}, {{"axis", int64_t{2}}}),
                 g.ConstInt64({2})});
}

// TapasEmbeddings' per-cell position ids [batch, seq]: i minus the smallest j whose column and
// row ids (token types 1 and 2) equal token i's, capped at max_positions - 1; the segment
// minimum as a [batch, seq, seq] comparison.
std::string PerCellPositionIds(GraphBuilder& g, const std::string& token_type_ids,
                               int64_t max_positions) {
  auto same = [&](int64_t column) {
    const std::string ids = TokenTypeColumn(g, token_type_ids, column);
    return g.Node("Equal", {g.Node("Unsqueeze", {ids, g.ConstInt64({2})}),
                            g.Node("Unsqueeze", {ids, g.ConstInt64({1})})});
  };
  const std::string same_cell = g.Node("And", {same(1), same(2)});  // [b, i, j]
  const std::string seq_len = g.Node(
      "Squeeze",
      {g.Node("Slice", {g.Node("Shape", {token_type_ids}), g.ConstInt64({1}), g.ConstInt64({2})}),
       g.ConstInt64({0})});
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string index = g.Node("Range", {zero, seq_len, one});
  const std::string first = g.Node("ReduceMin", {g.Node("Where", {same_cell, index, seq_len})},
                                   {{"axes", std::vector<int64_t>{2}}, {"keepdims", int64_t{0}}});
  return g.Node("Min", {g.Node("Sub", {index, first}), g.ConstInt64({max_positions - 1})});
}

// TAPAS' token types: the sum over columns N of token_type_embeddings_N[token_type_ids[..., N]].
std::string TableTokenTypes(GraphBuilder& g, const char* pattern, const std::vector<int64_t>& sizes,
                            int64_t width, const std::string& token_type_ids) {
  std::string sum;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string table =
        g.Weight(fmt::format(fmt::runtime(pattern), i), {sizes[i], width}, WeightInit::kNormal);
    const std::string rows =
        g.Node("Gather", {table, TokenTypeColumn(g, token_type_ids, static_cast<int64_t>(i))});
    sum = sum.empty() ? rows : g.Node("Add", {sum, rows});
  }
  return sum;
}

// The absolute position embeddings [batch or 1, seq, width] from embeddings.position_embeddings;
// "" for rotary positions, which act in attention.
std::string AbsolutePositions(GraphBuilder& g, const EncoderShape& s, const EncoderVariant& v,
                              const EncoderInputs& in) {
  if (v.positions == EncoderPositions::kRotaryTable || v.positions == EncoderPositions::kRotary)
    return "";
  // DistilBERT's table is learned or sinusoidal (sinusoidal_pos_embds); either way it is a saved
  // parameter, so the checkpoint's values are used.
  const std::string table =
      g.Weight(Spec(v.layout).position, {s.max_positions, s.embedding}, WeightInit::kNormal);
  if (v.positions == EncoderPositions::kAfterPadding)
    return g.Node("Gather", {table, PositionIdsAfterPadding(g, in.input_ids, s.pad)});
  if (v.positions == EncoderPositions::kPerCell)
    return g.Node("Gather", {table, PerCellPositionIds(g, in.token_type_ids, s.max_positions)});
  // rows 0..seq-1, broadcast over the batch
  const std::string seq_len =
      g.Node("Slice", {g.Node("Shape", {in.input_ids}), g.ConstInt64({1}), g.ConstInt64({2})});
  return g.Node("Slice", {table, g.ConstInt64({0}), seq_len, g.ConstInt64({0})});
}

// The embeddings at hidden width: ALBERT's and RemBERT's mapping, ELECTRA's and RoFormer's
// projection where the sizes differ.
std::string Project(GraphBuilder& g, const EncoderShape& s, const EncoderVariant& v,
                    std::string h) {
  const int64_t width = s.embedding;
  if (v.projection == EmbeddingProjection::kAlways)
    h = ApplyLinear(g, h, FetchLinear(g, "encoder.embedding_hidden_mapping_in", width, s.hidden));
  if (v.projection == EmbeddingProjection::kWhenSizesDiffer && width != s.hidden)
    h = ApplyLinear(g, h, FetchLinear(g, "embeddings_project", width, s.hidden));
  if (v.projection == EmbeddingProjection::kAfterNorm)
    h = ApplyLinear(g, h, FetchLinear(g, "embeddings.projection", width, s.hidden));
  return h;
}

// Word (+ token type) + position embeddings and their LayerNorm (where the layout has one), at
// embedding width.
// RoCBertEmbeddings with concat_input: [word, shape, pronunciation] embeddings mapped to hidden.
std::string ShapeAndPronunciation(GraphBuilder& g, const EncoderShape& s, const EncoderInputs& in,
                                  const std::string& words) {
  const std::string shape = g.Node(
      "Gather",
      {g.Weight("embeddings.shape_embed.weight", {s.shape_vocab, s.shape_dim}, WeightInit::kNormal),
       in.shape_ids});
  const std::string pronunciation =
      g.Node("Gather", {g.Weight("embeddings.pronunciation_embed.weight",
                                 {s.pronunciation_vocab, s.pronunciation_dim}, WeightInit::kNormal),
                        in.pronunciation_ids});
  const std::string joined =
      g.Node("Concat", {words, shape, pronunciation}, {{"axis", int64_t{-1}}});
  return ApplyLinear(g, joined,
                     FetchLinear(g, "embeddings.map_inputs_layer",
                                 s.embedding + s.shape_dim + s.pronunciation_dim, s.embedding));
}

// EsmEmbeddings' token dropout on the word embeddings h [batch, seq, width]: mask tokens' rows
// zeroed, then h * (1 - 0.15 * 0.8) / (1 - mask tokens / seq) per row (EsmModel passes the
// embeddings no attention_mask, so the row's length is the sequence's).
std::string TokenDropout(GraphBuilder& g, const EncoderShape& s, const std::string& input_ids,
                         const std::string& h) {
  const std::string is_mask = g.Node("Equal", {input_ids, g.ConstInt64({s.mask_token})});
  const std::string kept =
      g.Node("Where", {g.Node("Unsqueeze", {is_mask, g.ConstInt64({-1})}), g.ConstFloat(0.0f), h});
  const std::string masks = g.Node(
      "ReduceSum",
      {g.Node("Cast", {is_mask}, {{"to", int64_t{onnx::TensorProto::FLOAT}}}), g.ConstInt64({-1})},
      {{"keepdims", int64_t{1}}});  // [batch, 1]
  const std::string seq_len = g.Node(
      "Cast",
      {g.Node("Slice", {g.Node("Shape", {input_ids}), g.ConstInt64({1}), g.ConstInt64({2})})},
      {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string observed = g.Node("Div", {masks, seq_len});
  const std::string scaled =
      g.Node("Mul", {kept, g.ConstFloat(static_cast<float>(1 - 0.15 * 0.8))});
  return g.Node("Div", {scaled, g.Node("Unsqueeze", {g.Node("Sub", {g.ConstFloat(1.0f), observed}),
                                                     g.ConstInt64({-1})})});
}

// VisualBertEmbeddings' visual tokens [batch, visual, hidden]: visual_projection(visual_embeds) +
// visual_position_embeddings row 0 (HF's position ids without image_text_alignment) +
// visual_token_type_embeddings[visual_token_type_ids].
std::string VisualTokens(GraphBuilder& g, const EncoderShape& s, const EncoderInputs& in) {
  const std::string projected = ApplyLinear(
      g, in.visual_embeds, FetchLinear(g, "embeddings.visual_projection", s.visual_dim, s.hidden));
  const std::string position =
      g.Node("Gather", {g.Weight("embeddings.visual_position_embeddings.weight",
                                 {s.max_positions, s.hidden}, WeightInit::kNormal),
                        g.ConstInt64({0})});  // [1, hidden]
  const std::string types =
      g.Node("Gather", {g.Weight("embeddings.visual_token_type_embeddings.weight",
                                 {s.type_vocab, s.hidden}, WeightInit::kNormal),
                        in.visual_token_type_ids});
  return g.Node("Add", {g.Node("Add", {projected, position}), types});
}

// MarkupLM's XPathEmbeddings: per depth d, tag table d [tags_seq[..., d]] and subscript table d
// [subs_seq[..., d]], concatenated over depths, summed, then inner2emb(relu(unitseq2_inner(.))).
std::string XPathEmbeddings(GraphBuilder& g, const EncoderShape& s, const EncoderInputs& in) {
  const std::string p = "embeddings.xpath_embeddings.";
  const int64_t width = s.xpath_unit * s.xpath_depth;
  g.UnusedWeight(p + "xpath_unitseq2_embeddings.weight", {s.hidden, width}, WeightInit::kNormal);
  g.UnusedWeight(p + "xpath_unitseq2_embeddings.bias", {s.hidden}, WeightInit::kZeros);
  auto concat = [&](const std::string& ids, const char* tables, int64_t rows) {
    std::vector<std::string> parts;
    for (int64_t d = 0; d < s.xpath_depth; ++d) {
      const std::string table = g.Weight(fmt::format("{}{}.{}.weight", p, tables, d),
                                         {rows, s.xpath_unit}, WeightInit::kNormal);
      parts.push_back(g.Node("Gather", {table, TokenTypeColumn(g, ids, d)}));
    }
    return g.Node("Concat", parts, {{"axis", int64_t{-1}}});
  };
  const std::string sum =
      g.Node("Add", {concat(in.xpath_tags, "xpath_tag_sub_embeddings", s.xpath_tags),
                     concat(in.xpath_subs, "xpath_subs_sub_embeddings", s.xpath_subs)});
  const std::string inner = g.Node(
      "Relu",
      {ApplyLinear(g, sum, FetchLinear(g, p + "xpath_unitseq2_inner", width, 4 * s.hidden))});
  return ApplyLinear(g, inner, FetchLinear(g, p + "inner2emb", 4 * s.hidden, s.hidden));
}

// `table_types`: TAPAS' token-type table sizes, empty for the other layouts.
std::string Embeddings(GraphBuilder& g, const EncoderShape& s, const EncoderVariant& v,
                       const EncoderInputs& in, const std::vector<int64_t>& table_types) {
  const LayoutSpec& spec = Spec(v.layout);
  const int64_t width = s.embedding;
  const std::string words = g.Weight(spec.word, {s.vocab, width}, WeightInit::kNormal);
  std::string h = g.Node("Gather", {words, in.input_ids});
  if (v.token_dropout) h = TokenDropout(g, s, in.input_ids, h);
  if (v.shape_pronunciation) h = ShapeAndPronunciation(g, s, in, h);
  if (!table_types.empty()) {
    h = g.Node("Add",
               {h, TableTokenTypes(g, spec.token_type, table_types, width, in.token_type_ids)});
  } else if (v.token_types) {
    const std::string types =
        *spec.token_type == '\0'
            ? words
            : g.Weight(spec.token_type, {s.type_vocab, width}, WeightInit::kNormal);
    // No token_type_ids: HF uses zeros, i.e. row 0 for every token.
    const std::string ids = in.token_type_ids.empty() ? g.ConstInt64({0}) : in.token_type_ids;
    h = g.Node("Add", {h, g.Node("Gather", {types, ids})});
  }
  std::string positions = AbsolutePositions(g, s, v, in);
  if (v.box_positions) h = g.Node("Add", {h, BoxPositions(g, s, in.bbox)});
  if (v.xpath_embeddings) h = g.Node("Add", {h, XPathEmbeddings(g, s, in)});
  if (v.visual_embeds) {  // the text's embeddings, then the visual tokens', normed together
    if (!positions.empty()) h = g.Node("Add", {h, positions});
    positions.clear();
    h = g.Node("Concat", {h, VisualTokens(g, s, in)}, {{"axis", int64_t{1}}});
  }
  if (*spec.embedding_norm == '\0' || !v.embedding_norm)
    return Project(g, s, v, positions.empty() ? h : g.Node("Add", {h, positions}));
  const EncoderNorm norm = FetchNorm(g, spec.embedding_norm, width);
  if (positions.empty())
    h = ApplyNorm(g, h, norm, s.eps);
  else
    h = UsesFusedLayers(g, v) ? FusedAddNorm(g, h, positions, norm, s.eps)
                              : ApplyNorm(g, g.Node("Add", {h, positions}), norm, s.eps);
  return Project(g, s, v, h);
}

// x times the padding mask, where the layout multiplies by it.
std::string MaskHidden(GraphBuilder& g, const std::string& x, const std::string& mask) {
  return mask.empty() ? x : g.Node("Mul", {x, mask});
}

// BertLayer's crossattention (BLIP's text layers, is_decoder), which an encoder-only forward
// never runs: counted and fetched (UnusedWeight), not in the graph.
void CountCrossAttention(GraphBuilder& g, const EncoderShape& s, int64_t layer) {
  const std::string p = fmt::format("encoder.layer.{}.crossattention.", layer);
  const std::pair<const char*, int64_t> inputs[] = {{"self.query", s.hidden},
                                                    {"self.key", s.cross_attention_width},
                                                    {"self.value", s.cross_attention_width},
                                                    {"output.dense", s.hidden}};
  for (const auto& [name, in] : inputs) {
    g.UnusedWeight(p + name + ".weight", {s.hidden, in}, WeightInit::kNormal);
    g.UnusedWeight(p + name + ".bias", {s.hidden}, WeightInit::kZeros);
  }
  g.UnusedWeight(p + "output.LayerNorm.weight", {s.hidden}, WeightInit::kOnes);
  g.UnusedWeight(p + "output.LayerNorm.bias", {s.hidden}, WeightInit::kZeros);
}

// LukeEntityEmbeddings, which word-only input never reads: counted and fetched, not in the graph.
void CountEntityEmbeddings(GraphBuilder& g, const EncoderShape& s) {
  const std::string p = "entity_embeddings.";
  g.UnusedWeight(p + "entity_embeddings.weight", {s.entity_vocab, s.entity_width},
                 WeightInit::kNormal);
  if (s.entity_width != s.hidden)
    g.UnusedWeight(p + "entity_embedding_dense.weight", {s.hidden, s.entity_width},
                   WeightInit::kNormal);
  g.UnusedWeight(p + "position_embeddings.weight", {s.max_positions, s.hidden},
                 WeightInit::kNormal);
  g.UnusedWeight(p + "token_type_embeddings.weight", {s.type_vocab, s.hidden}, WeightInit::kNormal);
  g.UnusedWeight(p + "LayerNorm.weight", {s.hidden}, WeightInit::kOnes);
  g.UnusedWeight(p + "LayerNorm.bias", {s.hidden}, WeightInit::kZeros);
}

// LukeSelfAttention's entity-aware queries of one layer, read only with entities.
void CountEntityQueries(GraphBuilder& g, const EncoderShape& s, int64_t layer) {
  for (const char* name : {"w2e_query", "e2w_query", "e2e_query"}) {
    const std::string p = fmt::format("encoder.layer.{}.attention.self.{}.", layer, name);
    g.UnusedWeight(p + "weight", {s.hidden, s.hidden}, WeightInit::kNormal);
    g.UnusedWeight(p + "bias", {s.hidden}, WeightInit::kZeros);
  }
}

// The layers, each given what its attention takes. ALBERT's weights live in num_hidden_groups
// groups of inner_group_num layers; layer i runs every layer of group int(i / (L / G)), as
// AlbertTransformer computes it.
std::string Layers(GraphBuilder& g, const EncoderShape& s, const EncoderVariant& v, std::string h,
                   const AttentionInputs& a) {
  if (v.layout != EncoderLayout::kAlbert) {
    for (int64_t l = 0; l < s.layers; ++l) {
      EncoderLayerWeights w = FetchLayer(g, s, v.layout, std::to_string(l));
      if (v.unused_cross_attention) CountCrossAttention(g, s, l);
      if (s.entity_aware) CountEntityQueries(g, s, l);
      if (v.language_adapters) FetchAdapters(g, s, std::to_string(l), w);
      AttentionInputs layer = a;
      if (!a.window_masks.empty()) layer.mask = a.window_masks[static_cast<size_t>(l)];
      h = MaskHidden(g, EncoderLayer(g, s, v.layout, w, h, layer), a.hidden_mask);
    }
    return h;
  }
  std::vector<std::vector<EncoderLayerWeights>> groups(static_cast<size_t>(s.hidden_groups));
  for (int64_t gi = 0; gi < s.hidden_groups; ++gi)
    for (int64_t j = 0; j < s.inner_group_num; ++j)
      groups[gi].push_back(FetchLayer(
          g, s, v.layout, fmt::format("encoder.albert_layer_groups.{}.albert_layers.{}", gi, j)));
  const double layers_per_group =
      static_cast<double>(s.layers) / static_cast<double>(s.hidden_groups);
  for (int64_t i = 0; i < s.layers; ++i) {
    const auto group = static_cast<size_t>(static_cast<double>(i) / layers_per_group);
    for (const EncoderLayerWeights& w : groups.at(group)) h = EncoderLayer(g, s, v.layout, w, h, a);
  }
  return h;
}

}  // namespace

namespace {

// A piece's string value as one of `names`' enum values.
template <typename Enum>
Enum PieceValue(const nlohmann::json& pieces, const char* piece,
                std::initializer_list<std::pair<const char*, Enum>> names, Enum fallback,
                const std::string& source) {
  if (!pieces.contains(piece)) return fallback;
  const nlohmann::json& value = pieces[piece];
  std::string known;
  for (const auto& [name, e] : names) {
    if (value.is_string() && value.get<std::string>() == name) return e;
    known += known.empty() ? name : std::string(", ") + name;
  }
  throw Error(ErrorKind::kCorrupt,
              fmt::format("'{}': encoder piece '{}' is {}; it must be one of {}", source, piece,
                          value.dump(), known));
}

bool PieceFlag(const nlohmann::json& pieces, const char* piece, bool fallback,
               const std::string& source) {
  if (!pieces.contains(piece)) return fallback;
  if (!pieces[piece].is_boolean())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': encoder piece '{}' is {}; it must be a boolean", source, piece,
                            pieces[piece].dump()));
  return pieces[piece].get<bool>();
}

// clang-format off
constexpr const char* kEncoderPieces[] = {
    "layout", "positions", "projection", "token_types", "pooler", "box_positions",
    "relative_bias", "position_padding_idx", "intermediate_factor", "activation_flag",
    "language_adapters", "shape_pronunciation", "token_type_inputs", "embedding_norm",
    "token_dropout", "attention", "visual_embeds", "box_relative", "unused_cross_attention",
    "xpath_embeddings", "unused_entities"};
// clang-format on

}  // namespace

EncoderVariant EncoderVariantFromPieces(const std::string& model_type, const nlohmann::json& pieces,
                                        const std::string& source) {
  for (const auto& [piece, value] : pieces.items())
    if (std::find(std::begin(kEncoderPieces), std::end(kEncoderPieces), piece) ==
        std::end(kEncoderPieces))
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': '{}' is no piece of the encoder builder", source, piece));
  EncoderVariant v;
  v.model_type = model_type;
  v.layout = PieceValue(pieces, "layout",
                        {{"bert", EncoderLayout::kBert},
                         {"distilbert", EncoderLayout::kDistilBert},
                         {"albert", EncoderLayout::kAlbert},
                         {"megatron_bert", EncoderLayout::kMegatronBert},
                         {"xlm_roberta_xl", EncoderLayout::kXlmRobertaXl},
                         {"roberta_prelayernorm", EncoderLayout::kRobertaPreLayerNorm},
                         {"mpnet", EncoderLayout::kMpnet},
                         {"xlm", EncoderLayout::kXlm},
                         {"squeezebert", EncoderLayout::kSqueezeBert},
                         {"fnet", EncoderLayout::kFnet},
                         {"flava", EncoderLayout::kFlava},
                         {"tapas", EncoderLayout::kTapas},
                         {"altclip", EncoderLayout::kAltClip},
                         {"dpr", EncoderLayout::kDpr},
                         {"jina", EncoderLayout::kJina},
                         {"esm", EncoderLayout::kEsm}},
                        v.layout, source);
  v.positions = PieceValue(pieces, "positions",
                           {{"sequential", EncoderPositions::kSequential},
                            {"after_padding", EncoderPositions::kAfterPadding},
                            {"rotary_table", EncoderPositions::kRotaryTable},
                            {"per_cell", EncoderPositions::kPerCell},
                            {"rotary", EncoderPositions::kRotary}},
                           v.positions, source);
  v.projection = PieceValue(pieces, "projection",
                            {{"none", EmbeddingProjection::kNone},
                             {"when_sizes_differ", EmbeddingProjection::kWhenSizesDiffer},
                             {"always", EmbeddingProjection::kAlways},
                             {"after_norm", EmbeddingProjection::kAfterNorm}},
                            v.projection, source);
  if (v.positions == EncoderPositions::kPerCell && v.layout != EncoderLayout::kTapas)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': encoder positions 'per_cell' read the column and row ids of the "
                            "'tapas' layout's token types",
                            source));
  v.token_types = PieceFlag(pieces, "token_types", v.token_types, source);
  v.segment_token_types =
      PieceValue(pieces, "token_type_inputs", {{"segments", true}, {"zeros", false}},
                 v.segment_token_types, source);
  v.pooler = PieceFlag(pieces, "pooler", v.pooler, source);
  v.box_positions = PieceFlag(pieces, "box_positions", v.box_positions, source);
  v.relative_bias = PieceFlag(pieces, "relative_bias", v.relative_bias, source);
  v.language_adapters = PieceFlag(pieces, "language_adapters", v.language_adapters, source);
  v.shape_pronunciation = PieceFlag(pieces, "shape_pronunciation", v.shape_pronunciation, source);
  v.embedding_norm = PieceFlag(pieces, "embedding_norm", v.embedding_norm, source);
  v.token_dropout = PieceFlag(pieces, "token_dropout", v.token_dropout, source);
  v.longformer_attention =
      PieceValue(pieces, "attention", {{"full", false}, {"longformer", true}}, false, source);
  v.visual_embeds = PieceFlag(pieces, "visual_embeds", v.visual_embeds, source);
  v.box_relative = PieceFlag(pieces, "box_relative", v.box_relative, source);
  v.xpath_embeddings = PieceFlag(pieces, "xpath_embeddings", v.xpath_embeddings, source);
  v.unused_entities = PieceFlag(pieces, "unused_entities", v.unused_entities, source);
  if (v.unused_entities && (v.layout != EncoderLayout::kBert || !v.token_types))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': encoder piece 'unused_entities' names LUKE's modules (layout "
                            "'bert' with token types)",
                            source));
  if ((v.longformer_attention || v.visual_embeds) && v.layout != EncoderLayout::kBert)
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': encoder attention 'longformer' and visual_embeds are built on the "
                    "'bert' layout only",
                    source));
  v.unused_cross_attention =
      PieceFlag(pieces, "unused_cross_attention", v.unused_cross_attention, source);
  if (v.unused_cross_attention && v.layout != EncoderLayout::kBert)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': encoder piece 'unused_cross_attention' names BERT's "
                            "crossattention modules (layout 'bert')",
                            source));
  if (pieces.contains("position_padding_idx") && !pieces["position_padding_idx"].is_null()) {
    if (!pieces["position_padding_idx"].is_number_integer())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': encoder piece 'position_padding_idx' is {}; it must be an "
                              "integer or null",
                              source, pieces["position_padding_idx"].dump()));
    v.position_padding_idx = pieces["position_padding_idx"].get<int64_t>();
  }
  if (pieces.contains("intermediate_factor")) {
    if (!pieces["intermediate_factor"].is_number_integer() ||
        pieces["intermediate_factor"].get<int64_t>() <= 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': encoder piece 'intermediate_factor' is {}; it must be a "
                              "positive integer",
                              source, pieces["intermediate_factor"].dump()));
    v.intermediate_factor = pieces["intermediate_factor"].get<int64_t>();
  }
  if (pieces.contains("activation_flag")) {
    if (!pieces["activation_flag"].is_string())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': encoder piece 'activation_flag' is {}; it must name a config "
                              "key",
                              source, pieces["activation_flag"].dump()));
    v.activation_flag = pieces["activation_flag"].get<std::string>();
  }
  return v;
}

std::string AdditiveAttentionMask(GraphBuilder& g, const std::string& attention_mask) {
  const std::string mask_f =
      g.Node("Cast", {attention_mask}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string inverted = g.Node("Sub", {g.ConstFloat(1.0f), mask_f});
  const std::string mask =
      g.Node("Mul", {inverted, g.ConstFloat(std::numeric_limits<float>::lowest())});
  return g.Node("Unsqueeze", {mask, g.ConstInt64({1, 2})});
}

namespace {

// A `positions` piece {"by": key, value: positions, ...} resolved by the config's value of key.
nlohmann::json PositionsByKey(const HfConfig& config, const nlohmann::json& choice,
                              std::string& key) {
  if (!choice.contains("by") || !choice["by"].is_string())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'template:{}': encoder piece 'positions' is {}; an object must name "
                            "its config key in 'by'",
                            config.template_name(), choice.dump()));
  key = choice["by"].get<std::string>();
  const std::string value = config.String(key, "");
  if (key == "by" || !choice.contains(value))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': {} '{}' is not supported by template '{}'", config.origin(), key,
                            value, config.template_name()));
  return choice[value];
}

}  // namespace

EncoderVariant EncoderVariantOf(const HfConfig& config) {
  nlohmann::json pieces = nlohmann::json::object();
  std::string positions_key;
  for (const char* name : kEncoderPieces) {
    nlohmann::json value = config.Piece(name);
    const std::string piece = name;
    if (value.is_null() && (piece == "embedding_norm" || piece == "token_dropout") &&
        config.HasPiece(name))
      value = false;  // a "$key" reference to a null or absent key: HF's `if config.key:`
    if (piece == "positions" && value.is_object())
      value = PositionsByKey(config, value, positions_key);
    if (!value.is_null()) pieces[name] = value;
  }
  EncoderVariant v = EncoderVariantFromPieces(config.template_name(), pieces,
                                              fmt::format("template:{}", config.template_name()));
  v.positions_key = positions_key;
  return v;
}

namespace {

// SqueezeBERT's *_groups keys; each must divide the widths it splits.
void ReadConvGroups(const HfConfig& c, EncoderShape& s) {
  if (c.Int("embedding_size", s.hidden) != s.hidden)  // SqueezeBertEncoder asserts it too
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': embedding_size {} must equal hidden_size {}", c.origin(),
                            c.Int("embedding_size", s.hidden), s.hidden));
  const struct {
    const char* key;
    int64_t* groups;
    int64_t in, out;
  } convs[] = {{"q_groups", &s.q_groups, s.hidden, s.hidden},
               {"k_groups", &s.k_groups, s.hidden, s.hidden},
               {"v_groups", &s.v_groups, s.hidden, s.hidden},
               {"post_attention_groups", &s.attention_output_groups, s.hidden, s.hidden},
               {"intermediate_groups", &s.ffn_in_groups, s.hidden, s.intermediate},
               {"output_groups", &s.ffn_out_groups, s.intermediate, s.hidden}};
  for (const auto& conv : convs) {
    *conv.groups = c.Int(conv.key, 1);
    if (*conv.groups <= 0 || conv.in % *conv.groups != 0 || conv.out % *conv.groups != 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': {} {} does not divide the widths {} and {}", c.origin(),
                              conv.key, *conv.groups, conv.in, conv.out));
  }
}

// X-MOD's languages (one adapter each) and adapter width.
void ReadLanguages(const HfConfig& c, const EncoderVariant& v, EncoderShape& s) {
  if (v.layout != EncoderLayout::kBert)
    throw Error(ErrorKind::kInternal, "language adapters are built on the bert layout only");
  const nlohmann::json& languages =
      c.json().contains("languages") ? c.json()["languages"] : nlohmann::json::array();
  if (!languages.is_array() || languages.empty())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': languages must be a non-empty list of "
                                                 "language codes, not {}",
                                                 c.origin(), languages.dump()));
  for (const nlohmann::json& language : languages) {
    if (!language.is_string())
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': languages holds {}, not a language code",
                                                   c.origin(), language.dump()));
    s.languages.push_back(language.get<std::string>());
  }
  const int64_t factor = c.Int("adapter_reduction_factor", 2);
  if (factor <= 0 || s.hidden % factor != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': adapter_reduction_factor {} does not divide hidden_size {}",
                            c.origin(), factor, s.hidden));
  s.adapter_size = s.hidden / factor;
}

// BrosConfig's sinusoids: hidden_size / 4 features over dim_bbox (8) coordinates, each as
// [sin, cos] of arange(0, dim_1d, 2) frequencies; the projection takes exactly that many.
void ReadBoxSinusoids(const HfConfig& c, EncoderShape& s) {
  const int64_t dim_2d = s.hidden / 4, dim_1d = dim_2d / 8;
  s.box_frequencies = (dim_1d + 1) / 2;
  s.box_scale = c.Double("bbox_scale", 100.0);
  if (dim_1d <= 0 || 16 * s.box_frequencies != dim_2d)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} gives BROS box sinusoids of {} features for a "
                            "projection of {}; hidden_size must be a multiple of 64",
                            c.origin(), s.hidden, 16 * s.box_frequencies, dim_2d));
}

}  // namespace

std::vector<int64_t> TableTokenTypeSizes(const HfConfig& c, const EncoderVariant& v) {
  if (v.layout != EncoderLayout::kTapas) return {};
  const nlohmann::json sizes = c.json().contains("type_vocab_sizes")
                                   ? c.json()["type_vocab_sizes"]
                                   : nlohmann::json::array({3, 256, 256, 2, 256, 256, 10});
  std::vector<int64_t> out;
  for (const nlohmann::json& size : sizes.is_array() ? sizes : nlohmann::json::array())
    out.push_back(size.is_number_integer() ? size.get<int64_t>() : 0);
  const bool per_cell = v.positions == EncoderPositions::kPerCell;
  if (out.empty() || (per_cell && out.size() < 3) ||
      std::any_of(out.begin(), out.end(), [](int64_t n) { return n <= 0; }))
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': type_vocab_sizes must list positive table sizes{}, not {}", c.origin(),
                    per_cell ? " (at least the column and row ids')" : "", sizes.dump()));
  return out;
}

EncoderShape ReadEncoderShape(const HfConfig& c, const EncoderVariant& v) {
  const EncoderConfigDefaults& d = v.defaults;
  const bool distil = v.layout == EncoderLayout::kDistilBert;
  EncoderShape s{};
  s.vocab = c.Int("vocab_size", d.vocab_size);
  s.hidden = SizeKey(c, v, "hidden_size", "dim", d.hidden_size);
  s.layers = SizeKey(c, v, "num_hidden_layers", "n_layers", d.num_hidden_layers);
  // FNet has no attention and no num_attention_heads.
  s.heads = v.layout == EncoderLayout::kFnet
                ? 1
                : SizeKey(c, v, "num_attention_heads", "n_heads", d.num_attention_heads);
  s.intermediate = distil                      ? c.Int("hidden_dim", d.intermediate_size)
                   : v.intermediate_factor > 0 ? v.intermediate_factor * s.hidden
                                               : c.Int("intermediate_size", d.intermediate_size);
  s.embedding = v.projection == EmbeddingProjection::kNone
                    ? s.hidden
                    : c.Int("embedding_size", d.embedding_size > 0 ? d.embedding_size : s.hidden);
  s.max_positions = c.Int("max_position_embeddings", d.max_position_embeddings);
  s.type_vocab = !v.token_types                       ? 0
                 : *Spec(v.layout).token_type == '\0' ? s.vocab  // the word table
                                                      : c.Int("type_vocab_size", d.type_vocab_size);
  s.pad =
      v.position_padding_idx >= 0 ? v.position_padding_idx : c.Id("pad_token_id", d.pad_token_id);
  // DistilBERT's LayerNorms use 1e-12 whatever the config says.
  s.eps = distil ? 1e-12 : c.Double("layer_norm_eps", d.layer_norm_eps);
  s.layer_eps = v.layout == EncoderLayout::kSqueezeBert ? 1e-12 : s.eps;
  if (v.layout == EncoderLayout::kSqueezeBert) ReadConvGroups(c, s);
  s.act = distil ? c.String("activation", d.hidden_act) : c.String("hidden_act", d.hidden_act);
  if (!v.activation_flag.empty()) s.act = c.Bool(v.activation_flag, true) ? "gelu" : "relu";
  if (v.layout == EncoderLayout::kEsm) s.act = "gelu";  // EsmIntermediate's erf gelu, always
  if (v.token_dropout) s.mask_token = c.Id("mask_token_id", -1);
  if (v.longformer_attention) s.attention_windows = LongformerAttentionWindows(c, s.layers);
  s.visual_dim = v.visual_embeds ? c.Int("visual_embedding_dim", 512) : 0;
  if (v.unused_entities) {
    s.entity_vocab = c.Int("entity_vocab_size", 500000);
    s.entity_width = c.Int("entity_emb_size", 256);
    s.entity_aware = c.Bool("use_entity_aware_attention", true);
  }
  if (v.xpath_embeddings) {
    s.xpath_depth = c.Int("max_depth", 50);
    s.xpath_unit = c.Int("xpath_unit_hidden_size", 32);
    s.xpath_tags = c.Int("max_xpath_tag_unit_embeddings", 256);
    s.xpath_subs = c.Int("max_xpath_subs_unit_embeddings", 1024);
  }
  if (v.box_relative) ReadBoxSinusoids(c, s);
  const bool albert = v.layout == EncoderLayout::kAlbert;
  s.hidden_groups = albert ? c.Int("num_hidden_groups", 1) : 1;
  s.inner_group_num = albert ? c.Int("inner_group_num", 1) : 1;
  s.max_2d_positions = v.box_positions ? c.Int("max_2d_position_embeddings", 1024) : 0;
  s.cross_attention_width = v.unused_cross_attention ? c.Int("encoder_hidden_size", 768) : 0;
  s.rotary_value = v.positions == EncoderPositions::kRotaryTable && c.Bool("rotary_value", false);
  s.relative_buckets = v.relative_bias ? c.Int("relative_attention_num_buckets", 32) : 0;
  if (v.language_adapters) ReadLanguages(c, v, s);
  if (v.shape_pronunciation) {
    s.shape_vocab = c.Int("shape_vocab_size", 24858);
    s.shape_dim = c.Int("shape_embed_dim", 512);
    s.pronunciation_vocab = c.Int("pronunciation_vocab_size", 910);
    s.pronunciation_dim = c.Int("pronunciation_embed_dim", 768);
  }

  const std::string& origin = c.origin();
  if (s.heads <= 0 || s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            origin, s.hidden, s.heads));
  if (v.token_dropout && s.mask_token < 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': token_dropout needs mask_token_id, which is {}", origin,
                            c.json().value("mask_token_id", nlohmann::json()).dump()));
  if ((v.positions == EncoderPositions::kRotaryTable || v.positions == EncoderPositions::kRotary) &&
      (s.hidden / s.heads) % 2 != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': rotary positions need an even head size, not {} (hidden_size "
                            "{} / num_attention_heads {})",
                            origin, s.hidden / s.heads, s.hidden, s.heads));
  RequirePositive(c,
                  {{"vocab_size", s.vocab},
                   {distil ? "n_layers" : "num_hidden_layers", s.layers},
                   {distil ? "hidden_dim" : "intermediate_size", s.intermediate},
                   {"embedding_size", s.embedding},
                   {"max_position_embeddings", s.max_positions},
                   {"num_hidden_groups", s.hidden_groups},
                   {"inner_group_num", s.inner_group_num},
                   {"max_2d_position_embeddings", v.box_positions ? s.max_2d_positions : 1},
                   {"relative_attention_num_buckets", v.relative_bias ? s.relative_buckets : 1},
                   {"shape_vocab_size", v.shape_pronunciation ? s.shape_vocab : 1},
                   {"shape_embed_dim", v.shape_pronunciation ? s.shape_dim : 1},
                   {"pronunciation_vocab_size", v.shape_pronunciation ? s.pronunciation_vocab : 1},
                   {"pronunciation_embed_dim", v.shape_pronunciation ? s.pronunciation_dim : 1},
                   {"visual_embedding_dim", v.visual_embeds ? s.visual_dim : 1},
                   {"max_depth", v.xpath_embeddings ? s.xpath_depth : 1},
                   {"xpath_unit_hidden_size", v.xpath_embeddings ? s.xpath_unit : 1},
                   {"max_xpath_tag_unit_embeddings", v.xpath_embeddings ? s.xpath_tags : 1},
                   {"max_xpath_subs_unit_embeddings", v.xpath_embeddings ? s.xpath_subs : 1},
                   {"entity_vocab_size", v.unused_entities ? s.entity_vocab : 1},
                   {"entity_emb_size", v.unused_entities ? s.entity_width : 1}});
  if (v.token_types) RequirePositive(c, {{"type_vocab_size", s.type_vocab}});

  if (v.positions == EncoderPositions::kAfterPadding) {
    // Position ids start past the pad row; a null pad_token_id breaks HF's position ids too.
    if (v.position_padding_idx < 0 && c.json().contains("pad_token_id") &&
        c.json()["pad_token_id"].is_null())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': {} position ids need pad_token_id, which is null", origin,
                              v.model_type));
    if (s.pad < 0 || s.pad + 1 >= s.max_positions)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': pad_token_id {} leaves no position rows in "
                              "max_position_embeddings {}",
                              origin, s.pad, s.max_positions));
    s.max_sequence = s.max_positions - s.pad - 1;
  } else {
    s.max_sequence = s.max_positions;
  }

  const std::string pos = c.String("position_embedding_type", "absolute");
  if (pos != "absolute" && v.positions_key != "position_embedding_type")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': position_embedding_type '{}' is not supported (only "
                            "'absolute')",
                            origin, pos));
  // BLIP's is_decoder only builds the crossattention modules (unused_cross_attention): its
  // forward's own is_decoder argument, false for BlipModel's text features, picks the mask.
  if ((c.Bool("is_decoder", false) && !v.unused_cross_attention) ||
      c.Bool("add_cross_attention", false))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': {} as a decoder (is_decoder/add_cross_attention) is not "
                            "supported",
                            origin, v.model_type));
  return s;
}

namespace {

// The width of last_hidden_state: AltCLIP's project_dim, hidden_size elsewhere.
int64_t OutputWidth(const HfConfig& c, const EncoderVariant& v, const EncoderShape& s) {
  if (v.layout != EncoderLayout::kAltClip) return s.hidden;
  const int64_t width = c.Int("project_dim", 768);
  RequirePositive(c, {{"project_dim", width}});
  return width;
}

// cos and sin of kRotary positions 0..S-1 for the sequence of `input_ids`.
RopeTables EncoderRope(const HfConfig& c, const EncoderShape& s, GraphBuilder& g,
                       const std::string& input_ids) {
  const int64_t head_dim = s.hidden / s.heads;
  const RopeSpec spec = ReadRope(c, head_dim, s.max_positions);
  if (spec.rotary_dim != head_dim)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': rotary positions over {} of {} features per head are not "
                            "supported by the encoder builder",
                            c.origin(), spec.rotary_dim, head_dim));
  const std::string seq_len =
      g.Node("Squeeze",
             {g.Node("Slice", {g.Node("Shape", {input_ids}), g.ConstInt64({1}), g.ConstInt64({2})}),
              g.ConstInt64({0})});
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string positions =
      g.Node("Unsqueeze", {g.Node("Range", {zero, seq_len, one}), g.ConstInt64({0})});  // [1, S]
  return RopeCosSin(g, spec, positions);
}

// AltCLIPTextModel's outputs from the normed hidden states h: the transformation to project_dim
// and its first token.
EncoderOutputs AltClipProjection(GraphBuilder& g, int64_t hidden, int64_t width,
                                 const std::string& h, const EncoderOutputs& names) {
  const std::string projected = ApplyLinear(g, h, FetchLinear(g, "transformation", hidden, width));
  const std::string first =
      g.Node("Gather", {projected, g.ConstInt64({0})}, {{"axis", int64_t{1}}});
  EncoderOutputs out;
  out.last_hidden_state = names.last_hidden_state.empty()
                              ? projected
                              : g.Node("Identity", {projected}, {}, names.last_hidden_state);
  out.pooler_output = g.Node("Squeeze", {first, g.ConstInt64({1})}, {}, names.pooler_output);
  return out;
}

// What the layers' attention takes from the positions: RoFormer's table rotation, the rotate-half
// rope, BROS' box embeddings, Longformer's masks, MPNet's relative bias.
void PositionInputs(const HfConfig& config, const EncoderVariant& v, const EncoderShape& s,
                    GraphBuilder& g, const EncoderInputs& in, AttentionInputs& a) {
  if (v.positions == EncoderPositions::kRotaryTable) {
    const int64_t head_dim = s.hidden / s.heads;
    const std::string table = g.Weight("encoder.embed_positions.weight",
                                       {s.max_positions, head_dim}, WeightInit::kNormal);
    a.rotary = PairRotaryFromTable(g, table, in.input_ids, head_dim);
    a.rotary_value = s.rotary_value;
  }
  if (v.positions == EncoderPositions::kRotary) a.rope = EncoderRope(config, s, g, in.input_ids);
  if (v.box_relative)
    a.box = BoxRelativeEmbeddings(
        g, in.bbox,
        g.Weight("bbox_embeddings.bbox_projection.weight",
                 {s.hidden / s.heads, 16 * s.box_frequencies}, WeightInit::kNormal, true),
        s.box_frequencies, static_cast<float>(s.box_scale));
  if (v.longformer_attention) {
    a.longformer = LongformerAttentionMasks(g, in.attention_mask, in.global_attention_mask);
    std::map<int64_t, std::string> by_window;  // one mask per distinct window
    for (int64_t window : s.attention_windows) {
      if (!by_window.count(window))
        by_window[window] = LongformerWindowMask(g, a.longformer, window / 2);
      a.window_masks.push_back(by_window[window]);
    }
  }
  if (v.relative_bias)
    a.bias = MpnetPositionBias(g,
                               g.Weight("encoder.relative_attention_bias.weight",
                                        {s.relative_buckets, s.heads}, WeightInit::kNormal),
                               in.input_ids);
}

}  // namespace

EncoderOutputs BuildEncoderOn(const HfConfig& config, const EncoderVariant& v, GraphBuilder& g,
                              const EncoderInputs& in, const EncoderOutputs& names) {
  const EncoderShape s = ReadEncoderShape(config, v);
  const std::vector<int64_t> table_types = TableTokenTypeSizes(config, v);
  const bool fused = UsesFusedLayers(g, v);
  if (fused && in.attention_mask != "attention_mask")
    throw Error(ErrorKind::kInternal,
                fmt::format("the fused encoder reads the graph input 'attention_mask', not '{}'",
                            in.attention_mask));
  std::string h = Embeddings(g, s, v, in, table_types);
  AttentionInputs a;
  if (Spec(v.layout).mask_hidden) {
    a.hidden_mask =
        g.Node("Unsqueeze",
               {g.Node("Cast", {in.attention_mask}, {{"to", int64_t{onnx::TensorProto::FLOAT}}}),
                g.ConstInt64({-1})});
    h = MaskHidden(g, h, a.hidden_mask);
  }
  a.fused = fused;
  a.lang_ids = in.lang_ids;
  if (v.layout == EncoderLayout::kFnet)
    a.fourier = FourierMatricesFor(g, in.input_ids, s.hidden);
  else if (v.visual_embeds)  // the text's mask, then the visual tokens'
    a.mask = AdditiveAttentionMask(
        g, g.Node("Concat", {in.attention_mask, in.visual_attention_mask}, {{"axis", int64_t{1}}}));
  else if (!v.longformer_attention)  // Longformer's masks are per layer, below
    a.mask = fused ? FusedAttentionMask(g) : AdditiveAttentionMask(g, in.attention_mask);
  PositionInputs(config, v, s, g, in, a);
  if (v.unused_entities) CountEntityEmbeddings(g, s);
  h = Layers(g, s, v, h, a);
  if (v.layout == EncoderLayout::kEsm)  // EsmContactPredictionHead: predict_contacts reads it
    for (const auto& [name, shape] :
         {std::pair<const char*, core::Shape>{"weight", {1, s.layers * s.heads}}, {"bias", {1}}})
      g.UnusedWeight(fmt::format("contact_head.regression.{}", name), shape, WeightInit::kNormal);
  const LayoutSpec& spec = Spec(v.layout);
  if (*spec.final_norm != '\0') h = ApplyNorm(g, h, FetchNorm(g, spec.final_norm, s.hidden), s.eps);
  if (v.layout == EncoderLayout::kAltClip)
    return AltClipProjection(g, s.hidden, OutputWidth(config, v, s), h, names);
  EncoderOutputs out;
  out.last_hidden_state =
      names.last_hidden_state.empty() ? h : g.Node("Identity", {h}, {}, names.last_hidden_state);
  if (!v.pooler) return out;
  // Pooler: dense + tanh on the first token.
  const std::string first = g.Node("Gather", {h, g.ConstInt64({0})}, {{"axis", int64_t{1}}});
  const std::string first2d = g.Node("Squeeze", {first, g.ConstInt64({1})});
  if (*spec.pooler == '\0') {  // DPR: the first token's state itself
    out.pooler_output = g.Node("Identity", {first2d}, {}, names.pooler_output);
    return out;
  }
  out.pooler_output =
      g.Node("Tanh", {ApplyLinear(g, first2d, FetchLinear(g, spec.pooler, s.hidden, s.hidden))}, {},
             names.pooler_output);
  return out;
}

void BuildEncoder(const HfConfig& config, const EncoderVariant& v, GraphBuilder& g) {
  const EncoderShape s = ReadEncoderShape(config, v);
  const std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  if (v.layout != EncoderLayout::kFnet) g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  if (v.layout == EncoderLayout::kTapas)
    g.Input("token_type_ids", onnx::TensorProto::INT64,
            {std::string("batch"), std::string("sequence"),
             static_cast<int64_t>(TableTokenTypeSizes(config, v).size())});
  else if (v.token_types)
    g.Input("token_type_ids", onnx::TensorProto::INT64, tokens);
  if (v.shape_pronunciation) {
    g.Input("input_shape_ids", onnx::TensorProto::INT64, tokens);
    g.Input("input_pronunciation_ids", onnx::TensorProto::INT64, tokens);
  }
  if (v.language_adapters) g.Input("lang_ids", onnx::TensorProto::INT64, {std::string("batch")});
  if (v.longformer_attention) g.Input("global_attention_mask", onnx::TensorProto::INT64, tokens);
  if (v.box_relative)
    g.Input("bbox", onnx::TensorProto::FLOAT, {std::string("batch"), std::string("sequence"), 4});
  if (v.visual_embeds) {
    const std::vector<Dim> visual = {std::string("batch"), std::string("visual")};
    g.Input("visual_embeds", onnx::TensorProto::FLOAT,
            {std::string("batch"), std::string("visual"), s.visual_dim});
    g.Input("visual_attention_mask", onnx::TensorProto::INT64, visual);
    g.Input("visual_token_type_ids", onnx::TensorProto::INT64, visual);
  }
  if (v.box_positions)
    g.Input("bbox", onnx::TensorProto::INT64, {std::string("batch"), std::string("sequence"), 4});
  if (v.xpath_embeddings)
    for (const char* name : {"xpath_tags_seq", "xpath_subs_seq"})
      g.Input(name, onnx::TensorProto::INT64,
              {std::string("batch"), std::string("sequence"), s.xpath_depth});

  const EncoderOutputs out = BuildEncoderOn(config, v, g, EncoderInputs{},
                                            {"last_hidden_state", v.pooler ? "pooler_output" : ""});
  const int64_t width = OutputWidth(config, v, s);
  // VisualBERT's states are the text's tokens and then the visual ones.
  g.Output(out.last_hidden_state, onnx::TensorProto::FLOAT,
           {std::string("batch"), std::string(v.visual_embeds ? "sequence_and_visual" : "sequence"),
            width});
  if (v.pooler)
    g.Output(out.pooler_output, onnx::TensorProto::FLOAT, {std::string("batch"), width});
}

}  // namespace ipfs_accel::models
