#pragma once
// A UnixFS DAG back into files: the other half of a fetch. Blocks come from a CAR through
// CarReader (so each was checked against its CID); a file's bytes are its leaves' data in link
// order, a folder's entries its links by name.

#include <map>
#include <string>
#include <string_view>

#include "ipfs_accel/content/car.h"

namespace ipfs_accel::content {

// Verified blocks by CID (views into the CAR the reader read, which must outlive this).
class BlockSet {
 public:
  // Every block of `reader`, each checked against its CID (CarReader::Next's errors).
  static BlockSet FromCar(CarReader& reader);
  void Add(const CarBlock& block) { blocks_[block.cid.Bytes()] = block.bytes; }
  const std::string_view* Find(const Cid& cid) const;

 private:
  std::map<std::string, std::string_view> blocks_;
};

// Writes the UnixFS file or folder rooted at `root` to `out_path`, which must not exist, through
// a temporary name renamed into place (a failure leaves nothing). Throws core::Error: kCorrupt
// naming a block that is missing from `blocks` or is not a UnixFS node, a size that disagrees
// with the node's, or an entry name that is not a plain name; kUnsupported for HAMT-sharded
// folders and symlinks; kInvalidArgument if `out_path` exists; kIo.
void ExtractUnixfs(const BlockSet& blocks, const Cid& root, const std::string& out_path);

}  // namespace ipfs_accel::content
