#pragma once
// NystromformerModel as an ONNX graph, as transformers 5.x defines it: BERT's embeddings with
// position ids counted from 2, post-norm BERT layers whose attention scales q and k by
// head_dim^-1/4 each and is softmax attention when num_landmarks equals segment_means_seq_len,
// else the Nystrom approximation (segment means of q and k as num_landmarks landmarks, kernels
// softmax(q k_l^T), softmax(q_l k_l^T), softmax(q_l k^T + mask), the middle one inverted by six
// Newton-Schulz iterations from 1 / max column sum x K^T, HF's "original" start), plus, with
// conv_kernel_size, a depthwise convolution over each head's values along the sequence
// (attention.self.conv, no bias). The Nystrom form reshapes by segment_means_seq_len as HF does, so
// its graph's sequence axis is fixed to that length. No pooler: NystromformerModel has none.
// Inputs input_ids, attention_mask, token_type_ids [batch, sequence]; output last_hidden_state.

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Throws core::Error: kCorrupt (sizes that do not fit together), kUnsupported
// (inv_coeff_init_option, whose HF code path reads a key no config has).
void BuildNystromformer(const HfConfig& config, GraphBuilder& g);

// vocab_size and type_vocab_size for the input hints; the fixed sequence length (0: any).
int64_t NystromformerVocab(const HfConfig& config);
int64_t NystromformerTypeVocab(const HfConfig& config);
int64_t NystromformerFixedSequence(const HfConfig& config);

}  // namespace ipfs_accel::models
