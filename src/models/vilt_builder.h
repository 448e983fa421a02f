#pragma once
// ViltModel as an ONNX graph, as transformers 5.x defines it: the text's BERT embeddings
// (embeddings.text_embeddings.*) plus modality type 0, then the image's: the patch convolution,
// the class token, the learned position table (its patch grid resized bilinearly with
// align_corners to the image's patch grid, as ViltEmbeddings.visual_embed does; the identity at
// image_size) and modality type 1 (embeddings.token_type_embeddings), text first; ViT's pre-norm
// layers (layernorm_before, attention.attention.query/key/value, attention.output.dense,
// layernorm_after, intermediate.dense, output.dense), the final layernorm and a tanh pooler on the
// first token. Every pixel is real (HF's pixel_mask default, not an input), so every patch is
// kept; HF keeps them in a random order (torch.multinomial), which only permutes the image tokens:
// here they are in row-major order.
// Inputs input_ids, attention_mask, token_type_ids [batch, sequence], pixel_values [batch,
// num_channels, height, width]; outputs last_hidden_state [batch, sequence + 1 + patches, hidden]
// and pooler_output [batch, hidden].

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Throws core::Error(kCorrupt) for sizes that do not fit together.
void BuildVilt(const HfConfig& config, GraphBuilder& g);

// vocab_size and type_vocab_size, for the input hints.
int64_t ViltVocab(const HfConfig& config);
int64_t ViltTypeVocab(const HfConfig& config);

}  // namespace ipfs_accel::models
