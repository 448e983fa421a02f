#pragma once
// Content identifiers (CIDs) with sha2-256 multihashes, the only hash `ipfs add` uses by default.
// CIDv0 is a bare multihash written in base58btc ("Qm...") and always means dag-pb; CIDv1 is
// <version><codec><multihash> written in multibase base32 ("bafy..." for dag-pb, "bafk..." for
// raw). Spec: github.com/multiformats/cid.

#include <cstdint>
#include <string>
#include <string_view>

#include "ipfs_accel/content/sha256.h"

namespace ipfs_accel::content {

inline constexpr uint64_t kDagPb = 0x70;
inline constexpr uint64_t kRaw = 0x55;
inline constexpr uint64_t kDagCbor = 0x71;

struct Cid {
  int version = 0;          // 0 or 1
  uint64_t codec = kDagPb;  // always kDagPb for version 0
  Digest digest{};          // sha2-256 of the block

  // The CID of `block` (its sha2-256) with this version and codec.
  static Cid Of(int version, uint64_t codec, std::string_view block);

  std::string ToString() const;  // "Qm..." or "b..." (base32, lower case)
  std::string Bytes() const;     // binary form: the multihash (v0) or version+codec+multihash
  bool operator==(const Cid&) const = default;
};

// A CID from its text (CIDv0 base58btc, or CIDv1 in base32 "b..." or base58btc "z...").
// Throws core::Error(kInvalidArgument) naming the text when it does not parse, and
// kUnsupported for a hash other than sha2-256.
Cid ParseCid(std::string_view text);

// A binary CID at the start of `bytes` (as in a dag-pb link or a CAR section); `*consumed` gets
// its length. Throws core::Error(kCorrupt) when it does not parse, kUnsupported as ParseCid.
Cid CidFromBytes(std::string_view bytes, size_t* consumed = nullptr);

}  // namespace ipfs_accel::content
