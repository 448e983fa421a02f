#include "htsat_builder.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// nn.LayerNorm / nn.BatchNorm2d default eps: the patch, merging and final norms and every
// BatchNorm use it whatever layer_norm_eps says.
// What HF's shifted-window mask adds between tokens of different regions.
constexpr float kShiftMaskValue = -100.0f;

std::vector<int64_t> HtsatIntList(const HfConfig& c, const std::string& key,
                                  std::vector<int64_t> fallback) {
  if (!c.Has(key)) return fallback;
  const auto& v = c.json()[key];
  std::vector<int64_t> out;
  if (v.is_number_integer()) out.push_back(v.get<int64_t>());
  if (v.is_array())
    for (const auto& x : v) {
      if (!x.is_number_integer())
        throw Error(ErrorKind::kCorrupt,
                    fmt::format("'{}': {} must be a list of integers", c.origin(), key));
      out.push_back(x.get<int64_t>());
    }
  if (out.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': {} must be an integer or a list of integers", c.origin(), key));
  return out;
}

// An int or a two-element list, as HF's patch_size / patch_stride take.
void IntPair(const HfConfig& c, const std::string& key, int64_t fallback, int64_t out[2]) {
  const std::vector<int64_t> v = HtsatIntList(c, key, {fallback, fallback});
  if (v.size() == 1) {
    out[0] = out[1] = v[0];
  } else if (v.size() == 2) {
    out[0] = v[0];
    out[1] = v[1];
  } else {
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': {} has {} values; it takes one or two",
                                                 c.origin(), key, v.size()));
  }
  if (out[0] <= 0 || out[1] <= 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': {} must be positive", c.origin(), key));
}

core::Tensor FloatTensor(const core::Shape& shape, const std::vector<float>& values) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, shape);
  std::copy(values.begin(), values.end(), t.values<float>().begin());
  return t;
}

// nn.Conv2d with bias, kernel [out, in, kh, kw], symmetric padding.
std::string HtsatConv(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                      int64_t out, const int64_t kernel[2], const int64_t stride[2],
                      const int64_t padding[2]) {
  const std::string w =
      g.Weight(prefix + ".weight", {out, in, kernel[0], kernel[1]}, WeightInit::kNormal);
  const std::string b = g.Weight(prefix + ".bias", {out}, WeightInit::kZeros);
  return g.Node("Conv", {x, w, b},
                {{"kernel_shape", std::vector<int64_t>{kernel[0], kernel[1]}},
                 {"strides", std::vector<int64_t>{stride[0], stride[1]}},
                 {"pads", std::vector<int64_t>{padding[0], padding[1], padding[0], padding[1]}}});
}

std::string Conv1x1(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                    int64_t out) {
  const int64_t one[2] = {1, 1}, zero[2] = {0, 0};
  return HtsatConv(g, x, prefix, in, out, one, one, zero);
}

// x rolled by `shift` along `axis` of static length `length` (torch.roll: element i moves to
// i + shift).
std::string Roll(GraphBuilder& g, const std::string& x, int64_t axis, int64_t length,
                 int64_t shift) {
  const int64_t s = ((shift % length) + length) % length;
  if (s == 0) return x;
  const std::string axes = g.ConstInt64({axis});
  const std::string tail =
      g.Node("Slice", {x, g.ConstInt64({length - s}), g.ConstInt64({length}), axes});
  const std::string head =
      g.Node("Slice", {x, g.ConstInt64({0}), g.ConstInt64({length - s}), axes});
  return g.Node("Concat", {tail, head}, {{"axis", axis}});
}

// Index into the relative position bias table for every (query, key) pair of a window, as
// HF's relative_position_index: (dh + w - 1) * (2w - 1) + (dw + w - 1).
std::vector<int64_t> RelativePositionIndex(int64_t w) {
  std::vector<int64_t> index;
  index.reserve(static_cast<size_t>(w * w * w * w));
  for (int64_t i = 0; i < w * w; ++i)
    for (int64_t j = 0; j < w * w; ++j) {
      const int64_t dh = i / w - j / w, dw = i % w - j % w;
      index.push_back((dh + w - 1) * (2 * w - 1) + (dw + w - 1));
    }
  return index;
}

