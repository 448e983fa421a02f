// Audio architectures (none registered yet).

#include "architectures.h"

namespace ipfs_accel::models {

void AddAudioArchitectures(std::vector<Architecture>& /*out*/) {}

}  // namespace ipfs_accel::models
