#include "architectures.h"

#include <fmt/format.h>

#include "bert_builder.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

std::map<std::string, InputHint> BertInputHints(const HfConfig& c) {
  return {
      {"input_ids", {InputHint::Kind::kIndexRange, 0, c.Int("vocab_size", 30522)}},
      {"token_type_ids", {InputHint::Kind::kIndexRange, 0, c.Int("type_vocab_size", 2)}},
      {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
  };
}

DimRoles TextDimRoles(const HfConfig& c) {
  return {"batch", "sequence", c.Int("max_position_embeddings", 0)};
}

}  // namespace

const std::vector<Architecture>& Architectures() {
  static const std::vector<Architecture> archs = {
      {"bert", "text", {"bert."}, BuildBert, BertInputHints, TextDimRoles},
  };
  return archs;
}

const Architecture& FindArchitecture(const std::string& model_type, const std::string& origin) {
  for (const auto& a : Architectures())
    if (a.model_type == model_type) return a;
  std::vector<std::string> known;
  for (const auto& a : Architectures()) known.push_back(a.model_type);
  throw core::Error(core::ErrorKind::kUnsupported,
                    fmt::format("'{}' names architecture '{}', which this tool cannot build yet "
                                "(known: {}); export the model to .onnx and pass that file instead",
                                origin, model_type, fmt::join(known, ", ")));
}

}  // namespace ipfs_accel::models
