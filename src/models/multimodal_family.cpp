// Multimodal architectures.

#include "architectures.h"
#include "llava_builder.h"

namespace ipfs_accel::models {

void AddMultimodalArchitectures(std::vector<Architecture>& out) { AddLlavaArchitectures(out); }

}  // namespace ipfs_accel::models
