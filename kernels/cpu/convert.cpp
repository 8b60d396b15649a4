#include "kernels/cpu/convert.h"

#include "runtime/error.h"
#include "runtime/half.h"

namespace masklm::cpu {
namespace {

template <typename To, typename From, typename Fn>
void convert_each(To* dst, const From* src, int64_t n, Fn convert) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) dst[i] = convert(src[i]);
}

}  // namespace

void widen_16bit(float* dst, DType src_dtype, const uint16_t* src, int64_t n) {
  switch (src_dtype) {
    case DType::BF16: return convert_each(dst, src, n, [](uint16_t x) { return bf16_to_float(x); });
    case DType::F16: return convert_each(dst, src, n, [](uint16_t x) { return f16_to_float(x); });
    default: MASKLM_FAIL("widen_16bit: {} is not a 16-bit dtype", dtype_name(src_dtype));
  }
}

void round_to_16bit(DType dst_dtype, uint16_t* dst, const float* src, int64_t n) {
  switch (dst_dtype) {
    case DType::BF16: return convert_each(dst, src, n, [](float x) { return float_to_bf16(x); });
    case DType::F16: return convert_each(dst, src, n, [](float x) { return float_to_f16(x); });
    default: MASKLM_FAIL("round_to_16bit: {} is not a 16-bit dtype", dtype_name(dst_dtype));
  }
}

}  // namespace masklm::cpu
