#pragma once
// VitDetModel (ViTDet's plain ViT backbone) as an ONNX graph, for the configs without windowed
// attention, relative positions or residual blocks (VitDetConfig's defaults): a patch
// convolution with bias, the absolute positions of the pretraining grid without their class
// row, pre-norm layers (norm1, one fused attention.qkv, attention.proj, norm2, mlp.fc1/fc2
// int(hidden_size * mlp_ratio) wide) and no final norm.
//   input  pixel_values float32 [batch, num_channels, image_size, image_size]
//   output last_hidden_state [batch, hidden_size, image_size / patch, image_size / patch]

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Sizes from VitDetConfig's keys. Throws core::Error: kCorrupt (sizes that do not fit),
// kUnsupported for window_block_indices, residual_block_indices or
// use_relative_position_embeddings, and for a patch grid unlike pretrain_image_size's (HF
// resamples the positions bicubically).
void BuildVitDet(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