// HF's shifted-window mask for a padded height x width grid: the grid is cut into 3 x 3 regions
// (before the last window, the last window up to the shift, the shift) and tokens of one window
// that come from different regions get -100. [windows, 1, window^2, window^2].
core::Tensor ShiftedWindowMask(int64_t height, int64_t width, int64_t window, int64_t shift) {
  auto region = [&](int64_t i, int64_t n) { return i < n - window ? 0 : (i < n - shift ? 1 : 2); };
  const int64_t nh = height / window, nw = width / window, n = window * window;
  std::vector<float> mask(static_cast<size_t>(nh * nw * n * n), 0.0f);
  for (int64_t wh = 0; wh < nh; ++wh)
    for (int64_t ww = 0; ww < nw; ++ww) {
      std::vector<int> ids;
      for (int64_t t = 0; t < n; ++t)
        ids.push_back(region(wh * window + t / window, height) * 3 +
                      region(ww * window + t % window, width));
      float* m = mask.data() + (wh * nw + ww) * n * n;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          if (ids[i] != ids[j]) m[i * n + j] = kShiftMaskValue;
    }
  return FloatTensor({nh * nw, 1, n, n}, mask);
}

// Window attention (ClapAudioAttention) on windows [batch * windows, window^2, dim].
std::string WindowAttention(GraphBuilder& g, const HtsatShape& s, const std::string& x,
                            const SwinBlockGeometry& b, int64_t windows, const std::string& mask) {
  const int64_t n = b.window * b.window, head_dim = b.dim / b.heads;
  const std::string split = g.ConstInt64({0, 0, b.heads, head_dim});
  auto heads = [&](const std::string& name, std::vector<int64_t> perm) {
    const std::string y = g.Linear(x, "attention.self." + name, b.dim, b.dim, s.qkv_bias);
    return g.Node("Transpose", {g.Node("Reshape", {y, split})}, {{"perm", perm}});
  };
  const std::string q = heads("query", {0, 2, 1, 3});  // [bw, h, n, d]
  const std::string k = heads("key", {0, 2, 3, 1});    // [bw, h, d, n]
  const std::string v = heads("value", {0, 2, 1, 3});
  std::string scores = g.Node(
      "Div", {g.Node("MatMul", {q, k}), g.ConstFloat(std::sqrt(static_cast<float>(head_dim)))});
  const int64_t span = 2 * b.window - 1;
  const std::string table = g.Weight("attention.self.relative_position_bias_table",
                                     {span * span, b.heads}, WeightInit::kZeros);
  const std::string bias = g.Node(
      "Transpose",
      {g.Node("Reshape", {g.Node("Gather", {table, g.ConstInt64(RelativePositionIndex(b.window))}),
                          g.ConstInt64({n, n, b.heads})})},
      {{"perm", std::vector<int64_t>{2, 0, 1}}});
  scores = g.Node("Add", {scores, bias});
  if (!mask.empty()) {
    scores = g.Node("Reshape", {scores, g.ConstInt64({-1, windows, b.heads, n, n})});
    scores = g.Node("Add", {scores, mask});
    scores = g.Node("Reshape", {scores, g.ConstInt64({-1, b.heads, n, n})});
  }
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  std::string ctx = g.Node("Transpose", {g.Node("MatMul", {probs, v})},
                           {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  ctx = g.Node("Reshape", {ctx, g.ConstInt64({0, 0, b.dim})});
  return g.Linear(ctx, "attention.output.dense", b.dim, b.dim);
}

// Swinv2SelfAttention's relative_coords_table [(2w - 1)^2, 2]: every (dh, dw) offset divided by
// the pretrained window - 1 (else the window - 1), times 8, then sign(x) log2(|x| + 1) / 3.
core::Tensor LogSpacedRelativeCoords(int64_t window, int64_t pretrained) {
  const int64_t span = 2 * window - 1;
  const int64_t divisor = pretrained > 0 ? pretrained - 1 : (window > 1 ? window - 1 : 1);
  auto scaled = [&](int64_t offset) {
    const float t = static_cast<float>(offset) / static_cast<float>(divisor) * 8.0f;
    const float sign = t > 0 ? 1.0f : (t < 0 ? -1.0f : 0.0f);
    return sign * std::log2(std::fabs(t) + 1.0f) / 3.0f;
  };
  std::vector<float> coords;
  for (int64_t i = 0; i < span; ++i)
    for (int64_t j = 0; j < span; ++j) {
      coords.push_back(scaled(i - (window - 1)));
      coords.push_back(scaled(j - (window - 1)));
    }
  return FloatTensor({span * span, 2}, coords);
}

// F.normalize over the last axis: x / max(||x||, 1e-12).
std::string L2Normalize(GraphBuilder& g, const std::string& x) {
  const std::string norm =
      g.Node("ReduceL2", {x}, {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  return g.Node("Div", {x, g.Node("Max", {norm, g.ConstFloat(1e-12f)})});
}

// Swinv2's bias [heads, n, n]: 16 sigmoid(continuous_position_bias_mlp(coords)) per offset.
std::string ContinuousPositionBias(GraphBuilder& g, const SwinBlockGeometry& b) {
  constexpr int64_t kHidden = 512;  // fixed in Swinv2SelfAttention
  const int64_t n = b.window * b.window;
  const std::string coords =
      g.Initializer(g.weight_prefix() + "attention.self.relative_coords_table",
                    LogSpacedRelativeCoords(b.window, b.pretrained_window));
  const std::string mlp = "attention.self.continuous_position_bias_mlp.";
  std::string table = g.Node("Relu", {g.Linear(coords, mlp + "0", 2, kHidden)});
  table = g.Linear(table, mlp + "2", kHidden, b.heads, false);
  const std::string bias = g.Node(
      "Transpose",
      {g.Node("Reshape", {g.Node("Gather", {table, g.ConstInt64(RelativePositionIndex(b.window))}),
                          g.ConstInt64({n, n, b.heads})})},
      {{"perm", std::vector<int64_t>{2, 0, 1}}});
  return g.Node("Mul", {g.Node("Sigmoid", {bias}), g.ConstFloat(16.0f)});
}

// Swinv2SelfAttention + output on windows [batch * windows, window^2, dim]: cosine similarity
// times exp(min(logit_scale, log 100)) plus the continuous bias. HF adds the shift mask twice.
std::string CosineWindowAttention(GraphBuilder& g, const HtsatShape& s, const std::string& x,
                                  const SwinBlockGeometry& b, int64_t windows,
                                  const std::string& mask) {
  const int64_t n = b.window * b.window, head_dim = b.dim / b.heads;
  const std::string split = g.ConstInt64({0, 0, b.heads, head_dim});
  const std::vector<int64_t> perm = {0, 2, 1, 3};
  auto heads = [&](const std::string& name, bool bias) {
    const std::string y = g.Linear(x, "attention.self." + name, b.dim, b.dim, bias);
    return g.Node("Transpose", {g.Node("Reshape", {y, split})}, {{"perm", perm}});
  };
  const std::string q = L2Normalize(g, heads("query", s.qkv_bias));
  const std::string k = L2Normalize(g, heads("key", false));
  const std::string v = heads("value", s.qkv_bias);
  const std::string kt = g.Node("Transpose", {k}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  const std::string logit_scale =
      g.Weight("attention.self.logit_scale", {b.heads, 1, 1}, WeightInit::kZeros);
  const std::string scale = g.Node(
      "Exp", {g.Node("Min", {logit_scale, g.ConstFloat(static_cast<float>(std::log(100.0)))})});
  std::string scores = g.Node("Mul", {g.Node("MatMul", {q, kt}), scale});
  scores = g.Node("Add", {scores, ContinuousPositionBias(g, b)});
  if (!mask.empty()) {
    scores = g.Node("Reshape", {scores, g.ConstInt64({-1, windows, b.heads, n, n})});
    scores = g.Node("Add", {g.Node("Add", {scores, mask}), mask});
    scores = g.Node("Reshape", {scores, g.ConstInt64({-1, b.heads, n, n})});
  }
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  std::string ctx = g.Node("Transpose", {g.Node("MatMul", {probs, v})}, {{"perm", perm}});
  ctx = g.Node("Reshape", {ctx, g.ConstInt64({0, 0, b.dim})});
  return g.Linear(ctx, "attention.output.dense", b.dim, b.dim);
}

// ClapAudioAFFBlock: attentional fusion of the global patches x with the local ones r.
std::string AttentionalFusion(GraphBuilder& g, const HtsatShape& s, const std::string& x,
                              const std::string& r) {
  WeightScope scope(g, "fusion_model.");
  const int64_t c = s.embed_dim, inner = s.aff_inner;
  auto branch = [&](const std::string& in, const std::string& p, int first) {
    const auto at = [&](int i) { return fmt::format("{}.{}", p, first + i); };
    std::string y = g.BatchNorm(Conv1x1(g, in, at(0), c, inner), at(1), inner, kTorchNormEps);
    y = g.Node("Relu", {y});
    return g.BatchNorm(Conv1x1(g, y, at(3), inner, c), at(4), c, kTorchNormEps);
  };
  const std::string sum = g.Node("Add", {x, r});
  const std::string local = branch(sum, "local_att", 0);
  const std::string pooled =
      g.Node("ReduceMean", {sum}, {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t{1}}});
  const std::string global = branch(pooled, "global_att", 1);  // index 0 is the pooling
  const std::string w = g.Node("Sigmoid", {g.Node("Add", {local, global})});
  const std::string two = g.ConstFloat(2.0f);
  const std::string kept = g.Node("Mul", {g.Node("Mul", {x, two}), w});
  const std::string other =
      g.Node("Mul", {g.Node("Mul", {r, two}), g.Node("Sub", {g.ConstFloat(1.0f), w})});
  return g.Node("Add", {kept, other});
}

// ClapAudioPatchEmbed on the folded spectrogram [batch, input_channels, spec_size, spec_size]:
// [batch, grid0 * grid1, embed_dim].
std::string PatchEmbed(GraphBuilder& g, const HtsatShape& s, const std::string& image,
                       const std::string& is_longer) {
  WeightScope scope(g, "patch_embed.");
  std::string patches;
  if (!s.fusion) {
    patches = HtsatConv(g, image, "proj", s.in_channels, s.embed_dim, s.patch, s.stride, s.padding);
  } else {
    const std::string channel_axis = g.ConstInt64({1});
    const std::string global_in =
        g.Node("Slice", {image, g.ConstInt64({0}), g.ConstInt64({1}), channel_axis});
    const std::string global =
        HtsatConv(g, global_in, "proj", s.in_channels, s.embed_dim, s.patch, s.stride, s.padding);
    // The other channels, each through mel_conv2d (three times wider in time), laid side by
    // side along the width and padded (or cut) to the global grid's width.
    const int64_t locals = s.input_channels - 1;
    std::string local =
        g.Node("Slice", {image, g.ConstInt64({1}), g.ConstInt64({s.input_channels}), channel_axis});
    local = g.Node("Reshape", {local, g.ConstInt64({-1, 1, s.spec_size, s.spec_size})});
    const int64_t kernel[2] = {s.patch[0], s.patch[1] * 3},
                  stride[2] = {s.stride[0], s.stride[1] * 3};
    local =
        HtsatConv(g, local, "mel_conv2d", s.in_channels, s.embed_dim, kernel, stride, s.padding);
    const int64_t local_h = (s.spec_size + 2 * s.padding[0] - kernel[0]) / stride[0] + 1;
    const int64_t local_w = (s.spec_size + 2 * s.padding[1] - kernel[1]) / stride[1] + 1;
    local = g.Node("Reshape", {local, g.ConstInt64({-1, locals, s.embed_dim, local_h, local_w})});
    local = g.Node("Transpose", {local}, {{"perm", std::vector<int64_t>{0, 2, 3, 1, 4}}});
    local = g.Node("Reshape", {local, g.ConstInt64({0, s.embed_dim, local_h, locals * local_w})});
    const int64_t extra = s.grid[1] - locals * local_w;
    if (extra > 0) local = g.Node("Pad", {local, g.ConstInt64({0, 0, 0, 0, 0, 0, 0, extra})});
    if (extra < 0)
      local =
          g.Node("Slice", {local, g.ConstInt64({0}), g.ConstInt64({s.grid[1]}), g.ConstInt64({3})});
    const std::string fused = AttentionalFusion(g, s, global, local);
    const std::string longer = g.Node("Reshape", {is_longer, g.ConstInt64({-1, 1, 1, 1})});
    patches = g.Node("Where", {longer, fused, global});
  }
  patches = g.Node("Reshape", {patches, g.ConstInt64({0, s.embed_dim, s.grid[0] * s.grid[1]})});
  patches = g.Node("Transpose", {patches}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  if (s.patch_norm) patches = g.LayerNorm(patches, "norm", s.embed_dim, kTorchNormEps);
  return patches;
}

// reshape_mel2img after the BatchNorm: bicubic (align_corners) resize to spec_width frames and
// spec_height bins where the input is smaller, then the time axis cut into freq_ratio pieces
// stacked along the frequency axis: [batch, channels, spec_size, spec_size].
std::string FoldSpectrogram(GraphBuilder& g, const HtsatShape& s, const std::string& x,
                            const Dim& time) {
  const auto* fixed = std::get_if<int64_t>(&time);
  std::string y = x;
  if (!fixed || *fixed != s.spec_width || s.mel_bins != s.spec_height) {
    // One 2-D resize equals HF's one-axis interpolations in every case HF accepts.
    const std::string batch =
        g.Node("Slice", {g.Node("Shape", {x}), g.ConstInt64({0}), g.ConstInt64({1})});
    const std::string sizes =
        g.Node("Concat", {batch, g.ConstInt64({s.input_channels, s.spec_width, s.spec_height})},
               {{"axis", int64_t{0}}});
    y = g.Node("Resize", {y, "", "", sizes},
               {{"mode", std::string("cubic")},
                {"coordinate_transformation_mode", std::string("align_corners")},
                {"cubic_coeff_a", -0.75f}});
  }
  const int64_t c = s.input_channels, r = s.freq_ratio;
  y = g.Node("Reshape", {y, g.ConstInt64({-1, c * r, s.spec_width / r, s.spec_height})});
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  return g.Node("Reshape", {y, g.ConstInt64({-1, c, s.spec_height * r, s.spec_width / r})});
}

void CheckTime(const HtsatShape& s, const Dim& time) {
  const auto* t = std::get_if<int64_t>(&time);
  if (!t) {
    if (s.mel_bins < s.spec_height)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("audio_config: num_mel_bins {} < spec_size / freq_ratio {} needs a "
                              "fixed time axis of {} frames (HF cannot resize both axes)",
                              s.mel_bins, s.spec_height, s.spec_width));
    return;
  }
  if (*t <= 0 || *t > s.spec_width)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("input_features with {} frames: the audio encoder takes 1 to {} "
                            "(spec_size * freq_ratio)",
                            *t, s.spec_width));
  if (*t < s.spec_width && s.mel_bins < s.spec_height)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("input_features with {} frames and {} mel bins: HF's "
                            "reshape_mel2img fails when both axes need resizing; give {} frames",
                            *t, s.mel_bins, s.spec_width));
}

}  // namespace

HtsatShape ReadHtsatShape(const HfConfig& c) {
  const std::string& origin = c.origin();
  HtsatShape s;
  s.spec_size = c.Int("spec_size", 256);
  s.mel_bins = c.Int("num_mel_bins", 64);
  if (s.spec_size <= 0 || s.mel_bins <= 0 || s.mel_bins > s.spec_size)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': spec_size {} and num_mel_bins {} must be positive with "
                            "num_mel_bins <= spec_size",
                            origin, s.spec_size, s.mel_bins));
  s.freq_ratio = s.spec_size / s.mel_bins;
  s.spec_width = s.spec_size * s.freq_ratio;
  s.spec_height = s.spec_size / s.freq_ratio;
  if (s.spec_height * s.freq_ratio != s.spec_size)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': spec_size {} is not a multiple of spec_size // num_mel_bins "
                            "= {}; HF's folded spectrogram would not be square",
                            origin, s.spec_size, s.freq_ratio));
  s.in_channels = c.Int("patch_embed_input_channels", 1);
  IntPair(c, "patch_size", 4, s.patch);
  IntPair(c, "patch_stride", 4, s.stride);
  for (int a = 0; a < 2; ++a) {
    s.padding[a] = (s.patch[a] - s.stride[a]) / 2;
    s.grid[a] = s.spec_size / s.stride[a];
    const int64_t conv = (s.spec_size + 2 * s.padding[a] - s.patch[a]) / s.stride[a] + 1;
    if (s.padding[a] < 0 || conv != s.grid[a])
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': patch_size {} with patch_stride {} gives {} patches where "
                              "HF expects spec_size / patch_stride = {}",
                              origin, s.patch[a], s.stride[a], conv, s.grid[a]));
  }
  s.embed_dim = c.Int("patch_embeds_hidden_size", 96);
  s.depths = HtsatIntList(c, "depths", {2, 2, 6, 2});
  s.heads = HtsatIntList(c, "num_attention_heads", {4, 8, 16, 32});
  if (s.depths.size() != s.heads.size())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': depths has {} stages but num_attention_heads {}", origin,
                            s.depths.size(), s.heads.size()));
  s.window = c.Int("window_size", 8);
  s.mlp_ratio = c.Double("mlp_ratio", 4.0);
  s.qkv_bias = c.Bool("qkv_bias", true);
  s.patch_norm = c.Bool("enable_patch_layer_norm", true);
  s.eps = c.Double("layer_norm_eps", 1e-5);
  s.act = c.String("hidden_act", "gelu");
  s.hidden_size = c.Int("hidden_size", 768);
  s.fusion = c.Bool("enable_fusion", false);
  s.input_channels = s.fusion ? 4 : s.in_channels;
  if (!c.Bool("flatten_patch_embeds", true))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': flatten_patch_embeds=false is not supported (HF's Swin stages "
                            "need flattened patches)",
                            origin));
  if (s.fusion) {
    const std::string type = c.String("fusion_type", "");
    if (type == "channel_map")
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': enable_fusion with fusion_type=channel_map is not "
                              "supported (HF's patch embedding cannot run it either)",
                              origin));
    if (s.in_channels != 1)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': enable_fusion with patch_embed_input_channels={} is not "
                              "supported (HF's fusion feeds one channel per conv)",
                              origin, s.in_channels));
    s.aff_inner = s.embed_dim / c.Int("aff_block_r", 4);
    if (s.aff_inner <= 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': aff_block_r leaves the fusion block no channels", origin));
  }

  const auto stages = static_cast<int64_t>(s.depths.size());
  if (stages == 0 || s.embed_dim <= 0 || s.window <= 0 || s.in_channels <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': depths, patch_embeds_hidden_size, window_size and "
                            "patch_embed_input_channels must be non-empty and positive",
                            origin));
  for (int64_t i = 0; i < stages; ++i) {
    const int64_t dim = s.embed_dim << i, h = s.grid[0] >> i, w = s.grid[1] >> i;
    if (s.heads[i] <= 0 || dim % s.heads[i] != 0 || s.depths[i] < 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': stage {} width {} is not a multiple of its {} heads", origin,
                              i, dim, s.heads[i]));
    if (std::min(h, w) < s.window)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': window_size {} is larger than stage {}'s {}x{} patches; HF's "
                              "relative position bias cannot run it",
                              origin, s.window, i, h, w));
    if (i + 1 < stages && (h % 2 != 0 || w % 2 != 0))
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': stage {} has {}x{} patches; HF's patch merging needs even "
                              "sizes",
                              origin, i, h, w));
  }
  s.num_features = s.embed_dim << (stages - 1);
  // HF reshapes the last stage into (frequency, time) and groups the frequencies before pooling;
  // the mean does not depend on the grouping, but HF fails where the reshape does.
  const int64_t scale = int64_t{1} << (stages - 1);
  const int64_t freq = s.spec_size / scale / s.stride[0],
                temporal = s.spec_size / scale / s.stride[1];
  const int64_t bins = freq / s.freq_ratio;
  if (freq * temporal != (s.grid[0] >> (stages - 1)) * (s.grid[1] >> (stages - 1)) || bins <= 0 ||
      freq % bins != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': the last stage's {}x{} patches cannot be grouped into "
                            "freq_ratio {} as HF's pooling does",
                            origin, freq, temporal, s.freq_ratio));
  if (s.hidden_size != s.num_features)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} differs from the encoder's output width "
                            "patch_embeds_hidden_size * 2^(stages-1) = {}",
                            origin, s.hidden_size, s.num_features));
  if (s.mlp_ratio <= 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': mlp_ratio must be positive", origin));
  return s;
}

