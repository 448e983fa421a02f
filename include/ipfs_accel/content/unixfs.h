#pragma once
// Files and folders as UnixFS DAGs, byte for byte as `ipfs add` (kubo) builds them by default,
// so that their root CIDs are the ones IPFS gives the same bytes:
//  - a file is cut into 256 KiB chunks; the chunks are the leaves of a balanced DAG whose nodes
//    (dag-pb, UnixFS File) have up to 174 links; a file of one chunk is that one leaf;
//  - CIDv0 (`ipfs add`): leaves are dag-pb nodes (UnixFS File with the chunk as its data),
//    every CID is a base58btc sha2-256 multihash, "Qm...";
//  - CIDv1 (`ipfs add --cid-version 1`, which implies --raw-leaves): leaves are raw blocks
//    ("bafk..."), nodes dag-pb ("bafy...");
//  - a folder (`ipfs add -r`) is a UnixFS Directory node linking its entries by name, sorted
//    bytewise, each link's Tsize the whole size of the entry's DAG. Hidden entries (names that
//    start with '.') are left out, as kubo does without --hidden.
// Specs: github.com/ipfs/specs (UnixFS, dag-pb); kubo's defaults are boxo's balanced layout.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ipfs_accel/content/cid.h"

namespace ipfs_accel::content {

inline constexpr uint64_t kChunkSize = 262144;  // kubo's size-262144 chunker
inline constexpr size_t kMaxLinks = 174;        // boxo's DefaultLinksPerBlock
// kubo turns a directory into a HAMT shard once the sum over its links of name bytes + CID
// bytes reaches this; such folders are refused here (sharding is not implemented).
inline constexpr uint64_t kShardingThreshold = 262144;

struct ImportOptions {
  int cid_version = 0;   // 0 or 1; anything else is refused (kInvalidArgument)
  unsigned threads = 0;  // threads hashing a file's chunks; 0: one per core
  // Given every block of the DAG, each after all the blocks it links to, from the importing
  // thread (a chunk that repeats comes again); unset, blocks are only hashed.
  std::function<void(const Cid&, std::string_view block)> on_block = nullptr;
};

struct Imported {
  Cid cid;
  uint64_t size = 0;      // bytes of content (a folder: of all its files)
  uint64_t dag_size = 0;  // bytes of all the DAG's blocks: the Tsize a parent's link carries
};

// The DAG of `bytes` as one file.
Imported ImportBytes(std::string_view bytes, const ImportOptions& options = {});

struct ImportedEntry {
  std::string path;  // relative to the imported folder, '/'-separated
  bool directory = false;
  Imported imported;
};

struct ImportedPath {
  Imported root;
  bool directory = false;
  std::vector<ImportedEntry> entries;  // every file and folder beneath a folder, depth first
};

// The file or folder at `path`, each file read once in 256 KiB pieces. Symlinks are followed: their
// targets' bytes are imported (as `ipfs add -r` of a copy made with `cp -rL`; kubo itself would
// store the link), so a Hugging Face cache snapshot gets the CID of its files.
// Throws core::Error: kNotFound (missing path or dangling link), kInvalidArgument (a FIFO,
// socket or device; a bad cid_version), kUnsupported (a folder past kShardingThreshold, or
// nested deeper than 64 folders, as a symlink loop would be), kIo.
ImportedPath ImportPath(const std::string& path, const ImportOptions& options = {});

}  // namespace ipfs_accel::content
