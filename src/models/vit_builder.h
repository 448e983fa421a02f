#pragma once
// ViTModel and DeiTModel as ONNX graphs, from one builder: a Conv2d patch embedding, a CLS token
// (DeiT: and a distillation token after it), learned position embeddings, pre-norm layers
// (layernorm_before / layernorm_after), a final layernorm and, when the model has one, the pooler
// (dense + pooler_act on token 0, which is the CLS token in both).
// Input pixel_values [batch, num_channels, image_height, image_width] float; outputs
// last_hidden_state [batch, 1 (+1) + patches, hidden] [, pooler_output [batch,
// pooler_output_size]].

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

enum class VitKind {
  kViT,   // embeddings.cls_token
  kDeiT,  // embeddings.cls_token, embeddings.distillation_token
};

// The sizes a ViTConfig / DeiTConfig gives (their defaults filled in) and checked. image_size
// and patch_size may be one int or [height, width], as HF accepts.
struct VitShape {
  int64_t hidden, layers, heads, intermediate, channels;
  int64_t image_h, image_w, patch_h, patch_w;
  int64_t pooler_size;
  double eps;
  std::string act, pooler_act;
  bool qkv_bias;
  int64_t patches() const { return (image_h / patch_h) * (image_w / patch_w); }
};
// Throws core::Error: kCorrupt (sizes that do not fit together).
VitShape ReadVitShape(const HfConfig& config);

// Whether the checkpoint's class builds its base model with the pooler: HF's image-classification
// and masked-image-modeling heads make ViTModel/DeiTModel with add_pooling_layer=False, so their
// checkpoints have no pooler weights; ViTModel/DeiTModel (and a config naming no class) have it.
bool VitHasPooler(const HfConfig& config);

// Weights by the base model's names ("embeddings.cls_token", "encoder.layer.N.attention.attention
// .query.weight", "layernorm.weight", "pooler.dense.weight"); a task head's prefix ("vit.",
// "deit.") is the weight provider's business.
void BuildVit(const HfConfig& config, VitKind kind, bool pooler, GraphBuilder& g);

}  // namespace ipfs_accel::models
