#pragma once
// Hugging Face's own ResNet (modeling_resnet.py) as ONNX graphs: the stem (7x7 stride-2
// convolution, BatchNorm, activation, 3x3 stride-2 max pool), then stages of basic (two 3x3)
// or bottleneck (1x1, 3x3, 1x1) layers with a projection shortcut where the shape changes.
// BatchNorm is the inference form (BatchNormalization with the running statistics, eps 1e-5);
// ONNX Runtime folds it into the convolution.
//
// BuildResNet is ResNetModel: input pixel_values [batch, num_channels, height, width] float,
// outputs last_hidden_state [batch, hidden_sizes[-1], h/32, w/32] and pooler_output
// [batch, hidden_sizes[-1], 1, 1] (AdaptiveAvgPool2d((1, 1))). BuildResNetFeatures is the
// same network as a backbone (ResNetBackbone, or timm's resnet for DETR's timm configs).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Parameter names of the network.
enum class ResNetNames {
  kHf,    // embedder.embedder.convolution, encoder.stages.S.layers.L.layer.K.convolution, ...
  kTimm,  // timm's resnet: conv1, bn1, layerS.L.convK, layerS.L.bnK, layerS.L.downsample.0/1
};

// A config's list of integers (hidden_sizes, depths, out_indices), or `fallback` when the key is
// absent. Throws core::Error(kCorrupt) naming the key for anything but a non-empty list of ints.
std::vector<int64_t> ConfigIntList(const HfConfig& c, const std::string& key,
                                   std::vector<int64_t> fallback);

// A ResNetConfig's sizes, its defaults filled in and checked.
struct ResNetShape {
  int64_t num_channels = 3;
  int64_t embedding_size = 64;
  std::vector<int64_t> hidden_sizes = {256, 512, 1024, 2048};
  std::vector<int64_t> depths = {3, 4, 6, 3};
  bool bottleneck = true;  // layer_type "bottleneck"; false: "basic"
  std::string hidden_act = "relu";
  bool downsample_in_first_stage = false;
  bool downsample_in_bottleneck = false;  // stride on the first 1x1 instead of the 3x3
  // The feature map a backbone hands on: the last of out_features / out_indices, as an index
  // into stem, stage1, ..., stageN (HF's default: the last stage).
  int64_t out_index = 4;
  ResNetNames names = ResNetNames::kHf;
};

// Reads a ResNetConfig (model_type "resnet"). Throws core::Error: kCorrupt (sizes that do not
// fit together, out_features naming no stage), kUnsupported (an unknown layer_type).
ResNetShape ReadResNetShape(const HfConfig& config);

// The same network as timm's resnet18/34/50/101/152 (what DETR's use_timm_backbone configs
// name), with timm's parameter names. Throws core::Error(kUnsupported) for other names.
ResNetShape TimmResNetShape(const std::string& timm_name, const std::string& origin);

struct ResNetOptions {
  // DETR's DetrFrozenBatchNorm2d: weight and bias are buffers too, so they are not counted
  // as parameters (HF counts BatchNorm's weight and bias otherwise; running stats never).
  bool frozen_batch_norm = false;
};

// Hidden states of the network on `pixel_values` (weights under the builder's prefix):
// [0] the stem's output (HF: after the max pool; timm's feature 0: before it), [i] stage i's.
std::vector<std::string> BuildResNetFeatures(GraphBuilder& g, const ResNetShape& shape,
                                             const std::string& pixel_values,
                                             const ResNetOptions& options = {});

// Channels of hidden state i.
int64_t ResNetFeatureChannels(const ResNetShape& shape, int64_t index);

// The spatial dims of pixel_values: fixed when the config has image_size (a catalog entry's
// benchmark size), else symbolic "height" and "width" (a HF folder: any size runs; benchmarks
// give them with --shape height=H --shape width=W).
std::pair<Dim, Dim> ImageDims(const HfConfig& config);

// ResNetModel (see the file comment).
void BuildResNet(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
