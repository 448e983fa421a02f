#include "bart_builder.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "longformer_attention.h"
#include "piece_choice.h"
#include "resnet_builder.h"
#include "seq2seq_attention.h"
#include "seq2seq_cache.h"
#include "seq2seq_embedding.h"
#include "seq2seq_forward.h"
#include "sinusoid_graph.h"
#include "sinusoidal_positions.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

constexpr int64_t kPositionOffset = 2;  // BartLearnedPositionalEmbedding.offset

struct StackShape {
  int64_t layers, heads, ffn;
};

// Where LayerNorms sit: after each residual add (BART), or before each sublayer with one
// more at the end of each stack, encoder.layer_norm / decoder.layer_norm (mBART, Pegasus).
enum class NormPosition { kPost, kPre };
// layernorm_embedding: none (Marian, Pegasus), on tokens + positions (BART), or on the tokens
// before positions are added in the decoder only (BlenderbotSmall).
enum class EmbeddingNorm { kAfterPositions, kNone, kDecoderBeforePositions };
enum class Positions {
  kLearned,           // embed_positions.weight, read from `position_offset` on
  kSinusoidal,        // Marian's frozen sinusoidal parameter embed_positions.weight
  kFromTokens,        // M2M100's fairseq sinusoids, a buffer indexed by the count of non-pad tokens
  kFairseqParameter,  // FSMT's: the same table and indexing, a frozen parameter (pad + 1 rows more)
  kComputed,          // PegasusX's: fairseq's sinusoids of positions 0..S-1, computed in the graph
};
// The token tables: one `shared` (BART), or FSMT's encoder.embed_tokens and decoder.embed_tokens
// of their own vocabularies.
enum class Embeddings { kShared, kSeparate };
// The encoder's self-attention: BART's, LED's Longformer attention
// (self_attn.longformer_self_attn.* then self_attn.output) with a global_attention_mask input, or
// PegasusX's global-local attention (learned global tokens, local blocks).
enum class EncoderAttention { kFull, kLongformer, kGlobalLocal };

struct BartShape {
  int64_t vocab, d_model, max_positions;
  int64_t encoder_max_positions;         // the encoder's table (LED's is longer)
  int64_t encoder_vocab, decoder_vocab;  // Embeddings::kSeparate's tables
  StackShape encoder, decoder;
  bool scale_embedding;
  std::string act;
  NormPosition norm_position = NormPosition::kPost;
  EmbeddingNorm embedding_norm = EmbeddingNorm::kAfterPositions;
  Positions positions = Positions::kLearned;
  int64_t position_offset = kPositionOffset;
  int64_t pad_token_id = 1;
  Embeddings embeddings = Embeddings::kShared;
  EncoderAttention encoder_attention = EncoderAttention::kFull;
  std::vector<int64_t> attention_windows;  // kLongformer: one per encoder layer
  bool decoder_padding_mask = false;       // FSMT: decoder self-attention hides pad-token keys
  bool output_projection = false;  // FSMT: decoder.output_projection to decoder_vocab logits
  bool attention_bias = true;      // PegasusX: q/k/v/out_proj without biases
  int64_t global_tokens = 0, block_size = 0;  // kGlobalLocal
  bool stagger_blocks = false;                // kGlobalLocal: odd layers' blocks shifted by half
};

void ReadPieces(const HfConfig& c, BartShape& s) {
  s.norm_position =
      static_cast<NormPosition>(PieceChoice(c, "norm_position", "bart", {"post", "pre"}));
  s.embedding_norm = static_cast<EmbeddingNorm>(PieceChoice(
      c, "layernorm_embedding", "bart", {"after_positions", "none", "decoder_before_positions"}));
  s.positions = static_cast<Positions>(
      PieceChoice(c, "positions", "bart",
                  {"learned", "sinusoidal", "from_tokens", "fairseq_parameter", "computed"}));
  s.position_offset = PieceInt(c, "position_offset", kPositionOffset);
  s.pad_token_id = c.Id("pad_token_id", 1);
  s.embeddings =
      static_cast<Embeddings>(PieceChoice(c, "embeddings", "bart", {"shared", "separate"}));
  s.decoder_padding_mask = c.PieceBool("decoder_padding_mask", false);
  s.output_projection = c.PieceBool("output_projection", false);
  s.attention_bias = c.PieceBool("attention_bias", true);
}

