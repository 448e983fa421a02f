#include "xclip_builder.h"

#include <map>
#include <utility>

#include <fmt/format.h>

#include "activation.h"
#include "architectures.h"
#include "ipfs_accel/core/error.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// The message attention of a vision layer: a pre-norm attention block whose norm is message_ln.
PreNormLayerNames MessageNames(const std::string& prefix) {
  const std::string p = prefix + ".";
  return {.norm1 = p + "message_ln",
          .query = p + "message_attn.q_proj",
          .key = p + "message_attn.k_proj",
          .value = p + "message_attn.v_proj",
          .attention_out = p + "message_attn.out_proj",
          .norm2 = "",  // the MLP half is never built on the message tokens
          .fc1 = "",
          .fc2 = ""};
}

void RequireDivisible(const HfConfig& c, const char* width_key, int64_t width,
                      const char* heads_key, int64_t heads) {
  RequirePositive(c, {{heads_key, heads}});
  if (width % heads != 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': {} {} is not a multiple of {} {}",
                                                 c.origin(), width_key, width, heads_key, heads));
}

// XCLIPVisionEncoderLayer on [batch*frames, tokens, hidden]: the class token of every frame,
// through message_fc and a message attention over its video's frames, joins the frame's tokens
// for self-attention only.
std::string CrossFrameLayer(GraphBuilder& g, const XclipShape& s, const PreNormLayerShape& layer,
                            const std::string& prefix, const std::string& x) {
  const int64_t hidden = s.vision.hidden;
  std::string message = g.Linear(TokenAt(g, x, 0), prefix + ".message_fc", hidden, hidden);
  message = g.Node("Reshape", {message, g.ConstInt64({-1, s.frames, hidden})});
  message = PreNormAttentionBlock(g, layer, MessageNames(prefix), message, "");
  message = g.Node("Reshape", {message, g.ConstInt64({-1, 1, hidden})});
  const PreNormLayerNames names = ClipLayerNames(prefix);
  std::string h = PreNormAttentionBlock(g, layer, names,
                                        g.Node("Concat", {x, message}, {{"axis", int64_t{1}}}), "");
  const int64_t tokens = s.vision.patches() + 1;
  h = g.Node("Slice", {h, g.ConstInt64({0}), g.ConstInt64({tokens}), g.ConstInt64({1})});
  return PreNormMlpBlock(g, layer, names, h);
}

struct VisionOutputs {
  std::string last_hidden_state;  // [batch*frames, 1 + patches, hidden]
  std::string pooled;             // post_layernorm(class token) [batch*frames, hidden]
};

// XCLIPVisionTransformer under "vision_model." on frames [batch*frames, channels, size, size].
VisionOutputs VisionTower(GraphBuilder& g, const XclipShape& s, const std::string& frames) {
  WeightScope scope(g, "vision_model.");
  const ClipVisionShape& v = s.vision;
  std::string x = PatchEmbeddings(g, frames, "embeddings.patch_embedding", v.channels, v.hidden,
                                  v.patch_size, v.patch_size, /*bias=*/false);
  x = PrependTokens(g, {g.Weight("embeddings.class_embedding", {v.hidden}, WeightInit::kNormal)}, x,
                    v.hidden);
  x = g.Node("Add", {x, g.Weight("embeddings.position_embedding.weight",
                                 {v.patches() + 1, v.hidden}, WeightInit::kNormal)});
  // X-CLIP spells it pre_layernorm where CLIP has pre_layrnorm.
  x = g.LayerNorm(x, "pre_layernorm", v.hidden, v.eps);
  const PreNormLayerShape layer{.hidden = v.hidden,
                                .heads = v.heads,
                                .intermediate = v.intermediate,
                                .eps = v.eps,
                                .act = v.act,
                                .qkv_bias = true};
  for (int64_t l = 0; l < v.layers; ++l)
    x = CrossFrameLayer(g, s, layer, fmt::format("encoder.layers.{}", l), x);
  return {x, g.LayerNorm(TokenAt(g, x, 0), "post_layernorm", v.hidden, v.eps)};
}

