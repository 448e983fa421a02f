#pragma once
// The protobuf wire format for the two tiny messages UnixFS needs (dag-pb's PBNode/PBLink and
// UnixFS's Data), written by hand on purpose: a CID hashes exact bytes, and dag-pb's canonical
// form puts PBNode's Links (field 2) before its Data (field 1), an order libprotobuf's serializer
// never produces (it writes fields by number). Appends to a std::string.

#include <cstdint>
#include <string>
#include <string_view>

namespace ipfs_accel::content::pb {

inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// Wire types: 0 varint, 2 length-delimited.
inline void PutTag(std::string& out, int field, int wire_type) {
  PutVarint(out, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type));
}

inline void PutUint(std::string& out, int field, uint64_t v) {
  PutTag(out, field, 0);
  PutVarint(out, v);
}

inline void PutBytes(std::string& out, int field, std::string_view bytes) {
  PutTag(out, field, 2);
  PutVarint(out, bytes.size());
  out.append(bytes);
}

// Reads a varint at `*pos`; false (pos unspecified) when `in` ends inside it or it is too long.
inline bool GetVarint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

}  // namespace ipfs_accel::content::pb
