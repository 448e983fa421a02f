#pragma once
// Requests as rows of one batch: every input of a request has its batch on axis 0, so a batch
// is the requests' bytes one after another (row-major), and its outputs split the same way.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::serving::detail {

using TensorMap = std::map<std::string, core::Tensor>;

// The rows (axis 0) every tensor of `inputs` has. Throws core::Error(kInvalidArgument) for a
// rank-0 tensor, for tensors that disagree, or for no tensors at all.
int64_t RowsOf(const TensorMap& inputs);

// Equal for two requests exactly when they can be concatenated: the same names, dtypes and
// shapes past axis 0 (so different sequence lengths are never mixed).
std::string BatchKey(const TensorMap& inputs);

// The parts one after another along axis 0. REQUIRES: equal BatchKey()s, at least one part.
TensorMap ConcatRows(const std::vector<const TensorMap*>& parts);

// `whole` cut along axis 0 into pieces of `rows` rows each. Throws core::Error(kRuntime) naming
// the tensor whose axis 0 is not the sum of `rows` (an output that is not per row).
std::vector<TensorMap> SplitRows(const TensorMap& whole, const std::vector<int64_t>& rows);

}  // namespace ipfs_accel::serving::detail
