// Multimodal architectures.

#include "architectures.h"
#include "llava_builder.h"
#include "qwen2_vl_builder.h"

namespace ipfs_accel::models {

void AddMultimodalArchitectures(std::vector<Architecture>& out) {
  AddLlavaArchitectures(out);
  AddQwen2VlArchitectures(out);
}

}  // namespace ipfs_accel::models