// The piece encoder_attention and, for global_local, PegasusX's global_tokens, block_size and
// stagger_blocks.
void ReadEncoderAttention(const HfConfig& c, BartShape& s) {
  s.encoder_attention = static_cast<EncoderAttention>(
      PieceChoice(c, "encoder_attention", "bart", {"full", "longformer", "global_local"}));
  if (s.encoder_attention != EncoderAttention::kGlobalLocal) return;
  s.global_tokens = PieceInt(c, "global_tokens", 32);
  s.block_size = PieceInt(c, "block_size", 512);
  s.stagger_blocks = c.PieceBool("stagger_blocks", true);
  if (s.global_tokens < 1 || s.block_size < 1 || (s.stagger_blocks && s.block_size % 2 != 0))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': global-local attention needs global tokens ({}) and a block "
                            "size ({}), even when blocks are staggered",
                            c.origin(), s.global_tokens, s.block_size));
}

BartShape ReadBartShape(const HfConfig& c) {
  BartShape s{};
  ReadPieces(c, s);
  ReadEncoderAttention(c, s);
  s.vocab = c.Int("vocab_size", 50265);
  s.d_model = c.Int("d_model", 1024);
  // Speech2Text sizes its decoder's positions by max_target_positions.
  s.max_positions = PieceInt(c, "max_positions", c.Int("max_position_embeddings", 1024));
  s.encoder_max_positions = PieceInt(c, "encoder_max_positions", s.max_positions);
  s.encoder_vocab = PieceInt(c, "encoder_vocab", s.vocab);
  s.decoder_vocab = PieceInt(c, "decoder_vocab", s.vocab);
  s.encoder = {c.Int("encoder_layers", 12), c.Int("encoder_attention_heads", 16),
               c.Int("encoder_ffn_dim", 4096)};
  s.decoder = {c.Int("decoder_layers", 12), c.Int("decoder_attention_heads", 16),
               c.Int("decoder_ffn_dim", 4096)};
  s.scale_embedding = c.Bool("scale_embedding", false);
  s.act = c.String("activation_function", "gelu");
  if (s.encoder_attention == EncoderAttention::kLongformer)
    s.attention_windows = LongformerAttentionWindows(c, s.encoder.layers);
  for (const auto& [name, heads] : {std::pair{"encoder_attention_heads", s.encoder.heads},
                                    std::pair{"decoder_attention_heads", s.decoder.heads}})
    if (heads <= 0 || s.d_model % heads != 0)
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': d_model {} is not a multiple of {} {}",
                                                   c.origin(), s.d_model, name, heads));
  return s;
}

// q, k or v of BartAttention `prefix`, split into heads: [batch, heads, seq, head_dim].
std::string ProjectHeads(GraphBuilder& g, const BartShape& s, int64_t heads, const std::string& x,
                         const std::string& prefix, const char* name) {
  return SplitHeads(g, g.Linear(x, prefix + "." + name, s.d_model, s.d_model, s.attention_bias),
                    heads, s.d_model / heads);
}

// softmax(q k^T * head_dim^-0.5 + bias) v, then out_proj.
std::string AttendAndProject(GraphBuilder& g, const BartShape& s, int64_t heads,
                             const std::string& q, const std::string& k, const std::string& v,
                             const std::string& bias, const std::string& prefix) {
  const auto scale = static_cast<float>(std::pow(static_cast<double>(s.d_model / heads), -0.5));
  const std::string ctx = Attend(g, q, k, v, scale, bias);
  return g.Linear(MergeHeads(g, ctx, s.d_model), prefix + ".out_proj", s.d_model, s.d_model,
                  s.attention_bias);
}

// Post-norm residual: LayerNorm(x + y).
std::string AddNorm(GraphBuilder& g, const BartShape& s, const std::string& x, const std::string& y,
                    const std::string& norm) {
  return g.LayerNorm(g.Node("Add", {x, y}), norm, s.d_model, kTorchNormEps);
}

// One residual sublayer `f` with its LayerNorm `norm`: LayerNorm(x + f(x)) post-norm,
// x + f(LayerNorm(x)) pre-norm.
template <typename Sublayer>
std::string Residual(GraphBuilder& g, const BartShape& s, const std::string& x,
                     const std::string& norm, const Sublayer& f) {
  if (s.norm_position == NormPosition::kPost) return AddNorm(g, s, x, f(x), norm);
  return g.Node("Add", {x, f(g.LayerNorm(x, norm, s.d_model, kTorchNormEps))});
}

// A stack's last LayerNorm, `stack`.layer_norm, in the pre-norm layout only.
std::string FinalNorm(GraphBuilder& g, const BartShape& s, const std::string& h,
                      const std::string& stack) {
  if (s.norm_position == NormPosition::kPost) return h;
  return g.LayerNorm(h, stack + ".layer_norm", s.d_model, kTorchNormEps);
}

