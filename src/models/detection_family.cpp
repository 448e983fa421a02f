// Detection architectures (none registered yet).

#include "architectures.h"

namespace ipfs_accel::models {

void AddDetectionArchitectures(std::vector<Architecture>& /*out*/) {}

}  // namespace ipfs_accel::models
