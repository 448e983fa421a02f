#pragma once
// X-CLIP (HF XCLIPModel): CLIP extended to video, as one graph.
//
//   video   pixel_values [batch, frames, channels, size, size] folded to [batch*frames, ...] and
//           run through a CLIP vision transformer whose layers exchange information across frames
//           (XCLIPVisionEncoderLayer: each frame's class token, through message_fc and a pre-norm
//           message_attn over the frames of its video, is appended as one extra token for the
//           layer's self-attention and dropped before its MLP). Each frame's post-normed class
//           token goes through visual_projection, then the multi-frame integration transformer
//           (mit: + position_embedding over frames, CLIP encoder layers, + its input, mean over
//           frames) gives video_embeds [batch, projection_dim].
//   text    the CLIP text transformer (clip_builder's tower), pooled at the argmax of the ids
//           (X-CLIP always takes the highest id, whatever eos_token_id says), text_projection.
//   prompts every video conditions every text: the patch tokens of the last vision layer,
//           prompts_visual_layernorm, prompts_visual_projection, averaged over frames, are the
//           keys of the prompts generator (layernorm, prompt_layers cross-attention + MLP layers,
//           times alpha) whose output is added to the text embeddings, so text_embeds is
//           [batch (videos), batch (texts), projection_dim].
//   logits  both embeddings L2-normalised; logits_per_video[v, t] = exp(logit_scale) *
//           <video_embeds[v], text_embeds[v, t]>; logits_per_text is its transpose.
//
// Inputs: input_ids, attention_mask [batch, sequence] int64; pixel_values [batch, num_frames,
// num_channels, image_size, image_size] float, num_frames fixed from vision_config. Outputs, in
// HF's order: logits_per_video [batch, batch], logits_per_text [batch, batch], text_embeds
// [batch, batch, projection_dim], video_embeds [batch, projection_dim]. As in clip_builder, texts
// and videos share the "batch" dimension name, so the harness sizes both from one batch size; the
// graph itself lets them differ (logits_per_video is [videos, texts]), as HF does.
// Weights: XCLIPModel's state_dict names, from the root (text_model., vision_model., mit.,
// prompts_generator., visual_projection, ...).

#include <cstdint>
#include <string>
#include <vector>

#include "clip_builder.h"
#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct Architecture;

// XCLIPConfig with its sub-configs' defaults filled in (XCLIPTextConfig and XCLIPVisionConfig
// have CLIPTextConfig's and CLIPVisionConfig's defaults) and checked.
struct XclipShape {
  ClipTextShape text;
  ClipVisionShape vision;
  int64_t frames;          // vision_config.num_frames
  int64_t projection_dim;  // also the width of mit and of the prompts generator
  int64_t mit_intermediate, mit_layers, mit_heads;
  int64_t prompt_layers, prompt_heads;
  std::string prompt_act;
};

// text_config as X-CLIP reads it: ClipSubConfig(config, "text_config") without eos_token_id,
// which X-CLIP's pooling ignores (so a null one is no error here).
HfConfig XclipTextConfig(const HfConfig& config);

// Throws core::Error(kCorrupt) for sizes that do not fit: mit_hidden_size other than
// projection_dim, widths not divisible by their head counts, non-positive sizes.
XclipShape ReadXclipShape(const HfConfig& config);

// XCLIPModel (see the top of this file). Throws like ReadXclipShape, and kUnsupported for an
// activation (hidden_act, prompt_hidden_act) the graph builder does not know.
void BuildXclip(const HfConfig& config, GraphBuilder& g);

// Registers "xclip" (modality multimodal); called from AddVisionArchitectures.
void AddXclipArchitectures(std::vector<Architecture>& out);

}  // namespace ipfs_accel::models