// ClapAudioPatchMerging: 2 x 2 neighbours concatenated in HF's order (0,0) (1,0) (0,1) (1,1),
// LayerNorm, then a bias-free linear to 2 * dim. x [batch, height * width, dim].
std::string SwinPatchMerging(GraphBuilder& g, const std::string& x, int64_t height, int64_t width,
                             int64_t dim, bool norm_after) {
  std::string y = g.Node("Reshape", {x, g.ConstInt64({-1, height / 2, 2, width / 2, 2, dim})});
  // [b, h/2, dh, w/2, dw, c] -> [b, h/2, w/2, dw, dh, c]: dh varies fastest in the concat.
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 1, 3, 4, 2, 5}}});
  y = g.Node("Reshape", {y, g.ConstInt64({-1, (height / 2) * (width / 2), 4 * dim})});
  if (norm_after) {
    y = g.Linear(y, "downsample.reduction", 4 * dim, 2 * dim, false);
    return g.LayerNorm(y, "downsample.norm", 2 * dim, kTorchNormEps);
  }
  y = g.LayerNorm(y, "downsample.norm", 4 * dim, kTorchNormEps);
  return g.Linear(y, "downsample.reduction", 4 * dim, 2 * dim, false);
}

// The attention branch of a block on y [batch, height * width, dim]: padded to whole windows,
// rolled back by the shift, attended per window, then put back.
std::string ShiftedWindowAttention(GraphBuilder& g, const HtsatShape& s, std::string y,
                                   const SwinBlockGeometry& b) {
  const int64_t ws = b.window, c = b.dim;
  const int64_t hp = (b.height + ws - 1) / ws * ws, wp = (b.width + ws - 1) / ws * ws;
  const int64_t windows = (hp / ws) * (wp / ws);
  y = g.Node("Reshape", {y, g.ConstInt64({-1, b.height, b.width, c})});
  if (hp != b.height || wp != b.width)
    y = g.Node("Pad", {y, g.ConstInt64({0, 0, 0, 0, 0, hp - b.height, wp - b.width, 0})});
  y = Roll(g, Roll(g, y, 1, hp, -b.shift), 2, wp, -b.shift);
  // Partition into windows [batch * windows, ws * ws, c].
  y = g.Node("Reshape", {y, g.ConstInt64({-1, hp / ws, ws, wp / ws, ws, c})});
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 1, 3, 2, 4, 5}}});
  y = g.Node("Reshape", {y, g.ConstInt64({-1, ws * ws, c})});
  std::string mask;
  if (b.shift > 0)
    mask = g.Initializer(g.weight_prefix() + "shifted_window_mask",
                         ShiftedWindowMask(hp, wp, ws, b.shift));
  y = s.swinv2 ? CosineWindowAttention(g, s, y, b, windows, mask)
               : WindowAttention(g, s, y, b, windows, mask);
  // Windows back to the grid, the shift undone, the padding dropped.
  y = g.Node("Reshape", {y, g.ConstInt64({-1, hp / ws, wp / ws, ws, ws, c})});
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 1, 3, 2, 4, 5}}});
  y = g.Node("Reshape", {y, g.ConstInt64({-1, hp, wp, c})});
  y = Roll(g, Roll(g, y, 1, hp, b.shift), 2, wp, b.shift);
  if (hp != b.height || wp != b.width)
    y = g.Node("Slice",
               {y, g.ConstInt64({0, 0}), g.ConstInt64({b.height, b.width}), g.ConstInt64({1, 2})});
  return g.Node("Reshape", {y, g.ConstInt64({-1, b.height * b.width, c})});
}