// XCLIPMultiframeIntegrationTransformer on the projected class tokens [batch, frames, dim]:
// returns the mean over frames of (layers(x + position_embedding) + x), [batch, dim].
std::string MultiframeIntegration(GraphBuilder& g, const XclipShape& s, const std::string& x) {
  WeightScope scope(g, "mit.");
  std::string h = g.Node("Add", {x, g.Weight("position_embedding", {1, s.frames, s.projection_dim},
                                             WeightInit::kNormal)});
  const PreNormLayerShape layer{.hidden = s.projection_dim,
                                .heads = s.mit_heads,
                                .intermediate = s.mit_intermediate,
                                .eps = s.vision.eps,
                                .act = s.vision.act,
                                .qkv_bias = true};
  for (int64_t l = 0; l < s.mit_layers; ++l)
    h = PreNormEncoderLayer(g, layer, ClipLayerNames(fmt::format("encoder.layers.{}", l)), h, "");
  return g.Node("ReduceMean", {g.Node("Add", {h, x})},
                {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
}

// XCLIPPromptGenerator: texts [videos, texts, dim] attend to visual [videos, patches, dim];
// returns alpha * the texts after the decoder layers (the caller adds it to its input).
std::string PromptsGenerator(GraphBuilder& g, const XclipShape& s, std::string text,
                             const std::string& visual_features) {
  WeightScope scope(g, "prompts_generator.");
  const int64_t dim = s.projection_dim;
  const std::string visual = g.LayerNorm(visual_features, "layernorm", dim, s.vision.eps);
  for (int64_t l = 0; l < s.prompt_layers; ++l) {
    const std::string p = fmt::format("decoder.{}.", l);
    const std::string q = g.Linear(g.LayerNorm(text, p + "norm1", dim, s.text.eps),
                                   p + "cross_attn.q_proj", dim, dim, /*bias=*/false);
    const std::string k = g.Linear(visual, p + "cross_attn.k_proj", dim, dim, /*bias=*/false);
    const std::string v = g.Linear(visual, p + "cross_attn.v_proj", dim, dim, /*bias=*/false);
    const std::string ctx =
        ScaledDotProductAttention(g, q, k, v, s.prompt_heads, dim / s.prompt_heads, "");
    text = g.Node("Add", {text, g.Linear(ctx, p + "cross_attn.proj", dim, dim)});
    // mlp is nn.Sequential(Linear, act, Dropout, Linear): modules 0 and 3.
    std::string m =
        g.Linear(g.LayerNorm(text, p + "norm3", dim, s.text.eps), p + "mlp.0", dim, 4 * dim);
    m = g.Linear(Activation(g, m, s.prompt_act), p + "mlp.3", 4 * dim, dim);
    text = g.Node("Add", {text, m});
  }
  // HF initialises alpha to prompt_alpha everywhere; seeded weights use ones.
  return g.Node("Mul", {text, g.Weight("alpha", {dim}, WeightInit::kOnes)});
}

// Row `position[b]` of axis 1 of x [b, n, hidden] for every b: [b, hidden].
std::string GatherRows(GraphBuilder& g, const std::string& x, const std::string& position) {
  return g.Node("GatherND", {x, position}, {{"batch_dims", int64_t{1}}});
}

void XClipExpose(GraphBuilder& g, const std::string& tensor, const std::string& name,
                 const std::vector<Dim>& dims) {
  g.Node("Identity", {tensor}, {}, name);
  g.Output(name, onnx::TensorProto::FLOAT, dims);
}

}  // namespace

HfConfig XclipTextConfig(const HfConfig& config) {
  const HfConfig text = ClipSubConfig(config, "text_config");
  nlohmann::json json = text.json();
  json.erase("eos_token_id");
  return HfConfig(std::move(json), text.origin());
}

XclipShape ReadXclipShape(const HfConfig& config) {
  const HfConfig vision_config = ClipSubConfig(config, "vision_config");
  XclipShape s{};
  s.text = ReadClipTextShape(XclipTextConfig(config), ClipFamily::kClip);
  s.vision = ReadClipVisionShape(vision_config, ClipFamily::kClip);
  s.frames = vision_config.Int("num_frames", 8);
  s.projection_dim = config.Int("projection_dim", 512);
  const int64_t mit_hidden = vision_config.Int("mit_hidden_size", 512);
  s.mit_intermediate = vision_config.Int("mit_intermediate_size", 2048);
  s.mit_layers = vision_config.Int("mit_num_hidden_layers", 1);
  s.mit_heads = vision_config.Int("mit_num_attention_heads", 8);
  s.prompt_layers = config.Int("prompt_layers", 2);
  s.prompt_heads = config.Int("prompt_num_attention_heads", 8);
  s.prompt_act = config.String("prompt_hidden_act", "quick_gelu");

  RequirePositive(vision_config, {{"num_frames", s.frames}});
  RequirePositive(config, {{"projection_dim", s.projection_dim}});
  RequirePositive(vision_config, {{"mit_intermediate_size", s.mit_intermediate}});
  // Zero layers is a valid (if odd) MIT or prompts generator, as in HF; negative is not.
  for (const auto& [key, value] : {std::pair{"vision_config.mit_num_hidden_layers", s.mit_layers},
                                   std::pair{"prompt_layers", s.prompt_layers}})
    if (value < 0)
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': {} is {}; it must not be negative",
                                                   config.origin(), key, value));
  // The MIT adds its position embedding [1, frames, mit_hidden_size] to the projected class
  // tokens [batch, frames, projection_dim]; HF fails at run time when the two differ.
  if (mit_hidden != s.projection_dim)
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': vision_config.mit_hidden_size {} differs from projection_dim {}; "
                    "the multi-frame integration transformer runs on projected features",
                    config.origin(), mit_hidden, s.projection_dim));
  RequireDivisible(vision_config, "mit_hidden_size", mit_hidden, "mit_num_attention_heads",
                   s.mit_heads);
  RequireDivisible(config, "projection_dim", s.projection_dim, "prompt_num_attention_heads",
                   s.prompt_heads);
  return s;
}