std::string FeedForward(GraphBuilder& g, const BartShape& s, int64_t ffn, const std::string& x,
                        const std::string& prefix) {
  return Residual(g, s, x, prefix + ".final_layer_norm", [&](const std::string& in) {
    const std::string h = Activation(g, g.Linear(in, prefix + ".fc1", s.d_model, ffn), s.act);
    return g.Linear(h, prefix + ".fc2", ffn, s.d_model);
  });
}

// M2M100's position ids: (cumsum(id != pad) + past_length) * (id != pad) + pad, so padding
// keeps position `pad` (an all-zero row) and the others count from pad + 1.
std::string PositionsFromTokens(GraphBuilder& g, const BartShape& s, const std::string& ids,
                                const std::string& past_length) {
  const std::string pad = g.ConstInt64({s.pad_token_id});
  const std::string not_pad = g.Node("Cast", {g.Node("Not", {g.Node("Equal", {ids, pad})})},
                                     {{"to", int64_t{onnx::TensorProto::INT64}}});
  const std::string axis = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string counted = g.Node("Add", {g.Node("CumSum", {not_pad, axis}), past_length});
  return g.Node("Add", {g.Node("Mul", {counted, not_pad}), pad});
}

// [.., sequence, d_model] position embeddings of `stack` for `ids`, from `past_length` on.
std::string PositionEmbeddings(GraphBuilder& g, const BartShape& s, const std::string& ids,
                               const std::string& stack, const std::string& past_length) {
  const int64_t rows = stack == "encoder" ? s.encoder_max_positions : s.max_positions;
  const std::string name = stack + ".embed_positions.weight";
  if (s.positions == Positions::kFromTokens) {
    // A buffer in HF (not saved, not a parameter): a constant outside HF's names.
    const std::string table =
        g.Initializer("const_" + stack + "_sinusoidal_positions",
                      FairseqSinusoids(rows + kPositionOffset, s.d_model, s.pad_token_id));
    return g.Node("Gather", {table, PositionsFromTokens(g, s, ids, past_length)});
  }
  if (s.positions == Positions::kComputed) {  // PegasusXSinusoidalPositionalEmbedding
    const std::string positions = g.Node(
        "Unsqueeze", {PositionRange(g, past_length, AxisLength(g, ids, 1)), g.ConstInt64({0})});
    return SinusoidalPositions(g, FairseqSinusoidFrequencies(s.d_model), positions,
                               "const_" + stack + "_sinusoid_frequencies");
  }
  if (s.positions == Positions::kFairseqParameter) {  // FSMT's SinusoidalPositionalEmbedding
    const std::string table = g.FrozenParameter(
        name, FairseqSinusoids(rows + s.pad_token_id + 1, s.d_model, s.pad_token_id));
    return g.Node("Gather", {table, PositionsFromTokens(g, s, ids, past_length)});
  }
  const std::string table =
      s.positions == Positions::kSinusoidal
          ? g.FrozenParameter(name, MarianSinusoids(rows, s.d_model))
          : g.Weight(name, {rows + s.position_offset, s.d_model}, WeightInit::kNormal);
  const std::string first = s.position_offset == 0
                                ? past_length
                                : g.Node("Add", {past_length, g.ConstInt64({s.position_offset})});
  const std::string end = g.Node("Add", {first, AxisLength(g, ids, 1)});
  return g.Node("Slice", {table, first, end, g.ConstInt64({0})});
}

// Token embedding (scaled when scale_embedding) plus positions, with layernorm_embedding
// where the architecture has it. `stack` is "encoder" or "decoder"; positions start at
// `past_length`.
std::string Embed(GraphBuilder& g, const BartShape& s, const std::string& embedding,
                  const std::string& ids, const std::string& stack,
                  const std::string& past_length) {
  std::string tokens = g.Node("Gather", {embedding, ids});
  if (s.scale_embedding)  // BartScaledWordEmbedding: math.sqrt(d_model), applied in float32
    tokens = g.Node(
        "Mul",
        {tokens, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.d_model))))});
  const std::string norm = stack + ".layernorm_embedding";
  const bool norm_tokens =
      s.embedding_norm == EmbeddingNorm::kDecoderBeforePositions && stack == "decoder";
  if (norm_tokens) tokens = g.LayerNorm(tokens, norm, s.d_model, kTorchNormEps);
  const std::string h = g.Node("Add", {tokens, PositionEmbeddings(g, s, ids, stack, past_length)});
  if (s.embedding_norm == EmbeddingNorm::kNone || norm_tokens) return h;
  return g.LayerNorm(h, norm, s.d_model, kTorchNormEps);
}

