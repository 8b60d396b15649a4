// The emulation's 16-bit storage types (cuda_emulator.h): the bits, converted by
// runtime/half.h, which rounds as CUDA does; like CUDA's, they convert to and from float
// implicitly in host code.
#pragma once

#include <cstdint>

#include "runtime/half.h"

struct __nv_bfloat16 {
  uint16_t bits;
  __nv_bfloat16() = default;
  __nv_bfloat16(float x) : bits(masklm::float_to_bf16(x)) {}
  operator float() const { return masklm::bf16_to_float(bits); }
};
inline float __bfloat162float(__nv_bfloat16 x) { return masklm::bf16_to_float(x.bits); }
inline __nv_bfloat16 __float2bfloat16_rn(float x) { return __nv_bfloat16(x); }
