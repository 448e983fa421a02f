#pragma once
// Tensors in and out of the inference endpoint's JSON: an input is a nested array of numbers
// ([[101, 7592, 102]]: rectangular, its shape from the nesting; whole numbers make int64,
// any fraction float32, booleans bool) or {"shape": [..], "dtype": "int64", "data": [flat]};
// an output is {"shape", "dtype", "data": [flat, row-major]}.

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::server {

// Throws HttpError(400) naming the input and what is wrong with it.
core::Tensor TensorFromJson(const std::string& name, const nlohmann::json& value);

// {"name": {"shape", "dtype", "data"}, ...} as text: floats in their shortest round-trip form
// (float32 as float32, ~9 digits, not as the double it widens to), non-finite ones null.
std::string TensorsToJsonText(const std::map<std::string, core::Tensor>& tensors);

}  // namespace ipfs_accel::server