// An encoder layer's self-attention sublayer: (layer index, input, "encoder.layers.N.self_attn")
// -> its output.
using SelfAttention = std::function<std::string(int64_t, const std::string&, const std::string&)>;

// BART's self-attention, keys masked by `bias`.
SelfAttention FullSelfAttention(GraphBuilder& g, const BartShape& s, const std::string& bias) {
  return [&g, &s, bias](int64_t, const std::string& x, const std::string& self) {
    const int64_t heads = s.encoder.heads;
    return AttendAndProject(g, s, heads, ProjectHeads(g, s, heads, x, self, "q_proj"),
                            ProjectHeads(g, s, heads, x, self, "k_proj"),
                            ProjectHeads(g, s, heads, x, self, "v_proj"), bias, self);
  };
}

// LEDEncoderAttention: LongformerSelfAttention under `self`.longformer_self_attn (a local query
// sees its layer's window and the global keys, a global query every key through the *_global
// projections, a padded query a zero context; longformer_attention.h), then `self`.output.
SelfAttention LongformerSelfAttention(GraphBuilder& g, const BartShape& s,
                                      const std::string& attention_mask,
                                      const std::string& global_attention_mask) {
  const LongformerMasks m = LongformerAttentionMasks(g, attention_mask, global_attention_mask);
  std::vector<std::string> windows;
  for (int64_t window : s.attention_windows)
    windows.push_back(LongformerWindowMask(g, m, window / 2));
  return [&g, &s, m, windows](int64_t layer, const std::string& x, const std::string& self) {
    const int64_t heads = s.encoder.heads;
    const std::string p = self + ".longformer_self_attn";
    auto heads_of = [&](const char* name) { return ProjectHeads(g, s, heads, x, p, name); };
    const auto scale = static_cast<float>(std::pow(static_cast<double>(s.d_model / heads), -0.5));
    const std::string local = Attend(g, heads_of("query"), heads_of("key"), heads_of("value"),
                                     scale, windows[static_cast<size_t>(layer)]);
    const std::string global = Attend(g, heads_of("query_global"), heads_of("key_global"),
                                      heads_of("value_global"), scale, m.global_keys);
    const std::string ctx =
        g.Node("Where", {m.global_rows, global, g.Node("Mul", {local, m.query_kept})});
    return g.Linear(MergeHeads(g, ctx, s.d_model), self + ".output", s.d_model, s.d_model);
  };
}

// The encoder layers over embedded `h`, then the final norm.
std::string EncoderLayers(GraphBuilder& g, const BartShape& s, std::string h,
                          const SelfAttention& attend) {
  for (int64_t i = 0; i < s.encoder.layers; ++i) {
    const std::string layer = fmt::format("encoder.layers.{}", i);
    const std::string self = layer + ".self_attn";
    h = Residual(g, s, h, self + "_layer_norm",
                 [&](const std::string& x) { return attend(i, x, self); });
    h = FeedForward(g, s, s.encoder.ffn, h, layer);
  }
  return FinalNorm(g, s, h, "encoder");
}

// x [batch, T, d] from position `from` of axis 1 up to `to` (INT64_MAX: the end).
std::string SliceTokens(GraphBuilder& g, const std::string& x, int64_t from, int64_t to) {
  return g.Node("Slice", {x, g.ConstInt64({from}), g.ConstInt64({to}), g.ConstInt64({1})});
}

