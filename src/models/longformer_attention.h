#pragma once
// Longformer's attention (LongformerSelfAttention) as masked full attention, equal to HF's
// chunked computation: a local token attends the keys within attention_window / 2 positions of
// it plus every global token's key (the layer's query/key/value); a global token
// (global_attention_mask 1) attends every key through query_global/key_global/value_global;
// padded keys are never attended and padded queries get a zero context, as HF leaves them.
// HF pads the sequence to a multiple of attention_window with masked pad tokens, which changes
// nothing for the real tokens; this form needs no padding.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The config's attention_window (LongformerConfig, LEDConfig): one even, positive size for every
// layer, or a list of one per layer. Throws core::Error(kCorrupt) naming the key otherwise.
std::vector<int64_t> LongformerAttentionWindows(const HfConfig& c, int64_t layers);

// What every Longformer layer's attention reads, from attention_mask and global_attention_mask
// (int64 [batch, sequence]).
struct LongformerMasks {
  std::string global_rows;  // bool [batch, 1, sequence, 1]: the query is global
  std::string query_kept;   // float [batch, 1, sequence, 1]: 0 for padded queries, else 1
  std::string global_keys;  // additive [batch, 1, 1, sequence]: float32's lowest at padded keys
  std::string attention_mask, global_attention_mask;  // the inputs, for LongformerWindowMask
};
LongformerMasks LongformerAttentionMasks(GraphBuilder& g, const std::string& attention_mask,
                                         const std::string& global_attention_mask);

// The local queries' additive mask [batch, 1, sequence, sequence] for one layer's window: 0
// where the key is not padding and within `one_sided` positions of the query or global, else
// float32's lowest.
std::string LongformerWindowMask(GraphBuilder& g, const LongformerMasks& m, int64_t one_sided);

}  // namespace ipfs_accel::models
