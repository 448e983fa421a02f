#pragma once
// A request's tensors made into what the graph takes: names checked, numbers converted to the
// graph's dtypes, ranks, fixed dimensions and token ids checked per request (so one bad
// request is refused alone instead of failing the batch it would have joined), and inputs left
// out given Hugging Face's defaults.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::serving::detail {

struct PreparedInputs {
  std::map<std::string, core::Tensor> tensors;  // every graph input
  std::vector<std::string> defaulted;           // "attention_mask (ones)", ...
};

// Throws core::Error(kInvalidArgument) naming the input and what to send instead.
PreparedInputs PrepareInputs(const std::vector<runtime::TensorSpec>& specs,
                             const models::Model& model, std::map<std::string, core::Tensor> given);

}  // namespace ipfs_accel::serving::detail