std::string HtsatSwinBlock(GraphBuilder& g, const HtsatShape& s, const std::string& x,
                           const SwinBlockGeometry& b, const std::string& prefix) {
  WeightScope scope(g, prefix);
  const int64_t c = b.dim;
  const auto inner = static_cast<int64_t>(s.mlp_ratio * static_cast<double>(c));
  auto mlp = [&](const std::string& in) {
    return g.Linear(Activation(g, g.Linear(in, "intermediate.dense", c, inner), s.act),
                    "output.dense", inner, c);
  };
  if (s.swinv2) {  // res-post-norm: each branch is normed before its residual add
    const std::string attended = ShiftedWindowAttention(g, s, x, b);
    const std::string h = g.Node("Add", {x, g.LayerNorm(attended, "layernorm_before", c, s.eps)});
    return g.Node("Add", {h, g.LayerNorm(mlp(h), "layernorm_after", c, s.eps)});
  }
  const std::string y =
      ShiftedWindowAttention(g, s, g.LayerNorm(x, "layernorm_before", c, s.eps), b);
  const std::string h = g.Node("Add", {x, y});
  return g.Node("Add", {h, mlp(g.LayerNorm(h, "layernorm_after", c, s.eps))});
}

std::string BuildHtsat(GraphBuilder& g, const HtsatShape& s, const std::string& features,
                       const Dim& time, const std::string& is_longer) {
  return BuildHtsatOutputs(g, s, features, time, is_longer).pooled;
}

