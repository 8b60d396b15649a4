// CUDA linear layer (weights in PyTorch's (out, in) layout); same contract as
// kernels/cpu/matmul.h: the forward overwrites out, the backward accumulates (+=) into each
// non-null gradient.
#pragma once

#include <cstdint>

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out (N, O) = in (N, I) @ weight (O, I)^T + bias (O); bias may be null.
void matmul_forward(CudaContext& cc, float* out, const float* in, const float* weight, const float* bias,
                    int64_t N, int64_t I, int64_t O);

// din (N, I) += dout @ weight; dweight (O, I) += dout^T @ in; dbias (O) += column sums of dout.
void matmul_backward(CudaContext& cc, float* din, float* dweight, float* dbias, const float* dout,
                     const float* in, const float* weight, int64_t N, int64_t I, int64_t O);

}  // namespace masklm::cuda
