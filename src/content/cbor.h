#pragma once
// The corner of dag-cbor a CARv1 header uses (a map of text keys, an unsigned, an array of
// tag-42 CIDs), written and read by hand: it is a dozen lines, and Debian's CBOR libraries
// (libcbor, tinycbor) would each be a new dependency for these two fields.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ipfs_accel/content/cid.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::content::cbor {

enum Major : uint8_t { kUnsigned = 0, kBytes = 2, kText = 3, kArray = 4, kMap = 5, kTag = 6 };
inline constexpr uint64_t kCidTag = 42;

// Shortest form, as dag-cbor requires.
inline void PutHead(std::string& out, Major major, uint64_t value) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (value < 24) {
    out.push_back(static_cast<char>(m | value));
    return;
  }
  int bytes = value <= 0xff ? 1 : value <= 0xffff ? 2 : value <= 0xffffffff ? 4 : 8;
  out.push_back(static_cast<char>(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

inline void PutText(std::string& out, std::string_view text) {
  PutHead(out, kText, text.size());
  out.append(text);
}

inline void PutBytes(std::string& out, std::string_view bytes) {
  PutHead(out, kBytes, bytes.size());
  out.append(bytes);
}

struct Malformed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Reader {
  std::string_view in;
  size_t pos = 0;

  uint8_t Byte() {
    if (pos >= in.size()) throw Malformed("it ends early");
    return static_cast<uint8_t>(in[pos++]);
  }
  // The head of the next item, which must be of `major`; returns its value or length.
  uint64_t Expect(Major major) {
    const uint8_t ib = Byte();
    if (ib >> 5 != major) throw Malformed("an item of an unexpected type");
    const uint8_t info = ib & 31;
    if (info < 24) return info;
    if (info > 27) throw Malformed("an indefinite or reserved length");
    uint64_t v = 0;
    for (int i = 0; i < (1 << (info - 24)); ++i) v = v << 8 | Byte();
    return v;
  }
  std::string_view Take(uint64_t n) {
    if (n > in.size() - pos) throw Malformed("a string runs past its end");
    pos += n;
    return in.substr(pos - n, n);
  }
  std::string_view Text() { return Take(Expect(kText)); }
  content::Cid ReadCid() {
    if (Expect(kTag) != kCidTag) throw Malformed("a tag other than 42 (CID)");
    const std::string_view b = Take(Expect(kBytes));
    if (b.empty() || b[0] != '\0') throw Malformed("a CID without its 0x00 prefix");
    size_t used = 0;
    content::Cid cid;
    try {
      cid = CidFromBytes(b.substr(1), &used);
    } catch (const core::Error& e) {
      if (e.kind() != core::ErrorKind::kCorrupt) throw;  // kUnsupported: a valid CID, other hash
      throw Malformed(e.what());
    }
    if (used + 1 != b.size()) throw Malformed("bytes after a CID");
    return cid;
  }
};

}  // namespace ipfs_accel::content::cbor
