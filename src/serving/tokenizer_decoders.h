#pragma once
// Decoders: turn token strings back into text (byte-level symbols to bytes, "▁" to spaces,
// "<0x41>" byte tokens to bytes, "##" continuations joined). Each follows the reference's
// decoder of the same name; a chain passes its list of strings along and the result is joined.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ipfs_accel::serving {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const = 0;
};

// nullptr for a JSON null. Throws core::Error kUnsupported naming the type and `origin`.
std::unique_ptr<Decoder> MakeDecoder(const nlohmann::json& j, const std::string& origin);

}  // namespace ipfs_accel::serving
