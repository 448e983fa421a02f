#pragma once
// A dense host tensor: element type, shape, and the bytes in row-major order.
// The common currency between safetensors files, generated inputs, and runtime
// outputs. Not thread-safe; copy freely (it owns its bytes).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ipfs_accel::core {

enum class DType {
  kFloat32,
  kFloat16,
  kBFloat16,
  kFloat64,
  kInt64,
  kInt32,
  kInt16,
  kInt8,
  kUInt8,
  kBool
};

// Bytes per element.
size_t DTypeSize(DType dtype);
// Lower-case name ("float32", "int64", ...), as stored in results.
const char* DTypeName(DType dtype);
// The safetensors dtype code ("F32", "I64", ...) <-> DType. Throws kUnsupported.
DType DTypeFromSafetensors(const std::string& code);
const char* DTypeToSafetensors(DType dtype);

using Shape = std::vector<int64_t>;
// Throws core::Error(kInvalidArgument) for a negative dimension or a count past 64 bits.
int64_t ElementCount(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[2,16,64]"

struct Tensor {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<std::byte> bytes;

  static Tensor Zeros(DType dtype, Shape shape);
  int64_t element_count() const { return ElementCount(shape); }

  // REQUIRES: T matches dtype (checked; throws kInternal otherwise).
  template <typename T>
  std::span<T> values();
  template <typename T>
  std::span<const T> values() const;

  // Elements converted to double, whatever the dtype (for comparisons and statistics).
  std::vector<double> ToDoubles() const;
  // ToDoubles' inverse: `values` (row-major, ElementCount(shape) of them; checked, kInternal)
  // converted to `dtype`: integers truncated, bool nonzero -> 1, half rounded, bfloat16 truncated.
  static Tensor FromDoubles(DType dtype, Shape shape, std::span<const double> values);
};

}  // namespace ipfs_accel::core
