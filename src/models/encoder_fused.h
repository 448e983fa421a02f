#pragma once
// The BERT family's layers as ONNX Runtime's transformer optimizer leaves them, with its contrib
// operators (com.microsoft): Attention over a merged QKV projection, SkipLayerNormalization for
// every residual add + LayerNorm (the dense bias folded in), BiasGelu / FastGelu for the
// activation. Used by BuildEncoder when GraphBuilder::fused(); outputs equal the plain graph's.

#include <string>

#include "encoder_builder.h"
#include "graph_builder.h"

namespace ipfs_accel::models {

// attention_mask as the Attention op's raw mask: int32 [batch, sequence], 1 attend, 0 masked.
std::string FusedAttentionMask(GraphBuilder& g);

// LayerNorm(x + skip) as one SkipLayerNormalization; skip may be [sequence, width], broadcast
// over the batch.
std::string FusedAddNorm(GraphBuilder& g, const std::string& x, const std::string& skip,
                         const EncoderNorm& norm, double eps);

// One post-norm encoder layer; `mask` from FusedAttentionMask. Activations without a contrib
// form (relu, silu, ...) stay plain ops.
std::string FusedEncoderLayer(GraphBuilder& g, const EncoderShape& s, const EncoderLayerWeights& w,
                              const std::string& x, const std::string& mask);

}  // namespace ipfs_accel::models
