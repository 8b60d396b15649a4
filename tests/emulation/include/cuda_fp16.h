// The emulation's 16-bit storage types (cuda_emulator.h), see cuda_bf16.h.
#pragma once

#include <cstdint>

#include "runtime/half.h"

struct __half {
  uint16_t bits;
  __half() = default;
  __half(float x) : bits(masklm::float_to_f16(x)) {}
  operator float() const { return masklm::f16_to_float(bits); }
};
inline float __half2float(__half x) { return masklm::f16_to_float(x.bits); }
inline __half __float2half_rn(float x) { return __half(x); }
