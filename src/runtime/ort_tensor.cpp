#include "ort_tensor.h"

#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::runtime {

namespace {
struct TypePair {
  ONNXTensorElementDataType ort;
  core::DType dtype;
};
constexpr TypePair kTypes[] = {
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, core::DType::kFloat32},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, core::DType::kFloat16},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16, core::DType::kBFloat16},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE, core::DType::kFloat64},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, core::DType::kInt64},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32, core::DType::kInt32},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16, core::DType::kInt16},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8, core::DType::kInt8},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8, core::DType::kUInt8},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL, core::DType::kBool},
};
}  // namespace

core::DType FromOrtType(ONNXTensorElementDataType type, const std::string& what) {
  for (const auto& p : kTypes)
    if (p.ort == type) return p.dtype;
  throw core::Error(core::ErrorKind::kUnsupported,
                    fmt::format("tensor '{}' has ONNX element type {}, which is not supported",
                                what, static_cast<int>(type)));
}

ONNXTensorElementDataType ToOrtType(core::DType dtype) {
  for (const auto& p : kTypes)
    if (p.dtype == dtype) return p.ort;
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

Ort::Value WrapTensor(core::Tensor& t) {
  static const Ort::MemoryInfo cpu =
      Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  return Ort::Value::CreateTensor(cpu, t.bytes.data(), t.bytes.size(), t.shape.data(),
                                  t.shape.size(), ToOrtType(t.dtype));
}

Ort::Value WrapHostMemory(const void* data, core::DType dtype, const core::Shape& shape) {
  static const Ort::MemoryInfo cpu =
      Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  int64_t count = 1;
  for (const int64_t d : shape) count *= d;
  // ORT's C API takes a non-const pointer; a bound input is only read.
  return Ort::Value::CreateTensor(cpu, const_cast<void*>(data),
                                  static_cast<size_t>(count) * core::DTypeSize(dtype), shape.data(),
                                  shape.size(), ToOrtType(dtype));
}

core::Tensor ToTensor(const Ort::Value& v, const std::string& what) {
  auto info = v.GetTensorTypeAndShapeInfo();
  core::Tensor t = core::Tensor::Zeros(FromOrtType(info.GetElementType(), what), info.GetShape());
  if (!t.bytes.empty()) std::memcpy(t.bytes.data(), v.GetTensorRawData(), t.bytes.size());
  return t;
}

}  // namespace ipfs_accel::runtime
