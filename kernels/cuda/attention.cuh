// CUDA attention on unpadded variable-length sequences; the contract (layouts, lse, dropout
// indexing) is in kernels/ops.h and matches kernels/cpu/attention.h. cu_seqlens is checked
// on the device (bad offsets raise the CudaContext's error flag; nothing is read out of
// bounds).
#pragma once

#include <cstdint>

#include "runtime/philox.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// Raises the error flag unless cu_seqlens (B + 1) starts at 0, never decreases and ends at
// N. Shared with the fused kernels (flash_attention.cu).
void validate_cu_seqlens(CudaContext& cc, const int32_t* cu_seqlens, int64_t B, int64_t N);

// out (N, C), lse (NH, N); qkv (N, 3C); cu_seqlens (B + 1).
void attention_forward(CudaContext& cc, float* out, float* lse, const float* qkv, const int32_t* cu_seqlens,
                       int64_t B, int64_t N, int64_t C, int64_t NH, float dropout_p, const RngKey& key);

// dqkv (N, 3C) += gradient of the forward given dout (N, C).
void attention_backward(CudaContext& cc, float* dqkv, const float* dout, const float* out, const float* qkv,
                        const float* lse, const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C, int64_t NH,
                        float dropout_p, const RngKey& key);

}  // namespace masklm::cuda
