#pragma once
// Pre-tokenizers: cut normalized text into the pieces the model sees one at a time (words,
// digits, punctuation, byte-level symbols). Each follows the reference's of the same name.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ipfs_accel::serving {

struct Piece {
  std::string text;
  // The piece begins where the input began (Metaspace's "first" scheme prepends only there).
  bool at_origin = false;
  // An added token matched before the model: later steps leave the piece alone.
  std::optional<uint32_t> added_id;
};

// Replaces each piece without an added token by what `fn` makes of it; empty results are
// dropped, as the reference drops them.
void SplitEach(std::vector<Piece>& pieces, const std::function<std::vector<Piece>(Piece&)>& fn);

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void PreTokenize(std::vector<Piece>& pieces) const = 0;
};

// nullptr for a JSON null. Throws core::Error kUnsupported naming the type and `origin`.
std::unique_ptr<PreTokenizer> MakePreTokenizer(const nlohmann::json& j, const std::string& origin);

// The byte-level alphabet: each byte's printable stand-in (GPT-2's bytes_to_unicode).
const std::string& ByteToSymbol(unsigned char b);
// The byte a stand-in encodes, or -1 for a code point outside the alphabet.
int SymbolToByte(char32_t c);

}  // namespace ipfs_accel::serving
