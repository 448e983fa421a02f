#pragma once
// nn.Conv2d as an ONNX Conv node with HF's weight names, for the convolutional builders
// (ConvNeXt, Mix Transformer, PoolFormer, MobileNet).

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct Conv2dSpec {
  int64_t in = 0, out = 0, kernel = 1, stride = 1;
  std::vector<int64_t> pads = {0, 0, 0, 0};  // ONNX order: top, left, bottom, right
  int64_t groups = 1;
  bool bias = true;
  int64_t dilation = 1;
};

// `prefix.weight` [out, in / groups, kernel, kernel] (and `prefix.bias` [out]) over x [b, in,
// h, w].
std::string Conv2d(GraphBuilder& g, const std::string& x, const std::string& prefix,
                   const Conv2dSpec& spec);
// The common case: the same padding on every side.
std::string Conv2d(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                   int64_t out, int64_t kernel, int64_t stride, int64_t pad, int64_t groups = 1);

// [b, c, h, w] <-> [b, h, w, c].
std::string ToChannelsLast(GraphBuilder& g, const std::string& x);
std::string ToChannelsFirst(GraphBuilder& g, const std::string& x);
// A LayerNorm over the channel axis of [b, c, h, w] (ConvNextLayerNorm and SamLayerNorm with
// data_format="channels_first"), weights `prefix.weight` / `prefix.bias`.
std::string ChannelsFirstNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                              int64_t channels, double eps);

// HF's convolution-normalisation-activation layer (MobileNetV1ConvLayer, RegNetConvLayer):
// prefix.convolution (spec.bias is ignored: none), prefix.normalization (BatchNorm2d in inference
// form, its running statistics as buffers), then `act` ("" for none; "relu6" is Clip(0, 6)).
std::string ConvNormAct(GraphBuilder& g, const std::string& x, const std::string& prefix,
                        Conv2dSpec spec, double eps, const std::string& act);

// A convolutional backbone's outputs (RegNetModel, BitModel): last_hidden_state = x [batch,
// channels, height, width] and pooler_output, its AdaptiveAvgPool2d((1, 1)) [batch, channels,
// 1, 1].
void FeatureMapOutputs(GraphBuilder& g, const std::string& x, int64_t channels, const Dim& height,
                       const Dim& width);

// Squeeze-and-excitation (EfficientNet, PP-LCNet): x times gate(expand(act(reduce(m)))), m the
// mean of x over height and width, `reduce` and `expand` biased 1x1 convs dim -> squeezed -> dim
// (weights `reduce.weight`, ...); gate "sigmoid" or "hardsigmoid" (nn.Hardsigmoid: relu6(x + 3)
// / 6).
std::string SqueezeExcitation(GraphBuilder& g, const std::string& x, const std::string& reduce,
                              const std::string& expand, int64_t dim, int64_t squeezed,
                              const std::string& act, const std::string& gate);

// The learnable affine block of HGNetV2 and PP-LCNet (LearnableAffineBlock): x * scale + bias,
// weights `prefix.scale` and `prefix.bias` of one element each.
std::string LearnableAffine(GraphBuilder& g, const std::string& x, const std::string& prefix);

// make_divisible of MobileNetV2, EfficientNet (round_filters) and PP-LCNet: `value` to the
// nearest multiple of `divisor` (Python's int(value + divisor / 2) // divisor * divisor), at
// least `min_value`, plus `divisor` when that is more than 10% below `value`.
int64_t MakeDivisible(double value, int64_t divisor, int64_t min_value);

// A backbone's (BackboneMixin's) selected feature maps as indices into its stage_names, stem
// being 0 and stageN N: from out_features (names), else out_indices (negative from the end), else
// the last stage, as get_aligned_output_features_output_indices chooses. Throws
// core::Error(kCorrupt) naming a stage or index that does not exist.
std::vector<int64_t> BackboneOutIndices(const HfConfig& config, int64_t stages);

// One hidden state of a backbone: the map [batch, channels, height, width].
struct FeatureMap {
  std::string x;
  int64_t channels = 0;
  Dim height, width;
};

// A backbone's BackboneOutput: outputs feature_maps.K, the K-th selected of `states` (stem,
// stage1, ..., by BackboneOutIndices(config, states.size() - 1)).
void BackboneOutputs(GraphBuilder& g, const HfConfig& config,
                     const std::vector<FeatureMap>& states);

}  // namespace ipfs_accel::models
