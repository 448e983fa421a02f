#pragma once
// IEEE half and bfloat16 <-> float conversions (bit patterns held in uint16_t).

#include <bit>
#include <cstdint>

namespace ipfs_accel::core {

inline float BFloat16ToFloat(uint16_t v) {
  return std::bit_cast<float>(static_cast<uint32_t>(v) << 16);
}

inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

// Round to nearest even; values beyond the half range saturate to +-65504 (so a
// "minus infinity" mask constant stays finite and 0 * it stays 0).
inline uint16_t FloatToHalf(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;   // NaN
  if (abs >= 0x477ff000) return sign | 0x7bff;  // >= 65520 rounds past max: saturate
  if (abs < 0x33000001) return sign;            // below half the smallest subnormal
  int exp = static_cast<int>(abs >> 23) - 127 + 15;
  uint32_t mant = (abs & 0x7fffff) | 0x800000;
  if (exp <= 0) {  // subnormal half
    const int shift = 14 - exp;
    uint32_t half_mant = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half_mant & 1))) ++half_mant;
    return sign | static_cast<uint16_t>(half_mant);
  }
  uint32_t half = (static_cast<uint32_t>(exp) << 10) | ((mant >> 13) & 0x3ff);
  const uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;  // may carry into the exponent
  if (half >= 0x7c00) half = 0x7bff;
  return sign | static_cast<uint16_t>(half);
}

}  // namespace ipfs_accel::core
