#include "ipfs_accel/content/car.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "content/cbor.h"
#include "content/pb_wire.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::content {

namespace {

core::Error Corrupt(const std::string& name, size_t offset, std::string_view what) {
  return core::Error(core::ErrorKind::kCorrupt,
                     fmt::format("CAR '{}' at byte {}: {}", name, offset, what));
}

}  // namespace

// dag-cbor's canonical map: keys by length then bytes, so "roots" before "version"; each root
// is tag 42 over a byte string of 0x00 (the identity multibase) + the binary CID.
std::string CarHeader(const std::vector<Cid>& roots) {
  std::string cbor;
  cbor::PutHead(cbor, cbor::kMap, 2);
  cbor::PutText(cbor, "roots");
  cbor::PutHead(cbor, cbor::kArray, roots.size());
  for (const Cid& root : roots) {
    cbor::PutHead(cbor, cbor::kTag, cbor::kCidTag);
    cbor::PutBytes(cbor, std::string(1, '\0') + root.Bytes());
  }
  cbor::PutText(cbor, "version");
  cbor::PutHead(cbor, cbor::kUnsigned, 1);
  std::string out;
  pb::PutVarint(out, cbor.size());
  return out + cbor;
}

std::string CarSection(const Cid& cid, std::string_view block) {
  const std::string cid_bytes = cid.Bytes();
  std::string out;
  pb::PutVarint(out, cid_bytes.size() + block.size());
  out += cid_bytes;
  out.append(block);
  return out;
}

// The header is written first with a stand-in root of the same length (a CID's length follows
// from its version alone here: 34 bytes for v0, 36 for v1 raw or dag-pb) and rewritten once the
// root is known.
ImportedPath WriteCarFile(const std::string& source, const std::string& car_path,
                          const ImportOptions& options) {
  const std::string tmp = fmt::format("{}.partial-{}", car_path, ::getpid());
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw core::Error(core::ErrorKind::kIo, fmt::format("cannot write CAR '{}'", car_path));
  const std::string stand_in = CarHeader({Cid{options.cid_version, kDagPb, {}}});
  out << stand_in;
  std::set<std::string> written;
  ImportOptions o = options;
  o.on_block = [&](const Cid& cid, std::string_view block) {
    if (written.insert(cid.Bytes()).second) out << CarSection(cid, block);
  };
  ImportedPath imported;
  try {
    imported = ImportPath(source, o);
    const std::string header = CarHeader({imported.root.cid});
    if (header.size() != stand_in.size())
      throw core::Error(core::ErrorKind::kInternal, "CAR header changed length");
    out.seekp(0);
    out << header;
    out.close();
    if (!out)
      throw core::Error(core::ErrorKind::kIo,
                        fmt::format("writing CAR '{}' failed (disk full?)", car_path));
    std::filesystem::rename(tmp, car_path);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  return imported;
}

CarReader::CarReader(std::string_view car, std::string name) : car_(car), name_(std::move(name)) {
  uint64_t length = 0;
  if (!pb::GetVarint(car_, &pos_, &length) || length > car_.size() - pos_)
    throw Corrupt(name_, 0, "not a CAR: its header length is cut short");
  cbor::Reader r{car_.substr(pos_, length)};
  std::optional<uint64_t> version;
  try {
    for (uint64_t n = r.Expect(cbor::kMap); n > 0; --n) {
      const std::string_view key = r.Text();
      if (key == "version") {
        version = r.Expect(cbor::kUnsigned);
      } else if (key == "roots") {
        for (uint64_t k = r.Expect(cbor::kArray); k > 0; --k) roots_.push_back(r.ReadCid());
      } else {
        throw Corrupt(name_, pos_, fmt::format("header has a key '{}' CARv1 does not", key));
      }
    }
  } catch (const cbor::Malformed& e) {
    throw Corrupt(name_, pos_ + r.pos, fmt::format("header is not dag-cbor: {}", e.what()));
  }

  if (version && *version == 2)
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("CAR '{}' is CARv2; only CARv1 is read here", name_));
  if (version != 1 || r.pos != length)
    throw Corrupt(name_, pos_, "header is not {version: 1, roots: [...]}");
  pos_ += length;
}

std::optional<CarBlock> CarReader::Next() {
  if (pos_ == car_.size()) return std::nullopt;
  const size_t start = pos_;
  uint64_t length = 0;
  if (!pb::GetVarint(car_, &pos_, &length) || length > car_.size() - pos_)
    throw Corrupt(name_, start, "a block section is cut short");
  const std::string_view section = car_.substr(pos_, length);
  pos_ += length;
  size_t cid_bytes = 0;
  CarBlock block;
  try {
    block.cid = CidFromBytes(section, &cid_bytes);
  } catch (const core::Error& e) {
    if (e.kind() != core::ErrorKind::kCorrupt) throw;
    throw Corrupt(name_, start, e.what());
  }
  block.bytes = section.substr(cid_bytes);
  if (Sha256Of(block.bytes) != block.cid.digest)
    throw Corrupt(name_, start,
                  fmt::format("block {} does not hash to its CID: tampered or damaged; refused",
                              block.cid.ToString()));
  return block;
}

}  // namespace ipfs_accel::content
