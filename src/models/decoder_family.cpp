// Decoder-only language models with a KV cache.

#include "architectures.h"

namespace ipfs_accel::models {

void AddDecoderArchitectures(std::vector<Architecture>&) {}

}  // namespace ipfs_accel::models
