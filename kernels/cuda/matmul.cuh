// CUDA linear layer (weights in PyTorch's (out, in) layout); same contract as
// kernels/cpu/matmul.h: the forward overwrites out, the backward accumulates (+=) into each
// non-null gradient. in, weight, bias, out, dout and din hold `dtype` values (F32, BF16 or
// F16; products summed in fp32 by cuBLASLt); dweight and dbias are always fp32.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out (N, O) = in (N, I) @ weight (O, I)^T + bias (O); bias may be null.
void matmul_forward(CudaContext& cc, DType dtype, void* out, const void* in, const void* weight, const void* bias,
                    int64_t N, int64_t I, int64_t O);

// din (N, I) += dout @ weight; dweight (O, I) += dout^T @ in; dbias (O) += column sums of dout.
void matmul_backward(CudaContext& cc, DType dtype, void* din, float* dweight, float* dbias, const void* dout,
                     const void* in, const void* weight, int64_t N, int64_t I, int64_t O);

}  // namespace masklm::cuda
