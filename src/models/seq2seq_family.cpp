// Encoder-decoder text architectures.

#include "architectures.h"

namespace ipfs_accel::models {

void AddSeq2SeqArchitectures(std::vector<Architecture>&) {}

}  // namespace ipfs_accel::models
