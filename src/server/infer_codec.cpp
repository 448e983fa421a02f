#include "server/infer_codec.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>
#include <vector>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/server/route.h"

namespace ipfs_accel::server {

namespace {

using nlohmann::json;

constexpr core::DType kDTypes[] = {
    core::DType::kFloat32, core::DType::kFloat16, core::DType::kFloat64, core::DType::kInt64,
    core::DType::kInt32,   core::DType::kInt8,    core::DType::kUInt8,   core::DType::kBool};

// The leaves of a nested array, checked to be rectangular against `shape`.
struct Leaves {
  std::vector<const json*> values;
  bool any_fraction = false, any_bool = false, any_number = false;
};

void Collect(const std::string& name, const json& v, const core::Shape& shape, size_t depth,
             Leaves* out) {
  if (depth == shape.size()) {
    if (v.is_boolean()) {
      out->any_bool = true;
    } else if (v.is_number()) {
      out->any_number = true;
      out->any_fraction |= v.is_number_float();
    } else {
      throw HttpError(400, fmt::format("input '{}' holds {} where a number belongs; send nested "
                                       "arrays of numbers",
                                       name, v.type_name()));
    }
    out->values.push_back(&v);
    return;
  }
  if (!v.is_array() || v.size() != static_cast<size_t>(shape[depth]))
    throw HttpError(400, fmt::format("input '{}' is not rectangular: every array at depth {} "
                                     "needs {} elements (shape {})",
                                     name, depth, shape[depth], core::ShapeToString(shape)));
  for (const json& item : v) Collect(name, item, shape, depth + 1, out);
}

core::Tensor FromNested(const std::string& name, const json& value) {
  core::Shape shape;
  for (const json* v = &value; v->is_array(); v = &v->front()) {
    shape.push_back(static_cast<int64_t>(v->size()));
    if (v->empty()) break;
  }
  if (shape.empty() || core::ElementCount(shape) == 0)
    throw HttpError(400, fmt::format("input '{}' is empty or not an array; send e.g. "
                                     "{{\"{}\": [[101, 7592, 102]]}}",
                                     name, name));
  Leaves leaves;
  Collect(name, value, shape, 0, &leaves);
  if (leaves.any_bool && leaves.any_number)
    throw HttpError(400, fmt::format("input '{}' mixes booleans and numbers", name));
  const core::DType dtype = leaves.any_bool       ? core::DType::kBool
                            : leaves.any_fraction ? core::DType::kFloat32
                                                  : core::DType::kInt64;
  if (dtype == core::DType::kInt64) {
    core::Tensor t = core::Tensor::Zeros(dtype, shape);
    auto out = t.values<int64_t>();
    for (size_t i = 0; i < leaves.values.size(); ++i) {
      const json& v = *leaves.values[i];
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX})
        throw HttpError(400, fmt::format("input '{}' has {}, past int64", name, v.dump()));
      out[i] = v.get<int64_t>();
    }
    return t;
  }
  std::vector<double> doubles;
  doubles.reserve(leaves.values.size());
  for (const json* v : leaves.values)
    doubles.push_back(v->is_boolean() ? *v ? 1 : 0 : v->get<double>());
  return core::Tensor::FromDoubles(dtype, shape, doubles);
}

core::Tensor FromExplicit(const std::string& name, const json& value) {
  const auto bad = [&](const std::string& why) {
    return HttpError(400, fmt::format("input '{}' {}; send {{\"shape\": [1, 3], \"dtype\": "
                                      "\"int64\", \"data\": [101, 7592, 102]}}",
                                      name, why));
  };
  for (const auto& [key, v] : value.items())
    if (key != "shape" && key != "dtype" && key != "data")
      throw bad(fmt::format("has an unknown field '{}'", key));
  if (!value.contains("shape") || !value.contains("data")) throw bad("needs shape and data");
  core::Shape shape;
  try {
    shape = value.at("shape").get<core::Shape>();
  } catch (const json::exception&) {
    throw bad("has a shape that is not a list of whole numbers");
  }
  const json& data = value.at("data");
  int64_t count = -1;
  try {
    count = core::ElementCount(shape);
  } catch (const core::Error&) {
  }
  if (count < 0 || !data.is_array() || data.size() != static_cast<size_t>(count))
    throw bad(
        fmt::format("has {} values in data for shape {}", data.size(), value.at("shape").dump()));
  core::Tensor t = FromNested(name, json::array({data}));  // checks the values
  t.shape = shape;
  const std::string dtype = value.value("dtype", std::string(core::DTypeName(t.dtype)));
  for (core::DType d : kDTypes)
    if (dtype == core::DTypeName(d)) {
      if (d == t.dtype) return t;
      return core::Tensor::FromDoubles(d, shape, t.ToDoubles());
    }
  throw bad(
      fmt::format("has dtype '{}', not one of float32, float16, float64, int64, int32, "
                  "int8, uint8, bool",
                  dtype));
}

}  // namespace

core::Tensor TensorFromJson(const std::string& name, const json& value) {
  if (value.is_object()) return FromExplicit(name, value);
  return FromNested(name, value);
}

std::string TensorsToJsonText(const std::map<std::string, core::Tensor>& tensors) {
  std::string out = "{";
  auto number = [&out](auto v) {
    if (std::isfinite(v))
      fmt::format_to(std::back_inserter(out), "{}", v);
    else
      out += "null";
  };
  for (const auto& [name, t] : tensors) {
    if (out.size() > 1) out += ',';
    out += fmt::format("{}:{{\"shape\":{},\"dtype\":\"{}\",\"data\":[", json(name).dump(),
                       json(t.shape).dump(), core::DTypeName(t.dtype));
    const size_t start = out.size();
    auto comma = [&] {
      if (out.size() > start) out += ',';
    };
    if (t.dtype == core::DType::kFloat32) {
      for (float v : t.values<float>()) comma(), number(v);
    } else if (t.dtype == core::DType::kInt64) {
      for (int64_t v : t.values<int64_t>())
        comma(), fmt::format_to(std::back_inserter(out), "{}", v);
    } else if (t.dtype == core::DType::kBool) {
      for (double v : t.ToDoubles()) comma(), out += v != 0 ? "true" : "false";
    } else {
      for (double v : t.ToDoubles()) comma(), number(v);
    }
    out += "]}";
  }
  return out + "}";
}

}  // namespace ipfs_accel::server
