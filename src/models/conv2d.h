#pragma once
// nn.Conv2d as an ONNX Conv node with HF's weight names, for the convolutional builders
// (ConvNeXt, Mix Transformer, PoolFormer, MobileNet).

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"

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

}  // namespace ipfs_accel::models
