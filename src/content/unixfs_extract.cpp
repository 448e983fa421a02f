#include "ipfs_accel/content/unixfs_extract.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "content/dag_pb.h"
#include "content/pb_wire.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::content {

namespace {

namespace fs = std::filesystem;

struct Field {
  uint64_t number = 0, value = 0;
  std::string_view bytes;  // length-delimited fields only
};

// The next protobuf field of `in` at *pos, or nullopt at the end; nullopt and *bad on a
// malformed one (only varint and length-delimited fields occur in these messages).
std::optional<Field> NextField(std::string_view in, size_t* pos, bool* bad) {
  if (*pos == in.size()) return std::nullopt;
  uint64_t tag = 0;
  Field f;
  *bad = !pb::GetVarint(in, pos, &tag) || !pb::GetVarint(in, pos, &f.value);
  f.number = tag >> 3;
  if (!*bad && (tag & 7) == 2) {
    *bad = f.value > in.size() - *pos;
    if (!*bad) f.bytes = in.substr(*pos, f.value);
    *pos += *bad ? 0 : f.value;
  } else if ((tag & 7) != 0) {
    *bad = true;
  }
  return *bad ? std::nullopt : std::optional<Field>(f);
}

struct ExtractedNode {
  uint64_t type = kFile;
  std::string_view data;
  std::optional<uint64_t> filesize;
  std::vector<std::pair<Cid, std::string>> links;  // CID, name
};

core::Error NotUnixfs(const Cid& cid, std::string_view why) {
  return core::Error(core::ErrorKind::kCorrupt,
                     fmt::format("block {} is not a UnixFS node: {}", cid.ToString(), why));
}

void ReadUnixfsData(const Cid& cid, std::string_view in, ExtractedNode* node) {
  size_t pos = 0;
  bool bad = false;
  while (auto f = NextField(in, &pos, &bad)) {
    if (f->number == 1) node->type = f->value;
    if (f->number == 2) node->data = f->bytes;
    if (f->number == 3) node->filesize = f->value;
  }
  if (bad) throw NotUnixfs(cid, "its Data message is malformed");
}

ExtractedNode Decode(const Cid& cid, std::string_view block) {
  if (cid.codec == kRaw) return ExtractedNode{kRawData, block, block.size(), {}};
  if (cid.codec != kDagPb)
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("block {} is neither dag-pb nor raw", cid.ToString()));
  ExtractedNode node;
  size_t pos = 0;
  bool bad = false, has_data = false;
  while (auto f = NextField(block, &pos, &bad)) {
    if (f->number == 1) {
      ReadUnixfsData(cid, f->bytes, &node);
      has_data = true;
    } else if (f->number == 2) {
      size_t lpos = 0, used = 0;
      std::pair<Cid, std::string> link;
      while (auto lf = NextField(f->bytes, &lpos, &bad)) {
        if (lf->number == 1) link.first = CidFromBytes(lf->bytes, &used);
        if (lf->number == 2) link.second = std::string(lf->bytes);
      }
      if (used == 0) throw NotUnixfs(cid, "a link without a CID");
      node.links.push_back(std::move(link));
    }
  }
  if (bad || !has_data) throw NotUnixfs(cid, bad ? "malformed dag-pb" : "no UnixFS Data");
  return node;
}

struct Extractor {
  const BlockSet& blocks;

  ExtractedNode Load(const Cid& cid, const Cid& parent) const {
    const std::string_view* block = blocks.Find(cid);
    if (block == nullptr)
      throw core::Error(core::ErrorKind::kCorrupt,
                        fmt::format("block {} (linked from {}) is not among the blocks given",
                                    cid.ToString(), parent.ToString()));
    return Decode(cid, *block);
  }

  // Appends the file's bytes; returns how many.
  uint64_t File(const Cid& cid, const ExtractedNode& node, std::ofstream& out) const {
    out.write(node.data.data(), static_cast<std::streamsize>(node.data.size()));
    uint64_t written = node.data.size();
    for (const auto& [child, name] : node.links) {
      const ExtractedNode c = Load(child, cid);
      if (c.type != kFile && c.type != kRawData)
        throw NotUnixfs(child, "a file's part is not file");
      written += File(child, c, out);
    }
    if (node.filesize && *node.filesize != written)
      throw NotUnixfs(cid,
                      fmt::format("it says {} bytes, its parts hold {}", *node.filesize, written));
    return written;
  }

  void Entry(const Cid& cid, const ExtractedNode& node, const fs::path& path) const {
    if (node.type == kDirectory) {
      fs::create_directory(path);
      for (const auto& [child, name] : node.links) {
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
            name.find('\0') != std::string::npos)
          throw NotUnixfs(cid, fmt::format("an entry is named '{}'", name));
        Entry(child, Load(child, cid), path / name);
      }
      return;
    }
    if (node.type == kFile || node.type == kRawData) {
      std::ofstream out(path, std::ios::binary);
      File(cid, node, out);
      if (!out.flush())
        throw core::Error(core::ErrorKind::kIo, fmt::format("cannot write '{}'", path.string()));
      return;
    }
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("block {} is a UnixFS {} (type {}), which is not extracted here",
                                  cid.ToString(),
                                  node.type == kHamtShard ? "HAMT-sharded folder"
                                  : node.type == kSymlink ? "symlink"
                                                          : "node",
                                  node.type));
  }
};

}  // namespace

BlockSet BlockSet::FromCar(CarReader& reader) {
  BlockSet set;
  while (auto block = reader.Next()) set.Add(*block);
  return set;
}

const std::string_view* BlockSet::Find(const Cid& cid) const {
  auto it = blocks_.find(cid.Bytes());
  return it == blocks_.end() ? nullptr : &it->second;
}

void ExtractUnixfs(const BlockSet& blocks, const Cid& root, const std::string& out_path) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(out_path, ec)))
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("'{}' exists; extract into a new path", out_path));
  const fs::path tmp = fmt::format("{}.partial-{}", out_path, ::getpid());
  const Extractor x{blocks};
  try {
    x.Entry(root, x.Load(root, root), tmp);
    fs::rename(tmp, out_path);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace ipfs_accel::content