// PegasusXGlobalLocalAttention as one masked attention over [global tokens | local tokens]
// (T = G + S): a global query sees every global key and every unpadded local key; a local query
// sees the global keys and the unpadded local keys of its block, block(p) = (p + offset) / B
// (offset B / 2 in staggered layers: HF's half-block padding). Additive [batch, 1, T, T]. HF's
// padding to a multiple of the block adds only masked keys.
std::string GlobalLocalMask(GraphBuilder& g, const BartShape& s, const std::string& attention_mask,
                            int64_t offset) {
  const int64_t globals = s.global_tokens;
  const std::string total =
      g.Node("Add", {AxisLength(g, attention_mask, 1), g.ConstInt64({globals})});
  const std::string index = PositionRange(g, g.ConstInt64({0}), total);  // [T]
  const std::string global = g.Node("Less", {index, g.ConstInt64({globals})});
  const std::string block = g.Node("Div", {g.Node("Add", {index, g.ConstInt64({offset - globals})}),
                                           g.ConstInt64({s.block_size})});
  auto rows = [&](const std::string& x) { return g.Node("Unsqueeze", {x, g.ConstInt64({1})}); };
  auto cols = [&](const std::string& x) { return g.Node("Unsqueeze", {x, g.ConstInt64({0})}); };
  const std::string structure = g.Node(
      "Or",
      {rows(global), g.Node("Or", {cols(global), g.Node("Equal", {rows(block), cols(block)})})});
  const std::string batch =
      g.Node("Slice", {g.Node("Shape", {attention_mask}), g.ConstInt64({0}), g.ConstInt64({1})});
  const std::string global_keys = g.Node(
      "Expand", {g.ConstInt64({1}),
                 g.Node("Concat", {batch, g.ConstInt64({globals})}, {{"axis", int64_t{0}}})});
  const std::string keys =
      g.Node("Concat", {global_keys, attention_mask}, {{"axis", int64_t{1}}});  // [batch, T]
  const std::string kept = g.Node("Not", {g.Node("Equal", {keys, g.ConstInt64({0})})});
  const std::string allowed = g.Node("And", {g.Node("Unsqueeze", {structure, g.ConstInt64({0, 1})}),
                                             g.Node("Unsqueeze", {kept, g.ConstInt64({1, 2})})});
  return g.Node("Where",
                {allowed, g.ConstFloat(0.0f), g.ConstFloat(std::numeric_limits<float>::lowest())});
}

// PegasusXEncoder on embedded `tokens`: embed_global's G tokens before them in one stream; each
// layer norms the global and local parts with their own LayerNorms (global_self_attn_layer_norm,
// self_attn_layer_norm), attends with one set of projections (GlobalLocalMask), and runs its
// feed-forward on both; the final layer_norm on the local part.
std::string GlobalLocalEncoder(GraphBuilder& g, const BartShape& s, const std::string& tokens,
                               const std::string& attention_mask) {
  const int64_t globals = s.global_tokens;
  constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
  const std::string table =
      g.Weight("encoder.embed_global.weight", {globals, s.d_model}, WeightInit::kNormal);
  const std::string batch =
      g.Node("Slice", {g.Node("Shape", {tokens}), g.ConstInt64({0}), g.ConstInt64({1})});
  const std::string global =
      g.Node("Expand", {table, g.Node("Concat", {batch, g.ConstInt64({globals, s.d_model})},
                                      {{"axis", int64_t{0}}})});
  std::string h = g.Node("Concat", {global, tokens}, {{"axis", int64_t{1}}});
  const std::string aligned = GlobalLocalMask(g, s, attention_mask, 0);
  const std::string staggered =
      s.stagger_blocks ? GlobalLocalMask(g, s, attention_mask, s.block_size / 2) : aligned;
  for (int64_t i = 0; i < s.encoder.layers; ++i) {
    const std::string layer = fmt::format("encoder.layers.{}", i);
    const std::string self = layer + ".self_attn";
    const std::string x =
        g.Node("Concat",
               {g.LayerNorm(SliceTokens(g, h, 0, globals), layer + ".global_self_attn_layer_norm",
                            s.d_model, kTorchNormEps),
                g.LayerNorm(SliceTokens(g, h, globals, kEnd), self + "_layer_norm", s.d_model,
                            kTorchNormEps)},
               {{"axis", int64_t{1}}});
    h = g.Node("Add", {h, FullSelfAttention(g, s, i % 2 == 1 ? staggered : aligned)(i, x, self)});
    h = FeedForward(g, s, s.encoder.ffn, h, layer);
  }
  return FinalNorm(g, s, SliceTokens(g, h, globals, kEnd), "encoder");
}

// The text encoder; with Longformer attention it declares the global_attention_mask input.
std::string Encoder(GraphBuilder& g, const BartShape& s, const std::string& embedding,
                    const std::string& input_ids, const std::string& attention_mask) {
  const std::string h = Embed(g, s, embedding, input_ids, "encoder", g.ConstInt64({0}));
  if (s.encoder_attention == EncoderAttention::kGlobalLocal)
    return GlobalLocalEncoder(g, s, h, attention_mask);
  if (s.encoder_attention == EncoderAttention::kFull)
    return EncoderLayers(g, s, h, FullSelfAttention(g, s, PaddingMaskBias(g, attention_mask)));
  const std::string global = "global_attention_mask";
  g.Input(global, onnx::TensorProto::INT64, {std::string("batch"), std::string("sequence")});
  return EncoderLayers(g, s, h, LongformerSelfAttention(g, s, attention_mask, global));
}

