#pragma once
// Shared by the file and folder importers.

namespace ipfs_accel::content {

// Throws core::Error(kInvalidArgument) for a CID version `ipfs add` does not make (not 0 or 1).
void CheckCidVersion(int version);

}  // namespace ipfs_accel::content
