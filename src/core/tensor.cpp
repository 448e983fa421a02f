#include "ipfs_accel/core/tensor.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/float16.h"

namespace ipfs_accel::core {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt16:
      return 2;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
    case DType::kInt32:
      return "int32";
    case DType::kInt16:
      return "int16";
    case DType::kInt8:
      return "int8";
    case DType::kUInt8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "unknown";
}

namespace {
struct SafetensorsCode {
  const char* code;
  DType dtype;
};
constexpr SafetensorsCode kSafetensorsCodes[] = {
    {"F32", DType::kFloat32}, {"F16", DType::kFloat16}, {"BF16", DType::kBFloat16},
    {"F64", DType::kFloat64}, {"I64", DType::kInt64},   {"I32", DType::kInt32},
    {"I16", DType::kInt16},   {"I8", DType::kInt8},     {"U8", DType::kUInt8},
    {"BOOL", DType::kBool},
};
}  // namespace

DType DTypeFromSafetensors(const std::string& code) {
  for (const auto& c : kSafetensorsCodes)
    if (code == c.code) return c.dtype;
  throw Error(ErrorKind::kUnsupported,
              fmt::format("safetensors dtype '{}' is not supported (supported: F32, F16, BF16, "
                          "F64, I64, I32, I16, I8, U8, BOOL)",
                          code));
}

const char* DTypeToSafetensors(DType dtype) {
  for (const auto& c : kSafetensorsCodes)
    if (dtype == c.dtype) return c.code;
  return "?";
}

int64_t ElementCount(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n))
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("shape {} has {}", ShapeToString(shape),
                              d < 0 ? "a negative dimension" : "more elements than 64 bits count"));
  return n;
}

std::string ShapeToString(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

Tensor Tensor::Zeros(DType dtype, Shape shape) {
  // Sizes come from config files and command lines: checked before anything is allocated.
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(ElementCount(shape)), DTypeSize(dtype), &bytes))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("a tensor of shape {} cannot exist: its size overflows 64 bits",
                            ShapeToString(shape)));
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  try {
    t.bytes.assign(static_cast<size_t>(bytes), std::byte{0});
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("a tensor of shape {} ({} bytes of {}) does not fit in this machine's "
                            "memory; use smaller sizes",
                            ShapeToString(t.shape), bytes, DTypeName(dtype)));
  }
  return t;
}

namespace {
template <typename T>
constexpr bool Matches(DType d) {
  if constexpr (std::is_same_v<T, float>) return d == DType::kFloat32;
  if constexpr (std::is_same_v<T, double>) return d == DType::kFloat64;
  if constexpr (std::is_same_v<T, int64_t>) return d == DType::kInt64;
  if constexpr (std::is_same_v<T, int32_t>) return d == DType::kInt32;
  if constexpr (std::is_same_v<T, int16_t>) return d == DType::kInt16;
  if constexpr (std::is_same_v<T, int8_t>) return d == DType::kInt8;
  if constexpr (std::is_same_v<T, uint8_t>) return d == DType::kUInt8 || d == DType::kBool;
  if constexpr (std::is_same_v<T, uint16_t>) return d == DType::kFloat16 || d == DType::kBFloat16;
  return false;
}
}  // namespace

template <typename T>
std::span<T> Tensor::values() {
  if (!Matches<T>(dtype))
    throw Error(ErrorKind::kInternal,
                fmt::format("tensor of {} read as another type", DTypeName(dtype)));
  return {reinterpret_cast<T*>(bytes.data()), bytes.size() / sizeof(T)};
}

template <typename T>
std::span<const T> Tensor::values() const {
  if (!Matches<T>(dtype))
    throw Error(ErrorKind::kInternal,
                fmt::format("tensor of {} read as another type", DTypeName(dtype)));
  return {reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T)};
}

#define IPFS_ACCEL_INSTANTIATE(T)            \
  template std::span<T> Tensor::values<T>(); \
  template std::span<const T> Tensor::values<T>() const;
IPFS_ACCEL_INSTANTIATE(float)
IPFS_ACCEL_INSTANTIATE(double)
IPFS_ACCEL_INSTANTIATE(int64_t)
IPFS_ACCEL_INSTANTIATE(int32_t)
IPFS_ACCEL_INSTANTIATE(int16_t)
IPFS_ACCEL_INSTANTIATE(int8_t)
IPFS_ACCEL_INSTANTIATE(uint8_t)
IPFS_ACCEL_INSTANTIATE(uint16_t)
#undef IPFS_ACCEL_INSTANTIATE

std::vector<double> Tensor::ToDoubles() const {
  const size_t n = static_cast<size_t>(element_count());
  std::vector<double> out(n);
  const std::byte* p = bytes.data();
  for (size_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::kFloat32: {
        float v;
        std::memcpy(&v, p + 4 * i, 4);
        out[i] = v;
        break;
      }
      case DType::kFloat64: {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        out[i] = v;
        break;
      }
      case DType::kInt64: {
        int64_t v;
        std::memcpy(&v, p + 8 * i, 8);
        out[i] = static_cast<double>(v);
        break;
      }
      case DType::kInt32: {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        out[i] = v;
        break;
      }
      case DType::kInt16: {
        int16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        out[i] = v;
        break;
      }
      case DType::kInt8:
        out[i] = static_cast<int8_t>(p[i]);
        break;
      case DType::kUInt8:
      case DType::kBool:
        out[i] = static_cast<uint8_t>(p[i]);
        break;
      case DType::kFloat16: {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        out[i] = HalfToFloat(v);
        break;
      }
      case DType::kBFloat16: {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        out[i] = BFloat16ToFloat(v);
        break;
      }
    }
  }
  return out;
}

namespace {
template <typename T>
void Store(std::byte* p, size_t i, T v) {
  std::memcpy(p + sizeof(T) * i, &v, sizeof(T));
}
}  // namespace

Tensor Tensor::FromDoubles(DType dtype, Shape shape, std::span<const double> values) {
  Tensor t = Zeros(dtype, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.element_count())
    throw Error(ErrorKind::kInternal, fmt::format("{} values for a tensor of shape {}",
                                                  values.size(), ShapeToString(t.shape)));
  std::byte* p = t.bytes.data();
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    switch (dtype) {
      case DType::kFloat32:
        Store(p, i, static_cast<float>(v));
        break;
      case DType::kFloat64:
        Store(p, i, v);
        break;
      case DType::kInt64:
        Store(p, i, static_cast<int64_t>(v));
        break;
      case DType::kInt32:
        Store(p, i, static_cast<int32_t>(v));
        break;
      case DType::kInt16:
        Store(p, i, static_cast<int16_t>(v));
        break;
      case DType::kInt8:
        Store(p, i, static_cast<int8_t>(v));
        break;
      case DType::kUInt8:
        Store(p, i, static_cast<uint8_t>(v));
        break;
      case DType::kBool:
        Store(p, i, static_cast<uint8_t>(v != 0));
        break;
      case DType::kFloat16:
        Store(p, i, FloatToHalf(static_cast<float>(v)));
        break;
      case DType::kBFloat16:
        Store(p, i, static_cast<uint16_t>(std::bit_cast<uint32_t>(static_cast<float>(v)) >> 16));
        break;
    }
  }
  return t;
}

}  // namespace ipfs_accel::core
