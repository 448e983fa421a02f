#pragma once
// Pix2StructVisionModel and Kosmos2_5VisionModel (the same structure) as ONNX graphs: patches
// that arrive flattened, each row [row index, column index, patch values...], projected and
// summed with learned row and column embeddings; T5-style pre-norm layers (RMS norms without
// bias, query/key/value/output without bias, a gated-activation MLP wi_0/wi_1/wo) attending
// only to patches whose values are not all zero; a final RMS norm.
//   input  flattened_patches float32 [batch, patches, 2 + patch_embed_hidden_size]
//   output last_hidden_state [batch, patches, hidden_size]
// Weight names are the vision model's ("embeddings.patch_projection.weight",
// "encoder.layer.N.attention.query.weight", "encoder.layer.N.mlp.wi_0.weight", "layernorm.weight").

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {

// Sizes from the config's Pix2StructVisionConfig keys: hidden_size, patch_embed_hidden_size,
// d_ff, d_kv, num_hidden_layers, num_attention_heads, dense_act_fn, layer_norm_eps, seq_len
// (the row and column tables; Kosmos-2.5 maps its keys onto these with attribute_map). Piece
// `attention_scale`: "none" (Pix2Struct: Mesh TensorFlow's unscaled scores, the default) or
// "inverse_sqrt" (Kosmos-2.5: scores times d_kv^-0.5). Throws core::Error: kCorrupt (sizes
// that do not fit), kCorrupt naming a piece value it does not know.
void BuildPix2StructVision(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// Generated flattened_patches: patch i of a row-major grid as wide as the square root of the
// patch count (rounded up), its row and column indices counted from 1 as HF's image processor
// writes them, its values seeded in [-1, 1).
std::map<std::string, InputHint> Pix2StructVisionHints(const HfConfig& config);

}  // namespace ipfs_accel::models
