#pragma once
// The token embedding an encoder-decoder shares between its stacks (HF "shared.weight").

#include <cstdint>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// The [vocab, d_model] table, asked for once so it counts once. A tied checkpoint may keep
// it only as "encoder.embed_tokens.weight"; that name is tried when "shared.weight" is absent.
std::string SharedTokenEmbedding(GraphBuilder& g, int64_t vocab, int64_t d_model);

}  // namespace ipfs_accel::models
