// A file's balanced DAG (boxo's balanced layout): leaves hashed in parallel, then grouped 174
// to a node, level by level, until one node is left. Filling each node before the next is what
// boxo's fillNodeRec does, so every leaf sits at the same depth and the last nodes of each level
// are the partial ones.

#include <algorithm>
#include <exception>
#include <thread>

#include <fmt/format.h>

#include "content/dag_pb.h"
#include "content/file_dag.h"
#include "ipfs_accel/content/unixfs.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::content {

namespace {

struct Node {
  Cid cid;
  uint64_t size = 0;   // content bytes beneath
  uint64_t tsize = 0;  // block bytes beneath, its own included
};

Node HashLeaf(std::string_view chunk, int version, Sha256& sha) {
  if (version == 1) return {Cid{1, kRaw, sha.Update(chunk).Final()}, chunk.size(), chunk.size()};
  const LeafFraming f = DagPbLeafFraming(chunk.size());
  const Digest d = sha.Update(f.prefix).Update(chunk).Update(f.suffix).Final();
  return {Cid{0, kDagPb, d}, chunk.size(), f.prefix.size() + chunk.size() + f.suffix.size()};
}

void HashLeaves(const ChunkReader& read, int version, size_t begin, size_t end,
                std::vector<Node>* leaves) {
  Sha256 sha;
  std::string scratch;
  for (size_t i = begin; i < end; ++i) (*leaves)[i] = HashLeaf(read(i, scratch), version, sha);
}

// Contiguous ranges per thread, so each reads its part of the file in order.
std::vector<Node> HashAllLeaves(uint64_t bytes, const ChunkReader& read, int version,
                                unsigned threads) {
  const size_t count = std::max<size_t>(1, (bytes + kChunkSize - 1) / kChunkSize);
  std::vector<Node> leaves(count);
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, (count + 7) / 8));
  if (threads <= 1) {
    HashLeaves(read, version, 0, count, &leaves);
    return leaves;
  }
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        HashLeaves(read, version, count * t / threads, count * (t + 1) / threads, &leaves);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return leaves;
}

// The leaves' blocks in order, once their CIDs are known (hashing ran on several threads).
void EmitLeaves(const ChunkReader& read, const std::vector<Node>& leaves, const ImportOptions& o) {
  std::string scratch;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const std::string_view chunk = read(i, scratch);
    if (o.cid_version == 1) {
      o.on_block(leaves[i].cid, chunk);
      continue;
    }
    const LeafFraming f = DagPbLeafFraming(chunk.size());
    o.on_block(leaves[i].cid, f.prefix + std::string(chunk) + f.suffix);
  }
}

Node Parent(std::vector<Node>::const_iterator first, std::vector<Node>::const_iterator last,
            const ImportOptions& o) {
  std::vector<Link> links;
  std::vector<uint64_t> sizes;
  Node parent;
  for (auto it = first; it != last; ++it) {
    links.push_back({it->cid, "", it->tsize});
    sizes.push_back(it->size);
    parent.size += it->size;
    parent.tsize += it->tsize;
  }
  const std::string block = FileNode(links, sizes);
  parent.cid = Cid::Of(o.cid_version, kDagPb, block);
  parent.tsize += block.size();
  if (o.on_block) o.on_block(parent.cid, block);
  return parent;
}

}  // namespace

void CheckCidVersion(int version) {
  if (version != 0 && version != 1)
    throw core::Error(
        core::ErrorKind::kInvalidArgument,
        fmt::format("CID version {} is not one `ipfs add` makes; use 0 or 1", version));
}

Imported ImportBytes(std::string_view bytes, const ImportOptions& options) {
  return ImportChunks(
      bytes.size(),
      [bytes](size_t i, std::string&) { return bytes.substr(i * kChunkSize, kChunkSize); },
      options);
}

Imported ImportChunks(uint64_t bytes, const ChunkReader& read, const ImportOptions& options) {
  CheckCidVersion(options.cid_version);
  std::vector<Node> level = HashAllLeaves(bytes, read, options.cid_version, options.threads);
  if (options.on_block) EmitLeaves(read, level, options);
  while (level.size() > 1) {
    std::vector<Node> up;
    for (size_t i = 0; i < level.size(); i += kMaxLinks)
      up.push_back(Parent(level.begin() + i, level.begin() + std::min(level.size(), i + kMaxLinks),
                          options));
    level = std::move(up);
  }
  return {level[0].cid, level[0].size, level[0].tsize};
}

}  // namespace ipfs_accel::content
