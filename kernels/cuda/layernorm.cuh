// CUDA LayerNorm over the last dimension; same contract as kernels/cpu/layernorm.h.
// Statistics are computed in fp32 (two passes, so |mean| >> std loses nothing).
#pragma once

#include <cstdint>

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out = (in - mean) * rstd * weight + bias; saves mean and rstd. out, in (N, C); mean, rstd (N).
void layernorm_forward(CudaContext& cc, float* out, float* mean, float* rstd, const float* in,
                       const float* weight, const float* bias, int64_t N, int64_t C, double eps);

// Accumulates (+=) into each non-null gradient: din (N, C), dweight, dbias (C).
void layernorm_backward(CudaContext& cc, float* din, float* dweight, float* dbias, const float* dout,
                        const float* in, const float* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C);

}  // namespace masklm::cuda
