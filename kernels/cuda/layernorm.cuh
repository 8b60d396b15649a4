// CUDA LayerNorm over the last dimension; same contract as kernels/cpu/layernorm.h.
// Statistics are computed in fp32 (two passes, so |mean| >> std loses nothing). in, out,
// weight, bias, dout and din hold `dtype` values (F32, BF16 or F16); mean, rstd, dweight and
// dbias are always fp32 (statistics, and parameter gradients the optimizer reads in fp32).
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out = (in - mean) * rstd * weight + bias; saves mean and rstd. out, in (N, C); mean, rstd (N).
void layernorm_forward(CudaContext& cc, DType dtype, void* out, float* mean, float* rstd, const void* in,
                       const void* weight, const void* bias, int64_t N, int64_t C, double eps);

// sum = a + b (rounded to dtype, as residual_forward does), then layernorm_forward of sum:
// the same values as the two ops, with the sum written and normalized in one pass.
void residual_layernorm_forward(CudaContext& cc, DType dtype, void* sum, void* out, float* mean, float* rstd,
                                const void* a, const void* b, const void* weight, const void* bias, int64_t N,
                                int64_t C, double eps);

// Accumulates (+=) into each non-null gradient: din (N, C), dweight, dbias (C).
void layernorm_backward(CudaContext& cc, DType dtype, void* din, float* dweight, float* dbias, const void* dout,
                        const void* in, const void* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C);

}  // namespace masklm::cuda
