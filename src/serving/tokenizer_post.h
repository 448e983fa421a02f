#pragma once
// Post-processors: add the model's special tokens around an encoded sequence (TemplateProcessing,
// BertProcessing, RobertaProcessing; ByteLevel only trims offsets, which this reader does not
// keep).

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "ipfs_accel/serving/tokenizer.h"

namespace ipfs_accel::serving {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Single sequence only (pairs are not part of this reader's interface).
  virtual void Process(Encoding& e, bool add_special_tokens) const = 0;
  // How many tokens Process adds to a single sequence (truncation leaves room for them).
  virtual size_t Added() const = 0;
};

// nullptr for a JSON null. Throws core::Error kUnsupported naming the type and `origin`.
std::unique_ptr<PostProcessor> MakePostProcessor(const nlohmann::json& j,
                                                 const std::string& origin);

}  // namespace ipfs_accel::serving
