// `ipfs add -r`: a folder's entries imported depth first, each folder a Directory node.

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "content/dag_pb.h"
#include "content/file_dag.h"
#include "ipfs_accel/content/unixfs.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/mapped_file.h"

namespace ipfs_accel::content {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 64;

struct Walk {
  const ImportOptions& options;
  std::vector<ImportedEntry>* entries;
};

Imported ImportFileAt(const fs::path& path, const ImportOptions& options) {
  const core::MappedFile file(path.string());  // refuses what is not a regular file, by name
  return ImportBytes(file.text(), options);
}

// Names as `ipfs add -r` takes them: not hidden, sorted bytewise (as dag-pb orders links).
std::vector<std::string> VisibleNames(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.') names.push_back(std::move(name));
  }
  if (ec)
    throw core::Error(core::ErrorKind::kIo,
                      fmt::format("cannot list folder '{}': {}", dir.string(), ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

void CheckNotSharded(const fs::path& dir, const std::vector<Link>& links) {
  uint64_t estimate = 0;  // boxo's estimatedSize: name bytes + CID bytes per link
  for (const Link& l : links) estimate += l.name.size() + l.cid.Bytes().size();
  if (estimate >= kShardingThreshold)
    throw core::Error(
        core::ErrorKind::kUnsupported,
        fmt::format("folder '{}' has too many entries ({}) for one UnixFS directory node: kubo "
                    "would make it a HAMT-sharded directory, which is not supported here",
                    dir.string(), links.size()));
}

Imported ImportTree(const fs::path& path, const std::string& rel, int depth, const Walk& walk);

Imported ImportDirectoryAt(const fs::path& dir, const std::string& rel, int depth,
                           const Walk& walk) {
  if (depth > kMaxDepth)
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("folder '{}' is nested more than {} folders deep (a symlink "
                                  "loop?); import a shallower folder",
                                  dir.string(), kMaxDepth));
  std::vector<Link> links;
  Imported self;
  for (const std::string& name : VisibleNames(dir)) {
    const std::string child_rel = rel.empty() ? name : rel + "/" + name;
    const Imported child = ImportTree(dir / name, child_rel, depth + 1, walk);
    links.push_back({child.cid, name, child.dag_size});
    self.size += child.size;
    self.dag_size += child.dag_size;
  }
  CheckNotSharded(dir, links);
  const std::string block = DirectoryNode(links);
  self.cid = Cid::Of(walk.options.cid_version, kDagPb, block);
  self.dag_size += block.size();
  if (walk.options.on_block) walk.options.on_block(self.cid, block);
  return self;
}

Imported ImportTree(const fs::path& path, const std::string& rel, int depth, const Walk& walk) {
  std::error_code ec;
  const bool directory = fs::is_directory(path, ec);  // follows symlinks
  const Imported imported =
      directory ? ImportDirectoryAt(path, rel, depth, walk) : ImportFileAt(path, walk.options);
  if (!rel.empty()) walk.entries->push_back({rel, directory, imported});
  return imported;
}

}  // namespace

ImportedPath ImportPath(const std::string& path, const ImportOptions& options) {
  CheckCidVersion(options.cid_version);
  ImportedPath out;
  std::error_code ec;
  out.directory = fs::is_directory(path, ec);
  out.root = ImportTree(path, "", 0, Walk{options, &out.entries});
  return out;
}

}  // namespace ipfs_accel::content