// Speech2Text's front end (Conv1dSubsampler) and encoder positions.
struct SpeechShape {
  int64_t in_channels, mid_channels, source_positions;
  std::vector<int64_t> kernels;
};

SpeechShape ReadSpeechShape(const HfConfig& c) {
  SpeechShape sp{};
  sp.in_channels = c.Int("input_feat_per_channel", 80) * c.Int("input_channels", 1);
  sp.mid_channels = c.Int("conv_channels", 1024);
  sp.source_positions = c.Int("max_source_positions", 6000);
  sp.kernels = ConfigIntList(c, "conv_kernel_sizes", {5, 5});
  if (static_cast<int64_t>(sp.kernels.size()) != c.Int("num_conv_layers", 2))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': conv_kernel_sizes has {} entries, num_conv_layers is {}",
                            c.origin(), sp.kernels.size(), c.Int("num_conv_layers", 2)));
  return sp;
}

// Conv1dSubsampler: input_features [batch, frames, in] -> [batch, frames', d_model]; each conv
// (kernel k, stride 2, padding k / 2) halves the frames and a GLU halves its channels.
std::string ConvSubsampler(GraphBuilder& g, const BartShape& s, const SpeechShape& sp,
                           const std::string& features) {
  std::string h = g.Node("Transpose", {features}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const auto convs = static_cast<int64_t>(sp.kernels.size());
  for (int64_t i = 0; i < convs; ++i) {
    const int64_t k = sp.kernels[static_cast<size_t>(i)];
    const int64_t in = i == 0 ? sp.in_channels : sp.mid_channels / 2;
    const int64_t out = i < convs - 1 ? sp.mid_channels : 2 * s.d_model;
    const std::string name = fmt::format("encoder.conv.conv_layers.{}", i);
    h = g.Node("Conv",
               {h, g.Weight(name + ".weight", {out, in, k}, WeightInit::kNormal),
                g.Weight(name + ".bias", {out}, WeightInit::kZeros)},
               {{"kernel_shape", std::vector<int64_t>{k}},
                {"pads", std::vector<int64_t>{k / 2, k / 2}},
                {"strides", std::vector<int64_t>{2}}});
    const auto halves = g.NodeN("Split", {h}, 2, {{"axis", int64_t{1}}});
    h = g.Node("Mul", {halves[0], g.Node("Sigmoid", {halves[1]})});  // GLU over channels
  }
  return g.Node("Transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// The frames each sample keeps after the subsampler, 1/0 int64 [batch, frames']: a frame
// count n becomes (n - 1) // 2 + 1 = (n + 1) / 2 per conv (HF's
// _get_feature_vector_attention_mask).
std::string SubsampledMask(GraphBuilder& g, const SpeechShape& sp, const std::string& mask,
                           const std::string& hidden) {
  std::string kept = g.Node("ReduceSum", {mask, g.ConstInt64({-1})}, {{"keepdims", int64_t{1}}});
  for (size_t i = 0; i < sp.kernels.size(); ++i)
    kept = g.Node("Div", {g.Node("Add", {kept, g.ConstInt64({1})}), g.ConstInt64({2})});
  const std::string frames = PositionRange(g, g.ConstInt64({0}), AxisLength(g, hidden, 1));
  return g.Node("Cast", {g.Node("Less", {frames, kept})},
                {{"to", int64_t{onnx::TensorProto::INT64}}});
}

// Speech2TextEncoder: subsampled features (times sqrt(d_model) when scale_embedding) plus
// fairseq sinusoids indexed from the padding mask as M2M100 indexes tokens, then the pre-norm
// layers. Returns the hidden states and the subsampled mask the decoder's cross-attention uses.
std::pair<std::string, std::string> SpeechEncoder(GraphBuilder& g, const BartShape& s,
                                                  const SpeechShape& sp,
                                                  const std::string& features,
                                                  const std::string& mask) {
  std::string h = ConvSubsampler(g, s, sp, features);
  if (s.scale_embedding)
    h = g.Node("Mul",
               {h, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.d_model))))});
  const std::string kept = SubsampledMask(g, sp, mask, h);
  const std::string padding = g.Node("Sub", {g.ConstInt64({1}), kept});  // mask.ne(1)
  const std::string table = g.Initializer(
      "const_encoder_sinusoidal_positions",
      FairseqSinusoids(sp.source_positions + kPositionOffset, s.d_model, s.pad_token_id));
  h = g.Node("Add",
             {h, g.Node("Gather", {table, PositionsFromTokens(g, s, padding, g.ConstInt64({0}))})});
  return {EncoderLayers(g, s, h, FullSelfAttention(g, s, PaddingMaskBias(g, kept))), kept};
}

