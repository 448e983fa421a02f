// Multimodal architectures (none registered yet).

#include "architectures.h"

namespace ipfs_accel::models {

void AddMultimodalArchitectures(std::vector<Architecture>& /*out*/) {}

}  // namespace ipfs_accel::models
