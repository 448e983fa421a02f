#pragma once
// DETR (modeling_detr.py) as ONNX graphs: DetrModel and DetrForObjectDetection.
//
// A ResNet backbone (resnet_builder.h) under "backbone.conv_encoder.model." with every
// BatchNorm frozen (DetrFrozenBatchNorm2d: weight, bias and statistics are buffers, so not
// parameters) hands on one feature map (the last of the backbone's out_features). pixel_mask
// is resized to it (nearest), a 1x1 input_projection maps it to d_model, and the flattened
// map goes through post-norm encoder layers whose self-attention adds the 2-D position
// embeddings (sine from the resized mask, or learned rows/columns) to queries and keys only.
// The decoder starts from zeros, adds the learned object queries (query_position_embeddings)
// to its self-attention's queries and keys and to its cross-attention's queries, the spatial
// position embeddings to the cross-attention's keys, and ends in a LayerNorm.
// DetrForObjectDetection adds class_labels_classifier (num_labels + 1, the last "no object")
// and bbox_predictor (a 3-layer ReLU MLP, then sigmoid: cx, cy, w, h in [0, 1]).
//
// Inputs pixel_values [batch, num_channels, height, width] float and pixel_mask
// [batch, height, width] int64 (1 = real pixel). Outputs: DetrModel last_hidden_state
// [batch, num_queries, d_model]; DetrForObjectDetection logits [batch, num_queries,
// num_labels + 1], pred_boxes [batch, num_queries, 4] and last_hidden_state.

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"
#include "resnet_builder.h"

namespace ipfs_accel::models {

// A DetrConfig's sizes, its defaults filled in and checked.
struct DetrShape {
  int64_t d_model = 256;
  int64_t encoder_layers = 6, decoder_layers = 6;
  int64_t encoder_heads = 8, decoder_heads = 8;
  int64_t encoder_ffn = 2048, decoder_ffn = 2048;
  int64_t num_queries = 100;
  int64_t num_channels = 3;  // pixel_values' channels (the backbone's)
  std::string activation = "relu";
  bool learned_positions = false;  // position_embedding_type "learned"; else "sine"
  // DetrForObjectDetection when config.json's architectures names it; else DetrModel.
  bool detection_head = false;
  int64_t num_labels = 2;  // len(id2label), else num_labels, else PretrainedConfig's 2
  ResNetShape backbone;
};

// Throws core::Error: kCorrupt (sizes that do not fit together), kUnsupported (a backbone
// other than HF's ResNet or timm's resnet18..152, dilation, DetrForSegmentation, ...).
DetrShape ReadDetrShape(const HfConfig& config);

// DetrModel or DetrForObjectDetection (see the file comment). Weight names are the bare
// model's ("backbone.conv_encoder.model.embedder...", "encoder.layers.0..."), the heads'
// at the top level ("class_labels_classifier.weight").
void BuildDetr(const HfConfig& config, GraphBuilder& g);

// Pieces of BuildDetr, exposed for tests.
// pixel_mask [batch, H, W] int64 resized to feature_map's [h, w] as HF does it
// (interpolate(pixel_mask[None].float(), size=(h, w)): nearest, source index floor(i * H / h)),
// then made boolean: [batch, h, w] float 0/1.
std::string DetrResizedMask(GraphBuilder& g, const std::string& pixel_mask,
                            const std::string& feature_map);
// DetrSinePositionEmbedding(d_model / 2, normalize=True, scale 2 pi, temperature 10000) of a
// resized mask: [batch, h * w, d_model], y's features then x's, each sin at even indices and
// cos at odd ones of position / 10000^(2 floor(i / 2) / (d_model / 2)), position the mask's
// running count along the axis over its total (+1e-6), times 2 pi.
std::string DetrSinePositions(GraphBuilder& g, const std::string& mask, int64_t d_model);
// DetrLearnedPositionEmbedding(d_model / 2) for feature_map's h x w (at most 50 x 50): at
// y * w + x, column_embeddings[x] then row_embeddings[y] ("backbone.position_embedding.*"):
// [1, h * w, d_model].
std::string DetrLearnedPositions(GraphBuilder& g, const std::string& feature_map, int64_t d_model);

}  // namespace ipfs_accel::models
