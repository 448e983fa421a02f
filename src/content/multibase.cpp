#include "content/multibase.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ipfs_accel::content {

namespace {
constexpr std::string_view kBase58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";
}  // namespace

// Repeated division of a big-endian number; CIDs are a few dozen bytes, so quadratic is fine.
std::string Base58BtcEncode(std::string_view bytes) {
  std::vector<uint8_t> digits;  // base-58 digits, least significant first
  for (unsigned char byte : bytes) {
    int carry = byte;
    for (auto& d : digits) {
      carry += d << 8;
      d = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    for (; carry > 0; carry /= 58) digits.push_back(static_cast<uint8_t>(carry % 58));
  }
  std::string out;
  for (size_t i = 0; i < bytes.size() && bytes[i] == 0; ++i) out.push_back('1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kBase58[*it]);
  return out;
}

std::optional<std::string> Base58BtcDecode(std::string_view text) {
  std::vector<uint8_t> bytes;  // least significant first
  for (char c : text) {
    const size_t value = kBase58.find(c);
    if (value == std::string_view::npos) return std::nullopt;
    int carry = static_cast<int>(value);
    for (auto& b : bytes) {
      carry += b * 58;
      b = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    for (; carry > 0; carry >>= 8) bytes.push_back(static_cast<uint8_t>(carry & 0xff));
  }
  std::string out;
  for (size_t i = 0; i < text.size() && text[i] == '1'; ++i) out.push_back('\0');
  for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) out.push_back(static_cast<char>(*it));
  return out;
}

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = buffer << 8 | byte;
    for (bits += 8; bits >= 5; bits -= 5) out.push_back(kBase32[(buffer >> (bits - 5)) & 31]);
  }
  if (bits > 0) out.push_back(kBase32[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const size_t value = kBase32.find(c);
    if (value == std::string_view::npos) return std::nullopt;
    buffer = buffer << 5 | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // What is left must be the zero padding of the last byte: anything else is not a canonical
  // encoding (a character too many, or a last character naming bits that are not there).
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace ipfs_accel::content
