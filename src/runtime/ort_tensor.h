#pragma once
// Conversions between core::Tensor and Ort::Value.

#include <onnxruntime_cxx_api.h>

#include <string>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::runtime {

// Throws core::Error(kUnsupported) for element types core::DType lacks; `what` names the tensor.
core::DType FromOrtType(ONNXTensorElementDataType type, const std::string& what);
ONNXTensorElementDataType ToOrtType(core::DType dtype);
// A view of `t`'s bytes; `t` must outlive the value.
Ort::Value WrapTensor(core::Tensor& t);
// A value over host memory the caller keeps alive (no copy).
Ort::Value WrapHostMemory(const void* data, core::DType dtype, const core::Shape& shape);
// Copies a CPU-resident tensor value out.
core::Tensor ToTensor(const Ort::Value& v, const std::string& what);

}  // namespace ipfs_accel::runtime
