#pragma once
// The blocks of a UnixFS DAG in dag-pb's canonical form (links first, then data; every link
// with Hash, Name — empty for a file's chunks, as kubo and the JS importer both write it — and
// Tsize). Spec: github.com/ipld/specs, dag-pb; UnixFS Data message: github.com/ipfs/specs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ipfs_accel/content/cid.h"

namespace ipfs_accel::content {

// UnixFS Data.Type (ipfs/specs, UNIXFS.md).
enum UnixFsType : uint64_t {
  kRawData = 0,
  kDirectory = 1,
  kFile = 2,
  kMetadata = 3,
  kSymlink = 4,
  kHamtShard = 5
};

struct Link {
  Cid cid;
  std::string name;
  uint64_t tsize = 0;  // the linked DAG's total block bytes
};

// A CIDv0 leaf is PBNode{Data: UnixFS{Type: File, Data: chunk, filesize}}: the chunk framed by
// these bytes, so it can be hashed from mapped memory without a copy.
struct LeafFraming {
  std::string prefix, suffix;
};
LeafFraming DagPbLeafFraming(uint64_t chunk_bytes);

// A file's inner node: UnixFS{Type: File, filesize, blocksizes} over `links`, whose content
// sizes are `blocksizes`.
std::string FileNode(const std::vector<Link>& links, const std::vector<uint64_t>& blocksizes);

// A directory node: UnixFS{Type: Directory} over `links`, which must be sorted by name.
std::string DirectoryNode(const std::vector<Link>& links);

}  // namespace ipfs_accel::content
