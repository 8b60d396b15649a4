// Conversions between F32 and the 16-bit storage dtypes (BF16, F16) on n contiguous values,
// rounding as runtime/half.h does: the CPU side of the convert op and of the 16-bit
// emulation (kernels/f32_views.h). 16-bit values travel as their uint16_t bits.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm::cpu {

// dst = src widened exactly; src_dtype is BF16 or F16.
void widen_16bit(float* dst, DType src_dtype, const uint16_t* src, int64_t n);
// dst = src rounded to nearest even, once per value; dst_dtype is BF16 or F16.
void round_to_16bit(DType dst_dtype, uint16_t* dst, const float* src, int64_t n);

}  // namespace masklm::cpu
