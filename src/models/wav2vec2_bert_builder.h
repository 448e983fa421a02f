#pragma once
// Wav2Vec2-BERT (HF Wav2Vec2BertModel) as an ONNX graph: input_features [batch, frames,
// feature_projection_input_dim] (fbank stacks) and attention_mask [batch, frames];
// feature_projection (layer_norm, projection), then conformer layers (half-step ffn1, self-
// attention with Shaw "relative_key" distances: distance_embedding rows for key - query clamped to
// [-left_max_position_embeddings, right_max_position_embeddings], q . e added to the scores over
// sqrt(head_size); a convolution module with a causal depthwise conv and depthwise_layer_norm;
// half-step ffn2; final_layer_norm), no encoder LayerNorm. Outputs last_hidden_state [batch,
// frames, hidden] and extract_features (the normed input features).

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Weight names are Wav2Vec2BertModel's ("feature_projection.projection.weight",
// "encoder.layers.0.self_attn.distance_embedding.weight", ...). Throws core::Error(kUnsupported)
// for a position_embeddings_type other than relative_key, the adapter or the intermediate ffn.
void BuildWav2Vec2Bert(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
