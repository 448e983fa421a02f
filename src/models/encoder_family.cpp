// Encoder-only text architectures (BERT and its family).

#include "architectures.h"
#include "bert_builder.h"

namespace ipfs_accel::models {

namespace {

std::map<std::string, InputHint> BertInputHints(const HfConfig& c) {
  return {
      {"input_ids", {InputHint::Kind::kIndexRange, 0, c.Int("vocab_size", 30522)}},
      {"token_type_ids", {InputHint::Kind::kIndexRange, 0, c.Int("type_vocab_size", 2)}},
      {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
  };
}

}  // namespace

void AddEncoderArchitectures(std::vector<Architecture>& out) {
  out.push_back({"bert", "text", {"bert."}, BuildBert, BertInputHints, TextDimRoles});
}

}  // namespace ipfs_accel::models
