#include "content/dag_pb.h"

#include "content/pb_wire.h"

namespace ipfs_accel::content {

namespace {

std::string PBNode(const std::vector<Link>& links, std::string_view data) {
  std::string out;
  for (const Link& l : links) {
    std::string link;
    pb::PutBytes(link, 1, l.cid.Bytes());
    pb::PutBytes(link, 2, l.name);
    pb::PutUint(link, 3, l.tsize);
    pb::PutBytes(out, 2, link);
  }
  pb::PutBytes(out, 1, data);
  return out;
}

}  // namespace

LeafFraming DagPbLeafFraming(uint64_t chunk_bytes) {
  // UnixFS Data: Type, Data (absent for an empty chunk, as kubo writes it), filesize.
  std::string head, tail;
  pb::PutUint(head, 1, kFile);
  if (chunk_bytes > 0) {
    pb::PutTag(head, 2, 2);
    pb::PutVarint(head, chunk_bytes);
  }
  pb::PutUint(tail, 3, chunk_bytes);
  std::string prefix;
  pb::PutTag(prefix, 1, 2);  // PBNode.Data around the whole UnixFS message
  pb::PutVarint(prefix, head.size() + chunk_bytes + tail.size());
  return {prefix + head, tail};
}

std::string FileNode(const std::vector<Link>& links, const std::vector<uint64_t>& blocksizes) {
  uint64_t filesize = 0;
  for (uint64_t b : blocksizes) filesize += b;
  std::string data;
  pb::PutUint(data, 1, kFile);
  pb::PutUint(data, 3, filesize);
  for (uint64_t b : blocksizes) pb::PutUint(data, 4, b);  // proto2 repeated: not packed
  return PBNode(links, data);
}

std::string DirectoryNode(const std::vector<Link>& links) {
  std::string data;
  pb::PutUint(data, 1, kDirectory);
  return PBNode(links, data);
}

}  // namespace ipfs_accel::content
