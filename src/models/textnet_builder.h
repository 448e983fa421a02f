#pragma once
// TextNetModel (modeling_textnet.py) as an ONNX graph (docs/templates.md, builder "textnet"): a
// conv + BatchNorm + activation stem, then stages of re-parameterisable layers (a kh x kw conv,
// a kh x 1 and a 1 x kw conv where the kernel has that extent, each with BatchNorm, plus a
// BatchNorm of the input where shapes allow, summed, then ReLU), and AdaptiveAvgPool2d((2, 2)).
// Input pixel_values [batch, stem_num_channels, H, W] at the config's image_size; outputs
// last_hidden_state [batch, hidden_sizes[-1], h, w] and pooler_output [batch, C, 2, 2].

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error: kCorrupt for sizes that do not fit together (a stage's
// kernels and strides of different lengths, hidden_sizes not one longer than the stages,
// stem_out_channels other than hidden_sizes[0]).
void BuildTextNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

}  // namespace ipfs_accel::models
