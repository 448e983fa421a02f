#include "ipfs_accel/content/cid.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "content/multibase.h"
#include "content/pb_wire.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::content {

namespace {

constexpr uint64_t kSha256 = 0x12;

std::string Multihash(const Digest& d) {
  std::string out;
  pb::PutVarint(out, kSha256);
  pb::PutVarint(out, d.size());
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  return out;
}

// The sha2-256 multihash at `*pos`.
Digest ReadMultihash(std::string_view in, size_t* pos) {
  uint64_t code = 0, length = 0;
  if (!pb::GetVarint(in, pos, &code) || !pb::GetVarint(in, pos, &length))
    throw core::Error(core::ErrorKind::kCorrupt, "CID: its multihash is cut short");
  if (code != kSha256 || length != 32)
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("CID: multihash code 0x{:x} length {} is not sha2-256, the only "
                                  "hash supported here",
                                  code, length));
  if (in.size() - *pos < 32)
    throw core::Error(core::ErrorKind::kCorrupt, "CID: its sha2-256 digest is cut short");
  Digest d{};
  std::memcpy(d.data(), in.data() + *pos, 32);
  *pos += 32;
  return d;
}

}  // namespace

Cid Cid::Of(int version, uint64_t codec, std::string_view block) {
  return Cid{version, codec, Sha256Of(block)};
}

std::string Cid::Bytes() const {
  if (version == 0) return Multihash(digest);
  std::string out;
  pb::PutVarint(out, 1);
  pb::PutVarint(out, codec);
  return out + Multihash(digest);
}

std::string Cid::ToString() const {
  return version == 0 ? Base58BtcEncode(Bytes()) : "b" + Base32Encode(Bytes());
}

Cid CidFromBytes(std::string_view bytes, size_t* consumed) {
  size_t pos = 0;
  Cid cid;
  if (bytes.size() >= 2 && bytes[0] == 0x12 && bytes[1] == 0x20) {  // CIDv0: a bare multihash
    cid.digest = ReadMultihash(bytes, &pos);
  } else {
    uint64_t version = 0;
    if (!pb::GetVarint(bytes, &pos, &version) || version != 1 ||
        !pb::GetVarint(bytes, &pos, &cid.codec))
      throw core::Error(core::ErrorKind::kCorrupt,
                        "CID: not a CIDv0 multihash nor a CIDv1 (version 1, codec)");
    cid.version = 1;
    cid.digest = ReadMultihash(bytes, &pos);
  }
  if (consumed != nullptr) *consumed = pos;
  return cid;
}

Cid ParseCid(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return core::Error(core::ErrorKind::kInvalidArgument,
                       fmt::format("'{}' is not a CID: {}", text, why));
  };
  std::optional<std::string> bytes;
  if (text.size() == 46 && text.substr(0, 2) == "Qm") {
    bytes = Base58BtcDecode(text);
  } else if (!text.empty() && text[0] == 'b') {
    bytes = Base32Decode(text.substr(1));
  } else if (!text.empty() && text[0] == 'z') {
    bytes = Base58BtcDecode(text.substr(1));
  } else {
    throw invalid("expected Qm... (CIDv0) or a CIDv1 in base32 (b...) or base58btc (z...)");
  }
  if (!bytes) throw invalid("a character outside its base's alphabet");
  try {
    size_t used = 0;
    Cid cid = CidFromBytes(*bytes, &used);
    if (used != bytes->size()) throw invalid("bytes left over after the multihash");
    if ((text[0] == 'Q') != (cid.version == 0))
      throw invalid("a CIDv0 is written Qm..., a CIDv1 with a multibase prefix");
    return cid;
  } catch (const core::Error& e) {
    if (e.kind() == core::ErrorKind::kCorrupt) throw invalid(e.what());
    throw;
  }
}

}  // namespace ipfs_accel::content
