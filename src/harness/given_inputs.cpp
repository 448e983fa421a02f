#include "ipfs_accel/harness/given_inputs.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/safetensors.h"

namespace ipfs_accel::harness {

namespace {

using core::Error;
using core::ErrorKind;

double ParseNumber(const std::string& item, const std::string& spec, const std::string& option) {
  try {
    size_t used = 0;
    const double v = std::stod(item, &used);
    if (used == item.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("{} '{}': '{}' is not a number", option, spec, item));
}

bool IsInteger(core::DType t) {
  return t != core::DType::kFloat32 && t != core::DType::kFloat64 && t != core::DType::kFloat16 &&
         t != core::DType::kBFloat16;
}

// The values for the whole shape: as given, or one item's repeated along the first axis.
std::vector<double> FillShape(const GivenInput& given, const core::Shape& shape) {
  const auto total = static_cast<size_t>(core::ElementCount(shape));
  if (given.values.size() == total) return given.values;
  const int64_t batch = shape.empty() ? 1 : shape[0];
  const size_t item = batch > 0 ? total / static_cast<size_t>(batch) : 0;
  if (batch <= 1 || given.values.size() != item)
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("{} gives {} values for input '{}', which takes shape {} here: give "
                    "{} values{}",
                    given.source, given.values.size(), given.name, core::ShapeToString(shape),
                    total, batch > 1 ? fmt::format(", or {} for one item", item) : ""));
  std::vector<double> out;
  out.reserve(total);
  for (int64_t b = 0; b < batch; ++b)
    out.insert(out.end(), given.values.begin(), given.values.end());
  return out;
}

}  // namespace

GivenInput ParseGivenInput(const std::string& spec, const std::string& option) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("{} '{}' is not NAME=v1,v2,... (e.g. input_ids=101,2023,102)", option, spec));
  GivenInput out{spec.substr(0, eq), {}, option};
  std::stringstream ss(spec.substr(eq + 1));
  for (std::string item; std::getline(ss, item, ',');)
    out.values.push_back(ParseNumber(item, spec, option));
  return out;
}

std::vector<GivenInput> LoadGivenInputs(const std::string& path) {
  auto file = models::SafetensorsFile::Open(path);
  std::vector<GivenInput> out;
  for (const auto& [key, entry] : file->entries()) {
    const std::string name = key.rfind("input.", 0) == 0 ? key.substr(6) : key;
    if (key.rfind("output.", 0) == 0) continue;  // an io.safetensors' reference outputs
    out.push_back({name, file->Read(key).ToDoubles(), path});
  }
  if (out.empty())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--inputs '{}' holds no input tensor", path));
  return out;
}

core::Tensor ShapeGivenInput(const GivenInput& given, const runtime::TensorSpec& spec,
                             const core::Shape& shape) {
  const std::vector<double> values = FillShape(given, shape);
  if (IsInteger(spec.dtype))
    for (double v : values)
      if (v != std::floor(v))
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("{} gives {:g} for input '{}', which takes integers ({})",
                                given.source, v, given.name, core::DTypeName(spec.dtype)));
  return core::Tensor::FromDoubles(spec.dtype, shape, values);
}

void ApplyGivenInputs(const std::vector<GivenInput>& given,
                      const std::vector<runtime::TensorSpec>& inputs,
                      const std::map<std::string, core::Shape>& shapes,
                      std::map<std::string, core::Tensor>& tensors) {
  for (const auto& g : given) {
    const auto spec =
        std::find_if(inputs.begin(), inputs.end(), [&](const auto& s) { return s.name == g.name; });
    if (spec == inputs.end()) {
      std::vector<std::string> names;
      for (const auto& s : inputs) names.push_back(s.name);
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("{} names input '{}', which the model does not have (inputs: {})",
                              g.source, g.name, fmt::join(names, ", ")));
    }
    tensors[g.name] = ShapeGivenInput(g, *spec, shapes.at(g.name));
  }
}

std::map<std::string, std::vector<int64_t>> StructureInputsOf(
    const std::vector<GivenInput>& given) {
  std::map<std::string, core::Tensor> tensors;
  const auto& names = models::StructureInputNames();
  for (const auto& g : given)
    if (std::find(names.begin(), names.end(), g.name) != names.end())
      tensors[g.name] = core::Tensor::FromDoubles(
          core::DType::kFloat64, {static_cast<int64_t>(g.values.size())}, g.values);
  return models::StructureInputsOf(tensors);
}

std::vector<GivenInput> GraphInputsOf(const std::vector<GivenInput>& given,
                                      const models::Model& model) {
  std::vector<GivenInput> out;
  const auto& skip = model.structure_inputs;
  for (const auto& g : given)
    if (std::find(skip.begin(), skip.end(), g.name) == skip.end()) out.push_back(g);
  return out;
}

}  // namespace ipfs_accel::harness
