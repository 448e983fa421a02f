#include "seq2seq_embedding.h"

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

std::string SharedTokenEmbedding(GraphBuilder& g, int64_t vocab, int64_t d_model) {
  const core::Shape shape = {vocab, d_model};
  try {
    return g.Weight("shared.weight", shape, WeightInit::kNormal);
  } catch (const core::Error& shared_missing) {
    if (shared_missing.kind() != core::ErrorKind::kCorrupt) throw;
    try {
      return g.Weight("encoder.embed_tokens.weight", shape, WeightInit::kNormal);
    } catch (const core::Error&) {
      throw shared_missing;  // the first name is the one the user should look for
    }
  }
}

}  // namespace ipfs_accel::models
