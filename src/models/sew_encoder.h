#pragma once
// SEW (Squeezed and Efficient Wav2vec), the "sew" layout of the wav2vec2 builder: SEWModel's
// features and SEWEncoder. The encoder runs on frames average-pooled by squeeze_factor, with the
// weight-normed positional conv strided by it, then SEWUpsampling (a Linear to
// hidden * squeeze_factor unfolded into squeeze_factor frames) and zero frames up to the input's
// length. Weight names are SEWModel's ("layer_norm", "feature_projection",
// "encoder.pos_conv_embed.conv...", "encoder.upsample.projection", ...). Layout "sew_d"
// (SEWDModel) runs a DeBERTa-v2 encoder (deberta_builder.h, "encoder.encoder.") on the pooled
// frames instead of encoder.layer_norm and the wav2vec2 layers.

#include <string>

#include "graph_builder.h"
#include "wav2vec2_builder.h"

namespace ipfs_accel::models {

// layer_norm over the conv features, then feature_projection when conv_dim[-1] != hidden_size.
std::string SewFeatureProjection(GraphBuilder& g, const Wav2Vec2Shape& s,
                                 const std::string& features);

// SEWEncoder on [batch, frames, hidden]; `mask` an additive mask over the pooled frames or "".
std::string SewEncoder(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                       const std::string& mask);

}  // namespace ipfs_accel::models
