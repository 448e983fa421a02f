#pragma once
// CLAP's audio encoder (HF ClapAudioEncoder, HTSAT) as ONNX: BatchNorm over the mel bins, the
// spectrogram folded into a square "image" (bicubic resize first when it is shorter), patch
// embedding (with the attentional feature fusion of the "fused" checkpoints over is_longer),
// Swin stages (window attention with relative position bias, shifted windows with their mask,
// patch merging), the final LayerNorm and the mean over all tokens that HF pools.
// Weight names are HF's under "audio_encoder." of g.weight_prefix().

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The sizes of a ClapAudioConfig, defaults filled in and checked.
struct HtsatShape {
  int64_t spec_size = 0, mel_bins = 0;
  int64_t freq_ratio = 0;      // spec_size / num_mel_bins
  int64_t spec_width = 0;      // time frames the encoder folds: spec_size * freq_ratio
  int64_t spec_height = 0;     // mel bins it folds: spec_size / freq_ratio
  int64_t in_channels = 0;     // patch_embed_input_channels
  int64_t input_channels = 0;  // channels of input_features: 4 with fusion, else in_channels
  int64_t patch[2] = {0, 0}, stride[2] = {0, 0}, padding[2] = {0, 0};
  int64_t grid[2] = {0, 0};  // patches per side after the patch embedding
  int64_t embed_dim = 0;     // patch_embeds_hidden_size
  std::vector<int64_t> depths, heads;
  int64_t window = 0;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  bool patch_norm = true;
  double eps = 1e-5;  // the Swin blocks' LayerNorms (layer_norm_eps)
  std::string act;
  // Swinv2Layer instead of Swin's: cosine attention with a learned logit scale, a continuous
  // position bias MLP, a bias-free key, norms after each branch (res-post-norm).
  bool swinv2 = false;
  bool fusion = false;
  int64_t aff_inner = 0;     // the fusion block's inner channels
  int64_t num_features = 0;  // embed_dim * 2^(stages - 1)
  int64_t hidden_size = 0;   // the audio config's hidden_size (what the projection takes)
};

// Throws core::Error naming `c.origin()` and the key: kCorrupt for sizes that do not fit
// together, kUnsupported for options HF itself cannot run (e.g. fusion_type "channel_map").
HtsatShape ReadHtsatShape(const HfConfig& c);

// One Swin block's geometry: a height x width grid of dim-wide tokens.
struct SwinBlockGeometry {
  int64_t height = 0, width = 0, dim = 0, heads = 0, window = 0, shift = 0;
  int64_t pretrained_window = 0;  // Swinv2: the window its position coordinates are scaled to
};

// One block (ClapAudioLayer, or Swinv2Layer with s.swinv2) on x [batch, height * width, dim],
// weights under g.weight_prefix() + prefix (e.g. "layers.0.blocks.1."). Exposed for tests.
std::string HtsatSwinBlock(GraphBuilder& g, const HtsatShape& s, const std::string& x,
                           const SwinBlockGeometry& b, const std::string& prefix);

// SwinPatchMerging / ClapAudioPatchMerging on x [batch, height * width, dim] (even sides):
// weights downsample.norm and downsample.reduction under g.weight_prefix(). `norm_after`:
// Swinv2PatchMerging, which norms the 2 * dim reduction instead of the 4 * dim concatenation.
std::string SwinPatchMerging(GraphBuilder& g, const std::string& x, int64_t height, int64_t width,
                             int64_t dim, bool norm_after = false);

// The encoder's outputs: `tokens`, the final LayerNorm's [batch, patches, num_features] (the last
// stage's grid, row-major), and `pooled`, their mean [batch, num_features] (HF's latent_output).
struct HtsatOutputs {
  std::string tokens, pooled;
};

// The encoder on `features` [batch, input_channels, time, mel_bins] float (time: the graph
// dimension `time`, fixed or symbolic) and, with fusion, `is_longer` [batch, 1] bool. Returns the
// pooled latent [batch, num_features]. Throws core::Error(kUnsupported) for a fixed time HF
// rejects (longer than spec_width, or resized in both axes); a symbolic time is always resized to
// spec_width, so a longer input is squeezed where HF would raise.
std::string BuildHtsat(GraphBuilder& g, const HtsatShape& s, const std::string& features,
                       const Dim& time, const std::string& is_longer);
// The same encoder, both outputs.
HtsatOutputs BuildHtsatOutputs(GraphBuilder& g, const HtsatShape& s, const std::string& features,
                               const Dim& time, const std::string& is_longer);

}  // namespace ipfs_accel::models
