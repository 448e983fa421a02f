#pragma once
// The KV cache of an encoder-decoder's decoder graph, named as Hugging Face Optimum names
// it: past_key_values.{layer}.decoder.{key,value} (self-attention, grows each step) and
// past_key_values.{layer}.encoder.{key,value} (cross-attention, fixed by the encoder),
// present.* likewise. Every cache tensor is [batch, heads, length, head_dim]; the lengths
// are "past_sequence" / "total_sequence" (self) and "encoder_sequence" (cross).

#include <cstdint>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

enum class CacheKind { kSelf, kCross };  // "decoder" / "encoder" in the names
enum class CachePart { kKey, kValue };

std::string PastKeyValuesName(int64_t layer, CacheKind kind, CachePart part);
std::string PresentName(int64_t layer, CacheKind kind, CachePart part);

// Declares past_key_values.{i}.{decoder,encoder}.{key,value} inputs for `layers` layers.
void DeclarePastInputs(GraphBuilder& g, int64_t layers, int64_t heads, int64_t head_dim);
// Declares present.{i}.<kind>.{key,value} outputs; `length` names their third axis.
void DeclarePresentOutputs(GraphBuilder& g, int64_t layers, CacheKind kind, int64_t heads,
                           int64_t head_dim, const std::string& length);

}  // namespace ipfs_accel::models