void BuildXclip(const HfConfig& config, GraphBuilder& g) {
  const XclipShape s = ReadXclipShape(config);
  const ClipVisionShape& v = s.vision;
  const int64_t dim = s.projection_dim;
  const Dim batch = std::string("batch");
  const std::vector<Dim> tokens = {batch, std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  g.Input("pixel_values", onnx::TensorProto::FLOAT,
          {batch, s.frames, v.channels, v.image_size, v.image_size});

  // ----- video -----
  const std::string frames = g.Node(
      "Reshape", {"pixel_values", g.ConstInt64({-1, v.channels, v.image_size, v.image_size})});
  const VisionOutputs vision = VisionTower(g, s, frames);
  const std::string cls = g.Node(
      "Reshape", {g.Linear(vision.pooled, "visual_projection", v.hidden, dim, /*bias=*/false),
                  g.ConstInt64({-1, s.frames, dim})});
  const std::string video = MultiframeIntegration(g, s, cls);  // [videos, dim]

  // Patch tokens of every frame, projected and averaged over the frames: [videos, patches, dim].
  std::string patches = g.Node("Slice", {vision.last_hidden_state, g.ConstInt64({1}),
                                         g.ConstInt64({v.patches() + 1}), g.ConstInt64({1})});
  patches = g.LayerNorm(patches, "prompts_visual_layernorm", v.hidden, v.eps);
  patches = g.Node("MatMul", {patches, g.Weight("prompts_visual_projection", {v.hidden, dim},
                                                WeightInit::kNormal)});
  patches = g.Node("Reshape", {patches, g.ConstInt64({-1, s.frames, v.patches(), dim})});
  patches = g.Node("ReduceMean", {patches},
                   {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});

  // ----- text -----
  std::string text;
  {
    WeightScope scope(g, "text_model.");
    const ClipTowerOutputs tower =
        BuildClipTextTower(XclipTextConfig(config), g, "input_ids", "attention_mask");
    // X-CLIP pools at the (first) highest id, whatever the tower's CLIP rule picks; the tower's
    // own pooled output is left unused. ArgMax runs on int32 ids, as CLIP's pooling does (and as
    // HF's CLIP casts them); token ids fit.
    const std::string ids32 =
        g.Node("Cast", {"input_ids"}, {{"to", int64_t{onnx::TensorProto::INT32}}});
    const std::string eot =
        g.Node("ArgMax", {ids32}, {{"axis", int64_t{1}}, {"keepdims", int64_t{1}}});
    text = GatherRows(g, tower.last_hidden_state, eot);
  }
  text = g.Linear(text, "text_projection", s.text.hidden, dim, /*bias=*/false);  // [texts, dim]

  // Every text for every video: [videos, texts, dim], then the video-specific prompts.
  const std::string videos =
      g.Node("Slice", {g.Node("Shape", {video}), g.ConstInt64({0}), g.ConstInt64({1})});
  const std::string per_video =
      g.Node("Expand", {g.Node("Unsqueeze", {text, g.ConstInt64({0})}),
                        g.Node("Concat", {videos, g.ConstInt64({1, 1})}, {{"axis", int64_t{0}}})});
  text = g.Node("Add", {per_video, PromptsGenerator(g, s, per_video, patches)});

  // ----- similarity -----
  const std::string video_embeds = L2Normalize(g, video);
  const std::string text_embeds = L2Normalize(g, text);
  const std::string scale =
      g.Node("Exp", {g.Weight("logit_scale", core::Shape{}, WeightInit::kNormal)});
  // einsum("bd,bkd->bk"): a batched product of each video's texts with its embedding.
  const std::string dots = g.Node(
      "Squeeze",
      {g.Node("MatMul", {text_embeds, g.Node("Unsqueeze", {video_embeds, g.ConstInt64({2})})}),
       g.ConstInt64({2})});
  const std::string per_video_logits = g.Node("Mul", {dots, scale});
  const std::string per_text_logits =
      g.Node("Transpose", {per_video_logits}, {{"perm", std::vector<int64_t>{1, 0}}});

  XClipExpose(g, per_video_logits, "logits_per_video", {batch, batch});
  XClipExpose(g, per_text_logits, "logits_per_text", {batch, batch});
  XClipExpose(g, text_embeds, "text_embeds", {batch, batch, dim});
  XClipExpose(g, video_embeds, "video_embeds", {batch, dim});
}

void AddXclipArchitectures(std::vector<Architecture>& out) {
  auto build = [](const HfConfig& c, GraphBuilder& g) { BuildXclip(c, g); };
  auto hints = [](const HfConfig& c) {
    const ClipTextShape s = ReadClipTextShape(XclipTextConfig(c), ClipFamily::kClip);
    return std::map<std::string, InputHint>{
        {"input_ids", {InputHint::Kind::kIndexRange, 0, s.vocab}},
        {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
  };
  auto roles = [](const HfConfig& c) {
    const ClipTextShape s = ReadClipTextShape(XclipTextConfig(c), ClipFamily::kClip);
    return DimRoles{.batch = "batch", .sequence = "sequence", .max_sequence = s.max_positions};
  };
  // XCLIPModel checkpoints name weights from the root.
  out.push_back({"xclip", "multimodal", {}, build, hints, roles});
}

}  // namespace ipfs_accel::models