// The decoder self-attention's additive mask: causal, plus FSMT's mask of the pad-token keys.
std::string DecoderSelfBias(GraphBuilder& g, const BartShape& s, const std::string& ids,
                            const std::string& query_positions, const std::string& key_positions) {
  const std::string causal = CausalMaskBias(g, query_positions, key_positions);
  if (!s.decoder_padding_mask) return causal;
  const std::string not_pad =
      g.Node("Cast", {g.Node("Not", {g.Node("Equal", {ids, g.ConstInt64({s.pad_token_id})})})},
             {{"to", int64_t{onnx::TensorProto::INT64}}});
  return g.Node("Add", {causal, PaddingMaskBias(g, not_pad)});
}

// The decoder stack. Without a cache, keys and values come from the tokens given and the
// cross-attention's from `encoder_hidden`. With one (`with_past`), the self-attention's are
// appended to past_key_values.{i}.decoder.* (returned as present.{i}.decoder.*) and the
// cross-attention's are past_key_values.{i}.encoder.*; positions start after the past.
std::string Decoder(GraphBuilder& g, const BartShape& s, const std::string& embedding,
                    const std::string& ids, const std::string& encoder_mask,
                    const std::string& encoder_hidden, bool with_past) {
  const int64_t heads = s.decoder.heads;
  const std::string past_length =
      with_past && s.decoder.layers > 0
          ? AxisLength(g, PastKeyValuesName(0, CacheKind::kSelf, CachePart::kKey), 2)
          : g.ConstInt64({0});
  std::string h = Embed(g, s, embedding, ids, "decoder", past_length);
  const std::string new_length = AxisLength(g, ids, 1);
  const std::string query_positions = PositionRange(g, past_length, new_length);
  const std::string key_positions =
      PositionRange(g, g.ConstInt64({0}), g.Node("Add", {past_length, new_length}));
  const std::string self_bias = DecoderSelfBias(g, s, ids, query_positions, key_positions);
  const std::string cross_bias = PaddingMaskBias(g, encoder_mask);
  for (int64_t i = 0; i < s.decoder.layers; ++i) {
    const std::string layer = fmt::format("decoder.layers.{}", i);
    const std::string self = layer + ".self_attn";
    h = Residual(g, s, h, self + "_layer_norm", [&](const std::string& x) {
      std::string k = ProjectHeads(g, s, heads, x, self, "k_proj");
      std::string v = ProjectHeads(g, s, heads, x, self, "v_proj");
      if (with_past) {
        k = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kKey), k},
                   {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kKey));
        v = g.Node("Concat", {PastKeyValuesName(i, CacheKind::kSelf, CachePart::kValue), v},
                   {{"axis", int64_t{2}}}, PresentName(i, CacheKind::kSelf, CachePart::kValue));
      }
      return AttendAndProject(g, s, heads, ProjectHeads(g, s, heads, x, self, "q_proj"), k, v,
                              self_bias, self);
    });

    const std::string cross = layer + ".encoder_attn";
    h = Residual(g, s, h, cross + "_layer_norm", [&](const std::string& x) {
      const std::string cross_k = with_past
                                      ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kKey)
                                      : ProjectHeads(g, s, heads, encoder_hidden, cross, "k_proj");
      const std::string cross_v = with_past
                                      ? PastKeyValuesName(i, CacheKind::kCross, CachePart::kValue)
                                      : ProjectHeads(g, s, heads, encoder_hidden, cross, "v_proj");
      return AttendAndProject(g, s, heads, ProjectHeads(g, s, heads, x, cross, "q_proj"), cross_k,
                              cross_v, cross_bias, cross);
    });
    h = FeedForward(g, s, s.decoder.ffn, h, layer);
  }
  return FinalNorm(g, s, h, "decoder");
}

