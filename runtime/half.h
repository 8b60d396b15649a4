// Host conversions between float and the 16-bit floating-point storage formats, held as
// uint16_t bits: bf16 (float's upper half) and IEEE fp16. Rounding is to nearest, ties to
// even, as CUDA's __float2bfloat16_rn and __float2half_rn round, so host and device round
// a value to the same bits: overflow gives inf, fp16 keeps its subnormals, and NaN becomes
// the canonical NaN 0x7FFF that CUDA's conversions produce. Widening is exact.
#pragma once

#include <bit>
#include <cstdint>

#include "runtime/dtype.h"
#include "runtime/error.h"

namespace masklm {

constexpr uint16_t kCanonicalNaN16 = 0x7FFF;

constexpr float bf16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

constexpr uint16_t float_to_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return kCanonicalNaN16;
  // Adding 0x7FFF plus the kept part's lowest bit carries into it exactly when the dropped
  // half is above one half, or equal to it with an odd kept part; a carry out of the
  // significand bumps the exponent, which is how the largest values round to inf.
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

constexpr float f16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu, mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  // Rebias the exponent from fp16's 15 to float's 127.
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

constexpr uint16_t float_to_f16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return kCanonicalNaN16;
  // 65520 is halfway between the largest fp16, 65504 (odd significand), and 2^16: ties to
  // even and everything above round to inf.
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (magnitude >= 0x38800000u) {  // 2^-14 and above: a normal fp16
    // Round away the 13 extra significand bits as float_to_bf16 does with 16, then rebias
    // the exponent (127 - 15 = 112).
    const uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
  }
  // A subnormal m * 2^-24 with m = |x| * 2^24 rounded (m = 1024 is the smallest normal,
  // whose bits follow on). Below 2^-25, |x| rounds to zero.
  const uint32_t exponent = magnitude >> 23;
  if (exponent < 102) return sign;
  const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - exponent;  // 14 .. 24
  const uint32_t kept = significand >> shift, dropped = significand & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  const bool round_up = dropped > half || (dropped == half && (kept & 1u));
  return static_cast<uint16_t>(sign | (kept + round_up));
}

// The same for a 16-bit DType chosen at run time (BF16 or F16), for tests and one-off
// values; bulk conversions dispatch once per array instead (kernels/cpu/convert.h).
inline uint16_t float_to_16bit(DType dtype, float x) {
  MASKLM_CHECK(dtype == DType::BF16 || dtype == DType::F16, "{} is not a 16-bit float dtype",
               dtype_name(dtype));
  return dtype == DType::BF16 ? float_to_bf16(x) : float_to_f16(x);
}
inline float float_from_16bit(DType dtype, uint16_t bits) {
  MASKLM_CHECK(dtype == DType::BF16 || dtype == DType::F16, "{} is not a 16-bit float dtype",
               dtype_name(dtype));
  return dtype == DType::BF16 ? bf16_to_float(bits) : f16_to_float(bits);
}

}  // namespace masklm
