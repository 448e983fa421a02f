#include "swin_builder.h"

#include <algorithm>

#include <fmt/format.h>

#include "htsat_builder.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"
#include "vision_transformer.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct SwinShape {
  int64_t image = 224, patch = 4, channels = 3, embed_dim = 96, window = 7;
  std::vector<int64_t> depths = {2, 2, 6, 2}, heads = {3, 6, 12, 24};
  std::vector<int64_t> pretrained_windows;  // Swinv2's pretrained_window_sizes, one per stage
  HtsatShape block;  // what the shared Swin block reads: eps, qkv_bias, mlp_ratio, act
};

[[noreturn]] void Unsupported(const HfConfig& c, const std::string& what) {
  throw Error(ErrorKind::kUnsupported, fmt::format("'{}': {}", c.origin(), what));
}

// Swinv2's pretrained_window_sizes (null: zeros), one per stage at least; 1 would divide by
// zero in HF.
void ReadPretrainedWindows(const HfConfig& c, SwinShape& s) {
  s.pretrained_windows = std::vector<int64_t>(s.depths.size(), 0);
  if (c.Has("pretrained_window_sizes") && !c.json()["pretrained_window_sizes"].is_null())
    s.pretrained_windows = ConfigIntList(c, "pretrained_window_sizes", s.pretrained_windows);
  if (s.pretrained_windows.size() < s.depths.size() ||
      std::any_of(s.pretrained_windows.begin(), s.pretrained_windows.end(),
                  [](int64_t w) { return w < 0 || w == 1; }))
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': pretrained_window_sizes needs a size per stage, 0 or > 1", c.origin()));
  s.pretrained_windows.resize(s.depths.size());  // HF ignores sizes beyond the stages
}

SwinShape ReadSwinShape(const HfConfig& c, bool swinv2) {
  SwinShape s;
  s.block.swinv2 = swinv2;
  s.image = c.Int("image_size", s.image);
  s.patch = c.Int("patch_size", s.patch);
  s.channels = c.Int("num_channels", s.channels);
  s.embed_dim = c.Int("embed_dim", s.embed_dim);
  s.window = c.Int("window_size", s.window);
  s.depths = ConfigIntList(c, "depths", s.depths);
  s.heads = ConfigIntList(c, "num_heads", s.heads);
  s.block.eps = c.Double("layer_norm_eps", 1e-5);
  s.block.qkv_bias = c.Bool("qkv_bias", true);
  s.block.mlp_ratio = c.Double("mlp_ratio", 4.0);
  s.block.act = c.String("hidden_act", "gelu");
  if (s.depths.size() != s.heads.size())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': depths has {} stages but num_heads {}",
                                                 c.origin(), s.depths.size(), s.heads.size()));
  const auto positive = [](int64_t v) { return v > 0; };
  if (std::min({s.image, s.patch, s.channels, s.embed_dim, s.window}) <= 0 ||
      !std::all_of(s.depths.begin(), s.depths.end(), positive) ||
      !std::all_of(s.heads.begin(), s.heads.end(), positive) || s.block.mlp_ratio <= 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': Swin sizes must be positive", c.origin()));
  if (c.Bool("use_absolute_embeddings", false))
    Unsupported(c, "use_absolute_embeddings is not supported by the swin builder");
  if (s.image % s.patch != 0)
    Unsupported(c, fmt::format("image_size {} is not a multiple of patch_size {} (HF pads it)",
                               s.image, s.patch));
  int64_t side = s.image / s.patch;
  for (size_t i = 0; i < s.depths.size(); ++i) {
    const int64_t dim = s.embed_dim << i;
    if (dim % s.heads[i] != 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': stage {} width {} is not a multiple of its {} heads",
                              c.origin(), i, dim, s.heads[i]));
    // HF shrinks the window to a smaller stage, whose bias table then no longer fits (Swinv2
    // computes its bias from the window, so it shrinks it too).
    if (side < s.window && !swinv2)
      Unsupported(c, fmt::format("stage {} is {}x{}, smaller than window_size {}", i, side, side,
                                 s.window));
    if (i + 1 < s.depths.size() && side % 2 != 0)
      Unsupported(c, fmt::format("stage {} side {} is odd (HF pads it before merging)", i, side));
    side /= 2;
  }
  if (swinv2) ReadPretrainedWindows(c, s);
  return s;
}

// The swin builder's pieces: booleans final_norm, shift_single_window_stages; block "swin" or
// "swinv2". Anything else is refused.
bool ReadSwinPieces(const HfConfig& config, const nlohmann::json& pieces) {
  const auto known = [&](const auto& kv) {
    if (kv.key() == "block")
      return kv.value().is_string() && (kv.value() == "swin" || kv.value() == "swinv2");
    return (kv.key() == "final_norm" || kv.key() == "shift_single_window_stages") &&
           kv.value().is_boolean();
  };
  if (!pieces.is_object() || !std::all_of(pieces.items().begin(), pieces.items().end(), known))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the swin builder's pieces {} are not ones it knows "
                            "(docs/templates.md)",
                            config.origin(), pieces.dump()));
  return pieces.value("block", std::string("swin")) == "swinv2";
}

}  // namespace

void BuildSwin(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  const bool swinv2 = ReadSwinPieces(config, pieces);
  const SwinShape s = ReadSwinShape(config, swinv2);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.image, s.image});
  std::string h = PatchEmbeddings(g, "pixel_values", "embeddings.patch_embeddings.projection",
                                  s.channels, s.embed_dim, s.patch, s.patch, /*bias=*/true);
  h = g.LayerNorm(h, "embeddings.norm", s.embed_dim, kTorchNormEps);
  const auto stages = static_cast<int64_t>(s.depths.size());
  SwinBlockGeometry b;
  for (int64_t i = 0; i < stages; ++i) {
    b.height = b.width = (s.image / s.patch) >> i;
    b.dim = s.embed_dim << i;
    b.heads = s.heads[i];
    b.window = std::min(s.window, b.height);  // Swinv2 shrinks it; Swin refused smaller stages
    if (swinv2) b.pretrained_window = s.pretrained_windows[i];
    // A stage no larger than one window is not shifted (set_shift_and_window_size), except in
    // MaskFormerSwin, which has no such rule.
    const bool shifts = b.height > s.window || pieces.value("shift_single_window_stages", false);
    for (int64_t j = 0; j < s.depths[i]; ++j) {
      b.shift = shifts && j % 2 == 1 ? s.window / 2 : 0;
      h = HtsatSwinBlock(g, s.block, h, b, fmt::format("encoder.layers.{}.blocks.{}.", i, j));
    }
    if (i + 1 < stages) {
      WeightScope stage(g, fmt::format("encoder.layers.{}.", i));
      h = SwinPatchMerging(g, h, b.height, b.width, b.dim, swinv2);
    }
  }
  if (pieces.value("final_norm", true)) h = g.LayerNorm(h, "layernorm", b.dim, s.block.eps);
  g.Node("Identity", {h}, {}, "last_hidden_state");
  g.Node("ReduceMean", {h}, {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}},
         "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", b.height * b.width, b.dim});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", b.dim});
}

}  // namespace ipfs_accel::models
