#pragma once
// Shared by the file and folder importers.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "ipfs_accel/content/unixfs.h"

namespace ipfs_accel::content {

// Throws core::Error(kInvalidArgument) for a CID version `ipfs add` does not make (not 0 or 1).
void CheckCidVersion(int version);

// Chunk `index` (kChunkSize bytes, the last one shorter) of the content, as a view into memory
// or into `scratch`; called from several threads at once, each with its own scratch.
using ChunkReader = std::function<std::string_view(size_t index, std::string& scratch)>;

// The DAG of `bytes` bytes of content read chunk by chunk.
Imported ImportChunks(uint64_t bytes, const ChunkReader& read, const ImportOptions& options);

}  // namespace ipfs_accel::content
