#pragma once
// Files of a Hugging Face model folder. Names that come from the folder's own files (a shard
// index's weight_map) are untrusted input: each must name a file that resolves, symlinks
// followed, inside the folder. The Hugging Face hub cache is the one layout whose files link
// out: a snapshot folder (<repo>/snapshots/<revision>/) holds links to <repo>/blobs/, which
// is accepted for a folder that is such a snapshot.

#include <string>

namespace ipfs_accel::models {

// The path of `name` inside model folder `dir`. Throws core::Error(kCorrupt) naming `source`
// (the file that named it) for an absolute name, or one that resolves outside the folder;
// kNotFound when it does not exist.
std::string ResolveInModelFolder(const std::string& dir, const std::string& name,
                                 const std::string& source);

}  // namespace ipfs_accel::models
