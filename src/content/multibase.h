#pragma once
// The two multibase encodings CIDs are written in: base58btc (CIDv0, and "z..." CIDv1) and
// RFC 4648 base32 in lower case without padding (the default for CIDv1, after its "b").

#include <optional>
#include <string>
#include <string_view>

namespace ipfs_accel::content {

std::string Base58BtcEncode(std::string_view bytes);
std::optional<std::string> Base58BtcDecode(std::string_view text);  // nullopt: bad character
std::string Base32Encode(std::string_view bytes);
// nullopt: a bad character, or not the canonical encoding of any bytes.
std::optional<std::string> Base32Decode(std::string_view text);

}  // namespace ipfs_accel::content
