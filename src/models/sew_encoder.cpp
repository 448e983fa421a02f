#include "sew_encoder.h"

#include <vector>

#include "activation.h"

namespace ipfs_accel::models {

namespace {

// The length of axis 2 of `x` as a 1-D one-element tensor.
std::string Length(GraphBuilder& g, const std::string& x, int64_t axis) {
  return g.Node("Shape", {x}, {{"start", axis}, {"end", axis + 1}});
}

// SEWPositionalConvEmbedding on [batch, hidden, frames]: the weight-normed grouped conv with
// stride squeeze_factor, SamePad, feat_extract_activation.
std::string SqueezedPositions(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x) {
  const std::string prefix = "encoder.pos_conv_embed.conv";
  const std::string kernel = Wav2Vec2PositionalKernel(g, s, prefix);
  const std::string bias = g.Weight(prefix + ".bias", {s.hidden}, WeightInit::kZeros);
  std::string y = g.Node("Conv", {x, kernel, bias},
                         {{"kernel_shape", std::vector<int64_t>{s.pos_kernel}},
                          {"pads", std::vector<int64_t>{s.pos_kernel / 2, s.pos_kernel / 2}},
                          {"strides", std::vector<int64_t>{s.squeeze_factor}},
                          {"group", s.pos_groups}});
  if (s.pos_kernel % 2 == 0)
    y = g.Node("Slice", {y, g.ConstInt64({0}), g.ConstInt64({-1}), g.ConstInt64({2})});
  return Activation(g, y, s.feat_act);
}

// SEWUpsampling, then zero frames at the end up to `frames` (the input's length).
std::string Upsample(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                     const std::string& frames) {
  std::string h = g.Linear(x, "encoder.upsample.projection", s.hidden, s.hidden * s.squeeze_factor);
  h = Activation(g, h, s.feat_act);
  h = g.Node("Reshape", {h, g.ConstInt64({0, -1, s.hidden})});
  const std::string missing =
      g.Node("Max", {g.Node("Sub", {frames, Length(g, h, 1)}), g.ConstInt64({0})});
  const std::string pads = g.Node(
      "Concat", {g.ConstInt64({0, 0, 0, 0}), missing, g.ConstInt64({0})}, {{"axis", int64_t{0}}});
  return g.Node("Pad", {h, pads});
}

}  // namespace

std::string SewFeatureProjection(GraphBuilder& g, const Wav2Vec2Shape& s,
                                 const std::string& features) {
  const int64_t feature_dim = s.conv_dim.back();
  const std::string normed = g.LayerNorm(features, "layer_norm", feature_dim, s.feature_eps);
  if (feature_dim == s.hidden) return normed;
  return g.Linear(normed, "feature_projection", feature_dim, s.hidden);
}

std::string SewEncoder(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                       const std::string& mask) {
  const std::string frames = Length(g, x, 1);
  const std::string channels_first = Transpose(g, x, {0, 2, 1});
  const std::string positions = SqueezedPositions(g, s, channels_first);
  const std::string pooled = g.Node("AveragePool", {channels_first},
                                    {{"kernel_shape", std::vector<int64_t>{s.squeeze_factor}},
                                     {"strides", std::vector<int64_t>{s.squeeze_factor}}});
  // The conv and the pool may differ by a frame: both are cut to the shorter.
  const std::string shorter = g.Node("Min", {Length(g, positions, 2), Length(g, pooled, 2)});
  auto cut = [&](const std::string& t) {
    return g.Node("Slice", {t, g.ConstInt64({0}), shorter, g.ConstInt64({2})});
  };
  std::string h = Transpose(g, g.Node("Add", {cut(pooled), cut(positions)}), {0, 2, 1});
  if (s.sew_d) {  // SEWDTransformerEncoder; without a padding mask XSoftmax zeroes nothing
    WeightScope scope(g, "encoder.encoder.");
    h = DebertaEncoder(g, s.deberta, h, "", true);
  } else {
    h = g.LayerNorm(h, "encoder.layer_norm", s.hidden, s.eps);
    for (int64_t l = 0; l < s.layers; ++l) h = Wav2Vec2EncoderLayer(g, s, h, l, mask);
  }
  return Upsample(g, s, h, frames);
}

}  // namespace ipfs_accel::models
