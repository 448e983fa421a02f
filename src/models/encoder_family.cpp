// Encoder-only text architectures: the BERT family, every member from BuildEncoder.

#include "architectures.h"
#include "encoder_builder.h"

namespace ipfs_accel::models {

namespace {

// What token_type_ids hold when a tokenizer makes the inputs.
enum class TokenTypes {
  kSegments,  // BERT-style tokenizers: segment ids in [0, type_vocab_size)
  kZeros,     // RoBERTa-style tokenizers send none; the model then uses zeros
};

// `prefix` is the base model's attribute in HF's task heads (BertForMaskedLM.bert, ...).
Architecture Encoder(const std::string& model_type, const std::string& prefix,
                     TokenTypes token_types) {
  const EncoderVariant& v = FindEncoderVariant(model_type);  // static storage: safe to capture
  auto build = [&v](const HfConfig& c, GraphBuilder& g) { BuildEncoder(c, v, g); };
  auto hints = [&v, token_types](const HfConfig& c) {
    const EncoderShape s = ReadEncoderShape(c, v);
    std::map<std::string, InputHint> out = {
        {"input_ids", {InputHint::Kind::kIndexRange, 0, s.vocab}},
        {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
    };
    if (v.token_types)
      out["token_type_ids"] = token_types == TokenTypes::kSegments
                                  ? InputHint{InputHint::Kind::kIndexRange, 0, s.type_vocab}
                                  : InputHint{InputHint::Kind::kZeros, 0, 0};
    return out;
  };
  auto roles = [&v](const HfConfig& c) {
    return DimRoles{.batch = "batch",
                    .sequence = "sequence",
                    .max_sequence = ReadEncoderShape(c, v).max_sequence};
  };
  return {model_type, "text", {prefix}, build, hints, roles};
}

}  // namespace

void AddEncoderArchitectures(std::vector<Architecture>& out) {
  out.push_back(Encoder("bert", "bert.", TokenTypes::kSegments));
  out.push_back(Encoder("roberta", "roberta.", TokenTypes::kZeros));
  out.push_back(Encoder("xlm-roberta", "roberta.", TokenTypes::kZeros));
  out.push_back(Encoder("camembert", "roberta.", TokenTypes::kZeros));
  out.push_back(Encoder("distilbert", "distilbert.", TokenTypes::kSegments));
  out.push_back(Encoder("electra", "electra.", TokenTypes::kSegments));
  out.push_back(Encoder("albert", "albert.", TokenTypes::kSegments));
}

}  // namespace ipfs_accel::models
