// `ipfs add -r`: a folder's entries imported depth first, each folder a Directory node.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "content/dag_pb.h"
#include "content/file_dag.h"
#include "ipfs_accel/content/unixfs.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"

namespace ipfs_accel::content {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 64;

struct Walk {
  const ImportOptions& options;
  std::vector<ImportedEntry>* entries;
};

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() { ::close(fd_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Read with pread() into a 256 KiB buffer per thread, not through a mapping: here (a VM) hashing
// a mapped file's 4 KiB pages took 1.8x the CPU time of hashing the kernel's copy into a buffer
// that stays in cache (bench/content_cid, docs/design.md).
Imported ImportFileAt(const fs::path& path, const ImportOptions& options) {
  const Descriptor fd(core::OpenRegularFile(path.string()));  // refuses a non-file, by name
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw core::Error(core::ErrorKind::kIo,
                      fmt::format("cannot stat '{}': {}", path.string(), std::strerror(errno)));
  const auto size = static_cast<uint64_t>(st.st_size);
  auto read = [&](size_t index, std::string& scratch) -> std::string_view {
    const uint64_t offset = index * kChunkSize;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkSize, size - offset));
    scratch.resize(want);
    for (size_t got = 0; got < want;) {
      const ssize_t n =
          ::pread(fd.get(), scratch.data() + got, want - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw core::Error(
            core::ErrorKind::kIo,
            fmt::format("reading '{}' failed at byte {}: {}", path.string(), offset + got,
                        n < 0 ? std::strerror(errno) : "the file got shorter while read"));
      got += static_cast<size_t>(n);
    }
    return scratch;
  };
  return ImportChunks(size, read, options);
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
