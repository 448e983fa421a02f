#include "request_inputs.h"

#include <cmath>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_generator.h"

namespace ipfs_accel::serving::detail {

namespace {

using core::Error;
using core::ErrorKind;

bool IsInteger(core::DType d) {
  return d == core::DType::kInt64 || d == core::DType::kInt32 || d == core::DType::kInt16 ||
         d == core::DType::kInt8 || d == core::DType::kUInt8 || d == core::DType::kBool;
}

const runtime::TensorSpec& SpecOf(const std::vector<runtime::TensorSpec>& specs,
                                  const std::string& name) {
  std::vector<std::string> names;
  for (const auto& s : specs) {
    if (s.name == name) return s;
    names.push_back(s.name);
  }
  throw Error(
      ErrorKind::kInvalidArgument,
      fmt::format("the model has no input '{}'; its inputs: {}", name, fmt::join(names, ", ")));
}

// The tensor in the graph's dtype; integers must be whole numbers.
core::Tensor Converted(const runtime::TensorSpec& spec, core::Tensor t) {
  if (t.dtype == spec.dtype) return t;
  const std::vector<double> values = t.ToDoubles();
  if (IsInteger(spec.dtype))
    for (double v : values)
      if (v != std::floor(v) || !std::isfinite(v))
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("input '{}' takes {} values, and {} is not a whole number",
                                spec.name, core::DTypeName(spec.dtype), v));
  return core::Tensor::FromDoubles(spec.dtype, t.shape, values);
}

void CheckShape(const runtime::TensorSpec& spec, const core::Tensor& t) {
  bool fits = t.shape.size() == spec.shape.size();
  for (size_t i = 1; fits && i < t.shape.size(); ++i)
    fits = spec.shape[i] < 0 || spec.shape[i] == t.shape[i];
  if (!fits || t.shape.empty() || t.shape[0] < 1)
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("input '{}' has shape {}; the model takes {} (-1: any size, the "
                    "batch first)",
                    spec.name, core::ShapeToString(t.shape), core::ShapeToString(spec.shape)));
}

// Token ids outside the vocabulary would fail the whole batch inside the runtime.
void CheckRange(const models::Model& model, const std::string& name, const core::Tensor& t) {
  const auto hint = model.input_hints.find(name);
  if (hint == model.input_hints.end() || hint->second.kind != models::InputHint::Kind::kIndexRange)
    return;
  for (double v : t.ToDoubles())
    if (v < static_cast<double>(hint->second.low) || v >= static_cast<double>(hint->second.high))
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("input '{}' has {}, outside the model's range [{}, {})", name, v,
                              hint->second.low, hint->second.high));
}

}  // namespace

PreparedInputs PrepareInputs(const std::vector<runtime::TensorSpec>& specs,
                             const models::Model& model,
                             std::map<std::string, core::Tensor> given) {
  if (given.empty()) throw Error(ErrorKind::kInvalidArgument, "the request has no inputs");
  for (auto& [name, tensor] : given) {
    const runtime::TensorSpec& spec = SpecOf(specs, name);
    tensor = Converted(spec, std::move(tensor));
    CheckShape(spec, tensor);
    CheckRange(model, name, tensor);
  }
  harness::CompletedInputs done = harness::FillMissingInputs(specs, model, std::move(given), 0);
  if (!done.filled.generated.empty())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("input(s) {} left out have no default; send them too",
                            fmt::join(done.filled.generated, ", ")));
  PreparedInputs out{.tensors = std::move(done.tensors), .defaulted = {}};
  for (const auto& [name, what] : done.filled.defaulted)
    out.defaulted.push_back(fmt::format("{} ({})", name, what));
  return out;
}

}  // namespace ipfs_accel::serving::detail