HtsatOutputs BuildHtsatOutputs(GraphBuilder& g, const HtsatShape& s, const std::string& features,
                               const Dim& time, const std::string& is_longer) {
  CheckTime(s, time);
  WeightScope scope(g, "audio_encoder.");
  // batch_norm (bn0) over the mel bins: HF moves them to the channel axis and back.
  const std::vector<int64_t> swap = {0, 3, 2, 1};
  std::string x = g.Node("Transpose", {features}, {{"perm", swap}});
  x = g.BatchNorm(x, "batch_norm", s.mel_bins, kTorchNormEps);
  x = g.Node("Transpose", {x}, {{"perm", swap}});
  x = FoldSpectrogram(g, s, x, time);
  std::string h = PatchEmbed(g, s, x, is_longer);

  const auto stages = static_cast<int64_t>(s.depths.size());
  for (int64_t i = 0; i < stages; ++i) {
    SwinBlockGeometry b;
    b.height = s.grid[0] >> i;
    b.width = s.grid[1] >> i;
    b.dim = s.embed_dim << i;
    b.heads = s.heads[i];
    b.window = s.window;
    // A stage no larger than one window is not shifted (set_shift_and_window_size).
    const bool shifts = std::min(b.height, b.width) > s.window;
    for (int64_t j = 0; j < s.depths[i]; ++j) {
      b.shift = shifts && j % 2 == 1 ? s.window / 2 : 0;
      h = HtsatSwinBlock(g, s, h, b, fmt::format("layers.{}.blocks.{}.", i, j));
    }
    if (i + 1 < stages) {
      WeightScope stage(g, fmt::format("layers.{}.", i));
      h = SwinPatchMerging(g, h, b.height, b.width, b.dim);
    }
  }
  h = g.LayerNorm(h, "norm", s.num_features, kTorchNormEps);
  // HF's latent: the average over every patch of the last stage.
  return {h,
          g.Node("ReduceMean", {h}, {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}})};
}

}  // namespace ipfs_accel::models
