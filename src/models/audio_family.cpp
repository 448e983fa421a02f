// Audio architectures (none registered yet).

#include "architectures.h"

namespace ipfs_accel::models {

void AddAudioArchitectures(std::vector<Architecture>& out) {
  AddWhisperArchitectures(out);
}

}  // namespace ipfs_accel::models
