// Clap architectures (none registered yet).

#include "architectures.h"

namespace ipfs_accel::models {

void AddClapArchitectures(std::vector<Architecture>& /*out*/) {}

}  // namespace ipfs_accel::models
