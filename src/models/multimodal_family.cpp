// Multimodal architectures.

#include "architectures.h"
#include "qwen2_vl_builder.h"

namespace ipfs_accel::models {

void AddMultimodalArchitectures(std::vector<Architecture>& out) { AddQwen2VlArchitectures(out); }

}  // namespace ipfs_accel::models
