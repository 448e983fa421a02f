#pragma once
// Normalizers: rewrite a piece of text before it is split (Unicode forms, case, accents,
// replacements). Each follows the reference's normalizer of the same name.

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace ipfs_accel::serving {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void Normalize(std::string& s) const = 0;
};

// nullptr for a JSON null. Throws core::Error kUnsupported naming the type and `origin`.
std::unique_ptr<Normalizer> MakeNormalizer(const nlohmann::json& j, const std::string& origin);

}  // namespace ipfs_accel::serving