// FSMTModel: each stack with its own token table; with output_projection the decoder's states
// are projected to its vocabulary (decoder.output_projection, no bias) inside the base model.
void BuildSeparateEmbeddings(GraphBuilder& g, const BartShape& s) {
  const std::string batch = "batch", sequence = "sequence", decoder_sequence = "decoder_sequence";
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("decoder_input_ids", onnx::TensorProto::INT64, {batch, decoder_sequence});
  auto table = [&](const std::string& stack, int64_t vocab) {
    return g.Weight(stack + ".embed_tokens.weight", {vocab, s.d_model}, WeightInit::kNormal);
  };
  const std::string encoder_hidden =
      Encoder(g, s, table("encoder", s.encoder_vocab), "input_ids", "attention_mask");
  std::string hidden = Decoder(g, s, table("decoder", s.decoder_vocab), "decoder_input_ids",
                               "attention_mask", encoder_hidden, /*with_past=*/false);
  const int64_t width = s.output_projection ? s.decoder_vocab : s.d_model;
  if (s.output_projection)
    hidden = g.Linear(hidden, "decoder.output_projection", s.d_model, width, false);
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Node("Identity", {encoder_hidden}, {}, "encoder_last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, decoder_sequence, width});
  g.Output("encoder_last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
}

}  // namespace

void BuildBart(const HfConfig& config, GraphBuilder& g) {
  const BartShape s = ReadBartShape(config);
  if (s.embeddings == Embeddings::kSeparate) return BuildSeparateEmbeddings(g, s);
  if (s.output_projection)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': the bart piece output_projection is built only with separate "
                            "embeddings",
                            config.origin()));
  BuildSeq2SeqForward(
      g, s.vocab, s.d_model,
      [&](const std::string& embedding) {
        return Encoder(g, s, embedding, "input_ids", "attention_mask");
      },
      [&](const std::string& embedding, const std::string& encoder_hidden) {
        return Decoder(g, s, embedding, "decoder_input_ids", "attention_mask", encoder_hidden,
                       false);
      });
}

void BuildSpeech2Text(const HfConfig& config, GraphBuilder& g) {
  const BartShape s = ReadBartShape(config);
  const SpeechShape sp = ReadSpeechShape(config);
  const std::string batch = "batch", frames = "frames", decoder_sequence = "decoder_sequence";
  g.Input("input_features", onnx::TensorProto::FLOAT, {batch, frames, sp.in_channels});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, frames});
  g.Input("decoder_input_ids", onnx::TensorProto::INT64, {batch, decoder_sequence});
  const auto [encoder_hidden, kept] = SpeechEncoder(g, s, sp, "input_features", "attention_mask");
  const std::string embedding =
      g.Weight("decoder.embed_tokens.weight", {s.vocab, s.d_model}, WeightInit::kNormal);
  const std::string hidden =
      Decoder(g, s, embedding, "decoder_input_ids", kept, encoder_hidden, /*with_past=*/false);
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Node("Identity", {encoder_hidden}, {}, "encoder_last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, decoder_sequence, s.d_model});
  g.Output("encoder_last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, std::string("encoder_sequence"), s.d_model});
}

}  // namespace ipfs_accel::models

namespace ipfs_accel::models {

void BuildBartEncoder(const HfConfig& config, GraphBuilder& g) {
  const BartShape s = ReadBartShape(config);
  const std::string batch = "batch", sequence = "sequence";
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, sequence});
  const std::string embedding = SharedTokenEmbedding(g, s.vocab, s.d_model);
  const std::string hidden = Encoder(g, s, embedding, "input_ids", "attention_mask");
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
  // Each decoder layer's cross-attention keys and values depend only on the encoder.
  const int64_t heads = s.decoder.heads;
  for (int64_t i = 0; i < s.decoder.layers; ++i) {
    const std::string cross = fmt::format("decoder.layers.{}.encoder_attn", i);
    g.Node("Identity", {ProjectHeads(g, s, heads, hidden, cross, "k_proj")}, {},
           PresentName(i, CacheKind::kCross, CachePart::kKey));
    g.Node("Identity", {ProjectHeads(g, s, heads, hidden, cross, "v_proj")}, {},
           PresentName(i, CacheKind::kCross, CachePart::kValue));
  }
  DeclarePresentOutputs(g, s.decoder.layers, CacheKind::kCross, heads, s.d_model / heads, sequence);
}

void BuildBartDecoderWithPast(const HfConfig& config, GraphBuilder& g) {
  const BartShape s = ReadBartShape(config);
  const std::string batch = "batch", sequence = "sequence";
  const int64_t heads = s.decoder.heads, head_dim = s.d_model / heads;
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, sequence});
  g.Input("encoder_attention_mask", onnx::TensorProto::INT64,
          {batch, std::string("encoder_sequence")});
  DeclarePastInputs(g, s.decoder.layers, heads, head_dim);
  const std::string embedding = SharedTokenEmbedding(g, s.vocab, s.d_model);
  const std::string hidden =
      Decoder(g, s, embedding, "input_ids", "encoder_attention_mask", "", /*with_past=*/true);
  g.Node("Identity", {hidden}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, sequence, s.d_model});
  DeclarePresentOutputs(g, s.decoder.layers, CacheKind::kSelf, heads, head_dim, "total_sequence");
}

}  // namespace ipfs_accel::models
